using System.Globalization;
using Microsoft.ML;
using MLNetFusion.AutoML;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers;

namespace MLNetFusion.Distributed;

/// <summary>
/// What a distributed study searches: the data (by path, on storage every silo sees), how trials are validated, the
/// search space and the budget. It is what the study grain persists and every worker rebuilds the experiment from, so
/// it holds values only. <see cref="CreateExperiment"/> gives the same <see cref="FusionExperiment"/> on every machine,
/// and <see cref="RunLocal"/> runs it in this process, for comparison.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record FusionStudySpec
{
    /// <summary>The training CSV (a path every silo can read: a shared folder, or the same path on each machine).</summary>
    [Id(0)] public required string TrainPath { get; init; }
    /// <summary>The CSV's label column.</summary>
    [Id(1)] public string Label { get; init; } = "Label";
    /// <summary>The group column (speaker, site): folds and the hold-out are made of whole groups; never a feature.</summary>
    [Id(2)] public string? Group { get; init; }
    /// <summary>Roles that override column inference (column name → a <see cref="ColumnRole"/> or modality kind name, as <see cref="ColumnInferenceOptions.SetRoleOrKind"/> reads them; <c>ImagePath</c> and <c>AudioPath</c> of older specifications too).</summary>
    [Id(3)] public IReadOnlyDictionary<string, string> Roles { get; init; } = new Dictionary<string, string>();
    /// <summary>Folder relative file paths in the CSV are resolved against (default: the CSV's folder).</summary>
    [Id(4)] public string? DataFolder { get; init; }
    /// <summary>Validate trials by k-fold cross-validation (grouped with <see cref="Group"/>); 0: one hold-out of <see cref="ValidationFraction"/> (whole groups with <see cref="Group"/>).</summary>
    [Id(5)] public int Folds { get; init; }
    /// <summary>The hold-out share when <see cref="Folds"/> is 0.</summary>
    [Id(6)] public double ValidationFraction { get; init; } = 0.2;
    /// <summary>Seeds the folds, the tuner and every trial.</summary>
    [Id(7)] public int Seed { get; init; } = 1;
    /// <summary>Trial budget (the study proposes no more trials), or <c>null</c>.</summary>
    [Id(8)] public int? MaxTrials { get; init; }
    /// <summary>Time budget from the study's start, in seconds (no trial is started after it; running ones finish), or <c>null</c>.</summary>
    [Id(9)] public double? TimeBudgetSeconds { get; init; }
    /// <summary>Asynchronous successive halving's reduction factor.</summary>
    [Id(10)] public int Eta { get; init; } = 3;
    /// <summary>The families to search (names as <see cref="FusionFamilies.Name"/> writes them), or <c>null</c> for the search space's default.</summary>
    [Id(11)] public IReadOnlyList<string>? Families { get; init; }
    /// <summary>The neural trainers' epochs range (the rungs run from its minimum to its maximum), or <c>null</c> for the search space's default.</summary>
    [Id(12)] public int? MinEpochs { get; init; }
    /// <summary>See <see cref="MinEpochs"/>.</summary>
    [Id(13)] public int? MaxEpochs { get; init; }
    /// <summary>The optimised metric.</summary>
    [Id(14)] public FusionMetric Metric { get; init; } = FusionMetric.Accuracy;
    /// <summary>Which generated or known dataset <see cref="TrainPath"/>'s folder is: <c>csv</c> (any CSV, default), <c>synthetic</c> or <c>avdigits</c>; they differ in the roles the project sets for them.</summary>
    [Id(15)] public string Kind { get; init; } = "csv";
    /// <summary>Where workers write trial models and the final model (a folder every silo can write), or <c>null</c> to write none.</summary>
    [Id(16)] public string? ModelFolder { get; init; }
    /// <summary>Refit the best configuration on all training rows at the end and write it to <see cref="ModelFolder"/> (default true when there is a model folder).</summary>
    [Id(17)] public bool Refit { get; init; } = true;

    /// <summary>Checks the values that do not need the data; the message names the field.</summary>
    public void Validate()
    {
        static ArgumentException Bad(string what, string hint) => new(what + Environment.NewLine + "Hint: " + hint);
        if (string.IsNullOrWhiteSpace(TrainPath)) throw Bad("The study has no TrainPath.", "set TrainPath to a CSV every silo can read.");
        if (Folds == 1 || Folds < 0) throw Bad($"Folds is {Folds}.", "use 0 for one hold-out, or at least 2 folds.");
        if (Folds == 0 && !(ValidationFraction > 0 && ValidationFraction < 1)) throw Bad($"ValidationFraction is {ValidationFraction.ToString(CultureInfo.InvariantCulture)}.", "use a share between 0 and 1, for example 0.2.");
        if (MaxTrials is null && TimeBudgetSeconds is null) throw Bad("The study has no budget.", "set MaxTrials and/or TimeBudgetSeconds.");
        if (MaxTrials is <= 0) throw Bad($"MaxTrials is {MaxTrials}.", "use at least 1.");
        if (TimeBudgetSeconds is <= 0) throw Bad($"TimeBudgetSeconds is {TimeBudgetSeconds}.", "use a positive number of seconds.");
        if (Eta < 2) throw Bad($"Eta is {Eta}.", "use 2 or more (3 is the usual choice).");
        if (Kind is not ("csv" or "synthetic" or "avdigits")) throw Bad($"Kind is '{Kind}'.", "use csv, synthetic or avdigits.");
        if (Families != null)
            foreach (var f in Families)
                if (!FusionFamilies.TryParse(f, out _)) throw Bad($"Unknown family '{f}' in Families.", "use early, late, merge, network or cross-modal.");
        if (MinEpochs is <= 0 || MaxEpochs is <= 0 || MinEpochs > MaxEpochs) throw Bad($"The epochs range is [{MinEpochs}, {MaxEpochs}].", "use 1 <= MinEpochs <= MaxEpochs.");
    }

    /// <summary>Describes the dataset (column inference on the CSV; nothing is featurized).</summary>
    /// <exception cref="FileNotFoundException">The CSV cannot be read here; the message names the path.</exception>
    public MultimodalDataset OpenDataset()
    {
        if (!File.Exists(TrainPath))
            throw new FileNotFoundException($"The study's training CSV '{TrainPath}' does not exist on this machine." + Environment.NewLine +
                "Hint: put the data on storage every silo sees (a shared folder mounted at the same path), or give each machine a copy at that path.", TrainPath);
        string folder = Path.GetDirectoryName(Path.GetFullPath(TrainPath))!;
        return Kind switch
        {
            "synthetic" => MultimodalDataset.Synthetic(folder, Group),
            "avdigits" => MultimodalDataset.AvDigits(folder, Group),
            _ => MultimodalDataset.FromCsv(TrainPath, null, Label, Group,
                Roles, dataFolder: DataFolder),
        };
    }

    /// <summary>The search space: the default space, with <see cref="Families"/> and the epochs range when set.</summary>
    public FusionSearchSpace CreateSearchSpace()
    {
        var space = new FusionSearchSpace();
        if (Families != null) space.Families = Families.Select(FusionFamilies.Parse).ToList();
        if (MinEpochs != null || MaxEpochs != null)
        {
            var e = space.Epochs;
            double min = MinEpochs ?? e.Min, max = MaxEpochs ?? e.Max;
            space.Epochs = new NumericRange(min, max, Math.Clamp(e.DefaultValue, min, max), e.LogScale, e.Integer, e.GridPoints);
        }
        return space;
    }

    /// <summary>The space trials are drawn from for <paramref name="dataset"/>'s modalities (what <see cref="FusionExperiment.TrialSearchSpace"/> gives), without reading any rows.</summary>
    public FusionSearchSpace TrialSearchSpace(MultimodalDataset dataset)
        => CreateSearchSpace().ForModalities((dataset ?? throw new ArgumentNullException(nameof(dataset))).Modalities());

    /// <summary>The study's tuner: asynchronous successive halving with <see cref="Eta"/>.</summary>
    public AsyncSuccessiveHalvingTuner CreateTuner() => new(Eta);

    /// <summary>
    /// The experiment every worker and <see cref="RunLocal"/> run: the dataset's training rows (its test file, if any, is
    /// not read) featurized once with the dataset's featurizer, validated as <see cref="Folds"/> and
    /// <see cref="ValidationFraction"/> say (whole groups with <see cref="Group"/>), the search space, the metric and the
    /// seed. Returns the experiment and the featurized training rows' schema (the input of the trial models).
    /// </summary>
    public (FusionExperiment Experiment, DataViewSchema FeatureSchema) CreateExperiment(MLContext ml, MultimodalDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        var raw = dataset.Load(ml, dataset.Columns.Path);
        var featurizer = dataset.Featurizer(ml).Fit(raw);
        var select = ml.Transforms.SelectColumns(dataset.KeptColumns.ToArray()).Fit(featurizer.Transform(raw));
        var train = ml.Data.Cache(select.Transform(featurizer.Transform(raw)));
        var experiment = ml.Fusion().CreateExperiment();
        if (Folds > 1) experiment.SetDataset(train, Folds, Group != null ? dataset.GroupColumn : null);
        else if (Group != null) experiment.SetDataset(train, ValidationFraction, dataset.GroupColumn!);
        else
        {
            var split = ml.Data.TrainTestSplit(train, testFraction: ValidationFraction, seed: Seed);
            experiment.SetDataset(split.TrainSet, split.TestSet);
        }
        experiment.SetModalities(dataset.Modalities().ToArray())
            .SetMulticlassClassificationMetric(Metric, dataset.LabelColumn)
            .SetSearchSpace(CreateSearchSpace())
            .SetTuner(CreateTuner())
            .SetSeed(Seed)
            .SetRefit(Refit);
        if (MaxTrials is int n) experiment.SetMaxTrials(n);
        if (TimeBudgetSeconds is double s) experiment.SetTrainingTimeInSeconds((uint)Math.Max(1, Math.Ceiling(s)));
        return (experiment, train.Schema);
    }

    /// <summary>Runs the study in this process with <see cref="FusionExperiment"/> (one trial at a time): the reference a one-worker distributed study matches.</summary>
    public FusionExperimentResult RunLocal(MLContext? ml = null, CancellationToken cancellationToken = default)
    {
        Validate();
        ml ??= new MLContext(Seed);
        var (experiment, _) = CreateExperiment(ml, OpenDataset());
        return experiment.RunAsync(cancellationToken).GetAwaiter().GetResult();
    }
}
