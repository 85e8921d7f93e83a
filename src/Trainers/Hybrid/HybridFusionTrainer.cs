using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms;
using MLNetFusion.Data;
using MLNetFusion.Models;
using MLNetFusion.Trainers.Network;

namespace MLNetFusion.Trainers.Hybrid;

/// <summary>Options of <see cref="HybridFusionTrainer"/> (<c>mlContext.MulticlassClassification.Trainers.HybridFusion</c>).</summary>
public sealed class HybridFusionOptions
{
    /// <summary>Defaults.</summary>
    public static class Defaults
    {
        /// <summary>Default folds of the boosted branch's cross-fitting.</summary>
        public const int NumberOfFolds = 5;
        /// <summary>Default column of the boosted branch's class probabilities, which the network reads.</summary>
        public const string ScoresColumnName = "Hybrid.BoostedScores";
        /// <summary>Default share of the rows that chooses the blend of the network and the boosted model.</summary>
        public const double BlendFraction = 0.2;
        /// <summary>The network weights the blend tries, from the boosted model alone to the network alone.</summary>
        public static IReadOnlyList<double> BlendWeights { get; } = new[] { 0, 0.25, 0.5, 0.75, 1 };
        /// <summary>Default hidden widths of the MLP that encodes the boosted branch's probabilities.</summary>
        public static int[] BoostedHiddenWidths => new[] { 16 };
    }

    /// <summary>
    /// The network that fuses: its <see cref="FusionTrainerOptions.Modalities"/> are the modalities other than the boosted
    /// branch's (images, audio, text); its label, sampling key, seed, epochs and progress are the hybrid's.
    /// </summary>
    public NetworkFusionOptions Network { get; set; } = new();

    /// <summary>The boosted branch's trainer: any ML.NET multiclass trainer (or a chain ending in one) on <see cref="BoostedFeatureColumnName"/>
    /// that writes <c>Score</c> on the same key label; LightGBM in the leaderboard. Required.</summary>
    public IEstimator<ITransformer>? BoostedTrainer { get; set; }

    /// <summary>The boosted branch's feature column (the tabular vector), for error messages and the leaderboard. Default <c>Tabular</c>.</summary>
    public string BoostedFeatureColumnName { get; set; } = "Tabular";

    /// <summary>The boosted branch's name as a modality of the network (reports, modality attributions). Default <c>tabular (boosted)</c>.</summary>
    public string BoostedName { get; set; } = "tabular (boosted)";

    /// <summary>Folds of the cross-fitting that gives every training row boosted probabilities from a model that did not see it
    /// (whole groups with the network's <c>SamplingKeyColumnName</c>; at most one fold per group). Default 5.</summary>
    public int NumberOfFolds { get; set; } = Defaults.NumberOfFolds;

    /// <summary>The column the boosted probabilities are written to. Default <c>Hybrid.BoostedScores</c>.</summary>
    public string ScoresColumnName { get; set; } = Defaults.ScoresColumnName;

    /// <summary>Hidden widths of the MLP that encodes the boosted probabilities inside the network. Default [16].</summary>
    public int[] BoostedHiddenWidths { get; set; } = Defaults.BoostedHiddenWidths;

    /// <summary>
    /// Share of the training rows (whole groups with a sampling key) held out of a second network fit to choose how much
    /// the network's answer is trusted over the boosted model's (a weighted average of the two: of <see cref="BlendWeights"/>,
    /// the lowest whose held-out log-loss is within one standard error of the best's); the served network is then fitted on
    /// every row, unless the weight is 0 and the boosted model is served alone. 0 serves the network alone. Default 0.2.
    /// </summary>
    public double BlendFraction { get; set; } = Defaults.BlendFraction;

    /// <summary>The network weights the blend tries (each in [0, 1]; the lowest within one standard error of the best wins). Default 0, 0.25, 0.5, 0.75, 1.</summary>
    public IReadOnlyList<double> BlendWeights { get; set; } = Defaults.BlendWeights;

    /// <summary>Checks every member and throws naming the bad one; changes nothing.</summary>
    public void Validate()
    {
        if (BoostedTrainer == null)
            throw new ArgumentException("HybridFusionOptions.BoostedTrainer is required." + Environment.NewLine +
                "Hint: set it to a multiclass trainer on the tabular column, for example mlContext.MulticlassClassification.Trainers.LightGbm(\"Label\", \"Tabular\").", nameof(BoostedTrainer));
        ArgumentNullException.ThrowIfNull(Network, nameof(Network));
        if (NumberOfFolds < 2 || NumberOfFolds > 20) throw new ArgumentOutOfRangeException(nameof(NumberOfFolds), NumberOfFolds, "NumberOfFolds must be in [2, 20].");
        if (string.IsNullOrWhiteSpace(ScoresColumnName)) throw new ArgumentException("ScoresColumnName is required.", nameof(ScoresColumnName));
        if (!(BlendFraction >= 0 && BlendFraction < 1)) throw new ArgumentOutOfRangeException(nameof(BlendFraction), BlendFraction, "BlendFraction must be in [0, 1).");
        if (BlendWeights == null || BlendWeights.Count == 0 || BlendWeights.Any(w => !(w >= 0 && w <= 1)))
            throw new ArgumentOutOfRangeException(nameof(BlendWeights), "BlendWeights needs at least one weight, each in [0, 1]." + Environment.NewLine + "Hint: 0 is the boosted model alone, 1 the network alone.");
        if (BoostedHiddenWidths.Length == 0 || BoostedHiddenWidths.Any(w => w < 1 || w > FusionTrainerOptions.MaxWidth))
            throw new ArgumentOutOfRangeException(nameof(BoostedHiddenWidths), $"BoostedHiddenWidths needs 1 to 8 widths in [1, {FusionTrainerOptions.MaxWidth}].");
        if (Network.Modalities.Any(m => m.ColumnName == ScoresColumnName))
            throw new ArgumentException($"A network modality already reads '{ScoresColumnName}', where the hybrid writes the boosted probabilities." + Environment.NewLine +
                "Hint: leave the boosted branch out of Network.Modalities (the hybrid adds it), or change ScoresColumnName.", nameof(Network));
    }
}

/// <summary>
/// Hybrid fusion (early and late together): a boosted model on the tabular columns (LightGBM) whose class probabilities
/// become one more modality of a fusion network over the other modalities' encoders. The network learns from
/// out-of-fold probabilities (each training row scored by a boosted model fitted without its fold, as stacking does),
/// so it weighs the trees' answer as it will be on new rows, not as the trees remember their own training rows; at
/// prediction the boosted model fitted on every row scores. Tabular data keeps the learner that is best on it, and the
/// network adds what images, audio and text say.
/// </summary>
/// <remarks>
/// The fitted model is a <see cref="TransformerChain{TLastTransformer}"/>: the boosted model, a copy of its
/// <c>Score</c> into <see cref="HybridFusionOptions.ScoresColumnName"/>, and the fusion network, whose <c>Score</c> and
/// <c>PredictedLabel</c> are the hybrid's. It saves and loads as one fusion model file; an ONNX export keeps the boosted
/// model outside the graph unless ML.NET can export it.
/// </remarks>
public sealed class HybridFusionTrainer : IEstimator<TransformerChain<ITransformer>>
{
    private readonly IHost _host;

    /// <summary>Creates the trainer.</summary>
    /// <param name="env">The ML.NET environment (an <see cref="MLContext"/>).</param>
    /// <param name="options">The options; validated here.</param>
    public HybridFusionTrainer(IHostEnvironment env, HybridFusionOptions options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _host = env.Register("MLNetFusion.HybridFusion");
        Options = options;
    }

    /// <summary>The options.</summary>
    public HybridFusionOptions Options { get; }

    /// <inheritdoc />
    public TransformerChain<ITransformer> Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var o = Options;
        string label = o.Network.LabelColumnName;
        int classes = SchemaErrors.RequireKeyLabel(input.Schema, label);
        SchemaErrors.FindColumn(input.Schema, o.BoostedFeatureColumnName, "the hybrid's boosted branch reads it (HybridFusionOptions.BoostedFeatureColumnName).");
        int seed = o.Network.Seed ?? _host.Rand.Next();
        using var ch = _host.Start("Hybrid fusion");

        // The boosted model every prediction uses, fitted on every row.
        var boosted = FitBoosted(input, "on every row");
        var outOfFold = OutOfFold(input, classes, seed, ch);
        ch.Info(MessageSensitivity.None, $"Hybrid fusion: out-of-fold boosted probabilities for {outOfFold.Count} rows from {o.NumberOfFolds} folds (or one per group).");

        var network = CloneNetwork(o.Network);
        network.Modalities.Add(ModalityOptions.Tabular(o.ScoresColumnName, o.BoostedName, o.BoostedHiddenWidths));
        network.ScoreColumnName = NetworkScore;
        network.PredictedLabelColumnName = NetworkPredictedLabel;
        var train = new PositionColumnDataView(input, o.ScoresColumnName, classes, outOfFold);

        // How far to trust the network over the trees: a second network, fitted without a held-out share of the rows,
        // and the weighted average of its probabilities and the boosted out-of-fold ones that scores best there.
        double weight = 1;
        if (o.BlendFraction > 0)
        {
            weight = ChooseWeight(train, network, classes, seed, ch);
            ch.Info(MessageSensitivity.None, $"Hybrid fusion: the network's weight against the boosted model's is {weight:0.##}, chosen on held-out rows.");
        }
        BlendWeight = weight;
        var labels = LabelKeyValues.FromColumn(input.Schema[label]);
        var scored = boosted.Transform(input);
        var copy = new MLContext(seed).Transforms.CopyColumns(o.ScoresColumnName, "Score").Fit(scored);
        string scoreName = o.Network.ScoreColumnName ?? "Score", predictedName = o.Network.PredictedLabelColumnName ?? "PredictedLabel";
        if (weight == 0)
        {
            // The network added nothing on the held-out rows: the boosted model alone is served, and no network is fitted for a weight of 0.
            ch.Info(MessageSensitivity.None, "Hybrid fusion: the boosted model alone is served (the network's weight is 0).");
            var alone = new LateFusion.LateFusionCombinerTransformer(new[] { o.ScoresColumnName }, new string?[1], labels,
                LateFusion.LateFusionCombiner.WeightedAverage, new[] { 1.0 }, null, scoreName, predictedName);
            return new TransformerChain<ITransformer>(boosted, copy, alone);
        }
        var fused = new NetworkFusionTrainer(_host, network).Fit(train);
        var blend = new LateFusion.LateFusionCombinerTransformer(new[] { o.ScoresColumnName, NetworkScore }, new string?[2], labels,
            LateFusion.LateFusionCombiner.WeightedAverage, new[] { 1 - weight, weight }, null, scoreName, predictedName);
        return new TransformerChain<ITransformer>(boosted, copy, fused, blend);
    }

    /// <summary>
    /// The network's weight in a fitted hybrid model's blend (0: the boosted model alone is served, 1: the network alone),
    /// or <c>null</c> when <paramref name="model"/> is not a hybrid fit (searched through chains).
    /// </summary>
    /// <param name="model">A fitted model, such as this trainer's <see cref="Fit"/> result or a chain holding it.</param>
    public static double? NetworkWeight(ITransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        static IEnumerable<ITransformer> Links(ITransformer t) => t is IEnumerable<ITransformer> chain ? chain.SelectMany(Links) : new[] { t };
        var links = Links(model).ToList();
        int copy = links.FindIndex(t => t is ColumnCopyingTransformer);
        if (copy < 0 || links.Skip(copy + 1).OfType<LateFusion.LateFusionCombinerTransformer>().FirstOrDefault() is not { } blend) return null;
        if (blend.Combiner != LateFusion.LateFusionCombiner.WeightedAverage || blend.Weights == null) return null;
        return blend.Scores.Length == 1 ? 0 : blend.Scores.Length == 2 && blend.Scores[1] == NetworkScore ? blend.Weights[1] : null;
    }

    /// <summary>The network weight of the last fit's blend (0: the boosted model alone, 1: the network alone), or NaN before a fit.</summary>
    public double BlendWeight { get; private set; } = double.NaN;

    private const string NetworkScore = "Hybrid.NetworkScore", NetworkPredictedLabel = "Hybrid.NetworkPredictedLabel";

    private double ChooseWeight(IDataView train, NetworkFusionOptions network, int classes, int seed, IChannel ch)
    {
        var o = Options;
        var (kept, held) = o.Network.SamplingKeyColumnName is { } key
            ? SamplingKeyGroups.HoldOutGroups(train, key, o.BlendFraction, seed)
            : (new RowFilterDataView(train, Array.Empty<string>(), row => () => SeededShuffle.Hash(row.Position, seed + 1) >= o.BlendFraction),
               new RowFilterDataView(train, Array.Empty<string>(), row => () => SeededShuffle.Hash(row.Position, seed + 1) < o.BlendFraction));
        var model = new NetworkFusionTrainer(_host, network).Fit(kept);
        try
        {
            var scored = model.Transform(held);
            var cols = new[] { scored.Schema[NetworkScore], scored.Schema[o.ScoresColumnName], scored.Schema[o.Network.LabelColumnName] };
            var rows = new List<(float[] net, float[] boosted, int label)>();
            using (var cursor = scored.GetRowCursor(cols))
            {
                var net = cursor.GetGetter<VBuffer<float>>(cols[0]);
                var boosted = cursor.GetGetter<VBuffer<float>>(cols[1]);
                var label = cursor.GetGetter<uint>(cols[2]);
                VBuffer<float> a = default, b = default;
                uint y = 0;
                while (cursor.MoveNext())
                {
                    label(ref y);
                    if (y == 0) continue;
                    net(ref a); boosted(ref b);
                    rows.Add((a.DenseValues().ToArray(), b.DenseValues().ToArray(), (int)y - 1));
                }
            }
            if (rows.Count == 0)
            {
                ch.Warning(MessageSensitivity.None, "Hybrid fusion: no held-out row has a label; the network is trusted alone.");
                return 1;
            }
            // The one-standard-error rule toward the boosted model: the lowest weight whose held-out log-loss exceeds the
            // best weight's by no more than one standard error of the per-row difference. On a few hundred rows the
            // network's gain must be consistent, not a lucky split, before it moves the served answer off the trees'.
            var weights = o.BlendWeights.Distinct().OrderDescending().ToArray();   // the last is the most shrunk, toward the boosted model
            var loss = new double[rows.Count, weights.Length];
            for (int r = 0; r < rows.Count; r++)
                for (int j = 0; j < weights.Length; j++)
                    loss[r, j] = -Math.Log(Math.Max((1 - weights[j]) * rows[r].boosted[rows[r].label] + weights[j] * rows[r].net[rows[r].label], 1e-7));
            return weights[LateFusion.HeldOutShrinkage.MostShrunkWithinOneStandardError(loss)];
        }
        finally { (model as IDisposable)?.Dispose(); }
    }

    private ITransformer FitBoosted(IDataView data, string which)
    {
        try { return Options.BoostedTrainer!.Fit(data); }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new InvalidOperationException($"The hybrid's boosted branch failed {which}: {ex.Message}" + Environment.NewLine +
                $"Hint: check that HybridFusionOptions.BoostedTrainer trains on '{Options.BoostedFeatureColumnName}' with the label '{Options.Network.LabelColumnName}'.", ex);
        }
    }

    // Every row's class probabilities from a boosted model fitted without the row's fold (whole groups per fold with a
    // sampling key). Each fold's model scores every row, and the rows of that fold are kept: positions are the input's.
    private List<float[]> OutOfFold(IDataView input, int classes, int seed, IChannel ch)
    {
        var o = Options;
        int k = o.NumberOfFolds;
        Func<long, int> foldOf = pos => (int)(SeededShuffle.Hash(pos, seed) * k);
        if (o.Network.SamplingKeyColumnName is { } key)
        {
            var groups = SamplingKeyGroups.Read(input, key);
            groups.RequireSeveralGroups();
            k = Math.Min(k, groups.Count);
            var foldOfGroup = groups.FoldOfGroup(k, seed);
            foldOf = pos => groups.FoldOfRow(pos, foldOfGroup);
            ch.Info(MessageSensitivity.None, $"Hybrid fusion: {k} folds of whole '{key}' groups.");
        }
        var result = new List<float[]>();
        for (int fold = 0; fold < k; fold++)
        {
            int f = fold;
            var rest = new RowFilterDataView(input, Array.Empty<string>(), row => () => foldOf(row.Position) != f);
            var model = FitBoosted(rest, $"in cross-fitting fold {f + 1} of {k}");
            try
            {
                var scored = model.Transform(input);
                var score = SchemaErrors.FindColumn(scored.Schema, "Score", "the boosted branch must be a multiclass trainer that writes 'Score'.");
                using var cursor = scored.GetRowCursor(new[] { score });
                var getter = cursor.GetGetter<VBuffer<float>>(score);
                VBuffer<float> buffer = default;
                while (cursor.MoveNext())
                {
                    long pos = cursor.Position;
                    while (result.Count <= pos) result.Add(null!);
                    if (foldOf(pos) != f) continue;
                    getter(ref buffer);
                    var values = buffer.DenseValues().ToArray();
                    if (values.Length != classes)
                        throw new InvalidOperationException($"The boosted branch's Score has {values.Length} values, but the label has {classes} classes." + Environment.NewLine +
                            "Hint: train the boosted branch on the same key label as the hybrid.");
                    result[(int)pos] = values;
                }
            }
            finally { (model as IDisposable)?.Dispose(); }
        }
        // A fold without training rows of some class still scores its rows; a row no fold reached cannot exist.
        for (int i = 0; i < result.Count; i++) result[i] ??= Enumerable.Repeat(1f / classes, classes).ToArray();
        return result;
    }

    // The network's options with its own list of modalities (each cloned), so adding the boosted branch changes no caller's options.
    private static NetworkFusionOptions CloneNetwork(NetworkFusionOptions source)
    {
        var copy = new NetworkFusionOptions();
        foreach (var p in typeof(NetworkFusionOptions).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
        {
            if (!p.CanRead || !p.CanWrite || p.GetIndexParameters().Length > 0) continue;
            var value = p.GetValue(source);
            p.SetValue(copy, value switch
            {
                List<ModalityOptions> modalities => modalities.Select(m => m.Clone()).ToList(),
                Array array => array.Clone(),
                _ => value,
            });
        }
        return copy;
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var o = Options;
        var boosted = o.BoostedTrainer!.GetOutputSchema(inputSchema);
        var network = CloneNetwork(o.Network);
        network.Modalities.Add(ModalityOptions.Tabular(o.ScoresColumnName, o.BoostedName, o.BoostedHiddenWidths));
        var withScores = SchemaShapes.Append(boosted, new[] { SchemaShapes.Column(o.ScoresColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false) });
        // The network's columns, under the final names: the blend writes Score and PredictedLabel of the same types.
        return new NetworkFusionTrainer(_host, network).GetOutputSchema(withScores);
    }
}
