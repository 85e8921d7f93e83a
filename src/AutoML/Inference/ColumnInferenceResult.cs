using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetFusion.AutoML;

/// <summary>What a CSV column is used for.</summary>
public enum ColumnRole
{
    /// <summary>The label to predict (mapped to a key).</summary>
    Label,
    /// <summary>The group column (speaker, site, patient): used to split and to evaluate, never a feature (it would leak the group).</summary>
    Group,
    /// <summary>A number (a tabular feature).</summary>
    Numeric,
    /// <summary>A category: a one-hot tabular feature, hashed when it has many values.</summary>
    Categorical,
    /// <summary>A number that is also tried as a category (integer codes such as a zip code): both encodings join the tabular features.</summary>
    NumericAndCategorical,
    /// <summary>Free text.</summary>
    Text,
    /// <summary>Not used: an id, a constant, an empty column, or one the user excluded.</summary>
    Ignored,
    /// <summary>
    /// A column of a modality kind (<see cref="InferredColumn.Kind"/>): image paths, WAV paths, or a kind a library
    /// registered, recognised and featurized by that kind's <see cref="MLNetFusion.Models.IModalityColumnInference"/>;
    /// give it with <see cref="ColumnInferenceOptions.Kinds"/>.
    /// </summary>
    Modality,
}

/// <summary>One column of the CSV and the role inference gave it.</summary>
public sealed class InferredColumn
{
    internal InferredColumn(string name, int index, ColumnRole role, string reason, int distinctValues = 0, int emptyValues = 0)
    {
        Name = name; Index = index; Role = role; Reason = reason; DistinctValues = distinctValues; EmptyValues = emptyValues;
    }
    /// <summary>Empty values in the sampled rows (a number with some gets a missing-value indicator).</summary>
    public int EmptyValues { get; }
    /// <summary>
    /// For a number whose sampled values are all positive and strongly right-skewed (skewness above 2: incomes, prices,
    /// counts), true: the featurizer uses its logarithm (the normal CDF of the standardised log, in (0, 1)) instead of its
    /// raw value, as a tabular practitioner would. Editable.
    /// </summary>
    public bool LogTransform { get; set; }

    /// <summary>
    /// A category that looks like where rows come from (a speaker, a site, an airline: its name says so, and it has a
    /// few values, each on many rows) while no group column was given. If new rows come from other values, validation
    /// on these rows cannot see that shift: the leaderboard suggests <c>--group</c> with it.
    /// </summary>
    public bool LooksLikeGroup { get; set; }
    /// <summary>Distinct non-empty values in the sampled rows (decides one-hot or hashed encoding of a category).</summary>
    public int DistinctValues { get; }
    /// <summary>The column name in the header.</summary>
    public string Name { get; }
    /// <summary>The 0-based position in the CSV.</summary>
    public int Index { get; }
    /// <summary>The role; edit it to override inference (with <see cref="Kind"/> for <see cref="ColumnRole.Modality"/>; its settings are inferred when needed).</summary>
    public ColumnRole Role { get; set; }
    /// <summary>The column's sampled values, trimmed (what inference decided from; empty values are missing ones).</summary>
    public IReadOnlyList<string> SampledValues { get; internal set; } = Array.Empty<string>();
    /// <summary>The CSV line of each sampled value, for messages.</summary>
    internal IReadOnlyList<int> SampledLineNumbers { get; set; } = Array.Empty<int>();
    /// <summary>For a <see cref="ColumnRole.Modality"/> column, the kind that featurizes it (<c>Image</c>, <c>Audio</c>, a library's kind); else <c>null</c>.</summary>
    public MLNetFusion.Models.ModalityKind? Kind { get; set; }
    /// <summary>Why inference chose the role.</summary>
    public string Reason { get; set; }
    /// <inheritdoc />
    public override string ToString() => $"{Name}: {RoleName} ({Reason})";

    /// <summary>The role as a table shows it: a modality kind's columns by the kind's name (<c>Image</c>, <c>TimeSeries</c>).</summary>
    public string RoleName => Role == ColumnRole.Modality && Kind is { } k ? k.Name : Role.ToString();
}

/// <summary>
/// The result of <c>mlContext.Fusion().InferColumns(...)</c>: every column's role and why, each modality column's
/// preprocessing settings, and the loader and featurizer they imply. Edit <see cref="InferredColumn.Role"/> to override.
/// </summary>
public sealed class ColumnInferenceResult
{
    internal ColumnInferenceResult(string path, string dataFolder, char separator, IReadOnlyList<InferredColumn> columns, string label, string? group,
        IReadOnlyList<string> classes, long rows, ColumnInferenceOptions options)
    {
        Path = path; DataFolder = dataFolder; Separator = separator; Columns = columns; LabelColumnName = label; GroupColumnName = group;
        Classes = classes; RowCount = rows; Options = options;
    }

    /// <summary>The CSV the roles were inferred from.</summary>
    public string Path { get; }
    /// <summary>The folder relative image and audio paths are resolved against (the CSV's folder unless given).</summary>
    public string DataFolder { get; }
    /// <summary>The separator.</summary>
    public char Separator { get; }
    /// <summary>Every column of the CSV, in order.</summary>
    public IReadOnlyList<InferredColumn> Columns { get; }
    /// <summary>The label column.</summary>
    public string LabelColumnName { get; }
    /// <summary>The group column, or <c>null</c>.</summary>
    public string? GroupColumnName { get; }
    /// <summary>
    /// The label's distinct values over the whole file, sorted by value (numerically when every value is a number, else
    /// ordinally): the order of the key the featurizer maps the label to, so slot <c>i</c> of every model's <c>Score</c>
    /// is the probability of <c>Classes[i]</c>.
    /// </summary>
    public IReadOnlyList<string> Classes { get; }
    /// <summary>Number of classes.</summary>
    public int ClassCount => Classes.Count;
    /// <summary>Rows in the file.</summary>
    public long RowCount { get; }
    /// <summary>The options inference ran with.</summary>
    public ColumnInferenceOptions Options { get; }
    /// <summary>
    /// The preprocessing settings per modality column whose kind infers any (an image's size: <see cref="ImageColumnSettings"/>;
    /// a clip's rate and length: <see cref="AudioColumnSettings"/>): filled at inference, and for a column given a kind
    /// afterwards by <see cref="CreateFeaturizer"/>. Replace an entry to change what the featurizer does.
    /// </summary>
    public Dictionary<string, MLNetFusion.Models.ModalityColumnSettings> Settings { get; } = new();

    /// <summary>The settings of <paramref name="column"/> as <typeparamref name="T"/> (for example <c>SettingsOf&lt;ImageColumnSettings&gt;("Photo")</c>).</summary>
    /// <exception cref="ArgumentException">The column has none, or of another type.</exception>
    public T SettingsOf<T>(string column) where T : MLNetFusion.Models.ModalityColumnSettings
        => Settings.TryGetValue(column, out var s) ? s as T ?? throw new ArgumentException($"Column '{column}' has settings of type {s.GetType().Name}, not {typeof(T).Name}.", nameof(column))
            : throw new ArgumentException($"Column '{column}' of '{Path}' has no inferred settings (columns with settings: {(Settings.Count == 0 ? "none" : string.Join(", ", Settings.Keys))})." +
                Environment.NewLine + "Hint: settings belong to columns of a modality kind (images, audio).", nameof(column));

    /// <summary>The names of the columns with <paramref name="role"/>.</summary>
    public IReadOnlyList<string> ColumnsWith(ColumnRole role) => Columns.Where(c => c.Role == role).Select(c => c.Name).ToArray();

    /// <summary>The column named <paramref name="name"/>.</summary>
    public InferredColumn this[string name] => Columns.FirstOrDefault(c => c.Name == name)
        ?? throw new ArgumentException($"'{Path}' has no column '{name}' (columns: {string.Join(", ", Columns.Select(c => c.Name))}).", nameof(name));

    /// <summary>TextLoader columns for every used column: text for label, group, modality kinds' columns, categories and text; Single for numbers.</summary>
    public TextLoader.Column[] LoaderColumns() => Columns.Where(c => c.Role != ColumnRole.Ignored)
        .Select(c => new TextLoader.Column(c.Name, c.Role == ColumnRole.Numeric ? DataKind.Single : DataKind.String, c.Index)).ToArray();

    /// <summary>Loads <paramref name="path"/> (default: the inferred file) with the inferred columns; another split must have the same header.</summary>
    public IDataView Load(MLContext ml, string? path = null)
    {
        ArgumentNullException.ThrowIfNull(ml);
        path ??= Path;
        if (path != Path)
        {
            var header = Inference.CsvSample.Split(File.ReadLines(path).FirstOrDefault() ?? "", Separator).Select(h => h.Trim()).ToArray();
            foreach (var c in Columns.Where(c => c.Role != ColumnRole.Ignored))
                if (c.Index >= header.Length || header[c.Index] != c.Name)
                    throw new InvalidDataException($"'{path}' does not have column '{c.Name}' at position {c.Index + 1} as '{Path}' does (its header: {string.Join(", ", header)})." +
                        Environment.NewLine + "Hint: every split must have the same header as the file the columns were inferred from.");
        }
        return ml.Data.LoadFromTextFile(path, LoaderColumns(), Separator, hasHeader: true, allowQuoting: true);
    }

    /// <summary>
    /// The idiomatic ML.NET featurization of the inferred roles and the matching modality options: the label to a key
    /// (<see cref="FusionFeaturization.LabelToKey"/>, kept apart so a fitted model serves rows without a label); each
    /// column of a modality kind through its kind's chain (an image: <c>LoadImages</c> → <c>ResizeImages</c> →
    /// <c>ExtractPixels</c>; audio: <c>LoadAudio</c> → <c>MelSpectrogram</c>), in the CSV's order; numbers (missing values replaced by the mean) and one-hot categories
    /// concatenated and normalised into one tabular vector; each text column through <c>HashTextTokens</c> (token ids for the text encoder) and <c>FeaturizeText</c> (n-grams for early fusion and linear members).
    /// </summary>
    public FusionFeaturization CreateFeaturizer(MLContext ml) => FusionFeaturizerBuilder.Build(ml, this);
}

/// <summary>
/// A featurization chain and the modalities it produces, ready for the fusion trainers and the sweep. Train on
/// <c>LabelToKey.Append(Featurizer)</c> (or fit <see cref="LabelToKey"/> first and keep it out of the saved model): a
/// model made of <see cref="Featurizer"/> and a trainer reads neither the label nor the group, so it serves unlabelled rows.
/// </summary>
/// <param name="Featurizer">The estimator chain from the loaded CSV feature columns to the modality columns; it reads no label and no group.</param>
/// <param name="Modalities">One <c>ModalityOptions</c> per modality column (CNN for images and spectrograms, MLP for tabular, embedding bag for text).</param>
/// <param name="LabelColumnName">The key label column the trainers read: always <see cref="LabelKeyColumnName"/> (<c>Label</c>, ML.NET's default), whatever the CSV calls its label.</param>
/// <param name="KeptColumns">Columns to keep after featurization (modalities, label, group).</param>
public sealed record FusionFeaturization(IEstimator<ITransformer> Featurizer, IReadOnlyList<MLNetFusion.Models.ModalityOptions> Modalities, string LabelColumnName,
    IReadOnlyList<string> KeptColumns)
{
    /// <summary>The modality column names when a role has one column (with several: the column name plus <c>.Pixels</c>, <c>.LogMel</c>; text: <c>&lt;column&gt;.Text</c>).</summary>
    public const string Pixels = "Pixels", LogMel = "LogMel", Tabular = "Tabular";

    /// <summary>The key label column the featurizer writes and every trainer reads by default: <c>Label</c>.</summary>
    public const string LabelKeyColumnName = "Label";

    /// <summary>Maps the CSV's label column to the key <see cref="LabelKeyColumnName"/>, whose values are <see cref="ColumnInferenceResult.Classes"/> in that order.</summary>
    public required IEstimator<ITransformer> LabelToKey { get; init; }

    /// <summary>
    /// The columns of fixed features per modality for trainers that need dense input (an MLP on concatenated features):
    /// as <see cref="FeatureColumns"/>, but a text column gives its bag of words hashed to 1,024 slots
    /// (<c>&lt;column&gt;.Hashed</c>), never a dense copy of its vocabulary-wide n-grams.
    /// </summary>
    public required IReadOnlyList<string> DenseFeatureColumns { get; init; }

    private IReadOnlyList<string>? _pretrainedFeatures, _pretrainedDense;

    /// <summary>
    /// Per modality, its fixed features with a pretrained encoder's embeddings where one applies (a text column: its
    /// n-grams and its sentence embeddings, 0 for an empty text; an image: its ImageNet features instead of
    /// pixels), else <see cref="FeatureColumns"/>: what the fusion families' linear members read. The plain baselines
    /// keep <see cref="FeatureColumns"/>.
    /// </summary>
    public IReadOnlyList<string> PretrainedFeatureColumns { get => _pretrainedFeatures ?? FeatureColumns; init => _pretrainedFeatures = value; }

    /// <summary>As <see cref="PretrainedFeatureColumns"/> for dense trainers (a text column: its hashed bag of words and its sentence embeddings; an image: its features), else <see cref="DenseFeatureColumns"/>.</summary>
    public IReadOnlyList<string> PretrainedDenseFeatureColumns { get => _pretrainedDense ?? DenseFeatureColumns; init => _pretrainedDense = value; }

    /// <summary>Per modality, the pretrained encoder it uses (for example "all-MiniLM-L6-v2 sentence embeddings"), or <c>null</c>.</summary>
    public IReadOnlyList<string?> PretrainedEncoderNames { get; init; } = Array.Empty<string?>();

    /// <summary>The pretrained encoders the featurization uses, named once each and joined ("ResNet18 (ImageNet) features and …"), or <c>null</c> for none.</summary>
    public string? PretrainedNames => PretrainedEncoderNames.OfType<string>().Distinct().ToList() is { Count: > 0 } names ? string.Join(" and ", names) : null;

    /// <summary>The training chain: <see cref="LabelToKey"/> then <see cref="Featurizer"/>.</summary>
    public IEstimator<ITransformer> WithLabel => LabelToKey.Append(Featurizer);

    /// <summary>The modality column names (what the neural families' encoders read).</summary>
    public IReadOnlyList<string> ModalityColumns => Modalities.Select(m => m.ColumnName).ToArray();

    /// <summary>The columns of fixed features per modality, for early fusion's <c>Concatenate</c> and linear members (text: its n-gram vector, not its token ids).</summary>
    public IReadOnlyList<string> FeatureColumns => Modalities.Select(m => m.FeaturesColumn).ToArray();
}
