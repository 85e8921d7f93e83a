using System.Globalization;
using MLNetFusion.Trainers.Early;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;

namespace MLNetFusion.AutoML.Sweep;

/// <summary>A hyperparameter of the sweep, without its value type (what the search space lists).</summary>
public interface ISweepParameter
{
    /// <summary>Its name in <see cref="FusionTrialSettings.Parameters"/>.</summary>
    string Name { get; }

    /// <summary>Its dimension in <paramref name="space"/>.</summary>
    ISearchDimension DimensionIn(FusionSearchSpace space);
}

/// <summary>
/// A typed hyperparameter of the sweep: its name, where its dimension lives in a <see cref="FusionSearchSpace"/>, and
/// typed reading of a trial's value. Every parameter is declared once, in <see cref="SweepParameters"/>.
/// </summary>
/// <typeparam name="T">The value type.</typeparam>
public sealed class SweepParameter<T> : ISweepParameter where T : notnull
{
    private readonly Func<FusionSearchSpace, ISearchDimension?> _dimension;

    internal SweepParameter(string name, Func<FusionSearchSpace, ISearchDimension?> dimension)
    {
        Name = name;
        _dimension = dimension;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public ISearchDimension DimensionIn(FusionSearchSpace space)
        => _dimension(space) ?? throw new InvalidOperationException($"The search space has no dimension for '{Name}'.");

    /// <summary>The trial's value, or the dimension's default when the trial does not set it.</summary>
    public T ValueIn(FusionTrialSettings settings, FusionSearchSpace space)
        => settings.Parameters.TryGetValue(Name, out var v) ? Convert(v) : Convert(DimensionIn(space).Default);

    /// <summary>The default of its dimension in <paramref name="space"/>, if the space has one for it.</summary>
    internal bool TryDefaultIn(FusionSearchSpace space, out T value)
    {
        if (_dimension(space) is { IsEmpty: false } dimension) { value = Convert(dimension.Default); return true; }
        value = default!;
        return false;
    }

    /// <summary>The value in a partial set of chosen values (while a tuner is drawing a trial), if chosen.</summary>
    public bool TryGet(IReadOnlyDictionary<string, object>? chosen, out T value)
    {
        if (chosen != null && chosen.TryGetValue(Name, out var v)) { value = Convert(v); return true; }
        value = default!;
        return false;
    }

    // Numeric ranges hold doubles and integer ranges ints; a value read back from JSON or a grid may be either.
    private T Convert(object v) => v is T t ? t : (T)System.Convert.ChangeType(v, typeof(T), CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>The sweep's hyperparameters, each declared once (the names are those of <see cref="FusionTrialSettings.Parameters"/>).</summary>
public static class SweepParameters
{
    /// <summary>The modality subset a trial uses (<c>"image+audio"</c>).</summary>
    public static SweepParameter<string> Modalities { get; } = new("modalities", s => s.Modalities);
    /// <summary>Peak learning rate of the neural trainers.</summary>
    public static SweepParameter<double> LearningRate { get; } = new("learningRate", s => s.LearningRate);
    /// <summary>Fusion width.</summary>
    public static SweepParameter<int> Width { get; } = new("width", s => s.Width);
    /// <summary>Dropout in the head and merge layers.</summary>
    public static SweepParameter<double> Dropout { get; } = new("dropout", s => s.Dropout);
    /// <summary>Epochs of the neural trainers (the cost-aware tuner's budget unit).</summary>
    public static SweepParameter<int> Epochs { get; } = new("epochs", s => s.Epochs);
    /// <summary>Modality dropout.</summary>
    public static SweepParameter<double> ModalityDropout { get; } = new("modalityDropout", s => s.ModalityDropout);
    /// <summary>Auxiliary per-modality loss weight.</summary>
    public static SweepParameter<double> AuxiliaryLossWeight { get; } = new("auxiliaryLossWeight", s => s.AuxiliaryLossWeight);
    /// <summary>Weight of the modality heads in the prediction (0 = the fused head alone).</summary>
    public static SweepParameter<double> ModalityHeadWeight { get; } = new("modalityHeadWeight", s => s.ModalityHeadWeight);
    /// <summary>OGM-GE strength α (0 = off).</summary>
    public static SweepParameter<double> BalancedLearningAlpha { get; } = new("balancedLearningAlpha", s => s.BalancedLearningAlpha);
    /// <summary>Training-time augmentation strength (0 = off).</summary>
    public static SweepParameter<double> AugmentationStrength { get; } = new("augmentationStrength", s => s.AugmentationStrength);
    /// <summary>Early fusion: the learner after <c>Concatenate</c>.</summary>
    public static SweepParameter<EarlyFusionLearner> EarlyLearner { get; } = new("trainer", s => s.EarlyTrainer);
    /// <summary>Late fusion: the combiner.</summary>
    public static SweepParameter<LateFusionCombiner> LateCombiner { get; } = new("combiner", s => s.LateCombiner);
    /// <summary>Late fusion: the member trainers.</summary>
    public static SweepParameter<LateFusionMemberKind> LateMembers { get; } = new("members", s => s.LateMembers);
    /// <summary>Merge fusion: the merge operation.</summary>
    public static SweepParameter<MergeOperation> Operation { get; } = new("operation", s => s.MergeOperation);
    /// <summary>Network fusion: merge every stage, not only the final layers.</summary>
    public static SweepParameter<bool> IntermediateLayers { get; } = new("intermediateLayers", s => s.NetworkIntermediateLayers);
    /// <summary>Cross-modal fusion: number of exchanges.</summary>
    public static SweepParameter<int> CrossModalDepth { get; } = new("depth", s => s.CrossModalDepth);
    /// <summary>
    /// Early fusion: read each modality's fixed features with its pretrained encoder's embeddings (where the featurization
    /// has them; <see cref="CandidateContext.PretrainedFeatureColumns"/>). Not searched: the leaderboard sets it on the
    /// entries that use the embeddings; absent, it is false.
    /// </summary>
    public static SweepParameter<bool> PretrainedFeatures { get; } = new("pretrainedFeatures", _ => null);

    /// <summary>Every parameter of the sweep but the modality kinds' tunings (<see cref="FusionSearchSpace.Tunings"/>; <see cref="FusionSearchSpace.DimensionNamed"/> finds both).</summary>
    public static IReadOnlyList<ISweepParameter> All { get; } = new ISweepParameter[]
    {
        Modalities, LearningRate, Width, Dropout, Epochs, ModalityDropout, AuxiliaryLossWeight, ModalityHeadWeight, BalancedLearningAlpha,
        AugmentationStrength, EarlyLearner, LateCombiner, LateMembers, Operation,
        IntermediateLayers, CrossModalDepth, PretrainedFeatures,
    };

    /// <summary>The parameters of every neural trainer.</summary>
    internal static IReadOnlyList<ISweepParameter> Neural { get; } = new ISweepParameter[]
        { LearningRate, Width, Dropout, Epochs, ModalityDropout, AuxiliaryLossWeight, ModalityHeadWeight, BalancedLearningAlpha, AugmentationStrength };

    /// <summary>A modality kind's tuning as a parameter (its dimension is the space's <see cref="FusionSearchSpace.Tunings"/> entry).</summary>
    internal static SweepParameter<object> Tuning(string name) => new(name, s => s.Tunings.GetValueOrDefault(name));
}
