namespace MLNetFusion.AutoML;

/// <summary>Options of <c>mlContext.Fusion().InferColumns</c>.</summary>
public sealed class ColumnInferenceOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>Rows read to decide roles.</summary>
        public const int RowsToSample = 1000;
        /// <summary>Files decoded per image or audio column to check them and to infer sizes and rates.</summary>
        public const int FilesToDecode = 20;
        /// <summary>Integers with at most this many distinct values (and at most a fifth of the rows) are categories.</summary>
        public const int MaxIntegerCategories = 20;
        /// <summary>Text with at most this many distinct values (and at most half the rows) is a category.</summary>
        public const int MaxTextCategories = 100;
        /// <summary>Categories with more distinct values than this are hashed (<see cref="HashBits"/>) instead of one-hot encoded.</summary>
        public const int MaxOneHotCategories = 100;
        /// <summary>Bits of the hashed encoding of high-cardinality categories: 2^10 = 1,024 slots.</summary>
        public const int HashBits = 10;
        /// <summary>Images larger than this on their longer side are resized down to it (aspect kept).</summary>
        public const int MaxImageSide = 64;
        /// <summary>Clips are cut to at most this many seconds.</summary>
        public const double MaxClipSeconds = 10;
    }

    /// <summary>The group column (speaker, site, patient): never a feature. Default <c>null</c>.</summary>
    public string? GroupColumnName { get; set; }
    /// <summary>The separator. Default ','.</summary>
    public char Separator { get; set; } = ',';
    /// <summary>The folder relative paths are resolved against. Default: the CSV's folder.</summary>
    public string? DataFolder { get; set; }
    /// <summary>Roles given by the user; they override inference (e.g. <c>["Zip"] = ColumnRole.Categorical</c>).</summary>
    public Dictionary<string, ColumnRole> Roles { get; set; } = new();
    /// <summary>
    /// Columns of modality kinds a library registered, given by you (e.g. <c>["Vibration"] = new ModalityKind("TimeSeries")</c>):
    /// role <see cref="ColumnRole.Modality"/>, featurized by the kind's <see cref="MLNetFusion.Models.IModalityKind.ColumnInference"/>.
    /// They override inference and <see cref="Roles"/>.
    /// </summary>
    public Dictionary<string, MLNetFusion.Models.ModalityKind> Kinds { get; set; } = new();
    /// <summary>Rows sampled to decide roles: a seeded uniform sample of the whole file, so a file sorted by group or label is seen across all of them. Default 1000.</summary>
    public int RowsToSample { get; set; } = Defaults.RowsToSample;
    /// <summary>Files decoded per image or audio column. Default 20.</summary>
    public int FilesToDecode { get; set; } = Defaults.FilesToDecode;
    /// <summary>See <see cref="Defaults.MaxIntegerCategories"/>.</summary>
    public int MaxIntegerCategories { get; set; } = Defaults.MaxIntegerCategories;
    /// <summary>See <see cref="Defaults.MaxTextCategories"/>.</summary>
    public int MaxTextCategories { get; set; } = Defaults.MaxTextCategories;
    /// <summary>See <see cref="Defaults.MaxOneHotCategories"/>.</summary>
    public int MaxOneHotCategories { get; set; } = Defaults.MaxOneHotCategories;
    /// <summary>See <see cref="Defaults.MaxImageSide"/>.</summary>
    public int MaxImageSide { get; set; } = Defaults.MaxImageSide;
    /// <summary>See <see cref="Defaults.MaxClipSeconds"/>.</summary>
    public double MaxClipSeconds { get; set; } = Defaults.MaxClipSeconds;
    /// <summary>
    /// Text columns use the registered pretrained text featurizer (<c>PretrainedFeaturizers.Text</c>: sentence embeddings
    /// when the application references MLNetFusion.Pretrained): the neural families project its embeddings with a
    /// trainable MLP, and linear and dense models read them beside the n-grams. <c>false</c>, or no such package, keeps
    /// the trainable hashed-word encoder. Default true.
    /// </summary>
    public bool PretrainedText { get; set; } = true;
    /// <summary>
    /// Image columns use the registered pretrained image featurizer (<c>PretrainedFeaturizers.Image</c>: ResNet18's
    /// ImageNet features when the application references MLNetFusion.Pretrained and its weights are present): the neural
    /// families project the features with a trainable MLP, and linear and dense models read them instead of pixels; the
    /// plain baselines keep the pixels. <c>false</c>, or no such package, keeps the CNN trained from scratch. Default true.
    /// </summary>
    public bool PretrainedImages { get; set; } = true;
    /// <summary>
    /// Called every few seconds while a pretrained encoder embeds rows, with what it computes (for example "ResNet18
    /// (ImageNet) features of 'Photo'"), the rows done so far by that pass and its time: such a pass can take minutes.
    /// </summary>
    public Action<string, long, TimeSpan>? PretrainedProgress { get; set; }

    internal void Validate()
    {
        Check.InRange(RowsToSample, 1, 1_000_000);
        Check.InRange(FilesToDecode, 1, 10_000);
        Check.InRange(MaxIntegerCategories, 2, int.MaxValue);
        Check.InRange(MaxTextCategories, 2, int.MaxValue);
        Check.InRange(MaxOneHotCategories, 2, 100_000);
        Check.InRange(MaxImageSide, 4, 4096);
        Check.Positive(MaxClipSeconds);
        Check.InRange(MaxClipSeconds, 0, 600);
        foreach (var (column, kind) in Kinds)
            if (!MLNetFusion.Models.ModalityRegistry.IsRegistered(kind) || MLNetFusion.Models.ModalityRegistry.Get(kind).ColumnInference == null)
                throw new ArgumentException($"Column '{column}' is given the modality kind '{kind}', which {(MLNetFusion.Models.ModalityRegistry.IsRegistered(kind) ? "has no column inference" : "is not registered")}." + Environment.NewLine +
                    "Hint: register a kind whose ColumnInference says how to featurize the column (ModalityRegistry.Register) before inferring columns, or give the column a built-in role.", nameof(Kinds));
        foreach (var (column, role) in Roles)
            if (role == ColumnRole.Modality && !Kinds.ContainsKey(column))
                throw new ArgumentException($"Column '{column}' is given the role Modality without a kind." + Environment.NewLine +
                    $"Hint: name its registered modality kind in Kinds (Kinds[\"{column}\"] = new ModalityKind(\"...\")) instead of the role.", nameof(Roles));
        if (Separator is '"' or '\n' or '\r') throw new ArgumentOutOfRangeException(nameof(Separator), Separator, "The separator cannot be a quote or a line break.");
    }
}
