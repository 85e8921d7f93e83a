using MLNetFusion.Trainers.Early;
using MLNetFusion.Trainers;
namespace MLNetFusion.AutoML.Sweep;

/// <summary>What a tuner sees when it proposes a trial.</summary>
/// <param name="Space">The search space.</param>
/// <param name="Random">The experiment's seeded generator (use it for every random choice).</param>
/// <param name="TrialId">Id of the trial to propose.</param>
/// <param name="Metric">The optimised metric.</param>
public sealed record FusionTuningContext(FusionSearchSpace Space, Random Random, int TrialId, FusionMetric Metric)
{
    /// <summary>Whether <paramref name="a"/> is better than <paramref name="b"/> for <see cref="Metric"/>.</summary>
    public bool IsBetter(double a, double b) => Metric == FusionMetric.LogLoss ? a < b : a > b;
}

/// <summary>
/// Proposes the sweep's trials. Implement it to add a search strategy; the experiment calls <see cref="Propose"/>,
/// runs the trial, then <see cref="Report"/>, one trial at a time.
/// </summary>
public interface IFusionTuner
{
    /// <summary>The next trial, or <c>null</c> when the tuner has nothing left to try.</summary>
    FusionTrialSettings? Propose(FusionTuningContext context);

    /// <summary>Receives the result of the trial last proposed.</summary>
    void Report(FusionTrialResult result);
}

/// <summary>
/// Random search, warm-started from each family's defaults: the first trials are every family of the space, in order,
/// with every dimension at its default (all modalities, the trainers' default hyperparameters), so that a short budget
/// always compares the families as a user would try them first. After that, a family uniformly, then every parameter
/// from its dimension; subsets of modalities are drawn only once the full set has been tried.
/// </summary>
public sealed class RandomSearchTuner : IFusionTuner
{
    private readonly bool _defaultsFirst;
    private readonly HashSet<FusionFamily> _tried = new();
    private int _defaultsProposed;

    /// <summary>Creates the tuner.</summary>
    /// <param name="defaultsFirst">Start with one trial per family at its defaults (default true), as AutoGluon's and FLAML's searches start from known-good configurations.</param>
    public RandomSearchTuner(bool defaultsFirst = true) => _defaultsFirst = defaultsFirst;

    /// <inheritdoc />
    public FusionTrialSettings? Propose(FusionTuningContext context)
    {
        var space = context.Space;
        var families = space.Families.Distinct().ToList();
        if (_defaultsFirst && _defaultsProposed < families.Count)
        {
            var first = families[_defaultsProposed++];
            return new FusionTrialSettings(context.TrialId, first, space.DefaultsOf(first));
        }
        var family = space.Families[context.Random.Next(space.Families.Count)];
        var values = new Dictionary<string, object>();
        // Without the warm start, a family's first trial still uses every modality, so a subset is only chosen against the full set.
        if (!_defaultsFirst && _tried.Add(family) && space.Modalities != null) values[SweepParameters.Modalities.Name] = space.Modalities.Default;
        // Dimensions may depend on earlier choices (e.g. an early-fusion MLP has epochs, LightGBM has none).
        for (int pass = 0; pass < 2; pass++)
            foreach (var (name, dim) in space.DimensionsOf(family, values))
                if (!values.ContainsKey(name)) values[name] = dim.Sample(context.Random);
        return new FusionTrialSettings(context.TrialId, family, values);
    }

    /// <inheritdoc />
    public void Report(FusionTrialResult result) { }
}

/// <summary>
/// Grid search: every combination of the choices (and of ranges' grid points), families interleaved so that a trial
/// budget smaller than the grid still covers every family. Ranges contribute their default unless given grid points.
/// </summary>
public sealed class GridSearchTuner : IFusionTuner
{
    private List<(FusionFamily family, Dictionary<string, object> values)>? _grid;
    private int _next;

    /// <summary>Number of configurations in the grid of <paramref name="space"/>.</summary>
    public static int Count(FusionSearchSpace space) => Enumerate(space).Count;

    /// <inheritdoc />
    public FusionTrialSettings? Propose(FusionTuningContext context)
    {
        _grid ??= Enumerate(context.Space);
        if (_next >= _grid.Count) return null;
        var (family, values) = _grid[_next++];
        return new FusionTrialSettings(context.TrialId, family, new Dictionary<string, object>(values));
    }

    /// <inheritdoc />
    public void Report(FusionTrialResult result) { }

    private static List<(FusionFamily, Dictionary<string, object>)> Enumerate(FusionSearchSpace space)
    {
        var perFamily = space.Families.Distinct().Select(f => Expand(space, f, new Dictionary<string, object>()).Select(v => (f, v)).ToList()).ToList();
        var result = new List<(FusionFamily, Dictionary<string, object>)>();
        for (int i = 0; perFamily.Any(l => i < l.Count); i++)
            foreach (var l in perFamily) if (i < l.Count) result.Add(l[i]);
        return result;
    }

    private static IEnumerable<Dictionary<string, object>> Expand(FusionSearchSpace space, FusionFamily family, Dictionary<string, object> fixedValues)
    {
        var dims = space.DimensionsOf(family, fixedValues);
        var next = dims.FirstOrDefault(d => !fixedValues.ContainsKey(d.Name));
        if (next.Dimension == null) { yield return fixedValues; yield break; }
        foreach (var v in next.Dimension.GridValues)
            foreach (var r in Expand(space, family, new Dictionary<string, object>(fixedValues) { [next.Name] = v }))
                yield return r;
    }
}

/// <summary>
/// Cost-aware search by successive halving on epochs, warm-started from each family's defaults: first every family of
/// the space is trained once with its defaults (at the default epochs, in the order of
/// <see cref="FusionSearchSpace.Families"/>), so the known-good configurations are always measured as a user would
/// train them; then brackets of sampled configurations are first trained with the fewest epochs the search space allows
/// (<see cref="FusionSearchSpace.Epochs"/>' minimum), the best 1/<see cref="Eta"/> are retrained with more, and so on
/// up to the space's maximum, the epochs growing geometrically between rungs. Bad configurations therefore cost a
/// fraction of a full training, and configurations without epochs (LightGBM, linear members) are trained once and kept
/// in the ranking.
/// </summary>
public sealed class SuccessiveHalvingTuner : IFusionTuner
{
    private readonly IFusionTuner _sampler;
    private readonly bool _defaultsFirst;
    private readonly HashSet<int> _warmStartTrials = new();
    private bool _warmStarted;
    private readonly Queue<FusionTrialSettings> _pending = new();
    private readonly List<FusionTrialResult> _rung = new();
    private int _rungIndex, _rungSize;
    private double _minEpochs, _maxEpochs;

    /// <summary>Creates the tuner.</summary>
    /// <param name="bracketSize">Configurations per bracket (first rung). Default 9.</param>
    /// <param name="eta">Keep the best 1/eta per rung and multiply their epochs by eta. Default 3.</param>
    /// <param name="sampler">Where configurations come from: random search by default, or e.g. a <see cref="GridSearchTuner"/>.</param>
    /// <param name="defaultsFirst">Train each family's defaults at their default epochs before the brackets (default: true
    /// with the built-in random sampler, false with a sampler of your own, such as a grid, which decides the order itself).</param>
    public SuccessiveHalvingTuner(int bracketSize = 9, int eta = 3, IFusionTuner? sampler = null, bool? defaultsFirst = null)
    {
        _defaultsFirst = defaultsFirst ?? sampler == null;
        if (bracketSize < 1) throw new ArgumentOutOfRangeException(nameof(bracketSize), bracketSize, "bracketSize must be at least 1.");
        if (eta < 2) throw new ArgumentOutOfRangeException(nameof(eta), eta, "eta must be at least 2.");
        BracketSize = bracketSize; Eta = eta; _sampler = sampler ?? new RandomSearchTuner(defaultsFirst: false);
    }

    /// <summary>Configurations per bracket.</summary>
    public int BracketSize { get; }

    /// <summary>Reduction factor between rungs.</summary>
    public int Eta { get; }

    private int Rungs => 1 + (int)Math.Floor(Math.Log(BracketSize) / Math.Log(Eta) + 1e-9);

    // The space's minimum at the first rung, its maximum at the last, geometric in between: never fewer epochs than the
    // user declared sensible (a network trained for 1-2 epochs is still near chance and would rank families by noise).
    private int EpochsAt(int rung) => Rungs == 1 ? (int)Math.Round(_maxEpochs)
        : Math.Max(1, (int)Math.Round(_minEpochs * Math.Pow(_maxEpochs / _minEpochs, rung / (double)(Rungs - 1))));

    /// <inheritdoc />
    public FusionTrialSettings? Propose(FusionTuningContext context)
    {
        _minEpochs = Math.Max(1, context.Space.Epochs.Min); _maxEpochs = Math.Max(_minEpochs, context.Space.Epochs.Max);
        if (_defaultsFirst && !_warmStarted)
        {
            _warmStarted = true;
            foreach (var family in context.Space.Families.Distinct())
            {
                var s = new FusionTrialSettings(context.TrialId + _warmStartTrials.Count, family, context.Space.DefaultsOf(family));
                _warmStartTrials.Add(s.TrialId);
                _warmStart.Enqueue(s);
            }
        }
        if (_warmStart.Count > 0) return _warmStart.Dequeue().With(context.TrialId);
        if (_pending.Count == 0 && _rung.Count == 0) StartBracket(context);
        if (_pending.Count == 0) return null;
        return _pending.Dequeue().With(context.TrialId);
    }

    private void StartBracket(FusionTuningContext context)
    {
        _rungIndex = 0;
        var seen = new HashSet<string>();
        for (int i = 0; i < BracketSize; i++)
        {
            var s = _sampler.Propose(context with { TrialId = context.TrialId + i });
            if (s == null) break;
            if (!seen.Add(s.ConfigurationKey)) continue;
            _pending.Enqueue(s.Epochs > 0 ? s.With(s.TrialId, EpochsAt(0)) : s);
        }
        _rungSize = _pending.Count;
        _context = context;
    }

    private FusionTuningContext? _context;
    private readonly Queue<FusionTrialSettings> _warmStart = new();

    /// <inheritdoc />
    public void Report(FusionTrialResult result)
    {
        if (_warmStartTrials.Contains(result.Settings.TrialId)) return;   // the defaults are not part of any bracket
        _sampler.Report(result);
        _rung.Add(result);
        if (_rung.Count < _rungSize || _context == null) return;
        // The rung is complete: promote the best 1/eta configurations that have epochs to spend.
        _rungIndex++;
        var ranked = _rung.Where(r => r.Status == FusionTrialStatus.Completed)
            .OrderBy(r => r.Metric, Comparer<double>.Create((a, b) => _context.IsBetter(a, b) ? -1 : _context.IsBetter(b, a) ? 1 : 0)).ToList();
        int keep = (int)Math.Ceiling(_rung.Count / (double)Eta);
        _rung.Clear();
        if (_rungIndex >= Rungs) return;
        foreach (var r in ranked.Take(keep).Where(r => r.Settings.Epochs > 0))
            _pending.Enqueue(r.Settings.With(r.Settings.TrialId, EpochsAt(_rungIndex)));
        _rungSize = _pending.Count;
    }
}

/// <summary>
/// Asynchronous successive halving (ASHA: Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys
/// 2020), warm-started from each family's defaults as <see cref="SuccessiveHalvingTuner"/> is. Promotions are decided
/// as results arrive, never waiting for a rung to fill: when asked for a trial, the tuner promotes a configuration that
/// is in the best 1/<see cref="Eta"/> of the completed trials of its rung and not promoted yet (from the highest rung
/// down), and otherwise samples a new configuration at the first rung. The rungs run from the search space's minimum
/// epochs to its maximum, <see cref="Eta"/> times more between rungs (geometric in between when the range is not a power of
/// <see cref="Eta"/>); configurations without epochs (LightGBM, linear members) are trained once and ranked in the first rung.
/// </summary>
/// <remarks>
/// Unlike the other tuners it may be asked for several trials before their results arrive (one per free worker), which
/// is what a distributed study does. Given the same sequence of <see cref="Propose"/> and <see cref="Report"/> calls and
/// the same seeded generator, it proposes the same trials: a study replays its history to rebuild it.
/// </remarks>
public sealed class AsyncSuccessiveHalvingTuner : IFusionTuner
{
    private readonly IFusionTuner _sampler = new RandomSearchTuner(defaultsFirst: false);
    private readonly bool _defaultsFirst;
    private readonly Queue<FusionFamily> _defaults = new();
    private bool _warmStarted;
    private readonly HashSet<int> _warmStartTrials = new();
    private readonly Dictionary<int, int> _rungOfTrial = new();
    private readonly List<List<FusionTrialResult>> _completed = new();
    private readonly List<HashSet<string>> _promoted = new();
    private readonly HashSet<string> _sampled = new();
    private double _minEpochs, _maxEpochs;
    private FusionTuningContext? _context;

    /// <summary>Creates the tuner.</summary>
    /// <param name="eta">Keep the best 1/eta of a rung and give them eta times the epochs. Default 3.</param>
    /// <param name="defaultsFirst">Train each family's defaults at their default epochs first (default true).</param>
    public AsyncSuccessiveHalvingTuner(int eta = 3, bool defaultsFirst = true)
    {
        if (eta < 2) throw new ArgumentOutOfRangeException(nameof(eta), eta, "eta must be at least 2.");
        Eta = eta; _defaultsFirst = defaultsFirst;
    }

    /// <summary>Reduction factor between rungs.</summary>
    public int Eta { get; }

    /// <summary>Number of rungs for the space's epochs range.</summary>
    public int Rungs => 1 + (int)Math.Floor(Math.Log(_maxEpochs / _minEpochs) / Math.Log(Eta) + 1e-9);

    /// <summary>The rung a proposed trial belongs to (-1 for a family's defaults, which are in no rung).</summary>
    public int RungOf(int trialId) => _rungOfTrial.TryGetValue(trialId, out var r) ? r : -1;

    private int EpochsAt(int rung) => Rungs == 1 ? (int)Math.Round(_maxEpochs)
        : Math.Max(1, (int)Math.Round(_minEpochs * Math.Pow(_maxEpochs / _minEpochs, rung / (double)(Rungs - 1))));

    /// <inheritdoc />
    public FusionTrialSettings? Propose(FusionTuningContext context)
    {
        _context = context;
        _minEpochs = Math.Max(1, context.Space.Epochs.Min); _maxEpochs = Math.Max(_minEpochs, context.Space.Epochs.Max);
        while (_completed.Count < Rungs) { _completed.Add(new()); _promoted.Add(new()); }
        if (_defaultsFirst && !_warmStarted)
        {
            _warmStarted = true;
            foreach (var family in context.Space.Families.Distinct()) _defaults.Enqueue(family);
        }
        if (_defaults.Count > 0)
        {
            _warmStartTrials.Add(context.TrialId);
            var family = _defaults.Dequeue();
            var defaults = new FusionTrialSettings(context.TrialId, family, context.Space.DefaultsOf(family));
            _sampled.Add(defaults.ConfigurationKey);   // a configuration without epochs is not drawn again at the first rung
            return defaults;
        }
        // A promotion, from the highest rung that has one to give.
        for (int rung = Rungs - 2; rung >= 0; rung--)
        {
            var ranked = _completed[rung].Where(r => r.Status == FusionTrialStatus.Completed).OrderBy(r => r.Metric, Ranking(context)).ToList();
            int top = ranked.Count / Eta;
            var next = ranked.Take(top).FirstOrDefault(r => r.Settings.Epochs > 0 && !_promoted[rung].Contains(r.Settings.ConfigurationKey));
            if (next == null) continue;
            _promoted[rung].Add(next.Settings.ConfigurationKey);
            _rungOfTrial[context.TrialId] = rung + 1;
            return next.Settings.With(context.TrialId, EpochsAt(rung + 1));
        }
        // A new configuration at the first rung (a few draws to find one not sampled before).
        for (int attempt = 0; attempt < 100; attempt++)
        {
            var s = _sampler.Propose(context);
            if (s == null) return null;
            if (!_sampled.Add(s.ConfigurationKey)) continue;
            _rungOfTrial[context.TrialId] = 0;
            return s.Epochs > 0 ? s.With(context.TrialId, EpochsAt(0)) : s;
        }
        return null;
    }

    private static Comparer<double> Ranking(FusionTuningContext c) => Comparer<double>.Create((a, b) => c.IsBetter(a, b) ? -1 : c.IsBetter(b, a) ? 1 : 0);

    /// <inheritdoc />
    public void Report(FusionTrialResult result)
    {
        if (_warmStartTrials.Contains(result.Settings.TrialId)) return;   // the defaults are in no rung
        if (!_rungOfTrial.TryGetValue(result.Settings.TrialId, out var rung)) return;
        _sampler.Report(result);
        _completed[rung].Add(result);
    }
}
