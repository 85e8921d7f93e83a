using Microsoft.ML;
using Microsoft.ML.Trainers.LightGbm;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.AutoML.Sweep.Families;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Training;

namespace MLNetFusion.AutoML;

/// <summary>
/// The one engine that turns a candidate's settings (<see cref="FusionTrialSettings"/>: a family and its parameter
/// values) into an estimator, through the family classes: leaderboard entries, sweep trials and distributed trials are
/// all built here. A parameter the settings leave out takes the value of <see cref="Space"/>'s dimension when the
/// context has a search space (the sweep), else the trainer's own default (the leaderboard).
/// </summary>
/// <param name="ML">The context (its log and seed are the caller's).</param>
/// <param name="Modalities">The modality columns the candidates read (after featurization), in order.</param>
/// <param name="Label">The key label column.</param>
public sealed record CandidateContext(MLContext ML, IReadOnlyList<ModalityOptions> Modalities, string Label)
{
    /// <summary>
    /// The context of the leaderboard's candidates on <paramref name="featurization"/>'s columns: its modalities with
    /// their dense and pretrained feature columns, its features already normalised.
    /// </summary>
    /// <param name="ml">The context.</param>
    /// <param name="featurization">The featurized columns (<see cref="ColumnInferenceResult.CreateFeaturizer"/>).</param>
    /// <param name="groupColumnName">The group column, or <c>null</c>: late fusion's and hybrid fusion's folds are then whole groups.</param>
    public static CandidateContext For(MLContext ml, FusionFeaturization featurization, string? groupColumnName = null)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(featurization);
        var modalities = featurization.Modalities.Select((m, i) =>
        {
            var copy = m.Clone();
            copy.DenseFeaturesColumnName = featurization.DenseFeatureColumns.ElementAtOrDefault(i) ?? m.DenseFeaturesColumnName;
            return copy;
        }).ToArray();
        return new CandidateContext(ml, modalities, featurization.LabelColumnName)
        {
            GroupColumnName = groupColumnName, FeaturesNormalized = true,
            PretrainedFeatureColumns = featurization.PretrainedFeatureColumns, PretrainedDenseFeatureColumns = featurization.PretrainedDenseFeatureColumns,
        };
    }

    /// <summary>The search space whose dimensions give the values a trial's settings leave out; <c>null</c> (default): the trainers' defaults.</summary>
    public FusionSearchSpace? Space { get; init; }

    /// <summary>The group column (speaker, site): late fusion's and hybrid fusion's folds are whole groups. Default <c>null</c>.</summary>
    public string? GroupColumnName { get; init; }

    /// <summary>Cross-fitting folds of late fusion's fitted combiners. Default 3 (<see cref="FusionCandidates.Defaults.LateFusionFolds"/>).</summary>
    public int LateFusionFolds { get; init; } = FusionCandidates.Defaults.LateFusionFolds;

    /// <summary>
    /// The trainers' seed (a late-fusion member's is this plus its index; LightGBM's is this, or 1 when <c>null</c>).
    /// <c>null</c> (default): each trainer's default, which derives it from the <c>MLContext</c>.
    /// </summary>
    public int? Seed { get; init; }

    /// <summary>
    /// Epochs without a better validation loss before a neural candidate stops and keeps its best epoch (it then
    /// validates on a tenth of its training rows); 0 (default): every epoch runs.
    /// </summary>
    public int EarlyStoppingPatience { get; init; } = FusionCandidates.Defaults.EarlyStoppingPatience;

    /// <summary>
    /// Per modality (in <see cref="Modalities"/>' order), its fixed features with a pretrained encoder's embeddings
    /// where one applies, for linear late-fusion members and early fusion with <see cref="SweepParameters.PretrainedFeatures"/>;
    /// <c>null</c> (default): none.
    /// </summary>
    public IReadOnlyList<string>? PretrainedFeatureColumns { get; init; }

    /// <summary>As <see cref="PretrainedFeatureColumns"/> for dense learners (LightGBM, an MLP); <c>null</c> (default): none.</summary>
    public IReadOnlyList<string>? PretrainedDenseFeatureColumns { get; init; }

    /// <summary>
    /// Whether the feature columns are already normalised (the leaderboard's featurization does it): then early fusion's
    /// linear model reads them as they are; otherwise it min-max normalises the concatenation first. Default false.
    /// </summary>
    public bool FeaturesNormalized { get; init; }

    /// <summary>Receives the share of a candidate's fit done (0 to 1) and a stage such as <c>epoch 3/15</c>; may be <c>null</c>.</summary>
    public Action<double, string>? Progress { get; init; }

    /// <summary>Receives every epoch of the TorchSharp trainers (the sweep counts them); may be <c>null</c>.</summary>
    public Action<EpochReport>? EpochFinished { get; init; }

    /// <summary>Cancels the TorchSharp trainers.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>Late-fusion member fits shared by every candidate fitted on the same rows (one instance per training set of the leaderboard).</summary>
    internal SharedMemberFits? LateFusionFits { get; init; }

    /// <summary>The estimator of <paramref name="settings"/>, built by its family's class.</summary>
    /// <param name="settings">The family and its parameter values.</param>
    public IEstimator<ITransformer> Build(FusionTrialSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return FamilySweeps.Of(settings.Family).Build(this, settings);
    }

    /// <summary>
    /// The value of <paramref name="parameter"/> for <paramref name="settings"/>: the settings' own, else its dimension's
    /// default in <see cref="Space"/>; <c>false</c> when neither has one (the trainer's default then applies).
    /// </summary>
    internal bool TryValue<T>(FusionTrialSettings settings, SweepParameter<T> parameter, out T value) where T : notnull
    {
        if (parameter.TryGet(settings.Parameters, out value)) return true;
        return Space != null && parameter.TryDefaultIn(Space, out value);
    }

    /// <summary>The value of <paramref name="parameter"/>, or <paramref name="otherwise"/> when neither the settings nor the space give one.</summary>
    internal T Value<T>(FusionTrialSettings settings, SweepParameter<T> parameter, T otherwise) where T : notnull
        => TryValue(settings, parameter, out var v) ? v : otherwise;

    /// <summary>The modalities a candidate uses: its <c>modalities</c> subset, else all, in <see cref="Modalities"/>' order.</summary>
    internal IReadOnlyList<ModalityOptions> ModalitiesOf(FusionTrialSettings s)
    {
        if (!TryValue(s, SweepParameters.Modalities, out var subset)) return Modalities;
        // A modality whose own name holds the separator is still found by its whole name.
        var names = Modalities.Any(m => m.Name == subset) ? new[] { subset } : ModalitySubsetChoice.Parse(subset);
        var unknown = names.FirstOrDefault(n => Modalities.All(m => m.Name != n));
        if (unknown != null)
            throw new ArgumentException($"Trial {s.TrialId} uses modality '{unknown}', which is not one of the experiment's modalities ({string.Join(", ", Modalities.Select(m => m.Name))})." +
                Environment.NewLine + "Hint: build FusionSearchSpace.Modalities from the names given to SetModalities, or leave it null.");
        return Modalities.Where(m => names.Contains(m.Name)).ToList();
    }

    /// <summary>
    /// Copies of the modalities a network of the candidate encodes. One modality alone that can be missing for a row (a
    /// text, which can be empty; an image read through its pretrained features) cannot predict such rows through its
    /// encoder, so alone it is read through an MLP on its fixed dense features (its pretrained ones where given), which
    /// are zero for a missing value.
    /// </summary>
    internal List<ModalityOptions> NetworkModalitiesOf(FusionTrialSettings s)
    {
        var chosen = ModalitiesOf(s);
        if (chosen.Count == 1 && chosen[0].FeaturesColumnName != null)
        {
            var m = chosen[0];
            return new() { ModalityOptions.Tabular(FeatureColumnOf(m, dense: true, pretrained: true), m.Name, AloneWidths) };
        }
        return chosen.Select(m => m.Clone()).ToList();
    }

    /// <summary>The hidden widths of the MLP that reads one modality's fixed features alone.</summary>
    private static readonly int[] AloneWidths = { 64, 32 };

    /// <summary>The column of <paramref name="m"/>'s fixed features: sparse or bounded dense, with its pretrained embeddings where the context has them.</summary>
    internal string FeatureColumnOf(ModalityOptions m, bool dense, bool pretrained)
    {
        int index = -1;
        for (int i = 0; i < Modalities.Count && index < 0; i++) if (ReferenceEquals(Modalities[i], m)) index = i;
        var withEmbeddings = dense ? PretrainedDenseFeatureColumns : PretrainedFeatureColumns;
        if (pretrained && index >= 0 && withEmbeddings?.ElementAtOrDefault(index) is { } column) return column;
        return dense ? m.DenseFeaturesColumn : m.FeaturesColumn;
    }

    /// <summary>Fills what every TorchSharp trainer of a candidate shares: the label, the candidate's neural parameters, the seed, progress, cancellation and early stopping.</summary>
    /// <param name="o">The family's options.</param>
    /// <param name="s">The candidate.</param>
    /// <param name="seedOffset">Added to <see cref="Seed"/> (a late-fusion member's index).</param>
    /// <param name="multimodal">Whether modality dropout and auxiliary losses apply (not for single-input trainers).</param>
    /// <param name="progress">Per-epoch progress; <c>null</c>: <see cref="Progress"/> and <see cref="EpochFinished"/>.</param>
    internal TOptions Neural<TOptions>(TOptions o, FusionTrialSettings s, int seedOffset = 0, bool multimodal = true, Action<EpochReport>? progress = null) where TOptions : FusionTrainerOptions
    {
        o.LabelColumnName = Label;
        if (TryValue(s, SweepParameters.LearningRate, out var lr)) o.LearningRate = lr;
        if (TryValue(s, SweepParameters.Epochs, out var epochs)) o.Epochs = epochs;
        if (TryValue(s, SweepParameters.Dropout, out var dropout)) o.HeadDropout = dropout;
        if (multimodal)
        {
            if (TryValue(s, SweepParameters.ModalityDropout, out var md)) o.ModalityDropout = md;
            if (TryValue(s, SweepParameters.AuxiliaryLossWeight, out var aux)) o.AuxiliaryLossWeight = aux;
        }
        if (TryValue(s, SweepParameters.AugmentationStrength, out var aug)) o.AugmentationStrength = aug;
        // Each modality kind's own settings (the audio kind's SpecAugment strength and per-clip normalisation), on copies
        // the trainer owns (a late-fusion member shares the context's modality otherwise).
        var modalities = o.Modalities;
        for (int i = 0; i < modalities.Count; i++)
        {
            var tuned = ModalityRegistry.Get(modalities[i].Kind).Tunings
                .Select(t => (t, found: TryValue(s, SweepParameters.Tuning(t.Name), out var v), value: v)).Where(x => x.found).ToList();
            if (tuned.Count == 0) continue;
            modalities[i] = modalities[i].Clone();
            foreach (var (tuning, _, value) in tuned) tuning.Apply(modalities[i], value);
        }
        if (multimodal && o.AuxiliaryLossWeight > 0)
        {
            if (TryValue(s, SweepParameters.BalancedLearningAlpha, out var alpha)) o.BalancedLearningAlpha = alpha;
            if (TryValue(s, SweepParameters.ModalityHeadWeight, out var heads)) o.ModalityHeadWeight = heads;
        }
        if (Seed is int seed) o.Seed = seed + seedOffset;
        o.Progress = progress ?? EpochProgress;
        o.CancellationToken = CancellationToken;
        if (EarlyStoppingPatience > 0)
        {
            o.EarlyStoppingPatience = EarlyStoppingPatience;
            o.ValidationFraction = FusionCandidates.Defaults.EarlyStoppingValidationFraction;
        }
        return o;
    }

    /// <summary>Per-epoch progress: <see cref="EpochFinished"/>, and <see cref="Progress"/> as a share of the fit; <c>null</c> when neither is set.</summary>
    internal Action<EpochReport>? EpochProgress => Progress == null && EpochFinished == null ? null : r =>
    {
        EpochFinished?.Invoke(r);
        Progress?.Invoke((double)r.Epoch / r.Epochs, $"epoch {r.Epoch}/{r.Epochs}, loss {r.TrainLoss:F3}");
    };

    /// <summary>LightGBM's options on <paramref name="features"/> (<see cref="LightGbmDefaults"/>, seeded by <see cref="Seed"/>).</summary>
    internal LightGbmMulticlassTrainer.Options LightGbm(string features) => LightGbmDefaults.Options(Label, features, Seed ?? 1);
}
