using MLNetFusion.Persistence;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNetFusion.Data;
using MLNetFusion.Training;

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
    /// <summary>Default values (the catalog methods use the same).</summary>
    public static class Defaults
    {
        /// <summary>How member probabilities are combined.</summary>
        public const LateFusionCombiner Combiner = LateFusionCombiner.Average;
        /// <summary>Folds of the cross-fitting.</summary>
        public const int NumberOfFolds = 5;
        /// <summary>The meta-learner's feature column.</summary>
        public const string MetaFeatureColumnName = "LateFusionFeatures";
    }

    /// <summary>The members (at least one).</summary>
    public List<LateFusionMember> Members { get; set; } = new();

    /// <summary>How member probabilities are combined. Default <see cref="LateFusionCombiner.Average"/>.</summary>
    public LateFusionCombiner Combiner { get; set; } = Defaults.Combiner;

    /// <summary>
    /// A rule of your own that combines the members instead of <see cref="Combiner"/> (registered with
    /// <see cref="ProbabilityCombiner.Register"/>, which a process loading the model must call too): nothing is fitted
    /// for it, and members no better than the class prior are left out, as for the average. It is exported to ONNX through
    /// its own <see cref="ProbabilityCombiner.ExportOnnx"/>. Default <c>null</c>.
    /// </summary>
    public ProbabilityCombiner? Rule { get; set; }

    /// <summary>The key label. Default <c>Label</c>.</summary>
    public string LabelColumnName { get; set; } = TorchTrainerOptions.Defaults.LabelColumnName;

    /// <summary>Folds of the cross-fitting that produces out-of-fold predictions for weights and stacking. Default 5.</summary>
    public int NumberOfFolds { get; set; } = Defaults.NumberOfFolds;

    /// <summary>
    /// ML.NET's <c>samplingKeyColumnName</c>: a column naming each row's group (speaker, microphone, patient, site).
    /// When set, the out-of-fold folds are made of whole groups, so fitted weights and the stacking meta-learner learn
    /// how each member does on groups it never saw (the situation in use), not on new rows of familiar groups. Needs at
    /// least two groups; with fewer groups than <see cref="NumberOfFolds"/>, each group is one fold. Default <c>null</c> (rows at random).
    /// </summary>
    public string? SamplingKeyColumnName { get; set; }

    /// <summary>Stacking's meta-learner; it reads <see cref="MetaFeatureColumnName"/>. The catalog defaults it to L-BFGS maximum entropy (L2 = 1).</summary>
    public IEstimator<ITransformer>? MetaLearner { get; set; }

    /// <summary>The meta-learner's feature column: each member's probabilities (uniform when absent), then presence flags.</summary>
    public string MetaFeatureColumnName { get; set; } = Defaults.MetaFeatureColumnName;

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

    /// <summary>Member fits shared with other late-fusion fits on the same rows (the leaderboard's combiners); <c>null</c> fits its own.</summary>
    internal SharedMemberFits? SharedFits { get; set; }

    /// <summary>Checks every member and throws naming the bad one; changes nothing.</summary>
    public void Validate()
    {
        if (Members.Count == 0) throw new ArgumentException("Late fusion needs at least one member." + Environment.NewLine + "Hint: add a LateFusionMember per modality.", nameof(Members));
        var dup = Members.GroupBy(m => m.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup != null) throw new ArgumentException($"Member name '{dup.Key}' is used twice; names must be unique." + Environment.NewLine + "Hint: name each member after its modality.", nameof(Members));
        if (NumberOfFolds < 2) throw new ArgumentOutOfRangeException(nameof(NumberOfFolds), NumberOfFolds, "NumberOfFolds must be at least 2." + Environment.NewLine + "Hint: 5 folds give every row out-of-fold probabilities from a model fitted on four fifths.");
        if (!Enum.IsDefined(Combiner)) throw new ArgumentOutOfRangeException(nameof(Combiner), Combiner, "Combiner is not a LateFusionCombiner." + Environment.NewLine + "Hint: LateFusionCombiner.Average is the robust default.");
        if (Rule != null && !ProbabilityCombiner.IsRegistered(Rule.Name))
            throw new ArgumentException($"The combining rule '{Rule.Name}' is not registered, so a model that uses it could not be loaded." + Environment.NewLine +
                "Hint: call ProbabilityCombiner.Register(rule) once, here and in every process that loads the model.", nameof(Rule));
        if (Rule == null && Combiner == LateFusionCombiner.Stacking && MetaLearner is null)
            throw new ArgumentException("Stacking needs a meta-learner." + Environment.NewLine + "Hint: set LateFusionOptions.MetaLearner, or use the catalog method, which defaults it.", nameof(MetaLearner));
    }
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

    /// <summary>Registers late fusion's model-file components: the fitted model, the member guard, the probability copy and the combiner.</summary>
    internal static void Register()
    {
        ComponentRegistry.Register(LateFusionTransformer.Kind, LateFusionTransformer.Load, version: 2);   // 2: UninformativeMembers
        ComponentRegistry.Register(MemberInputGuard.Kind, MemberInputGuard.Load);
        ComponentRegistry.Register(MemberProbabilityTransformer.Kind, MemberProbabilityTransformer.Load);
        // 2: average, product and vote honour a 0/1 member mask in Weights; 3: a registered rule of the application's own, by name.
        ComponentRegistry.Register(LateFusionCombinerTransformer.Kind, LateFusionCombinerTransformer.Load, version: 3);
    }

    /// <summary>Creates the trainer.</summary>
    public LateFusionTrainer(IHostEnvironment env, LateFusionOptions options)
    {
        ArgumentNullException.ThrowIfNull(env);
        Options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        _host = env.Register("MLNetFusion.late");
    }

    /// <summary>The options.</summary>
    public LateFusionOptions Options { get; }

    internal static string PresenceColumn(LateFusionMember m) => "__present." + m.Name;
    internal static string MemberScoreColumn(LateFusionMember m) => "Score." + m.Name;

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
            catch (InvalidOperationException training) when (TrainingFailure.Is(training))
            {
                // Which member, and which of the cross-fitting's fits, failed: the training loop knows only its epoch and batch.
                foreach (var t in fitted) (t as IDisposable)?.Dispose();
                throw TrainingFailure.Create($"Late-fusion member '{m.Name}' ({(fold is int f ? $"cross-fitting fold {f}" : "final fit on all rows")}): {training.Message}", training);
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

    /// <summary>The members cross-fitted on <see cref="LateFusionOptions.NumberOfFolds"/> folds of <paramref name="input"/> (<see cref="CrossFitting.Run"/>).</summary>
    internal OutOfFoldData OutOfFold(IDataView input, int classes, int seed, IChannel? channel = null)
    {
        using var own = channel == null ? _host.Start("Cross-fitting") : null;
        return CrossFitting.Run(input, Options, seed, channel ?? own!, (data, fold) => FitMembers(data, fold), (data, fitted) => ScoreMembers(data, fitted, classes));
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
        var rule = CombinerRules.For(Options);
        bool calibrate = Options.MemberCalibration == MemberCalibration.Temperature;
        bool checkMembers = Options.DropUninformativeMembers && rule.LeavesOutUninformative && Options.Members.Count > 1;
        bool needsOutOfFold = checkMembers || calibrate || rule.NeedsOutOfFold;
        var shared = Options.SharedFits?.Find(Options);
        bool fitsMembers = shared == null, crossFits = needsOutOfFold && shared?.OutOfFold == null;
        (_step, _steps, _clock) = (0, Options.Members.Count * ((fitsMembers ? 1 : 0) + (crossFits ? Options.NumberOfFolds : 0)), System.Diagnostics.Stopwatch.StartNew());

        // The final members are fitted first, so they are the same models whatever the combiner (the cross-fitting
        // below draws its seeds after them): combiners can be compared on identical members. With shared fits they are
        // the first fit's members, folds and seed.
        List<ITransformer> members;
        if (shared != null)
        {
            (members, seed) = (shared.Members, shared.Seed);
            ch.Info(MessageSensitivity.None, "Late fusion: members shared with an earlier fit on the same rows.");
        }
        else
        {
            members = FitMembers(input);
            if (Options.SharedFits != null) shared = Options.SharedFits.Add(Options, members, seed);
        }
        bool ownsMembers = Options.SharedFits == null;
        OutOfFoldData? oof = null;
        bool[]? informative = null;
        double[]? temperatures = null;
        List<MemberCalibrationResult>? calibration = null;
        string[] uninformative = Array.Empty<string>();
        CombinerFit fit;
        try
        {
            if (needsOutOfFold)
            {
                oof = shared?.OutOfFold ?? OutOfFold(input, classes, seed, ch);
                if (shared != null) shared.OutOfFold = oof;
                ch.Info(MessageSensitivity.None, $"Late fusion: {oof.Labels.Count} out-of-fold rows from {oof.Folds.Distinct().Count()} folds.");
                if (calibrate)
                {
                    (temperatures, calibration) = TemperatureScaling.Fit(oof, classes, Options.Members);
                    ch.Info(MessageSensitivity.None, "Late fusion member temperatures: " + string.Join(", ", calibration.Select(c =>
                        $"{c.Member} {c.Temperature:F2} (ECE {c.EceBefore:F3} → {c.EceAfter:F3})")) + ".");
                }
                informative = checkMembers ? CrossFitting.Informative(oof, classes) : null;
                if (informative != null && informative.Any(i => !i))
                {
                    uninformative = Options.Members.Where((_, i) => !informative[i]).Select(m => m.Name).ToArray();
                    ch.Info(MessageSensitivity.None, $"Late fusion leaves out {string.Join(", ", uninformative)}: no better than the class prior out of fold.");
                }
            }
            fit = rule.Fit(new CombinerFitContext(oof, informative, classes, Options, ch));
        }
        catch
        {
            if (ownsMembers) foreach (var t in members) (t as IDisposable)?.Dispose();
            throw;
        }

        var chain = new List<ITransformer>();
        ScoreMembers(input, members, classes, chain, temperatures);
        var columns = new CombinerColumns(Options.Members.Select(MemberScoreColumn).ToArray(), Options.Members.Select(PresenceColumn).ToArray(), labels, classes, Options);
        chain.AddRange(rule.CreateTransformers(fit, columns));
        Options.Progress?.Invoke(new LateFusionProgress(_steps, _steps, "", null, _clock.Elapsed));
        return new LateFusionTransformer(chain, members, Options.Members.Select(m => m.Name).ToArray(), Options.Combiner, fit.Weights, labels, calibration, uninformative, ownsMembers);
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
        if (Options.Rule == null && Options.Combiner == LateFusionCombiner.Stacking)
            added.AddRange(new[] { SchemaShapes.Column(Options.MetaFeatureColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false),
                SchemaShapes.Column(StackingRule.MetaScore, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false) });
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
