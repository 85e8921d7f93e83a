using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;

namespace MLNetFusion.AutoML;

/// <summary>Builds the ML.NET featurization chain for inferred column roles.</summary>
internal static class FusionFeaturizerBuilder
{
    /// <summary>Hash bits of a text column's bounded bag of words (unigrams) for dense trainers (1,024 slots).</summary>
    internal const int DenseTextBits = 10;

    private const string Tabular = FusionFeaturization.Tabular;

    public static FusionFeaturization Build(MLContext ml, ColumnInferenceResult r)
    {
        ArgumentNullException.ThrowIfNull(ml);
        Inference.ColumnInference.EnsureSettings(r);
        var modalities = new List<ModalityOptions>();
        var denseColumns = new Dictionary<string, string>();
        const string key = FusionFeaturization.LabelKeyColumnName;
        var clash = r.Columns.FirstOrDefault(c => c.Name == key && c.Name != r.LabelColumnName && c.Role != ColumnRole.Ignored);
        if (clash != null)
            throw new InvalidOperationException($"Column '{key}' of '{r.Path}' is used as {clash.Role}, but '{key}' is where the featurizer writes the key of the label column '{r.LabelColumnName}'." +
                Environment.NewLine + $"Hint: rename the column '{key}' in the CSV, or mark it Ignored (--ignore {key}).");
        // The label's classes, in the documented order of every Score slot: sorted by value (numerically when every value is a number).
        var classData = ml.Data.LoadFromEnumerable(r.Classes.Select(c => new ClassValue { Value = c }));
        var labelToKey = ml.Transforms.Conversion.MapValueToKey(key, r.LabelColumnName, keyData: classData);
        IEstimator<ITransformer> chain = new EstimatorChain<ITransformer>();

        // Columns of modality kinds (images, audio, a library's kinds), in the CSV's order: each kind's own chain and options.
        var withPretrained = new Dictionary<int, (string features, string dense)>();
        var pretrainedNames = new Dictionary<int, string>();
        var ofKind = r.Columns.Where(c => c.Role == ColumnRole.Modality).ToList();
        foreach (var c in ofKind)
        {
            if (c.Kind is not { } kindName)
                throw new InvalidOperationException($"Column '{c.Name}' of '{r.Path}' has the role Modality but no kind." + Environment.NewLine +
                    "Hint: set InferredColumn.Kind to a registered modality kind, or give the column another role.");
            var inference = ModalityRegistry.Get(kindName).ColumnInference
                ?? throw new InvalidOperationException($"Column '{c.Name}' of '{r.Path}' is of modality kind '{kindName}', which has no column inference." + Environment.NewLine +
                    "Hint: give the kind an IModalityColumnInference (IModalityKind.ColumnInference), or give the column another role.");
            int columnsOfKind = ofKind.Count(o => o.Kind == kindName);
            var output = inference.OutputColumnName(c.Name, columnsOfKind) ?? c.Name + "." + kindName.Name;
            var made = inference.Featurize(ml, Inference.ColumnInference.ContextFor(r, c, output));
            if (made.Modality.Kind != kindName)
                throw new InvalidOperationException($"Modality kind '{kindName}' featurized column '{c.Name}' into a modality of kind '{made.Modality.Kind}'." + Environment.NewLine +
                    "Hint: the kind's Featurize must return ModalityOptions of its own kind.");
            chain = chain.Append(made.Chain);
            if (made.PretrainedFeaturesColumnName is { } embeddings)
            {
                withPretrained[modalities.Count] = (embeddings, embeddings);
                pretrainedNames[modalities.Count] = made.PretrainedEncoderName ?? kindName.Name + " pretrained features";
            }
            modalities.Add(made.Modality);
        }

        var numeric = r.ColumnsWith(ColumnRole.Numeric).Concat(r.ColumnsWith(ColumnRole.NumericAndCategorical)).ToList();
        var categorical = r.ColumnsWith(ColumnRole.Categorical).Concat(r.ColumnsWith(ColumnRole.NumericAndCategorical)).ToList();
        if (numeric.Count + categorical.Count > 0)
        {
            var parts = new List<string>();
            foreach (var c in numeric)
            {
                // A column that is also a category is loaded as text; its number comes from a conversion (empty: missing).
                string source = c;
                if (r[c].Role == ColumnRole.NumericAndCategorical)
                {
                    source = c + ".Number";
                    chain = chain.Append(ml.Transforms.Conversion.ConvertType(source, c, Microsoft.ML.Data.DataKind.Single));
                }
                // Missing values: the mean, plus an indicator where the column has gaps, so a model can tell an imputed value from a real one.
                if (r[c].EmptyValues > 0)
                {
                    chain = chain.Append(ml.Transforms.IndicateMissingValues(c + ".Missing", source))
                        .Append(ml.Transforms.Conversion.ConvertType(c + ".MissingFlag", c + ".Missing", Microsoft.ML.Data.DataKind.Single));
                    parts.Add(c + ".MissingFlag");
                }
                chain = chain.Append(ml.Transforms.ReplaceMissingValues(c + ".Filled", source));
                string filled = c + ".Filled";
                if (r[c].LogTransform)
                {
                    // A right-skewed positive number (an income, a price): the normal CDF of its standardised logarithm, in
                    // (0, 1) (ML.NET's log-mean-variance normaliser; without its CDF it does not take the logarithm).
                    chain = chain.Append(ml.Transforms.NormalizeLogMeanVariance(c + ".Log", fixZero: false, filled, useCdf: true));
                    filled = c + ".Log";
                }
                parts.Insert(parts.Count - (r[c].EmptyValues > 0 ? 1 : 0), filled);
            }
            foreach (var c in categorical)
            {
                // Many values are hashed to a bounded width (sparse), never one-hot into thousands of columns.
                chain = r[c].DistinctValues > r.Options.MaxOneHotCategories
                    ? chain.Append(ml.Transforms.Categorical.OneHotHashEncoding(c + "OneHot", c, numberOfBits: ColumnInferenceOptions.Defaults.HashBits))
                    : chain.Append(ml.Transforms.Categorical.OneHotEncoding(c + "OneHot", c));
                parts.Add(c + "OneHot");
            }
            chain = chain.Append(ml.Transforms.Concatenate(Tabular, parts.ToArray())).Append(ml.Transforms.NormalizeMeanVariance(Tabular));
            // Named by the user's columns, so reports and leaderboards speak of "loudness, mic", not of an internal vector.
            var tabularColumns = numeric.Concat(categorical).Distinct().ToList();
            // (", " between columns: '+' joins modalities in subsets.)
            modalities.Add(ModalityOptions.Tabular(Tabular, tabularColumns.Count <= 6 ? string.Join(", ", tabularColumns) : $"{string.Join(", ", tabularColumns.Take(3))} and {tabularColumns.Count - 3} more", 64, 32));
        }

        var text = r.ColumnsWith(ColumnRole.Text);
        var pretrained = PretrainedText(r);
        foreach (var c in text)
        {
            // FeaturizeText's n-gram vector for early fusion and linear late-fusion members: as wide as the vocabulary
            // (hundreds of thousands of slots on real text) and sparse, so sparse-aware trainers (linear, LightGBM) read
            // it and dense trainers read the bounded hashed bag of words instead.
            string features = c + ".Text", hashed = c + ".Hashed";
            chain = chain.Append(ml.Transforms.Text.FeaturizeText(features, c))
                .Append(ml.Transforms.Text.ProduceHashedWordBags(hashed, c, numberOfBits: DenseTextBits, ngramLength: 1))
                .Append(ml.Transforms.NormalizeLpNorm(hashed));
            ModalityOptions m;
            if (pretrained != null)
            {
                // A frozen pretrained encoder computed once per row (the leaderboard caches the featurized rows), projected
                // by a trainable MLP in the neural families; its embeddings (0 for an empty text) also join the n-grams and
                // the hashed bag for linear and dense models. An empty text stays a missing modality (all NaN).
                string embedded = c + ".Sentence", filled = c + ".SentenceFilled";
                chain = chain.Append(pretrained.Create(ml, embedded, c, Progress(r, $"{pretrained.Name} of '{c}'")))
                    .Append(ml.Transforms.ReplaceMissingValues(filled, embedded, Microsoft.ML.Transforms.MissingValueReplacingEstimator.ReplacementMode.DefaultValue))
                    .Append(ml.Transforms.Concatenate(c + ".TextAndSentence", features, filled))
                    .Append(ml.Transforms.Concatenate(c + ".HashedAndSentence", hashed, filled));
                m = ModalityOptions.Text(embedded, c, 128);
                m.Encoder = EncoderKind.Mlp;
                withPretrained[modalities.Count] = (c + ".TextAndSentence", c + ".HashedAndSentence");
                pretrainedNames[modalities.Count] = pretrained.Name;
                denseColumns[embedded] = hashed;
            }
            else
            {
                // Token ids for the neural families' embedding-bag encoder (an empty text is a missing modality).
                string tokens = c + ".Tokens";
                chain = chain.Append(ml.Transforms.HashTextTokens(tokens, c));
                m = ModalityOptions.Text(tokens, c);
                denseColumns[tokens] = hashed;
            }
            m.FeaturesColumnName = features;
            m.DenseFeaturesColumnName = hashed;
            modalities.Add(m);
        }
        if (modalities.Count == 0)
            throw new InvalidOperationException($"No column of '{r.Path}' is of a modality kind ({string.Join(", ", ColumnInferenceOptions.InferableKinds)}), a number, a category or text: there is nothing to learn from." +
                Environment.NewLine + "Hint: check the roles (InferredColumn.Role and Kind, or --numeric/--categorical/--text and a kind's option such as --image on the command line).");
        var kept = modalities.Select(m => m.ColumnName).Concat(modalities.Where(m => m.FeaturesColumnName != null).Select(m => m.FeaturesColumn))
            .Concat(denseColumns.Values).Concat(withPretrained.Values.SelectMany(p => new[] { p.features, p.dense })).Append(key).Distinct().ToList();
        if (r.GroupColumnName != null) kept.Add(r.GroupColumnName);
        return new FusionFeaturization(chain, modalities, key, kept)
        {
            LabelToKey = labelToKey,
            DenseFeatureColumns = modalities.Select(m => m.DenseFeaturesColumn).ToArray(),
            PretrainedFeatureColumns = modalities.Select((m, i) => withPretrained.TryGetValue(i, out var p) ? p.features : m.FeaturesColumn).ToArray(),
            PretrainedDenseFeatureColumns = modalities.Select((m, i) => withPretrained.TryGetValue(i, out var p) ? p.dense : m.DenseFeaturesColumn).ToArray(),
            PretrainedEncoderNames = modalities.Select((m, i) => pretrainedNames.GetValueOrDefault(i)).ToArray(),
        };
    }

    /// <summary>The pretrained text featurizer the result's text columns get, or <c>null</c> (turned off, not shipped, or unable to run here).</summary>
    internal static IPretrainedFeaturizer? PretrainedText(ColumnInferenceResult r) => Usable(r.Options.Pretrained, ModalityKind.Text);

    private static Action<long, TimeSpan>? Progress(ColumnInferenceResult r, string what)
        => r.Options.PretrainedProgress is { } report ? (rows, elapsed) => report(what, rows, elapsed) : null;

    internal static IPretrainedFeaturizer? Usable(bool wanted, ModalityKind kind)
        => wanted && PretrainedFeaturizers.For(kind) is { Unavailable: null } f ? f : null;

    private sealed class ClassValue
    {
        public string Value { get; set; } = "";
    }
}
