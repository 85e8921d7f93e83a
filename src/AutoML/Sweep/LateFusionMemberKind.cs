namespace MLNetFusion.AutoML.Sweep;

/// <summary>Which trainers late-fusion members use (a sweep parameter; <see cref="Trainers.LateFusion.LateFusionMember"/> takes any trainer by hand).</summary>
public enum LateFusionMemberKind
{
    /// <summary>L-BFGS maximum entropy on every modality's features.</summary>
    Linear,
    /// <summary>LightGBM on every modality's features.</summary>
    LightGbm,
    /// <summary>MLNetFusion's single-modality network (CNN or MLP encoder, as the modality declares) for every modality.</summary>
    Neural,
    /// <summary>The neural member for CNN modalities, L-BFGS for MLP (tabular) modalities.</summary>
    Mixed,
}
