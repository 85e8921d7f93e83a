namespace MLNetFusion.Trainers;

/// <summary>
/// The fusion families: the one identity of a family across the trainers, the model file, the leaderboard, the sweep
/// and the command line. Its name (<see cref="FusionFamilies.Name"/>) is how it is written everywhere.
/// </summary>
public enum FusionFamily
{
    /// <summary>Modality features joined by <c>Concatenate</c>, then one learner (<see cref="Early.FusionMlpTrainer"/> or any ML.NET trainer).</summary>
    Early,
    /// <summary>One trainer per modality, probabilities combined (<see cref="LateFusion.LateFusionTrainer"/>).</summary>
    Late,
    /// <summary>Per-modality embeddings merged arithmetically (<see cref="Merge.MergeFusionTrainer"/>).</summary>
    Merge,
    /// <summary>Encoder layers concatenated and merged by learned layers (<see cref="Network.NetworkFusionTrainer"/>).</summary>
    Network,
    /// <summary>Cross-attention between modalities (<see cref="CrossModal.CrossModalFusionTrainer"/>).</summary>
    CrossModal,
    /// <summary>A boosted tabular model's out-of-fold probabilities fused with the other encoders (<see cref="Hybrid.HybridFusionTrainer"/>).</summary>
    Hybrid,
}

/// <summary>Names of the <see cref="FusionFamily"/> values.</summary>
public static class FusionFamilies
{
    private static readonly (FusionFamily Family, string Name)[] Names =
    {
        (FusionFamily.Early, "early"), (FusionFamily.Late, "late"), (FusionFamily.Merge, "merge"),
        (FusionFamily.Network, "network"), (FusionFamily.CrossModal, "cross-modal"), (FusionFamily.Hybrid, "hybrid"),
    };

    /// <summary>Every family, in declaration order.</summary>
    public static IReadOnlyList<FusionFamily> All { get; } = Names.Select(n => n.Family).ToArray();

    /// <summary>The family's name: <c>early</c>, <c>late</c>, <c>merge</c>, <c>network</c>, <c>cross-modal</c> or <c>hybrid</c>.</summary>
    /// <param name="family">The family.</param>
    public static string Name(this FusionFamily family)
    {
        foreach (var (f, n) in Names) if (f == family) return n;
        throw new ArgumentOutOfRangeException(nameof(family), family, "Unknown fusion family.");
    }

    /// <summary>Reads a family's name; case, hyphens and underscores are ignored (<c>cross-modal</c>, <c>CrossModal</c>, <c>crossmodal</c>).</summary>
    /// <param name="name">The name.</param>
    /// <param name="family">The family, when the name is known.</param>
    public static bool TryParse(string? name, out FusionFamily family)
    {
        string Key(string s) => new(s.Where(char.IsLetterOrDigit).Select(char.ToLowerInvariant).ToArray());
        foreach (var (f, n) in Names)
            if (name != null && Key(name) == Key(n)) { family = f; return true; }
        family = default;
        return false;
    }

    /// <summary>Reads a family's name, or throws an error listing the names.</summary>
    /// <param name="name">The name.</param>
    public static FusionFamily Parse(string name)
        => TryParse(name, out var f) ? f : throw new ArgumentException($"Unknown fusion family '{name}'." + Environment.NewLine +
            $"Hint: use one of {string.Join(", ", Names.Select(n => n.Name))}.", nameof(name));
}
