namespace MLNetFusion.Mapping;

/// <summary>
/// A fitted featurizer that reports the work it has done in this process (rows and compute time, over every cursor),
/// so that a leaderboard or a job can report an expensive pass, such as a pretrained encoder's, on a line of its own.
/// </summary>
public interface IFeaturizationCost
{
    /// <summary>What the pass is, for example "all-MiniLM-L6-v2 sentence embeddings of 'Review'".</summary>
    string CostDescription { get; }

    /// <summary>Rows computed so far.</summary>
    long RowsComputed { get; }

    /// <summary>Compute time so far (summed over cursors).</summary>
    TimeSpan ComputeTime { get; }
}
