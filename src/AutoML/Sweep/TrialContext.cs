using Microsoft.ML;
using Microsoft.ML.Trainers.LightGbm;
using MLNetFusion.AutoML.Sweep.Families;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Training;

namespace MLNetFusion.AutoML.Sweep;

/// <summary>
/// What a family's sweep definition needs to build a trial's estimator, through the trainers' public options only: the
/// experiment's context, modalities, label and space, and the trial's seed, progress and cancellation.
/// </summary>
internal sealed record TrialContext(MLContext Ml, IReadOnlyList<ModalityOptions> Modalities, string Label, FusionSearchSpace Space,
    string? SamplingKey, int LateFolds)
{
    internal const string EarlyFeatures = "__sweep.Features";

    /// <summary>The trial's seed.</summary>
    public int Seed { get; init; }
    /// <summary>Receives the TorchSharp trainers' epochs.</summary>
    public Action<EpochReport> Progress { get; init; } = _ => { };
    /// <summary>Cancels the trial's TorchSharp trainers.</summary>
    public CancellationToken Cancel { get; init; }

    /// <summary>The trial's estimator.</summary>
    public IEstimator<ITransformer> Build(FusionTrialSettings settings, int seed, Action<EpochReport> progress, CancellationToken cancel)
        => FamilySweeps.Of(settings.Family).Build(this with { Seed = seed, Progress = progress, Cancel = cancel }, settings);

    /// <summary>The trial's value of <paramref name="parameter"/> (the space's default when it does not set it).</summary>
    public T Value<T>(FusionTrialSettings settings, SweepParameter<T> parameter) where T : notnull => parameter.ValueIn(settings, Space);

    /// <summary>The modalities a trial uses: its <c>modalities</c> subset, else all, in the experiment's order.</summary>
    public IReadOnlyList<ModalityOptions> ModalitiesOf(FusionTrialSettings s)
    {
        var names = s.Modalities;
        if (names == null) return Modalities;
        var unknown = names.FirstOrDefault(n => Modalities.All(m => m.Name != n));
        if (unknown != null)
            throw new ArgumentException($"Trial {s.TrialId} uses modality '{unknown}', which is not one of the experiment's modalities ({string.Join(", ", Modalities.Select(m => m.Name))})." +
                Environment.NewLine + "Hint: build FusionSearchSpace.Modalities from the names given to SetModalities, or leave it null.");
        return Modalities.Where(m => names.Contains(m.Name)).ToList();
    }

    /// <summary>Copies of the trial's modality options (a trainer may adjust them).</summary>
    public List<ModalityOptions> ModalityOptionsOf(FusionTrialSettings s) => ModalitiesOf(s).Select(m => m.Clone()).ToList();

    /// <summary>Fills the neural parameters every TorchSharp trainer shares.</summary>
    /// <param name="o">The family's options.</param>
    /// <param name="s">The trial.</param>
    /// <param name="seed">The trainer's seed.</param>
    /// <param name="multimodal">Whether modality dropout and auxiliary losses apply (not for single-input trainers).</param>
    public TOptions Neural<TOptions>(TOptions o, FusionTrialSettings s, int seed, bool multimodal = true) where TOptions : FusionTrainerOptions
    {
        o.LabelColumnName = Label;
        o.LearningRate = Value(s, SweepParameters.LearningRate);
        o.Epochs = Value(s, SweepParameters.Epochs);
        o.HeadDropout = Value(s, SweepParameters.Dropout);
        if (multimodal)
        {
            o.ModalityDropout = Value(s, SweepParameters.ModalityDropout);
            o.AuxiliaryLossWeight = Value(s, SweepParameters.AuxiliaryLossWeight);
        }
        o.AugmentationStrength = Value(s, SweepParameters.AugmentationStrength);
        o.AudioAugmentationStrength = Value(s, SweepParameters.AudioAugmentationStrength);
        o.PerClipAudioNormalization = Value(s, SweepParameters.PerClipAudioNormalization);
        if (multimodal && o.AuxiliaryLossWeight > 0)
        {
            o.BalancedLearningAlpha = Value(s, SweepParameters.BalancedLearningAlpha);
            o.ModalityHeadWeight = Value(s, SweepParameters.ModalityHeadWeight);
        }
        o.Seed = seed; o.Progress = Progress; o.CancellationToken = Cancel;
        return o;
    }

    /// <summary>The sweep's LightGBM settings (early fusion and LightGBM late-fusion members).</summary>
    public LightGbmMulticlassTrainer.Options LightGbm(string features, int seed) => Leaderboard.LightGbmDefaults.Options(Label, features, seed);
}
