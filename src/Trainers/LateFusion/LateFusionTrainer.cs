using MLNetFusion.Persistence;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetFusion.Data;
using MLNetFusion.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Trainers.LateFusion;

/// <summary>One late-fusion member: a modality's feature column and any ML.NET multiclass trainer (or a chain ending in one).</summary>
/// <param name="Name">Member name; its probabilities appear as <c>Score.&lt;Name&gt;</c>.</param>
/// <param name="FeatureColumnName">The member's input column: a <c>Vector&lt;Single&gt;</c>, or text for a text member whose trainer featurizes it (e.g. <c>FeaturizeText</c> then a linear trainer). A row where it is all NaN (or empty text) lacks this modality: the member is left out for that row.</param>
/// <param name="Trainer">The member's estimator; it reads the label and its own columns and outputs <paramref name="ScoreColumnName"/>.</param>
/// <param name="ScoreColumnName">The member's score column. Default <c>Score</c>.</param>
public sealed record LateFusionMember(string Name, string FeatureColumnName, IEstimator<ITransformer> Trainer, string ScoreColumnName = "Score");

/// <summary>Options for <see cref="LateFusionTrainer"/>.</summary>
public sealed class LateFusionOptions
{
    /// <summary>The members (at least one).</summary>
    public List<LateFusionMember> Members { get; set; } = new();

    /// <summary>How member probabilities are combined. Default <see cref="LateFusionCombiner.Average"/>.</summary>
    public LateFusionCombiner Combiner { get; set; } = LateFusionCombiner.Average;

    /// <summary>The key label. Default <c>Label</c>.</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>Folds of the cross-fitting that produces out-of-fold predictions for weights and stacking. Default 5.</summary>
    public int NumberOfFolds { get; set; } = 5;

    /// <summary>
    /// ML.NET's <c>samplingKeyColumnName</c>: a column naming each row's group (speaker, microphone, patient, site).
    /// When set, the out-of-fold folds are made of whole groups, so fitted weights and the stacking meta-learner learn
    /// how each member does on groups it never saw (the situation in use), not on new rows of familiar groups. Needs at
    /// least <see cref="NumberOfFolds"/> groups. Default <c>null</c> (rows at random).
    /// </summary>
    public string? SamplingKeyColumnName { get; set; }

    /// <summary>Stacking's meta-learner; it reads <see cref="MetaFeatureColumnName"/>. The catalog defaults it to L-BFGS maximum entropy (L2 = 1).</summary>
    public IEstimator<ITransformer>? MetaLearner { get; set; }

    /// <summary>The meta-learner's feature column: each member's probabilities (uniform when absent), then presence flags.</summary>
    public string MetaFeatureColumnName { get; set; } = "LateFusionFeatures";

    /// <summary>Seed of the fold assignment; <c>null</c> derives it from the <c>MLContext</c>.</summary>
    public int? Seed { get; set; }

    /// <summary>
    /// Calibrate each member before combining: <see cref="MemberCalibration.Temperature"/> fits one temperature per
    /// member on out-of-fold predictions (grouped folds with <see cref="SamplingKeyColumnName"/>) and divides the
    /// member's log-probabilities by it, so over-confident members stop dominating averages and products. Out-of-fold
    /// predictions are computed for every combiner then (k extra fits per member). Default
    /// <see cref="MemberCalibration.None"/>. The fitted temperatures and each member's ECE before and after are in
    /// <see cref="LateFusionTransformer.Calibration"/>.
    /// </summary>
    public MemberCalibration MemberCalibration { get; set; } = MemberCalibration.None;

    /// <summary>Output probability column. Default <c>Score</c>.</summary>
    public string ScoreColumnName { get; set; } = "Score";

    /// <summary>Output key column. Default <c>PredictedLabel</c>.</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";

    /// <summary>
    /// Leave out a member that is no better than the class prior out of fold (k-fold cross-fitting, whole groups with
    /// <see cref="SamplingKeyColumnName"/>): neither its log-loss beats the prior's nor its accuracy the most frequent
    /// class's. Such a member is not averaged, multiplied or counted in a vote, and gets
    /// weight 0 in the weighted average, so a member with no signal (a short text column that says nothing) cannot pull
    /// a good member down to the majority class. At least one member is always kept. Costs k extra fits per member for
    /// the average, product of experts and vote. <see cref="LateFusionTransformer.UninformativeMembers"/> names them.
    /// Stacking is left to its meta-learner. Default true.
    /// </summary>
    public bool DropUninformativeMembers { get; set; } = true;

    /// <summary>
    /// Called as each member fit starts (the final members, then every member of every cross-fitting fold) and once when
    /// fitting ends, so a caller can show which fit is running and how many remain. A member's own epochs are reported by
    /// its trainer's progress option. Default <c>null</c>.
    /// </summary>
    public Action<LateFusionProgress>? Progress { get; set; }
}

/// <summary>Where a late-fusion fit is: member fit <see cref="Step"/> of <see cref="Steps"/> (0-based; <c>Step == Steps</c> when done).</summary>
/// <param name="Step">Member fits finished before this one.</param>
/// <param name="Steps">Member fits in all: the members, plus members × folds when out-of-fold predictions are needed.</param>
/// <param name="Member">The member being fitted (empty when done).</param>
/// <param name="Fold">The cross-fitting fold (1-based), or <c>null</c> for the final members.</param>
/// <param name="Elapsed">Time since the fit started.</param>
public sealed record LateFusionProgress(int Step, int Steps, string Member, int? Fold, TimeSpan Elapsed);

/// <summary>
/// Late fusion: one ML.NET multiclass trainer per modality, each on its own features, whose class probabilities are
/// combined (average, fitted weights, product of experts, majority vote, or stacking on out-of-fold predictions).
/// Reach it with <c>mlContext.MulticlassClassification.Trainers.LateFusion(...)</c>.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Input</term><description>The key label and each member's feature column.</description></item>
/// <item><term>Output</term><description><c>Score</c> (probabilities), <c>PredictedLabel</c> (key with the label's values), and <c>Score.&lt;member&gt;</c> with each member's probabilities.</description></item>
/// <item><term>Calibration</term><description>Member scores that are already distributions are used as they are; other scores (margins) go through a softmax (<see cref="LateFusionMath.ToProbabilities"/>).</description></item>
/// <item><term>Missing modality</term><description>A member whose feature vector is all NaN for a row is left out and the others' weights are renormalised; a row with no member gives an error.</description></item>
/// <item><term>Out-of-fold</term><description>Weights and the stacking meta-learner are fitted on predictions each member made for rows it was not trained on (k-fold cross-fitting): in-sample predictions are overconfident and would teach the combiner to trust whichever member memorised the training set best.</description></item>
/// </list>
/// </remarks>
public sealed class LateFusionTrainer : IEstimator<LateFusionTransformer>
{
    private readonly IHost _host;
    private readonly IHostEnvironment _env;

    /// <summary>Registers late fusion's model-file components: the fitted model, the member guard, the probability copy and the combiner.</summary>
    internal static void Register()
    {
        ComponentRegistry.Register(LateFusionTransformer.Kind, LateFusionTransformer.Load, version: 2);   // 2: UninformativeMembers
        ComponentRegistry.Register(MemberInputGuard.Kind, MemberInputGuard.Load);
        ComponentRegistry.Register(MemberProbabilityTransformer.Kind, MemberProbabilityTransformer.Load);
        ComponentRegistry.Register(LateFusionCombinerTransformer.Kind, LateFusionCombinerTransformer.Load, version: 2);   // 2: average, product and vote honour a 0/1 member mask in Weights
    }

    /// <summary>Creates the trainer.</summary>
    public LateFusionTrainer(IHostEnvironment env, LateFusionOptions options)
    {
        ArgumentNullException.ThrowIfNull(env);
        Options = options ?? throw new ArgumentNullException(nameof(options));
        if (options.Members.Count == 0) throw new ArgumentException("Late fusion needs at least one member." + Environment.NewLine + "Hint: add a LateFusionMember per modality.", nameof(options));
        var dup = options.Members.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup != null) throw new ArgumentException($"Member name '{dup.Key}' is used twice; names must be unique.", nameof(options));
        if (options.NumberOfFolds < 2) throw new ArgumentOutOfRangeException(nameof(options), options.NumberOfFolds, "NumberOfFolds must be at least 2.");
        if (options.Combiner == LateFusionCombiner.Stacking && options.MetaLearner is null)
            throw new ArgumentException("Stacking needs a meta-learner." + Environment.NewLine + "Hint: set LateFusionOptions.MetaLearner, or use the catalog method, which defaults it.", nameof(options));
        _host = env.Register("MLNetFusion.late");
        _env = env;
    }

    /// <summary>The options.</summary>
    public LateFusionOptions Options { get; }

    private static string PresenceColumn(LateFusionMember m) => "__present." + m.Name;
    private static string MemberScoreColumn(LateFusionMember m) => "Score." + m.Name;

    private void Validate(DataViewSchema schema)
    {
        SchemaErrors.RequireKeyLabel(schema, Options.LabelColumnName);
        if (Options.SamplingKeyColumnName != null)
            SchemaErrors.FindColumn(schema, Options.SamplingKeyColumnName,
                $"the sampling key column '{Options.SamplingKeyColumnName}' (LateFusionOptions.SamplingKeyColumnName) must be a column of the training data; keep it through the feature pipeline.");
        foreach (var m in Options.Members)
        {
            var col = SchemaErrors.FindColumn(schema, m.FeatureColumnName, "featurize that modality before late fusion, or fix the member's FeatureColumnName.",
                $"of late-fusion member '{m.Name}'");
            if (col.Type is TextDataViewType) continue;   // a text member: its own pipeline featurizes it (e.g. FeaturizeText)
            SchemaErrors.RequireFloatVector(schema, m.FeatureColumnName, $"member '{m.Name}' needs numeric features (or a text column for a text member): featurize the modality (ExtractPixels, MelSpectrogram, Concatenate) first.");
        }
    }

    private int _step, _steps;
    private System.Diagnostics.Stopwatch _clock = new();

    /// <summary>Fits each member on the rows where its modality is present.</summary>
    private List<ITransformer> FitMembers(IDataView train, int? fold = null)
    {
        var fitted = new List<ITransformer>();
        foreach (var m in Options.Members)
        {
            Options.Progress?.Invoke(new LateFusionProgress(_step++, _steps, m.Name, fold, _clock.Elapsed));
            var guard = new MemberInputGuard(m.FeatureColumnName, PresenceColumn(m));
            var present = new RowFilterDataView(guard.Transform(train), new[] { PresenceColumn(m) }, row =>
            {
                var g = row.GetGetter<bool>(row.Schema[PresenceColumn(m)]);
                return () => { bool v = false; g(ref v); return v; };
            });
            try { fitted.Add(m.Trainer.Fit(present)); }
            catch (Exception ex) when (ex is not OutOfMemoryException && RowError(ex) is { } rowError)
            {
                // ML.NET reports a cursor's failure as "Splitter/consolidator worker encountered exception": surface ours.
                foreach (var t in fitted) (t as IDisposable)?.Dispose();
                throw new InvalidOperationException($"Late-fusion member '{m.Name}': {rowError.Message}", rowError);
            }
        }
        return fitted;
    }

    /// <summary>The innermost exception whose message names a row ("Row 12: …"), or <c>null</c>.</summary>
    private static Exception? RowError(Exception ex)
    {
        Exception? found = null;
        for (var e = ex; e != null; e = e.InnerException)
            if (e.Message.StartsWith("Row ", StringComparison.Ordinal)) found = e;
        return found;
    }

    /// <summary>Applies guards, members and score copies: every member's probabilities and presence become columns.</summary>
    private IDataView ScoreMembers(IDataView data, IReadOnlyList<ITransformer> members, int classes, List<ITransformer>? chain = null, double[]? temperatures = null)
    {
        for (int i = 0; i < members.Count; i++)
        {
            var m = Options.Members[i];
            var steps = new ITransformer[] { new MemberInputGuard(m.FeatureColumnName, PresenceColumn(m)), members[i],
                new MemberProbabilityTransformer(m.ScoreColumnName, MemberScoreColumn(m), m.Name, classes, temperatures?[i] ?? 1) };
            foreach (var t in steps) { data = t.Transform(data); chain?.Add(t); }
        }
        return data;
    }

    /// <inheritdoc />
    public LateFusionTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Validate(input.Schema);
        int classes = SchemaErrors.RequireKeyLabel(input.Schema, Options.LabelColumnName);
        SchemaErrors.RequireSeveralClasses(input, Options.LabelColumnName);
        var labels = LabelKeyValues.FromColumn(input.Schema[Options.LabelColumnName]);
        int seed = Options.Seed ?? _host.Rand.Next();
        using var ch = _host.Start("Training");
        bool checkMembers = Options.DropUninformativeMembers && Options.Combiner != LateFusionCombiner.Stacking && Options.Members.Count > 1;
        bool needsOutOfFold = checkMembers || Options.MemberCalibration == MemberCalibration.Temperature || Options.Combiner is LateFusionCombiner.WeightedAverage or LateFusionCombiner.Stacking;
        (_step, _steps, _clock) = (0, Options.Members.Count * (needsOutOfFold ? 1 + Options.NumberOfFolds : 1), System.Diagnostics.Stopwatch.StartNew());

        // The final members are fitted first, so they are the same models whatever the combiner (the cross-fitting
        // below draws its seeds after them): combiners can be compared on identical members.
        var members = FitMembers(input);
        double[]? weights = null;
        ITransformer? meta = null;
        double blend = 0;
        double[]? temperatures = null;
        List<MemberCalibrationResult>? calibration = null;
        bool calibrate = Options.MemberCalibration == MemberCalibration.Temperature;
        string[] uninformative = Array.Empty<string>();
        if (needsOutOfFold)
        {
            OutOfFoldData oof;
            try { oof = OutOfFold(input, classes, seed); }
            catch
            {
                foreach (var t in members) (t as IDisposable)?.Dispose();
                throw;
            }
            ch.Info(MessageSensitivity.None, $"Late fusion: {oof.Labels.Count} out-of-fold rows from {Options.NumberOfFolds} folds.");
            if (calibrate)
            {
                (temperatures, calibration) = FitTemperatures(oof, classes);
                ch.Info(MessageSensitivity.None, "Late fusion member temperatures: " + string.Join(", ", calibration.Select(c =>
                    $"{c.Member} {c.Temperature:F2} (ECE {c.EceBefore:F3} → {c.EceAfter:F3})")) + ".");
            }
            bool[]? informative = checkMembers ? Informative(oof, classes) : null;
            if (informative != null && informative.Any(i => !i))
            {
                uninformative = Options.Members.Where((_, i) => !informative[i]).Select(m => m.Name).ToArray();
                ch.Info(MessageSensitivity.None, $"Late fusion leaves out {string.Join(", ", uninformative)}: no better than the class prior out of fold.");
                if (Options.Combiner != LateFusionCombiner.WeightedAverage) weights = informative.Select(i => i ? 1.0 : 0.0).ToArray();
            }
            if (Options.Combiner == LateFusionCombiner.WeightedAverage)
            {
                var (fitted, shrinkage) = FitShrunkWeights(oof, classes);
                if (informative != null && informative.Any(i => !i))
                {
                    var kept = fitted.Select((w, i) => informative[i] ? w : 0).ToArray();
                    if (kept.Sum() > 0) fitted = kept.Select(w => w / kept.Sum()).ToArray();
                }
                weights = fitted;
                ch.Info(MessageSensitivity.None, "Late fusion weights: " + string.Join(", ", Options.Members.Select((m, i) => $"{m.Name} {fitted[i]:F3}")) +
                    $" (shrunk {shrinkage:P0} toward equal weights, chosen on held-out {(Options.SamplingKeyColumnName != null ? "groups" : "folds")}).");
            }
            else if (Options.Combiner == LateFusionCombiner.Stacking)
            {
                (meta, blend) = FitGuardedMeta(oof, classes);
                ch.Info(MessageSensitivity.None, $"Late fusion stacking: {blend:P0} of the plain average blended into the meta-learner's output, chosen on held-out " +
                    $"{(Options.SamplingKeyColumnName != null ? "groups" : "folds")}.");
            }
        }

        var chain = new List<ITransformer>();
        ScoreMembers(input, members, classes, chain, temperatures);
        var scores = Options.Members.Select(MemberScoreColumn).ToArray();
        var presence = Options.Members.Select(PresenceColumn).ToArray();
        if (meta == null)
            chain.Add(new LateFusionCombinerTransformer(scores, presence, labels, Options.Combiner, weights, null, Options.ScoreColumnName, Options.PredictedLabelColumnName));
        else
        {
            if (blend > 0)
                chain.Add(new LateFusionCombinerTransformer(scores, presence, labels, LateFusionCombiner.Average, null, null, "__average.Score", "__average.PredictedLabel"));
            chain.Add(new LateFusionCombinerTransformer(scores, presence, labels, Options.Combiner, null, Options.MetaFeatureColumnName, Options.ScoreColumnName, Options.PredictedLabelColumnName));
            chain.Add(meta);
            chain.Add(new MemberProbabilityTransformer("Score", "__meta.Score", "meta-learner", classes));
            chain.Add(blend > 0
                ? new LateFusionCombinerTransformer(new[] { "__meta.Score", "__average.Score" }, new string[] { null!, null! }, labels, LateFusionCombiner.WeightedAverage,
                    new[] { 1 - blend, blend }, null, Options.ScoreColumnName, Options.PredictedLabelColumnName)
                : new LateFusionCombinerTransformer(new[] { "__meta.Score" }, new string[] { null! }, labels, LateFusionCombiner.Average, null, null,
                    Options.ScoreColumnName, Options.PredictedLabelColumnName));
        }
        Options.Progress?.Invoke(new LateFusionProgress(_steps, _steps, "", null, _clock.Elapsed));
        return new LateFusionTransformer(chain, members, Options.Members.Select(m => m.Name).ToArray(), Options.Combiner, weights, labels, calibration, uninformative);
    }

    /// <summary>
    /// One temperature per member minimising its out-of-fold log-loss (a 1-D search over [0.05, 20] on a log grid, then
    /// refined), with its ECE before and after; the out-of-fold probabilities are tempered in place, so weights and
    /// stacking are fitted on calibrated members.
    /// </summary>
    internal (double[] temperatures, List<MemberCalibrationResult> report) FitTemperatures(OutOfFoldData oof, int classes)
    {
        int m = Options.Members.Count;
        var temperatures = new double[m];
        var report = new List<MemberCalibrationResult>();
        for (int i = 0; i < m; i++)
        {
            var rows = Enumerable.Range(0, oof.Labels.Count).Where(r => oof.Present[r][i]).ToArray();
            var probs = rows.Select(r => oof.Probabilities[r][i]).ToArray();
            var labels = rows.Select(r => oof.Labels[r]).ToArray();
            double t = FitTemperature(probs, labels);
            double before = rows.Length > 0 ? Evaluation.ScoredRows.From(probs, labels, classes).Calibration(15).ExpectedCalibrationError : double.NaN;
            foreach (int r in rows) LateFusionMath.Temper(oof.Probabilities[r][i], t);
            double after = rows.Length > 0 ? Evaluation.ScoredRows.From(probs, labels, classes).Calibration(15).ExpectedCalibrationError : double.NaN;
            temperatures[i] = t;
            report.Add(new MemberCalibrationResult(Options.Members[i].Name, t, before, after));
        }
        return (temperatures, report);
    }

    /// <summary>The temperature minimising the log-loss of <paramref name="probabilities"/> (1 when there are no rows).</summary>
    internal static double FitTemperature(IReadOnlyList<float[]> probabilities, IReadOnlyList<int> labels)
    {
        if (probabilities.Count == 0) return 1;
        var logs = probabilities.Select(p => p.Select(v => Math.Log(Math.Max(v, LateFusionMath.Epsilon))).ToArray()).ToArray();
        double Loss(double t)
        {
            double sum = 0;
            for (int r = 0; r < logs.Length; r++)
            {
                var l = logs[r];
                double max = double.NegativeInfinity;
                for (int k = 0; k < l.Length; k++) max = Math.Max(max, l[k] / t);
                double z = 0;
                for (int k = 0; k < l.Length; k++) z += Math.Exp(l[k] / t - max);
                sum -= l[labels[r]] / t - max - Math.Log(z);
            }
            return sum / logs.Length;
        }
        double lo = Math.Log(0.05), hi = Math.Log(20), best = 0, bestLoss = double.PositiveInfinity;
        for (int g = 0; g <= 60; g++)
        {
            double x = lo + (hi - lo) * g / 60, loss = Loss(Math.Exp(x));
            if (loss < bestLoss) { bestLoss = loss; best = x; }
        }
        // Golden-section refinement within one grid step either side.
        double step = (hi - lo) / 60, a = best - step, b = best + step, phi = (Math.Sqrt(5) - 1) / 2;
        for (int it = 0; it < 40; it++)
        {
            double c = b - phi * (b - a), d = a + phi * (b - a);
            if (Loss(Math.Exp(c)) < Loss(Math.Exp(d))) b = d; else a = c;
        }
        double refined = (a + b) / 2;
        return Math.Exp(Loss(Math.Exp(refined)) <= bestLoss ? refined : best);
    }

    internal sealed record OutOfFoldData(List<float[][]> Probabilities, List<bool[]> Present, List<int> Labels, List<int> Folds);

    /// <summary>
    /// k-fold cross-fitting: members are fitted on k-1 folds and predict the held-out fold, so every row's
    /// probabilities come from members that never saw its label.
    /// </summary>
    private OutOfFoldData OutOfFold(IDataView input, int classes, int seed)
    {
        int k = Options.NumberOfFolds;
        Func<long, int> foldOf = pos => (int)(SeededShuffle.Hash(pos, seed) * k);
        if (Options.SamplingKeyColumnName != null)
        {
            var groups = SamplingKeyGroups.Read(input, Options.SamplingKeyColumnName);
            var foldOfGroup = groups.FoldOfGroup(k, seed);
            foldOf = pos => groups.FoldOfRow(pos, foldOfGroup);
            using var ch = _host.Start("Grouped folds");
            ch.Info(MessageSensitivity.None, $"Late fusion: {k} out-of-fold folds by '{Options.SamplingKeyColumnName}': " +
                string.Join("; ", Enumerable.Range(0, k).Select(f => string.Join(", ", Enumerable.Range(0, groups.Count).Where(g => foldOfGroup[g] == f).Select(g => groups.GroupNames[g])))));
        }
        var result = new OutOfFoldData(new(), new(), new(), new());
        for (int fold = 0; fold < k; fold++)
        {
            int f = fold;
            Func<DataViewRow, Func<bool>> inFold(bool held) => row => () => foldOf(row.Position) == f == held;
            var train = new RowFilterDataView(input, Array.Empty<string>(), inFold(false));
            var test = new RowFilterDataView(input, Array.Empty<string>(), inFold(true));
            var members = FitMembers(train, f + 1);
            var scored = ScoreMembers(test, members, classes);
            var cols = Options.Members.SelectMany(m => new[] { MemberScoreColumn(m), PresenceColumn(m) }).Append(Options.LabelColumnName).Select(c => scored.Schema[c]);
            using var cursor = scored.GetRowCursor(cols);
            var sg = Options.Members.Select(m => cursor.GetGetter<VBuffer<float>>(scored.Schema[MemberScoreColumn(m)])).ToArray();
            var pg = Options.Members.Select(m => cursor.GetGetter<bool>(scored.Schema[PresenceColumn(m)])).ToArray();
            var lg = cursor.GetGetter<uint>(scored.Schema[Options.LabelColumnName]);
            VBuffer<float> buf = default;
            while (cursor.MoveNext())
            {
                uint key = 0; lg(ref key);
                if (key == 0) continue;
                var probs = new float[sg.Length][];
                var pres = new bool[sg.Length];
                for (int i = 0; i < sg.Length; i++) { sg[i](ref buf); probs[i] = buf.DenseValues().ToArray(); pg[i](ref pres[i]); }
                if (!pres.Any(p => p)) continue;
                result.Probabilities.Add(probs); result.Present.Add(pres); result.Labels.Add((int)key - 1); result.Folds.Add(f);
            }
            foreach (var t in members) (t as IDisposable)?.Dispose();
        }
        return result;
    }

    /// <summary>
    /// Whether each member carries signal out of fold, on the rows it is present: its log-loss beats the class prior's by
    /// at least 0.005 nats, or its accuracy beats always answering the most frequent class by more than two standard
    /// errors (an accurate member that is over-confident, such as a network trained for few epochs, has a poor log-loss
    /// and is still informative). The best member is always informative, so at least one is kept.
    /// </summary>
    internal static bool[] Informative(OutOfFoldData oof, int classes)
    {
        int m = oof.Probabilities.Count == 0 ? 0 : oof.Probabilities[0].Length;
        var result = new bool[m];
        var gain = new double[m];
        for (int i = 0; i < m; i++)
        {
            var rows = Enumerable.Range(0, oof.Labels.Count).Where(r => oof.Present[r][i]).ToArray();
            if (rows.Length == 0) { gain[i] = double.NegativeInfinity; continue; }
            var counts = new double[classes];
            foreach (int r in rows) counts[oof.Labels[r]]++;
            double prior = -rows.Average(r => Math.Log(Math.Max(counts[oof.Labels[r]] / rows.Length, LateFusionMath.Epsilon)));
            double member = -rows.Average(r => Math.Log(Math.Max(oof.Probabilities[r][i][oof.Labels[r]], LateFusionMath.Epsilon)));
            double majority = counts.Max() / rows.Length;
            double accuracy = rows.Count(r => ArgMax(oof.Probabilities[r][i]) == oof.Labels[r]) / (double)rows.Length;
            double standardError = Math.Sqrt(majority * (1 - majority) / rows.Length);
            gain[i] = prior - member;
            result[i] = gain[i] > 0.005 || accuracy > majority + 2 * standardError;
        }
        if (m > 0 && !result.Any(x => x)) result[Array.IndexOf(gain, gain.Max())] = true;
        return result;
    }

    private static int ArgMax(float[] p) { int best = 0; for (int k = 1; k < p.Length; k++) if (p[k] > p[best]) best = k; return best; }

    /// <summary>Shrinkage steps tried toward equal weights.</summary>
    internal static readonly double[] ShrinkageSteps = { 0, 0.25, 0.5, 0.75, 1 };

    /// <summary>
    /// Weights fitted on all out-of-fold rows, shrunk toward equal weights by the share that held-out folds support:
    /// for each fold, weights fitted on the other folds are scored (log-loss) on it at every shrinkage step, and the most
    /// shrunk step within one standard error (across folds) of the best is chosen. With a sampling key each fold holds whole groups, so weights
    /// that do not carry over to unseen groups (one member looks better only on some groups) end near equal weights,
    /// and the weighted average is then no worse than the plain average.
    /// </summary>
    internal static (double[] weights, double shrinkage) FitShrunkWeights(OutOfFoldData oof, int classes)
    {
        var full = FitWeights(oof, classes);
        int m = full.Length;
        var folds = oof.Folds.Distinct().ToList();
        if (m < 2 || folds.Count < 2) return (full, 0);
        var loss = new double[folds.Count, ShrinkageSteps.Length];
        for (int fi = 0; fi < folds.Count; fi++)
        {
            int f = folds[fi], rows = 0;
            var w = FitWeights(oof, classes, r => oof.Folds[r] != f);
            for (int r = 0; r < oof.Labels.Count; r++)
            {
                if (oof.Folds[r] != f) continue;
                rows++;
                for (int a = 0; a < ShrinkageSteps.Length; a++)
                {
                    double num = 0, den = 0;
                    for (int i = 0; i < m; i++)
                    {
                        if (!oof.Present[r][i]) continue;
                        double wi = (1 - ShrinkageSteps[a]) * w[i] + ShrinkageSteps[a] / m;
                        num += wi * oof.Probabilities[r][i][oof.Labels[r]]; den += wi;
                    }
                    loss[fi, a] += -Math.Log(Math.Max(LateFusionMath.Epsilon, den > 0 ? num / den : 0));
                }
            }
            for (int a = 0; a < ShrinkageSteps.Length; a++) loss[fi, a] /= Math.Max(1, rows);
        }
        double alpha = ShrinkageSteps[MostShrunkWithinOneStandardError(loss)];
        return (full.Select(x => (1 - alpha) * x + alpha / m).ToArray(), alpha);
    }

    /// <summary>Member weights minimising the out-of-fold log-loss of the weighted average (softmax-parametrised, Adam), on the rows <paramref name="include"/> keeps.</summary>
    internal static double[] FitWeights(OutOfFoldData oof, int classes, Func<int, bool>? include = null)
    {
        TorchRuntime.EnsureInitialized();
        var rows = Enumerable.Range(0, oof.Labels.Count).Where(r => include == null || include(r)).ToArray();
        int n = rows.Length, m = oof.Probabilities.Count == 0 ? 0 : oof.Probabilities[0].Length;
        if (n == 0) return Enumerable.Repeat(1.0 / Math.Max(1, m), m).ToArray();
        using var scope = NewDisposeScope();
        var pTrue = new float[n * m];
        var pres = new float[n * m];
        for (int k = 0; k < n; k++)
        {
            int r = rows[k];
            for (int i = 0; i < m; i++)
            {
                pTrue[k * m + i] = Math.Max(oof.Probabilities[r][i][oof.Labels[r]], LateFusionMath.Epsilon);
                pres[k * m + i] = oof.Present[r][i] ? 1 : 0;
            }
        }
        var pt = tensor(pTrue, new long[] { n, m });
        var pm = tensor(pres, new long[] { n, m });
        var theta = zeros(m, requires_grad: true);
        var opt = optim.Adam(new[] { new TorchSharp.Modules.Parameter(theta) }, 0.05);
        var param = opt.parameters().First();
        for (int step = 0; step < 500; step++)
        {
            opt.zero_grad();
            var w = nn.functional.softmax(param, 0) * pm;                       // [n, m]
            var mix = (w * pt).sum(1) / w.sum(1).clamp_min(1e-12);
            var loss = -mix.clamp_min(LateFusionMath.Epsilon).log().mean();
            loss.backward();
            opt.step();
        }
        return nn.functional.softmax(param.detach(), 0).to_type(ScalarType.Float64).data<double>().ToArray();
    }

    /// <summary>The out-of-fold rows <paramref name="include"/> keeps as the meta-learner's training view.</summary>
    private IDataView MetaView(OutOfFoldData oof, int classes, Func<int, bool>? include = null)
    {
        int m = Options.Members.Count, width = m * classes + m;
        var rows = new List<MetaRow>();
        for (int r = 0; r < oof.Labels.Count; r++)
        {
            if (include != null && !include(r)) continue;
            var f = new float[width];
            LateFusionCombinerTransformer.MetaRow(oof.Probabilities[r], oof.Present[r], classes, f);
            rows.Add(new MetaRow { Label = (uint)oof.Labels[r], Features = f });
        }
        var schema = SchemaDefinition.Create(typeof(MetaRow));
        var labelCol = schema[nameof(MetaRow.Label)];
        var featureCol = schema[nameof(MetaRow.Features)];
        // LoadFromEnumerable reads a key field as the 0-based class index.
        labelCol.ColumnName = Options.LabelColumnName;
        labelCol.ColumnType = new KeyDataViewType(typeof(uint), classes);
        featureCol.ColumnName = Options.MetaFeatureColumnName;
        featureCol.ColumnType = new VectorDataViewType(NumberDataViewType.Single, width);
        // The caller's context (its log and seed); a bare host environment only when the trainer was built without one.
        var data = (_env as MLContext ?? new MLContext(Options.Seed ?? 0)).Data;
        return data.LoadFromEnumerable(rows, schema);
    }

    /// <summary>
    /// The meta-learner fitted on all out-of-fold rows, and how much of the plain average to blend into its output: for
    /// each fold, a meta-learner fitted on the other folds scores its rows at every blend step, and the most averaged step
    /// within one standard error (across folds) of the best is chosen. With a sampling key each fold holds whole groups, so a
    /// meta-learner whose lessons do not carry over to unseen groups is pulled toward the plain average.
    /// </summary>
    private (ITransformer meta, double blend) FitGuardedMeta(OutOfFoldData oof, int classes)
    {
        var meta = Options.MetaLearner!.Fit(MetaView(oof, classes));
        var folds = oof.Folds.Distinct().ToList();
        if (folds.Count < 2) return (meta, 0);
        var loss = new double[folds.Count, ShrinkageSteps.Length];
        int m = Options.Members.Count;
        for (int fi = 0; fi < folds.Count; fi++)
        {
            int f = folds[fi];
            var held = Enumerable.Range(0, oof.Labels.Count).Where(r => oof.Folds[r] == f).ToArray();
            var nested = Options.MetaLearner!.Fit(MetaView(oof, classes, r => oof.Folds[r] != f));
            var scored = nested.Transform(MetaView(oof, classes, r => oof.Folds[r] == f));
            int k = 0;
            using (var cursor = scored.GetRowCursor(new[] { scored.Schema["Score"] }))
            {
                var getter = cursor.GetGetter<VBuffer<float>>(scored.Schema["Score"]);
                VBuffer<float> buf = default;
                while (cursor.MoveNext())
                {
                    getter(ref buf);
                    int r = held[k++];
                    var raw = buf.DenseValues().ToArray();
                    var metaP = new float[raw.Length];
                    LateFusionMath.ToProbabilities(raw, metaP);
                    int y = oof.Labels[r];
                    double avg = 0; int present = 0;
                    for (int i = 0; i < m; i++) if (oof.Present[r][i]) { avg += oof.Probabilities[r][i][y]; present++; }
                    avg /= Math.Max(1, present);
                    for (int a = 0; a < ShrinkageSteps.Length; a++)
                        loss[fi, a] += -Math.Log(Math.Max(LateFusionMath.Epsilon, (1 - ShrinkageSteps[a]) * metaP[y] + ShrinkageSteps[a] * avg));
                }
            }
            for (int a = 0; a < ShrinkageSteps.Length; a++) loss[fi, a] /= Math.Max(1, held.Length);
            (nested as IDisposable)?.Dispose();
        }
        return (meta, ShrinkageSteps[MostShrunkWithinOneStandardError(loss)]);
    }

    /// <summary>
    /// The one-standard-error rule (as glmnet's <c>lambda.1se</c>) over held-out folds: the step with the lowest mean
    /// per-fold log-loss is the best; the chosen step is the most shrunk one whose mean excess loss over the best, across
    /// folds, is within one standard error of that excess. A fitted combination therefore departs from the plain average
    /// only as far as every held-out fold (every held-out group, with a sampling key) consistently supports.
    /// </summary>
    /// <param name="loss">Mean log-loss per fold (rows) and shrinkage step (columns, in <see cref="ShrinkageSteps"/> order).</param>
    internal static int MostShrunkWithinOneStandardError(double[,] loss)
    {
        int folds = loss.GetLength(0), steps = loss.GetLength(1);
        double Mean(int a) { double s = 0; for (int f = 0; f < folds; f++) s += loss[f, a]; return s / folds; }
        int best = 0;
        for (int a = 1; a < steps; a++) if (Mean(a) <= Mean(best) + 1e-12) best = a;
        for (int a = steps - 1; a > best; a--)
        {
            var excess = Enumerable.Range(0, folds).Select(f => loss[f, a] - loss[f, best]).ToArray();
            double mean = excess.Average();
            double sd = folds > 1 ? Math.Sqrt(excess.Sum(e => (e - mean) * (e - mean)) / (folds - 1)) : 0;
            if (mean <= sd / Math.Sqrt(folds)) return a;
        }
        return best;
    }

    private sealed class MetaRow
    {
        public uint Label { get; set; }
        public float[] Features { get; set; } = Array.Empty<float>();
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var label = SchemaShapes.RequireKeyLabel(inputSchema, Options.LabelColumnName);
        foreach (var m in Options.Members)
        {
            var c = SchemaShapes.Find(inputSchema, m.FeatureColumnName);
            if (!(c.ItemType is TextDataViewType && c.Kind == SchemaShape.Column.VectorKind.Scalar)) SchemaShapes.RequireFloatVector(inputSchema, m.FeatureColumnName);
        }
        var added = Options.Members.Select(m => SchemaShapes.Column(MemberScoreColumn(m), SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false)).ToList();
        // Whether each member had its input, per row (the combiners read it; so may a user).
        added.AddRange(Options.Members.Select(m => SchemaShapes.Column(PresenceColumn(m), SchemaShape.Column.VectorKind.Scalar, BooleanDataViewType.Instance, false)));
        if (Options.Combiner == LateFusionCombiner.Stacking)
            added.AddRange(new[] { SchemaShapes.Column(Options.MetaFeatureColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false),
                SchemaShapes.Column("__meta.Score", SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false) });
        added.AddRange(SchemaShapes.MulticlassOutputs(label, Options.ScoreColumnName, Options.PredictedLabelColumnName));
        return SchemaShapes.Append(inputSchema, added);
    }
}

/// <summary>How late fusion calibrates its members (<see cref="LateFusionOptions.MemberCalibration"/>).</summary>
public enum MemberCalibration
{
    /// <summary>Members' probabilities are combined as they come.</summary>
    None,
    /// <summary>Temperature scaling (Guo et al., 2017): one temperature per member, fitted on out-of-fold predictions by log-loss.</summary>
    Temperature,
}

/// <summary>A member's calibration: its temperature and its expected calibration error (15 bins) on out-of-fold predictions before and after.</summary>
/// <param name="Member">The member's name.</param>
/// <param name="Temperature">The fitted temperature (above 1: the member was over-confident).</param>
/// <param name="EceBefore">ECE of the member's out-of-fold probabilities as they came.</param>
/// <param name="EceAfter">ECE after dividing its log-probabilities by <paramref name="Temperature"/>.</param>
public sealed record MemberCalibrationResult(string Member, double Temperature, double EceBefore, double EceAfter);
