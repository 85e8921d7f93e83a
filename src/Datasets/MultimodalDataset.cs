using Microsoft.ML;
using MLNetFusion.AutoML;
using MLNetFusion.Models;
using MLNetFusion.Datasets;

namespace MLNetFusion.Datasets;

/// <summary>
/// A folder of multimodal rows (a training CSV, and a test CSV or a test fraction) whose column roles come from
/// <c>mlContext.Fusion().InferColumns</c>, and the idiomatic ML.NET featurization built from them. The generated
/// dataset and avdigits are two uses of it; so is any user's CSV (<c>mlnetfusion leaderboard --train …</c>).
/// </summary>
public sealed class MultimodalDataset
{
    /// <summary>Modality column names when a role has one column; <see cref="Features"/> is early fusion's concatenation.</summary>
    public const string Pixels = FusionFeaturization.Pixels, LogMel = FusionFeaturization.LogMel, Tabular = FusionFeaturization.Tabular, Features = "Features";

    private readonly FusionFeaturization _featurization;

    private MultimodalDataset(ColumnInferenceResult columns, string? testFile, double testFraction)
    {
        Columns = columns;
        TestPath = testFile == null ? null : Path.GetFullPath(testFile);
        TestFraction = testFraction;
        _featurization = columns.CreateFeaturizer(new MLContext(0));
    }

    /// <summary>
    /// Infers the roles of <paramref name="trainFile"/>'s columns and describes the dataset.
    /// </summary>
    /// <param name="trainFile">The training CSV.</param>
    /// <param name="testFile">The test CSV (same header), or <c>null</c> to hold out <paramref name="testFraction"/> of the training rows.</param>
    /// <param name="label">The label column.</param>
    /// <param name="group">The group column (speaker, site): never a feature; late fusion's folds are grouped by it.</param>
    /// <param name="roles">Roles or modality kinds that override inference, by name (column → <c>Numeric</c>, <c>Text</c>, <c>Image</c>, …; see <see cref="ColumnInferenceOptions.SetRoleOrKind"/>).</param>
    /// <param name="testFraction">Share of rows held out for testing when there is no test file (whole groups when there is a group column).</param>
    /// <param name="dataFolder">Folder relative file paths are resolved against (default: the training CSV's folder).</param>
    /// <param name="edit">Edits the inferred result before the featurizer is built (as a user edits roles or settings).</param>
    /// <param name="pretrained">Columns use pretrained encoders when the application ships them (<see cref="ColumnInferenceOptions.Pretrained"/>).</param>
    public static MultimodalDataset FromCsv(string trainFile, string? testFile, string label = "Label", string? group = null,
        IReadOnlyDictionary<string, string>? roles = null, double testFraction = 0.2, string? dataFolder = null, Action<ColumnInferenceResult>? edit = null,
        bool pretrained = true)
    {
        if (testFile == null && !(testFraction > 0 && testFraction < 1))
            throw new ArgumentException($"The test fraction is {testFraction.ToString(System.Globalization.CultureInfo.InvariantCulture)}; without a test file it must be between 0 and 1 (exclusive)." + Environment.NewLine + "Hint: pass --test FILE, or --test-fraction 0.2 to hold out a fifth of the training rows.");
        var options = new ColumnInferenceOptions { GroupColumnName = group, DataFolder = dataFolder, Pretrained = pretrained };
        if (roles != null) foreach (var (column, role) in roles) options.SetRoleOrKind(column, role);
        var columns = new MLContext(0).Fusion().InferColumns(trainFile, label, group, options);
        edit?.Invoke(columns);
        if (testFile != null && !File.Exists(testFile))
            throw new FileNotFoundException($"Test file '{testFile}' does not exist." + Environment.NewLine + "Hint: pass --test with an existing CSV, or --test-fraction to hold out training rows.", testFile);
        return new MultimodalDataset(columns, testFile, testFraction);
    }

    /// <summary>MLNetFusion's generated default dataset (see <see cref="SyntheticMultimodalDataset"/>). Its <c>Site</c>
    /// column is not a feature: it is ignored, or the group with <paramref name="group"/> = "Site". Its tones lie in
    /// 500-1400 Hz, so its log-mel keeps the generator's 32 bands instead of the inferred 40. Its notes and images keep the
    /// trainable encoders (hashed words, a CNN) whatever packages the app ships, so the main job and the tests see one featurization.</summary>
    public static MultimodalDataset Synthetic(string folder, string? group = null) => FromCsv(Path.Combine(folder, "train.csv"), Path.Combine(folder, "test.csv"), "Label", group,
        pretrained: false, edit: r =>
        {
            r.Settings["AudioPath"] = r.SettingsOf<AudioColumnSettings>("AudioPath") with { MelBands = SyntheticMultimodalDataset.MelBands };
            if (group == SyntheticMultimodalDataset.SiteColumn) return;
            var site = r[SyntheticMultimodalDataset.SiteColumn];
            site.Role = ColumnRole.Ignored;
            site.Reason = "the generated dataset's recording site: not a feature (pass --group Site to judge on unseen sites)";
        });

    /// <summary>
    /// avdigits (<c>../shared/data/avdigits</c>: spoken digits and corrupted MNIST, see its README for attribution) with
    /// <c>Speaker</c> as the group column, or another group column of its train.csv.
    /// </summary>
    /// <param name="folder">The folder holding train.csv and test.csv.</param>
    /// <param name="group">The group column (default <c>Speaker</c>).</param>
    /// <param name="pretrained">Its digit images use the pretrained image encoder when the application ships it. Default
    /// false: the tests and benchmarks that train on avdigits see one featurization (a CNN on its pixels) whatever
    /// packages the app ships; the command line's <c>leaderboard --train</c> infers it as it does any CSV.</param>
    /// <exception cref="DirectoryNotFoundException">The folder has no train.csv; the message says how to point to it.</exception>
    public static MultimodalDataset AvDigits(string folder, string? group = "Speaker", bool pretrained = false)
    {
        if (!DefaultPaths.IsAvDigits(folder))
            throw new DirectoryNotFoundException($"avdigits not found at '{Path.GetFullPath(folder)}' (no train.csv there)." + Environment.NewLine +
                $"Hint: it lives in {DefaultPaths.AvDigits} next to the repository; pass the folder that contains train.csv and test.csv.");
        return FromCsv(Path.Combine(folder, "train.csv"), Path.Combine(folder, "test.csv"), "Label", group ?? "Speaker", pretrained: pretrained);
    }

    /// <summary>The featurization the roles imply (columns, modalities, label key).</summary>
    public FusionFeaturization Featurization => _featurization;

    /// <summary>The inferred roles and settings.</summary>
    public ColumnInferenceResult Columns { get; }
    /// <summary>The training CSV's folder.</summary>
    public string Folder => Path.GetDirectoryName(Columns.Path)!;
    /// <summary>The training CSV's file name (relative to <see cref="Folder"/>).</summary>
    public string TrainFile => Path.GetFileName(Columns.Path);
    /// <summary>The test CSV, or <c>null</c> when <see cref="TestFraction"/> of the training rows are held out.</summary>
    public string? TestPath { get; }
    /// <summary>The test CSV's path relative to <see cref="Folder"/> when it is there, else its full path.</summary>
    public string TestFile => TestPath == null ? throw new InvalidOperationException("This dataset has no test file; it holds out TestFraction of the training rows.")
        : Path.GetDirectoryName(TestPath) == Folder ? Path.GetFileName(TestPath) : TestPath;
    /// <summary>Share of training rows held out for testing when there is no test file.</summary>
    public double TestFraction { get; }
    /// <summary>The key label column the featurizer writes and the trainers read (<c>Label</c>, whatever the CSV calls its label).</summary>
    public string LabelColumn => _featurization.LabelColumnName;
    /// <summary>The CSV's label column (for example <c>digit</c>).</summary>
    public string LabelSourceColumn => Columns.LabelColumnName;
    /// <summary>The group column, or <c>null</c>.</summary>
    public string? GroupColumn => Columns.GroupColumnName;
    /// <summary>The columns kept after featurization: the modalities, the label and the group.</summary>
    public IReadOnlyList<string> KeptColumns => _featurization.KeptColumns;

    /// <summary>The featurized modality columns the fusion families read.</summary>
    public IReadOnlyList<string> ModalityColumns => _featurization.ModalityColumns;

    /// <summary>The columns of fixed features per modality, which early fusion concatenates (text: its n-gram vector).</summary>
    public IReadOnlyList<string> FeatureColumns => _featurization.FeatureColumns;

    /// <summary>The columns of fixed features for dense trainers: <see cref="FeatureColumns"/> with each text column's n-grams replaced by its bounded hashed bag (see <see cref="FusionFeaturization.DenseFeatureColumns"/>).</summary>
    public IReadOnlyList<string> DenseFeatureColumns => _featurization.DenseFeatureColumns;

    /// <summary>Loads a split (a CSV with the training file's header), <paramref name="file"/> relative to <see cref="Folder"/>.</summary>
    public IDataView Load(MLContext ml, string file) => Columns.Load(ml, Path.IsPathRooted(file) ? file : Path.Combine(Folder, file));

    /// <summary>The training featurization: the label to the key <see cref="LabelColumn"/>, then <see cref="FeatureChain"/> (see <see cref="ColumnInferenceResult.CreateFeaturizer"/>).</summary>
    public IEstimator<ITransformer> Featurizer(MLContext ml) => Columns.CreateFeaturizer(ml).WithLabel;

    /// <summary>The feature chain alone: it reads neither the label nor the group, so a model built on it serves unlabelled rows.</summary>
    public IEstimator<ITransformer> FeatureChain(MLContext ml) => Columns.CreateFeaturizer(ml).Featurizer;

    /// <summary>Maps the CSV's label column to the key <see cref="LabelColumn"/> (classes sorted by value, <see cref="ColumnInferenceResult.Classes"/>).</summary>
    public IEstimator<ITransformer> LabelToKey(MLContext ml) => Columns.CreateFeaturizer(ml).LabelToKey;

    /// <summary>Modality options for the neural fusion trainers: a CNN for pixels and log-mel, an MLP for tabular, an embedding bag for text (fresh copies).</summary>
    public List<ModalityOptions> Modalities() => _featurization.Modalities.Select(m => m.Clone()).ToList();

    /// <summary>
    /// Late-fusion members for the dataset's modalities: a CNN per image and spectrogram (MLNetFusion's single-modality
    /// network), L-BFGS maximum entropy on the tabular columns and on text n-grams.
    /// </summary>
    /// <param name="ml">The context.</param>
    /// <param name="epochs">Epochs of the CNN members.</param>
    /// <param name="progress">Per-epoch progress of the CNN members, or <c>null</c>.</param>
    public List<Trainers.LateFusion.LateFusionMember> LateFusionMembers(MLContext ml, int epochs, Action<Training.EpochReport>? progress = null)
        => LateFusionMemberRecipe.Create(ml, LabelColumn, _featurization.Modalities, (m, _) => new Trainers.Network.NetworkFusionOptions { Modalities = new() { m }, Epochs = epochs, Progress = progress });

    /// <summary>Loads the training rows and the test rows (the test file, or a held-out share of the training rows).</summary>
    public (IDataView train, IDataView test) LoadSplits(MLContext ml)
    {
        var raw = Load(ml, Columns.Path);
        if (TestPath != null) return (raw, Load(ml, TestPath));
        if (GroupColumn != null) return Data.SamplingKeyGroups.HoldOutGroups(raw, GroupColumn, TestFraction, seed: 1);
        var split = ml.Data.TrainTestSplit(raw, TestFraction, seed: 1);
        return (split.TrainSet, split.TestSet);
    }

    /// <summary>Featurizes train and test once (fitted on train) and keeps the modality, label and group columns in memory.</summary>
    public (IDataView train, IDataView test, ITransformer featurizer) Featurize(MLContext ml)
    {
        var (rawTrain, rawTest) = LoadSplits(ml);
        var featurizer = Featurizer(ml).Fit(rawTrain);
        var select = ml.Transforms.SelectColumns(KeptColumns.ToArray()).Fit(featurizer.Transform(rawTrain));
        IDataView Materialize(IDataView raw) => ml.Data.Cache(select.Transform(featurizer.Transform(raw)));
        return (Materialize(rawTrain), Materialize(rawTest), featurizer);
    }
}
