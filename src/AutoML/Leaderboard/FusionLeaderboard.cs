using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Data;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Ensemble;
using MLNetFusion.Trainers.LateFusion;

namespace MLNetFusion.AutoML.Leaderboard;

/// <summary>Options of <see cref="FusionLeaderboard"/> (<c>mlContext.Fusion().CreateLeaderboard(...)</c>).</summary>
public sealed class FusionLeaderboardOptions
{
    /// <summary>Default values.</summary>
    public static class Defaults
    {
        /// <summary>Share of the training rows held out to choose the recommended model and the ensemble's weights.</summary>
        public const double ValidationFraction = 0.2;
        /// <summary><see cref="NumberOfFolds"/>'s default: 0, chosen by the training rows (<see cref="FoldsFor"/>).</summary>
        public const int NumberOfFolds = 0;
        /// <summary>The folds chosen for up to <see cref="CrossFitUpToRows"/> training rows.</summary>
        public const int CrossFitFolds = 5;
        /// <summary>The most training rows that are cross-fitted when the folds are chosen by size; above it a hold-out judges.</summary>
        public const int CrossFitUpToRows = 5_000;
    }

    /// <summary>
    /// The folds chosen for <paramref name="trainingRows"/> when <see cref="NumberOfFolds"/> is 0: <see cref="Defaults.CrossFitFolds"/>
    /// up to <see cref="Defaults.CrossFitUpToRows"/> rows, where a hold-out's fifth is too few rows to tell entries apart
    /// (one standard error is 3 points on 250 rows) and cross-fitting judges all of them; 1 (a hold-out) above, where a
    /// fifth already judges more than a thousand rows and k more fits per candidate would cost the most.
    /// </summary>
    /// <param name="trainingRows">The training rows.</param>
    public static int FoldsFor(long trainingRows) => trainingRows <= Defaults.CrossFitUpToRows ? Defaults.CrossFitFolds : 1;

    /// <summary>The group column (speaker, site): validation rows are whole groups, late fusion's folds too. Default <c>null</c>.</summary>
    public string? GroupColumnName { get; set; }
    /// <summary>
    /// Also score every entry by leave-one-group-out on the training rows (one more fit per group and entry; the
    /// ensemble's weights chosen, for each group, on the other groups), and rank and recommend by it: every training
    /// group then judges the shift to unseen groups, not only the validation split's. Needs <see cref="GroupColumnName"/>. Default false.
    /// </summary>
    public bool LeaveOneGroupOut { get; set; }
    /// <summary>Epochs of the neural candidates. Default 15.</summary>
    public int Epochs { get; set; } = FusionCandidates.Defaults.Epochs;
    /// <summary>
    /// Epochs without a better validation loss (on a tenth of the candidate's training rows) before a neural candidate
    /// stops and keeps its best epoch; the entry's notes say where it stopped. 0 runs every epoch. Default 0.
    /// </summary>
    public int EarlyStoppingPatience { get; set; } = FusionCandidates.Defaults.EarlyStoppingPatience;
    /// <summary>Share of the training rows held out for validation (whole groups with a group column), when <see cref="NumberOfFolds"/> is 1. Default 0.2.</summary>
    public double ValidationFraction { get; set; } = Defaults.ValidationFraction;
    /// <summary>
    /// How candidates are judged on the training rows. 1: one validation hold-out of <see cref="ValidationFraction"/>,
    /// whose fit is the served model. 2 to 20: cross-fitting (as AutoGluon's bagging): every candidate is fitted k times,
    /// each time without one fold (whole groups per fold with <see cref="GroupColumnName"/>), so every training row gets
    /// out-of-fold probabilities; selection, the one-standard-error rule and the ensemble's weights use all of them, and the
    /// served model is <see cref="CrossFittedModel"/>. It costs k fits per candidate (k + 1 with a refit). 0 (default):
    /// chosen by the training rows (<see cref="FoldsFor"/>). Ignored with <see cref="LeaveOneGroupOut"/>, whose folds are the groups.
    /// </summary>
    public int NumberOfFolds { get; set; } = Defaults.NumberOfFolds;
    /// <summary>
    /// The model served after cross-fitting or leave-one-group-out: a refit on every training row (default: one model to
    /// serve, as fast as the hold-out's), or the fold models' average (bagging: no extra fit, k models to serve).
    /// </summary>
    public CrossFittedModel CrossFittedModel { get; set; } = CrossFittedModel.Refit;
    /// <summary>Rounds of ensemble selection (0: no ensemble). Default 25.</summary>
    public int EnsembleRounds { get; set; } = EnsembleSelection.Defaults.Rounds;
    /// <summary>Also train each modality alone through the fusion families' encoder. Default true.</summary>
    public bool IncludeSingleModalities { get; set; } = true;
    /// <summary>The candidates; <c>null</c> (default): <see cref="FusionCandidates.Default"/>.</summary>
    public IReadOnlyList<LeaderboardCandidate>? Candidates { get; set; }
    /// <summary>Seed of the validation split. Default 1.</summary>
    public int Seed { get; set; } = 1;
    /// <summary>
    /// A time limit for the whole leaderboard (as AutoGluon's <c>time_limit</c>), or <c>null</c> (default) for none.
    /// With one, candidates run cheapest-informative first (the plain baselines, late fusion, the early MLP, each modality
    /// alone, then the joint networks); neural candidates stop early after 3 epochs without progress (unless
    /// <see cref="EarlyStoppingPatience"/> says otherwise) and get the epochs their share of the time left pays for, as
    /// measured on the epochs already run (at least 2, at most <see cref="Epochs"/>); a candidate that would not finish is
    /// skipped, and one still running at the limit is stopped, both listed with why. The recommendation and the ensemble
    /// use what finished; progress says how much time is left. Featurization is not counted.
    /// </summary>
    public TimeSpan? TimeLimit { get; set; }
    /// <summary>Called with the candidate's index, the share of its work done and a stage, while a candidate trains.</summary>
    public Action<int, double, string>? Progress { get; set; }
    /// <summary>Called when an entry finishes (or fails), with every entry so far: write them out as they come.</summary>
    public Action<LeaderboardEntry, IReadOnlyList<LeaderboardEntry>>? EntryFinished { get; set; }

    /// <summary>Checks every member; changes nothing.</summary>
    public void Validate()
    {
        Check.InRange(Epochs, 1, 10_000);
        Check.InRange(EarlyStoppingPatience, 0, 10_000);
        if (!(ValidationFraction > 0 && ValidationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "ValidationFraction must be between 0 and 1 (exclusive)." + Environment.NewLine + "Hint: 0.2 holds out a fifth of the training rows.");
        Check.InRange(EnsembleRounds, 0, 10_000);
        if (NumberOfFolds < 0 || NumberOfFolds > 20)
            throw new ArgumentOutOfRangeException(nameof(NumberOfFolds), NumberOfFolds, "NumberOfFolds must be in [0, 20]." + Environment.NewLine +
                "Hint: 1 judges on one validation hold-out; 5 cross-fits every candidate on five folds; 0 chooses by the training rows.");
        if (!Enum.IsDefined(CrossFittedModel))
            throw new ArgumentOutOfRangeException(nameof(CrossFittedModel), CrossFittedModel, "CrossFittedModel must be Refit or Bagged." + Environment.NewLine + "Hint: Refit serves one model fitted on every training row.");
        if (TimeLimit is { } limit && !(limit > TimeSpan.Zero && limit <= TimeSpan.FromDays(30)))
            throw new ArgumentOutOfRangeException(nameof(TimeLimit), limit, "TimeLimit must be positive (and at most 30 days)." + Environment.NewLine + "Hint: leave it null for no limit, or give, say, TimeSpan.FromMinutes(10).");
        if (LeaveOneGroupOut && GroupColumnName == null)
            throw new ArgumentException("Leave-one-group-out needs a group column." + Environment.NewLine + "Hint: set GroupColumnName (--group COLUMN).", nameof(LeaveOneGroupOut));
    }
}

/// <summary>What the leaderboard serves when every training row was judged out of fold (cross-fitting, leave-one-group-out).</summary>
public enum CrossFittedModel
{
    /// <summary>The candidate refitted on every training row: one more fit, one model to serve.</summary>
    Refit,
    /// <summary>The fold models, their probabilities averaged (bagging, as AutoGluon serves): no more fits, k models to serve.</summary>
    Bagged,
}

/// <summary>One leaderboard row.</summary>
/// <param name="Kind">Baseline, single modality, fusion or ensemble.</param>
/// <param name="Family">Fusion family name, <c>baseline</c>, <c>single</c> or <c>ensemble</c>.</param>
/// <param name="Name">The configuration.</param>
/// <param name="ValidationAccuracy">Accuracy on the validation rows held out of training (whole groups with a group column): what the recommendation uses.</param>
/// <param name="ValidationLogLoss">Log-loss on the validation rows.</param>
/// <param name="Accuracy">Accuracy on the test rows (reported, never used to choose).</param>
/// <param name="MacroF1">Macro-F1 on the test rows.</param>
/// <param name="LogLoss">Log-loss on the test rows.</param>
/// <param name="TrainingTime">Time to fit.</param>
/// <param name="GroupOutAccuracy">Leave-one-group-out accuracy (mean over groups), when measured.</param>
/// <param name="WorstGroupAccuracy">The lowest held-out group's accuracy, when measured.</param>
/// <param name="GroupAccuracies">Each held-out group's accuracy, when measured.</param>
/// <param name="Error">Why the candidate failed (its metrics are then NaN), or <c>null</c>.</param>
/// <param name="Members">For the ensemble: each member and its weight.</param>
/// <param name="Notes">What the fitted model decided that a reader should know (late fusion's members left out as no better than the class prior), or <c>null</c>.</param>
/// <param name="JudgedRows">The training rows <see cref="ValidationAccuracy"/> was measured on (0: unknown).</param>
/// <param name="RefitTime">The part of <see cref="TrainingTime"/> spent refitting the served model on every training row, or <c>null</c> when there was no refit.</param>
public sealed record LeaderboardEntry(CandidateKind Kind, string Family, string Name, double ValidationAccuracy, double ValidationLogLoss,
    double Accuracy, double MacroF1, double LogLoss, TimeSpan TrainingTime,
    double? GroupOutAccuracy = null, double? WorstGroupAccuracy = null, IReadOnlyDictionary<string, double>? GroupAccuracies = null, string? Error = null,
    IReadOnlyList<(string Member, double Weight)>? Members = null, string? Notes = null, int JudgedRows = 0, TimeSpan? RefitTime = null)
{
    /// <summary>The ranking value: the group-out accuracy when measured, else the validation accuracy (never the test's).</summary>
    public double RankingAccuracy => GroupOutAccuracy ?? ValidationAccuracy;

    /// <summary>
    /// The standard error of <see cref="RankingAccuracy"/>: across held-out groups (their accuracies' standard deviation
    /// over √groups) when it is a group-out mean, else binomial over <see cref="JudgedRows"/>; NaN when unknown.
    /// </summary>
    public double RankingStandardError
    {
        get
        {
            if (GroupOutAccuracy.HasValue && GroupAccuracies is { Count: > 1 } g)
            {
                double mean = g.Values.Average();
                return Math.Sqrt(g.Values.Sum(a => (a - mean) * (a - mean)) / (g.Count - 1) / g.Count);
            }
            double p = RankingAccuracy;
            return JudgedRows > 0 && double.IsFinite(p) ? Math.Sqrt(p * (1 - p) / JudgedRows) : double.NaN;
        }
    }

    /// <summary>Whether this entry's ranking accuracy is within one standard error (its own) of <paramref name="best"/>'s: as good as the best, as far as these rows can tell.</summary>
    /// <param name="best">The best entry.</param>
    public bool WithinOneStandardErrorOf(LeaderboardEntry best)
    {
        ArgumentNullException.ThrowIfNull(best);
        double se = double.IsNaN(best.RankingStandardError) ? 0 : best.RankingStandardError;
        return Error == null && RankingAccuracy >= best.RankingAccuracy - se;
    }

    /// <summary>A candidate the time limit left out (<see cref="FusionLeaderboardOptions.TimeLimit"/>): why, as its error; no metrics.</summary>
    public static LeaderboardEntry Skipped(LeaderboardCandidate c, string why)
        => new(c.Kind, c.FamilyName, c.Name, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, TimeSpan.Zero, Error: why);

    /// <summary>Whether the time limit left this candidate out or stopped it (its <see cref="Error"/> says which).</summary>
    public bool SkippedByTimeLimit => Error != null && (Error.StartsWith("skipped:", StringComparison.Ordinal) || Error.StartsWith("stopped at the time limit", StringComparison.Ordinal));

    /// <summary>A candidate that failed: its error (the innermost message, ML.NET's worker wrappers removed), no metrics.</summary>
    public static LeaderboardEntry Failed(LeaderboardCandidate c, Exception ex, TimeSpan elapsed)
    {
        var inner = ex;
        for (var e = ex; e != null; e = e.InnerException)
            if (e.Message.Contains("Hint:", StringComparison.Ordinal) || e.InnerException == null) { inner = e; break; }
        return new(c.Kind, c.FamilyName, c.Name, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, elapsed, Error: inner.Message.Split('\n')[0].Trim());
    }
}

/// <summary>What <see cref="FusionLeaderboard.Run"/> returns: the entries (best first), the recommended one and its model.</summary>
public sealed class LeaderboardResult : IDisposable
{
    internal LeaderboardResult(IReadOnlyList<LeaderboardEntry> entries, LeaderboardEntry? recommended, string reason, ITransformer? model, int unscoredTestRows = 0, string protocol = "",
        IReadOnlyList<(string Part, TimeSpan Time)>? timings = null)
    {
        Entries = entries; Recommended = recommended; RecommendationReason = reason; RecommendedModel = model; UnscoredTestRows = unscoredTestRows; Protocol = protocol;
        Timings = timings ?? Array.Empty<(string, TimeSpan)>();
    }

    /// <summary>How long each part of the run took, in order (judging the candidates, refitting them, the ensemble, loading the recommendation); featurization happened before.</summary>
    public IReadOnlyList<(string Part, TimeSpan Time)> Timings { get; }

    /// <summary>How the entries were judged on the training rows and what the served models were fitted on, in a sentence.</summary>
    public string Protocol { get; }

    /// <summary>Test rows left out of every entry's test metrics because their label is not a class of the training rows (or is empty).</summary>
    public int UnscoredTestRows { get; }

    /// <summary>Every entry, best first by <see cref="LeaderboardEntry.RankingAccuracy"/>; failed entries last.</summary>
    public IReadOnlyList<LeaderboardEntry> Entries { get; }
    /// <summary>The entry to use: the best by leave-one-group-out when it was measured, else on the validation rows (ties: lower validation log-loss), or <c>null</c> when every candidate failed.</summary>
    public LeaderboardEntry? Recommended { get; }
    /// <summary>Why <see cref="Recommended"/> was chosen.</summary>
    public string RecommendationReason { get; }
    /// <summary>The recommended entry's fitted model (on the training rows minus the validation rows with a hold-out; on every training row with cross-fitting or leave-one-group-out), reading the featurized columns; disposed with this result.</summary>
    public ITransformer? RecommendedModel { get; private set; }

    /// <summary>Takes the recommended model out of this result (the caller then owns it and disposes it).</summary>
    public ITransformer? DetachRecommendedModel() { var m = RecommendedModel; RecommendedModel = null; return m; }

    /// <summary>Disposes the recommended model unless it was detached.</summary>
    public void Dispose() => (RecommendedModel as IDisposable)?.Dispose();
}

/// <summary>
/// The leaderboard: every candidate (baselines, single modalities, fusion families) fitted on the training rows minus a
/// validation hold-out (whole groups when a group column is given), scored on validation and test rows; an ensemble
/// selected over them on the validation rows (Caruana et al. 2004); and the recommended model chosen on validation
/// rows, never on the test rows: the best entry, or (on a validation hold-out) the ensemble while the best beats it by no
/// more than one standard error. One failing candidate is an entry with its error; the others go on.
/// </summary>
public static class FusionLeaderboard
{
    /// <summary>Runs the leaderboard.</summary>
    /// <param name="ml">The context.</param>
    /// <param name="train">Featurized training rows (the key label, the modality columns, the group column when given).</param>
    /// <param name="test">Featurized test rows, only reported.</param>
    /// <param name="featurization">The featurization the rows went through.</param>
    /// <param name="options">Options.</param>
    public static LeaderboardResult Run(MLContext ml, IDataView train, IDataView test, FusionFeaturization featurization, FusionLeaderboardOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(featurization);
        options ??= new FusionLeaderboardOptions();
        options.Validate();
        string label = featurization.LabelColumnName;
        int classes = SchemaErrors.RequireKeyLabel(train.Schema, label);
        var candidates = options.Candidates ?? FusionCandidates.Default(featurization, options.GroupColumnName, options.IncludeSingleModalities);
        int trainingRows = Labels(train, label).Length;
        int folds = options.NumberOfFolds == 0 ? FusionLeaderboardOptions.FoldsFor(trainingRows) : options.NumberOfFolds;
        var splits = Splits(ml, train, label, options, folds);
        // Every row judged out of fold (cross-fitting, leave-one-group-out): the served model is a refit on all rows or the fold models' average.
        bool outOfFold = splits[0].Refit;
        bool refit = outOfFold && options.CrossFittedModel == CrossFittedModel.Refit;
        bool bagged = outOfFold && options.CrossFittedModel == CrossFittedModel.Bagged;
        var validationLabels = splits.SelectMany(x => x.Known).ToArray();
        var testAll = Labels(test, label);
        var testLabels = testAll.Where(y => y >= 0).ToArray();
        if (validationLabels.Length == 0)
            throw new InvalidOperationException($"The leaderboard's held-out rows of the {trainingRows} training rows hold no row with a known label, so no candidate could be judged." + Environment.NewLine +
                "Hint: give more training rows, or a larger ValidationFraction" + (options.GroupColumnName != null ? $", or a group column '{options.GroupColumnName}' with more than one group." : "."));
        var groups = options.LeaveOneGroupOut ? splits.Count : (int?)null;
        string protocol = Describe(options, splits, folds, trainingRows);
        var judging = TimeSpan.Zero; var refitting = TimeSpan.Zero;
        using var budget = options.TimeLimit is { } limit ? new LeaderboardBudget(limit, options.Epochs) : null;

        var entries = new List<LeaderboardEntry>();
        // Fitted models wait on disk (one model file each, removed at the end), not in memory: memory stays that of one
        // candidate however many there are; the ensemble's members and the recommendation are loaded back at the end.
        var store = Path.Combine(Path.GetTempPath(), "mlnetfusion-leaderboard-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(store);
        var models = new List<(LeaderboardEntry entry, string path, float[][] validation, float[][] test)>();
        // Each fitted candidate's probabilities on each held-out group (leave-one-group-out), for the ensemble's own score.
        var groupOut = new List<Dictionary<string, (float[][] probabilities, int[] labels)>>();
        // Late-fusion members fitted once per training set (the validation split's training rows, each group's fold)
        // and shared by every late-fusion candidate, whatever its combiner.
        var sharedFits = new Dictionary<string, SharedMemberFits>();
        SharedMemberFits Shared(string trainingSet) => sharedFits.TryGetValue(trainingSet, out var s) ? s : sharedFits[trainingSet] = new SharedMemberFits();
        try
        {
        int fits = splits.Count + (refit ? 1 : 0);
        var order = budget == null ? Enumerable.Range(0, candidates.Count).ToArray() : LeaderboardBudget.Order(candidates);
        int neuralLeft = order.Count(i => LeaderboardBudget.IsNeural(candidates[i]));
        foreach (int i in order)
        {
            var c = candidates[i];
            int index = i;
            var clock = Stopwatch.StartNew();
            LeaderboardEntry entry;
            int epochs = budget?.EpochsFor(c, fits, neuralLeft) ?? options.Epochs;
            if (LeaderboardBudget.IsNeural(c)) neuralLeft--;
            if (budget?.SkipReason(c, fits, epochs) is { } skipped)
            {
                entry = LeaderboardEntry.Skipped(c, skipped);
                entries.Add(entry);
                options.EntryFinished?.Invoke(entry, entries);
                continue;
            }
            try
            {
                var context = CandidateContext.For(ml, featurization, options.GroupColumnName) with
                {
                    EarlyStoppingPatience = budget != null && options.EarlyStoppingPatience == 0 ? LeaderboardBudget.Patience : options.EarlyStoppingPatience,
                    CancellationToken = budget?.Expired ?? default,
                    EpochFinished = budget == null ? null : r => budget.RecordEpoch(c, r.Epoch, r.Elapsed),
                };
                var settings = c.Settings.WithEpochs(epochs);
                // Every split's held-out probabilities, in split order (the same rows in the same order for every candidate).
                var judged = new List<float[]>();
                var heldOut = new Dictionary<string, (float[][] probabilities, int[] labels)>();
                ITransformer? served = null;
                var foldModels = new List<ITransformer>();
                for (int f = 0; f < splits.Count; f++)
                {
                    var split = splits[f];
                    int at = f;
                    var splitContext = context with
                    {
                        Progress = options.Progress == null ? null : (x, stage) => options.Progress(index, (at + x) / fits, split.Stage(stage) + (budget != null ? $" · {budget.LeftText}" : "")),
                        LateFusionFits = Shared(split.Name),
                    };
                    ITransformer model;
                    try { model = splitContext.Build(settings).Fit(split.Cached(ml)); }
                    catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException && split.Describes)
                    {
                        throw new InvalidOperationException($"{split.Title}: {ex.Message}", ex);
                    }
                    try
                    {
                        var p = Probabilities(model.Transform(split.HeldOut), classes, split.Labels);
                        judged.AddRange(p);
                        if (split.Group != null) heldOut[split.Group] = (p, split.Known);
                    }
                    catch { (model as IDisposable)?.Dispose(); foreach (var m in foldModels) (m as IDisposable)?.Dispose(); throw; }
                    if (bagged) foldModels.Add(model);
                    else if (refit) (model as IDisposable)?.Dispose();
                    else served = model;
                }
                var judgedIn = clock.Elapsed;
                judging += judgedIn;
                if (bagged)
                    served = new WeightedEnsembleTransformer(foldModels, splits.Select(x => x.Name).ToArray(), foldModels.Select(_ => 1.0).ToArray(), LabelKeyValues.FromColumn(train.Schema[label]));
                if (refit)
                {
                    var all = context with
                    {
                        Progress = options.Progress == null ? null : (x, stage) => options.Progress(index, (splits.Count + x) / fits, $"all training rows, {stage}" + (budget != null ? $" · {budget.LeftText}" : "")),
                        LateFusionFits = Shared("all"),
                    };
                    served = all.Build(settings).Fit(train);
                    refitting += clock.Elapsed - judgedIn;
                }
                var v = judged.ToArray();
                var t = Probabilities(served!.Transform(test), classes, testAll);
                var testMetrics = Metrics(t, testLabels, classes);
                entry = new LeaderboardEntry(c.Kind, c.FamilyName, c.Name, Accuracy(v, validationLabels), EnsembleSelection.LogLoss(v, validationLabels),
                    testMetrics.accuracy, testMetrics.macroF1, testMetrics.logLoss, clock.Elapsed, Notes: Notes(served), JudgedRows: validationLabels.Length,
                    RefitTime: refit ? clock.Elapsed - judgedIn : null);
                if (groups != null)
                {
                    var perGroup = heldOut.ToDictionary(h => h.Key, h => Accuracy(h.Value.probabilities, h.Value.labels));
                    entry = entry with { GroupOutAccuracy = perGroup.Values.Average(), WorstGroupAccuracy = perGroup.Values.Min(), GroupAccuracies = perGroup };
                }
                var path = Path.Combine(store, $"{i}.zip");
                try { ml.Model.SaveFusionModel(served, train.Schema, path); }
                finally { (served as IDisposable)?.Dispose(); }
                models.Add((entry, path, v, t));
                groupOut.Add(heldOut);
                budget?.Record(c, clock.Elapsed, fits, epochs);
            }
            catch (Exception ex) when (budget != null && budget.Expired.IsCancellationRequested && ex is OperationCanceledException or AggregateException or InvalidOperationException)
            {
                entry = LeaderboardEntry.Skipped(c, $"stopped at the time limit ({LeaderboardBudget.Format(budget.Limit)}) after {LeaderboardBudget.Format(clock.Elapsed)}") with { TrainingTime = clock.Elapsed };
            }
            catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
            {
                entry = LeaderboardEntry.Failed(c, ex, clock.Elapsed);
            }
            entries.Add(entry);
            // What a candidate left behind (caches, disposed tensors' managed wrappers) is collected before the next one,
            // and native memory it freed goes back to the system.
            System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);   // gives free regions back too
            GC.WaitForPendingFinalizers();
            MLNetFusion.Runtime.NativeHeap.Trim();
            options.EntryFinished?.Invoke(entry, entries);
        }

        // Ensemble selection over every fitted candidate, baselines included, on the validation rows.
        LeaderboardEntry? ensemble = null;
        (int[] kept, string[] names, double[] weights)? ensembleWeights = null;
        var ensembleClock = Stopwatch.StartNew();
        if (options.EnsembleRounds > 0 && models.Count >= 2)
        {
            var clock = ensembleClock;
            var weights = EnsembleSelection.Select(models.Select(m => m.validation).ToArray(), validationLabels, options.EnsembleRounds);
            var kept = Enumerable.Range(0, models.Count).Where(k => weights[k] > 0).ToArray();
            var v = Blend(kept.Select(k => (models[k].validation, weights[k])).ToArray(), classes);
            var t = Blend(kept.Select(k => (models[k].test, weights[k])).ToArray(), classes);
            var testMetrics = Metrics(t, testLabels, classes);
            // The weights were chosen on these validation rows, so their accuracy there flatters the ensemble: it is
            // judged on rows it did not choose its weights on, by selecting on each half and scoring the other.
            double honest = CrossSelectedAccuracy(models.Select(m => m.validation).ToArray(), validationLabels, classes, options.EnsembleRounds, options.Seed);
            var names = kept.Select(k => $"{models[k].entry.Family}: {models[k].entry.Name}").ToArray();
            ensemble = new LeaderboardEntry(CandidateKind.Ensemble, "ensemble", $"ensemble selection over {models.Count} entries ({kept.Length} kept)",
                honest, EnsembleSelection.LogLoss(v, validationLabels), testMetrics.accuracy, testMetrics.macroF1, testMetrics.logLoss, clock.Elapsed,
                Members: kept.Select((k, j) => (names[j], weights[k])).ToArray(), JudgedRows: validationLabels.Length);
            ensembleWeights = (kept, names, kept.Select(k => weights[k]).ToArray());
            if (groups != null && groupOut.All(g => g.Count == groups.Value))
            {
                var perGroup = EnsembleGroupOut(groupOut, classes, options.EnsembleRounds);
                ensemble = ensemble with { GroupOutAccuracy = perGroup.Values.Average(), WorstGroupAccuracy = perGroup.Values.Min(), GroupAccuracies = perGroup };
            }
            entries.Add(ensemble);
            options.EntryFinished?.Invoke(ensemble, entries);
        }

        var ensembling = ensembleClock.Elapsed;
        // The recommendation, on the validation rows (or the held-out groups), never the test rows.
        var finished = entries.Where(e => e.Error == null).ToList();
        // With leave-one-group-out every entry (the ensemble too) is scored on each training group it did not see, which
        // judges a shift to new groups on all of them rather than on the one validation split: that ranks and recommends.
        bool byGroups = groups != null && finished.Count > 0 && finished.All(e => e.GroupOutAccuracy is double a && !double.IsNaN(a));
        var (recommended, withinError) = Recommend(finished, byGroups, validationLabels.Length);
        string where = outOfFold && !options.LeaveOneGroupOut
            ? $"out of fold on the training rows ({splits.Count} folds{(options.GroupColumnName != null ? $" of whole '{options.GroupColumnName}' groups" : "")}, {validationLabels.Length} rows)"
            : $"on the validation rows ({(options.GroupColumnName != null ? $"whole '{options.GroupColumnName}' groups held out of training" : "rows held out of training")}, {validationLabels.Length} rows)";
        string reason = recommended == null ? "every candidate failed"
            : byGroups ? $"best leave-one-'{options.GroupColumnName}'-out accuracy on the training rows ({groups!.Value} groups, each predicted by a fit without it): {recommended.GroupOutAccuracy:P1}" +
              (recommended.Kind == CandidateKind.Ensemble ? " (for each group, its weights chosen on the other groups)" : "")
            : $"{(withinError ? "the ensemble, within one standard error of the best entry; its" : "best")} accuracy {where}: {recommended.ValidationAccuracy:P1}" +
              (recommended.Kind == CandidateKind.Ensemble ? " (its weights chosen on one half of them, scored on the other)" : "");
        var loadClock = Stopwatch.StartNew();
        ITransformer Load(string path) => ml.Model.LoadFusionModel(path, out _);
        ITransformer? recommendedModel = recommended == null ? null
            : recommended == ensemble ? new WeightedEnsembleTransformer(ensembleWeights!.Value.kept.Select(k => Load(models[k].path)).ToArray(), ensembleWeights.Value.names,
                ensembleWeights.Value.weights, LabelKeyValues.FromColumn(train.Schema[label]))
            : Load(models.First(m => m.entry == recommended).path);

        var timings = new List<(string Part, TimeSpan Time)>
        {
            (outOfFold ? $"candidates fitted without each of {splits.Count} {(options.LeaveOneGroupOut ? "groups" : "folds")} and judged" : "candidates fitted without the hold-out and judged", judging),
        };
        if (refit) timings.Add(("candidates refitted on every training row", refitting));
        if (options.EnsembleRounds > 0) timings.Add(("ensemble selection", ensembling));
        timings.Add(("recommended model loaded", loadClock.Elapsed));
        var ordered = entries.OrderBy(e => e.Error != null).ThenByDescending(e => e.RankingAccuracy).ThenBy(e => e.ValidationLogLoss).ToList();
        return new LeaderboardResult(ordered, recommended, reason, recommendedModel, testAll.Length - testLabels.Length, protocol, timings);
        }
        finally
        {
            foreach (var s in sharedFits.Values) s.Dispose();
            try { Directory.Delete(store, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>One way of holding rows out of a candidate's fit: the rows it trains on, the rows it predicts, their labels.</summary>
    private sealed record Split(string Name, IDataView Train, IDataView HeldOut, int[] Labels, string? Group, string Title, bool Refit, bool Describes)
    {
        /// <summary>Known 0-based labels of the held-out rows (the rows that are judged).</summary>
        public int[] Known { get; } = Labels.Where(y => y >= 0).ToArray();

        /// <summary>The training rows, cached for the fit's epochs (a fold's copy lives while its fit does; the hold-out's is cached once).</summary>
        public IDataView Cached(MLContext ml) => Refit ? ml.Data.Cache(Train) : Train;

        /// <summary>A progress stage within this split.</summary>
        public string Stage(string stage) => Refit ? $"{Name}, {stage}" : stage;
    }

    /// <summary>
    /// The splits that judge every candidate: the groups one at a time (leave-one-group-out), k folds (cross-fitting:
    /// whole groups per fold with a group column, else a seeded hash of the row), or one validation hold-out. With the
    /// first two, every training row is judged once and the served model is refitted on every row.
    /// </summary>
    private static List<Split> Splits(MLContext ml, IDataView train, string label, FusionLeaderboardOptions options, int folds)
    {
        var splits = new List<Split>();
        if (options.LeaveOneGroupOut)
        {
            var groups = SamplingKeyGroups.Read(train, options.GroupColumnName!);
            groups.RequireSeveralGroups();
            int f = 0;
            foreach (var (group, foldTrain, foldTest) in groups.LeaveOneGroupOut(train))
            {
                f++;
                splits.Add(new Split($"without '{group}' ({f}/{groups.Count})", foldTrain, foldTest, Labels(foldTest, label), group,
                    $"The fit without '{group}' (group {f} of {groups.Count})", Refit: true, Describes: true));
            }
            return splits;
        }
        if (folds > 1)
        {
            int k = folds;
            Func<long, int> foldOf = pos => (int)(SeededShuffle.Hash(pos, options.Seed) * k);
            if (options.GroupColumnName != null)
            {
                var groups = SamplingKeyGroups.Read(train, options.GroupColumnName);
                groups.RequireSeveralGroups();
                k = Math.Min(k, groups.Count);
                var foldOfGroup = groups.FoldOfGroup(k, options.Seed);
                foldOf = pos => groups.FoldOfRow(pos, foldOfGroup);
            }
            for (int f = 0; f < k; f++)
            {
                int fold = f;
                var rest = new RowFilterDataView(train, Array.Empty<string>(), row => () => foldOf(row.Position) != fold);
                var held = new RowFilterDataView(train, Array.Empty<string>(), row => () => foldOf(row.Position) == fold);
                var labels = Labels(held, label);
                if (labels.Length == 0) continue;   // a fold the hash left empty on very few rows
                splits.Add(new Split($"fold {f + 1}/{k}", rest, held, labels, null, $"Cross-fitting fold {f + 1} of {k}", Refit: true, Describes: true));
            }
            if (splits.Count < 2)
                throw new InvalidOperationException($"Cross-fitting {k} folds of these {Labels(train, label).Length} training rows left fewer than two folds with rows." + Environment.NewLine +
                    "Hint: give more training rows, or judge on a hold-out (NumberOfFolds = 1).");
            return splits;
        }
        // Whole groups validate when a group column is given: chosen until they hold the fraction, at least one group and
        // never all (ML.NET's hashed split of three or four groups often holds out none, and an empty validation set scores nothing).
        var (innerRows, validationRows) = options.GroupColumnName != null
            ? SamplingKeyGroups.HoldOutGroups(train, options.GroupColumnName, options.ValidationFraction, options.Seed)
            : ml.Data.TrainTestSplit(train, options.ValidationFraction, seed: options.Seed) is var split ? (split.TrainSet, split.TestSet) : default;
        // Rows whose label is not a training class (key 0) are not scored, never silently counted as errors.
        var inner = ml.Data.Cache(innerRows);
        var validation = ml.Data.Cache(validationRows);
        splits.Add(new Split("", inner, validation, Labels(validation, label), null, "", Refit: false, Describes: false));
        return splits;
    }

    /// <summary>The protocol in a sentence, for the result and the command line.</summary>
    private static string Describe(FusionLeaderboardOptions options, IReadOnlyList<Split> splits, int folds, int trainingRows)
    {
        int rows = splits.Sum(s => s.Known.Length);
        bool bagged = options.CrossFittedModel == CrossFittedModel.Bagged;
        string chosen = options.NumberOfFolds == 0 && !options.LeaveOneGroupOut
            ? $" ({(folds > 1 ? $"{folds} folds" : "a hold-out")} chosen for {trainingRows} training rows: " +
              $"{FusionLeaderboardOptions.Defaults.CrossFitFolds} folds up to {FusionLeaderboardOptions.Defaults.CrossFitUpToRows:N0}, a hold-out above)"
            : "";
        if (options.LeaveOneGroupOut)
            return $"leave-one-'{options.GroupColumnName}'-out: every candidate fitted {splits.Count} times, each without one group, " +
                (bagged ? $"judging all {rows} training rows; the served model averages the {splits.Count} group-out fits" : $"then refitted on all {rows} training rows, which the served model is");
        if (splits[0].Refit)
            return $"cross-fitting: every candidate fitted {splits.Count} times, each without one fold{(options.GroupColumnName != null ? $" of whole '{options.GroupColumnName}' groups" : "")}, " +
                $"so all {rows} training rows are judged out of fold; the served model " + (bagged ? $"averages the {splits.Count} fold models" : "is refitted on all of them") + chosen;
        return $"one validation hold-out: {rows} of the training rows ({(options.GroupColumnName != null ? $"whole '{options.GroupColumnName}' groups" : $"{options.ValidationFraction:P0} at random")}) judge every candidate, whose fit on the other rows is the served model" + chosen;
    }

    /// <summary>What a fitted model decided that the leaderboard reports (late fusion's members left out).</summary>
    private static string? Notes(ITransformer model)
    {
        static IEnumerable<ITransformer> Links(ITransformer t) => t is IEnumerable<ITransformer> chain ? chain.SelectMany(Links) : new[] { t };
        var notes = new List<string>();
        var late = Links(model).OfType<Trainers.LateFusion.LateFusionTransformer>().FirstOrDefault();
        if (late is { UninformativeMembers.Count: > 0 }) notes.Add($"left out {string.Join(", ", late.UninformativeMembers)}: no better than the class prior out of fold");
        var stopped = Links(model).OfType<FusionPredictionTransformer>().Select(t => t.Summary).FirstOrDefault(s => s is { StoppedEarly: true });
        if (Trainers.Hybrid.HybridFusionTrainer.NetworkWeight(model) is double w)
            notes.Add(w == 0 ? "the network's blend weight is 0: the boosted model alone is served" : $"the network's blend weight is {w:0.##} against the boosted model's");
        if (stopped != null) notes.Add($"stopped early after epoch {stopped.History.Count} of {stopped.History[^1].Epochs}, kept epoch {stopped.BestEpoch}");
        return notes.Count == 0 ? null : string.Join("; ", notes);
    }

    /// <summary>
    /// The ensemble's leave-one-group-out accuracy, as honest as the candidates': for each held-out group, weights are
    /// selected on the other groups' held-out probabilities (each from the fold model that did not see that group) and
    /// applied to the held-out group's, so neither the group's rows nor its labels choose the weights that score it.
    /// </summary>
    internal static Dictionary<string, double> EnsembleGroupOut(IReadOnlyList<Dictionary<string, (float[][] probabilities, int[] labels)>> heldOut, int classes, int rounds)
    {
        var result = new Dictionary<string, double>();
        foreach (var group in heldOut[0].Keys)
        {
            var others = heldOut[0].Keys.Where(g => g != group).ToArray();
            var fitLabels = others.SelectMany(g => heldOut[0][g].labels).ToArray();
            var fit = heldOut.Select(c => others.SelectMany(g => c[g].probabilities).ToArray()).ToArray();
            var weights = EnsembleSelection.Select(fit, fitLabels, rounds);
            var blended = Blend(heldOut.Select((c, k) => (c[group].probabilities, weights[k])).Where(x => x.Item2 > 0).ToArray(), classes);
            result[group] = Accuracy(blended, heldOut[0][group].labels);
        }
        return result;
    }

    /// <summary>
    /// The recommended entry among <paramref name="finished"/>: the best accuracy on the rows that judge them (ties: the
    /// lower validation log-loss). On a validation hold-out the ensemble is preferred while the best entry beats it by no
    /// more than one standard error of that accuracy on <paramref name="judgedRows"/> rows (the one-standard-error rule):
    /// the maximum of many noisy accuracies on a few hundred rows flatters its winner, and the ensemble averages
    /// candidates, so it varies least between splits. Leave-one-group-out already judges every entry on every training
    /// row, a group at a time, so there the best is recommended. Returns whether the rule decided.
    /// </summary>
    internal static (LeaderboardEntry? entry, bool ensembleWithinOneStandardError) Recommend(IReadOnlyList<LeaderboardEntry> finished, bool byGroups, int judgedRows)
    {
        double Score(LeaderboardEntry e) => byGroups ? e.RankingAccuracy : e.ValidationAccuracy;
        var best = finished.OrderByDescending(Score).ThenBy(e => e.ValidationLogLoss).FirstOrDefault();
        var ensemble = finished.FirstOrDefault(e => e.Kind == CandidateKind.Ensemble);
        if (byGroups || best == null || ensemble == null || best == ensemble || judgedRows <= 0) return (best, false);
        double top = Score(best);
        double standardError = Math.Sqrt(Math.Max(top * (1 - top), 0) / judgedRows);
        return Score(ensemble) >= top - standardError ? (ensemble, true) : (best, false);
    }

    /// <summary>The ensemble's accuracy on validation rows it did not choose its weights on: two halves, each selected on the other.</summary>
    internal static double CrossSelectedAccuracy(float[][][] probabilities, int[] labels, int classes, int rounds, int seed)
    {
        var rand = new Random(seed);
        var half = Enumerable.Range(0, labels.Length).Select(_ => rand.Next(2)).ToArray();
        int correct = 0, total = 0;
        for (int h = 0; h < 2; h++)
        {
            var fit = Enumerable.Range(0, labels.Length).Where(r => half[r] != h).ToArray();
            var score = Enumerable.Range(0, labels.Length).Where(r => half[r] == h).ToArray();
            if (fit.Length == 0 || score.Length == 0) continue;
            var weights = EnsembleSelection.Select(probabilities.Select(p => fit.Select(r => p[r]).ToArray()).ToArray(), fit.Select(r => labels[r]).ToArray(), rounds);
            var blended = Blend(probabilities.Select((p, k) => (score.Select(r => p[r]).ToArray(), weights[k])).Where(x => x.Item2 > 0).ToArray(), classes);
            correct += score.Select((r, j) => ArgMax(blended[j]) == labels[r] ? 1 : 0).Sum();
            total += score.Length;
        }
        return total == 0 ? double.NaN : correct / (double)total;
    }

    /// <summary>The ensemble's weighted average of <paramref name="parts"/>' probabilities, row by row: the rule the served ensemble applies (<see cref="ProbabilityCombiner.WeightedAverage"/>).</summary>
    private static float[][] Blend(IReadOnlyList<(float[][] probabilities, double weight)> parts, int classes)
    {
        var rule = ProbabilityCombiner.WeightedAverage(parts.Select(p => p.weight).ToArray());
        var present = Enumerable.Repeat(true, parts.Count).ToArray();
        var members = new float[parts.Count][];
        var result = new float[parts[0].probabilities.Length][];
        for (int r = 0; r < result.Length; r++)
        {
            for (int m = 0; m < parts.Count; m++) members[m] = parts[m].probabilities[r];
            result[r] = new float[classes];
            rule.Combine(members, present, result[r]);
        }
        return result;
    }

    private static int ArgMax(float[] v) => Trainers.Evaluation.ScoredRows.ArgMax(v);

    private static double Accuracy(float[][] p, int[] labels) => labels.Length == 0 ? double.NaN : Trainers.Evaluation.ScoredRows.From(p, labels, p[0].Length).Metrics().Accuracy;

    /// <summary>Test metrics, computed as the modality report computes them (<c>ScoredRows</c>), never a second definition.</summary>
    private static (double accuracy, double macroF1, double logLoss) Metrics(float[][] p, int[] labels, int classes)
    {
        if (labels.Length == 0) return (double.NaN, double.NaN, double.NaN);
        var m = Trainers.Evaluation.ScoredRows.From(p, labels, classes).Metrics();
        return (m.Accuracy, m.MacroF1, m.LogLoss);
    }

    /// <summary>0-based labels of the rows; -1 where the key is missing (not a training class, or no label).</summary>
    private static int[] Labels(IDataView data, string label) => data.GetColumn<uint>(label).Select(k => (int)k - 1).ToArray();

    /// <summary>Each row's probabilities from the <c>Score</c> column (renormalised to a distribution), for the rows whose label is known.</summary>
    private static float[][] Probabilities(IDataView scored, int classes, int[] labels)
    {
        int row = 0;
        var rows = new List<float[]>();
        var col = scored.Schema["Score"];
        using var cursor = scored.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        VBuffer<float> buffer = default;
        while (cursor.MoveNext())
        {
            if (labels[row++] < 0) continue;
            getter(ref buffer);
            var p = new float[classes];
            Trainers.LateFusion.LateFusionMath.ToProbabilities(buffer.DenseValues().ToArray(), p);
            rows.Add(p);
        }
        return rows.ToArray();
    }
}
