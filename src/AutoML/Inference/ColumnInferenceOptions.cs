namespace MLNetFusion.AutoML;

/// <summary>Options of <c>mlContext.Fusion().InferColumns</c>.</summary>
public sealed class ColumnInferenceOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>Rows read to decide roles.</summary>
        public const int RowsToSample = 1000;
        /// <summary>Files decoded per column of a modality kind (images, audio) to check them and to infer sizes and rates.</summary>
        public const int FilesToDecode = 20;
        /// <summary>Integers with at most this many distinct values (and at most a fifth of the rows) are categories.</summary>
        public const int MaxIntegerCategories = 20;
        /// <summary>Text with at most this many distinct values (and at most half the rows) is a category.</summary>
        public const int MaxTextCategories = 100;
        /// <summary>Categories with more distinct values than this are hashed (<see cref="HashBits"/>) instead of one-hot encoded.</summary>
        public const int MaxOneHotCategories = 100;
        /// <summary>Bits of the hashed encoding of high-cardinality categories: 2^10 = 1,024 slots.</summary>
        public const int HashBits = 10;
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
    /// Columns of modality kinds given by you (e.g. <c>["Photo"] = ModalityKind.Image</c>, or
    /// <c>["Vibration"] = new ModalityKind("TimeSeries")</c> for a kind a library registered): role
    /// <see cref="ColumnRole.Modality"/>, featurized by the kind's <see cref="MLNetFusion.Models.IModalityKind.ColumnInference"/>.
    /// They override inference and <see cref="Roles"/>.
    /// </summary>
    public Dictionary<string, MLNetFusion.Models.ModalityKind> Kinds { get; set; } = new();
    /// <summary>
    /// Each modality kind's own inference settings (an image's largest side, a clip's longest length); kinds absent here
    /// use their defaults. Edit them through <see cref="For{T}"/>.
    /// </summary>
    public Dictionary<MLNetFusion.Models.ModalityKind, MLNetFusion.Models.ModalityColumnInferenceOptions> KindOptions { get; set; } = new();

    /// <summary>
    /// The inference settings of <paramref name="kind"/>, created at the kind's defaults the first time, to edit
    /// (<c>options.For&lt;ImageColumnInferenceOptions&gt;(ModalityKind.Image).MaxSide = 128</c>).
    /// </summary>
    /// <exception cref="ArgumentException">The kind is not registered, has no column inference or settings, or they are not a <typeparamref name="T"/>.</exception>
    public T For<T>(MLNetFusion.Models.ModalityKind kind) where T : MLNetFusion.Models.ModalityColumnInferenceOptions
    {
        if (!KindOptions.TryGetValue(kind, out var options))
        {
            var inference = MLNetFusion.Models.ModalityRegistry.Get(kind).ColumnInference;
            options = inference?.CreateOptions() ?? throw new ArgumentException($"Modality kind '{kind}' has no column inference settings." + Environment.NewLine +
                "Hint: only kinds whose IModalityColumnInference.CreateOptions returns settings have any.", nameof(kind));
            KindOptions[kind] = options;
        }
        return options as T ?? throw new ArgumentException($"Modality kind '{kind}' has inference settings of type {options.GetType().Name}, not {typeof(T).Name}." + Environment.NewLine +
            $"Hint: ask for {options.GetType().Name}.", nameof(kind));
    }

    /// <summary>
    /// Gives a column a role or a kind by name, as the command line and a distributed study's specification write them:
    /// a <see cref="ColumnRole"/> (<c>Numeric</c>, <c>Categorical</c>, <c>Text</c>, <c>Ignored</c>, …) or a registered
    /// modality kind (<c>Image</c>, <c>Audio</c>, a library's kind), case-insensitively. The roles <c>ImagePath</c> and
    /// <c>AudioPath</c> that older specifications wrote mean the kinds <c>Image</c> and <c>Audio</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is neither; the message lists both.</exception>
    public void SetRoleOrKind(string column, string roleOrKind)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(column);
        ArgumentException.ThrowIfNullOrWhiteSpace(roleOrKind);
        switch (Parse(roleOrKind))
        {
            case MLNetFusion.Models.ModalityKind kind:
                Kinds[column] = kind;
                Roles.Remove(column);
                return;
            case ColumnRole role:
                Roles[column] = role;
                Kinds.Remove(column);
                return;
        }
        throw new ArgumentException($"Column '{column}' is given '{roleOrKind}', which is neither a role nor a modality kind with column inference." + Environment.NewLine +
            $"Hint: use one of the roles {string.Join(", ", Enum.GetNames<ColumnRole>().Where(r => r != nameof(ColumnRole.Modality)))} or the kinds {string.Join(", ", InferableKinds)}.", nameof(roleOrKind));
    }

    /// <summary>
    /// The kind (<see cref="MLNetFusion.Models.ModalityKind"/>) or role (<see cref="ColumnRole"/>) a name means, as
    /// <see cref="SetRoleOrKind"/> reads it (case-insensitive, <c>ImagePath</c> and <c>AudioPath</c> as the kinds), or <c>null</c>.
    /// </summary>
    internal static object? Parse(string roleOrKind)
    {
        string name = roleOrKind.Trim() switch
        {
            var r when r.Equals("ImagePath", StringComparison.OrdinalIgnoreCase) => MLNetFusion.Models.ModalityKind.Image.Name,
            var r when r.Equals("AudioPath", StringComparison.OrdinalIgnoreCase) => MLNetFusion.Models.ModalityKind.Audio.Name,
            var r => r,
        };
        foreach (var kind in InferableKinds)
            if (string.Equals(kind.Name, name, StringComparison.OrdinalIgnoreCase)) return kind;
        if (Enum.TryParse<ColumnRole>(name, ignoreCase: true, out var role) && Enum.IsDefined(role) && role != ColumnRole.Modality) return role;
        return null;
    }

    /// <summary>The registered modality kinds that have a column inference (the built-in <c>Audio</c> and <c>Image</c>, and any a library registered), by name.</summary>
    public static IReadOnlyList<MLNetFusion.Models.ModalityKind> InferableKinds
        => MLNetFusion.Models.ModalityRegistry.Kinds.Where(k => k.ColumnInference != null).Select(k => k.Kind).ToArray();

    /// <summary>Rows sampled to decide roles: a seeded uniform sample of the whole file, so a file sorted by group or label is seen across all of them. Default 1000.</summary>
    public int RowsToSample { get; set; } = Defaults.RowsToSample;
    /// <summary>Files decoded per column of a modality kind (images, audio). Default 20.</summary>
    public int FilesToDecode { get; set; } = Defaults.FilesToDecode;
    /// <summary>See <see cref="Defaults.MaxIntegerCategories"/>.</summary>
    public int MaxIntegerCategories { get; set; } = Defaults.MaxIntegerCategories;
    /// <summary>See <see cref="Defaults.MaxTextCategories"/>.</summary>
    public int MaxTextCategories { get; set; } = Defaults.MaxTextCategories;
    /// <summary>See <see cref="Defaults.MaxOneHotCategories"/>.</summary>
    public int MaxOneHotCategories { get; set; } = Defaults.MaxOneHotCategories;
    /// <summary>
    /// Columns use the pretrained featurizer registered for what they hold (<c>PretrainedFeaturizers</c>: sentence
    /// embeddings for text, ResNet18's ImageNet features for photos, when the application references
    /// MLNetFusion.Pretrained): the neural families project its embeddings with a trainable MLP, and linear and dense
    /// models read them (beside a text's n-grams; instead of an image's pixels); the plain baselines keep the raw
    /// features. <c>false</c>, or no such package, keeps the trainable encoders (hashed words, a CNN). Default true.
    /// </summary>
    public bool Pretrained { get; set; } = true;
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
        foreach (var options in KindOptions.Values) options.Validate();
        foreach (var (column, kind) in Kinds)
            if (!MLNetFusion.Models.ModalityRegistry.IsRegistered(kind) || MLNetFusion.Models.ModalityRegistry.Get(kind).ColumnInference == null)
                throw new ArgumentException($"Column '{column}' is given the modality kind '{kind}', which {(MLNetFusion.Models.ModalityRegistry.IsRegistered(kind) ? "has no column inference" : "is not registered")}." + Environment.NewLine +
                    "Hint: register a kind whose ColumnInference says how to featurize the column (ModalityRegistry.Register) before inferring columns, or give the column a role.", nameof(Kinds));
        foreach (var (column, role) in Roles)
            if (role == ColumnRole.Modality && !Kinds.ContainsKey(column))
                throw new ArgumentException($"Column '{column}' is given the role Modality without a kind." + Environment.NewLine +
                    $"Hint: name its registered modality kind in Kinds (Kinds[\"{column}\"] = new ModalityKind(\"...\")) instead of the role.", nameof(Roles));
        if (Separator is '"' or '\n' or '\r') throw new ArgumentOutOfRangeException(nameof(Separator), Separator, "The separator cannot be a quote or a line break.");
    }
}
