using MLNetFusion.AutoML.Sweep.Families;
using MLNetFusion.Trainers.Early;
using System.Globalization;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;

using MLNetFusion.Trainers;
namespace MLNetFusion.AutoML.Sweep;

/// <summary>One hyperparameter's values: sampled by random search, enumerated by grid search.</summary>
public interface ISearchDimension
{
    /// <summary>The value used when the dimension is not searched (and by grid search for ranges with one grid point).</summary>
    object Default { get; }
    /// <summary>Draws a value.</summary>
    object Sample(Random random);
    /// <summary>The values grid search tries.</summary>
    IReadOnlyList<object> GridValues { get; }
    /// <summary>Whether there is nothing to choose from.</summary>
    bool IsEmpty { get; }
}

/// <summary>A choice among listed values (sampled uniformly; grid search tries each, in order).</summary>
/// <typeparam name="T">The value type.</typeparam>
public sealed class Choice<T> : ISearchDimension where T : notnull
{
    /// <summary>Creates the choice; the first value is the default.</summary>
    public Choice(params T[] values) => Values = values.ToList();
    /// <summary>The values; edit the list to narrow or widen the search.</summary>
    public List<T> Values { get; }
    /// <inheritdoc />
    public object Default => Values.Count > 0 ? Values[0] : throw new InvalidOperationException("The choice is empty.");
    /// <inheritdoc />
    public object Sample(Random random) => Values[random.Next(Values.Count)];
    /// <summary>Whether grid search tries every value (default) or only the first.</summary>
    public bool SearchedByGrid { get; set; } = true;
    /// <inheritdoc />
    public IReadOnlyList<object> GridValues => SearchedByGrid ? Values.Cast<object>().ToArray() : new[] { Default };
    /// <inheritdoc />
    public bool IsEmpty => Values.Count == 0;
    /// <inheritdoc />
    public override string ToString() => "{" + string.Join(", ", Values) + "}";
}

/// <summary>A numeric range, uniform or log-uniform, optionally integer.</summary>
public sealed class NumericRange : ISearchDimension
{
    /// <summary>Creates the range.</summary>
    /// <param name="min">Lower bound.</param>
    /// <param name="max">Upper bound (≥ <paramref name="min"/>).</param>
    /// <param name="defaultValue">The default value.</param>
    /// <param name="logScale">Sample uniformly in log space (for learning rates).</param>
    /// <param name="integer">Round to integers (for epochs).</param>
    /// <param name="gridPoints">Values grid search tries: 1 = the default only; more = evenly spaced (in log space when <paramref name="logScale"/>).</param>
    public NumericRange(double min, double max, double defaultValue, bool logScale = false, bool integer = false, int gridPoints = 1)
    {
        if (!(max >= min)) throw new ArgumentOutOfRangeException(nameof(max), max, $"The range is empty: max {max} < min {min}.");
        if (logScale && min <= 0) throw new ArgumentOutOfRangeException(nameof(min), min, "A log-scale range needs min > 0.");
        if (defaultValue < min || defaultValue > max) throw new ArgumentOutOfRangeException(nameof(defaultValue), defaultValue, $"The default must be in [{min}, {max}].");
        if (gridPoints < 1) throw new ArgumentOutOfRangeException(nameof(gridPoints), gridPoints, "gridPoints must be at least 1.");
        Min = min; Max = max; DefaultValue = defaultValue; LogScale = logScale; Integer = integer; GridPoints = gridPoints;
    }
    /// <summary>Lower bound.</summary>
    public double Min { get; }
    /// <summary>Upper bound.</summary>
    public double Max { get; }
    /// <summary>The default value.</summary>
    public double DefaultValue { get; }
    /// <summary>Log-uniform sampling.</summary>
    public bool LogScale { get; }
    /// <summary>Integer values.</summary>
    public bool Integer { get; }
    /// <summary>Values grid search tries.</summary>
    public int GridPoints { get; }
    /// <inheritdoc />
    public object Default => Round(DefaultValue);
    /// <inheritdoc />
    public object Sample(Random random)
    {
        double u = random.NextDouble();
        return Round(LogScale ? Math.Exp(Math.Log(Min) + u * (Math.Log(Max) - Math.Log(Min))) : Min + u * (Max - Min));
    }
    /// <inheritdoc />
    public IReadOnlyList<object> GridValues => GridPoints == 1 ? new[] { Default }
        : Enumerable.Range(0, GridPoints).Select(i => i / (double)(GridPoints - 1))
            .Select(u => Round(LogScale ? Math.Exp(Math.Log(Min) + u * (Math.Log(Max) - Math.Log(Min))) : Min + u * (Max - Min))).Distinct().ToArray();
    /// <inheritdoc />
    public bool IsEmpty => false;
    // Six significant digits keep printed and reused values identical.
    private object Round(double v) => Integer ? (int)Math.Round(v) : double.Parse(v.ToString("G6", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"[{Min}, {Max}]{(LogScale ? " log" : "")}{(Integer ? " int" : "")}");
}

/// <summary>
/// Which modalities a trial uses: every non-empty subset of the experiment's modalities, written as their names joined
/// by <c>+</c> (<c>"image+audio"</c>). Random and cost-aware search draw the full set half of the time and a uniformly
/// chosen smaller subset otherwise, so that when a modality hurts (it is noise, or it shifts between training and use)
/// the sweep can find out and choose a model without it. Grid search tries only the full set unless
/// <see cref="GridOverAllSubsets"/> is set.
/// </summary>
public sealed class ModalitySubsetChoice : ISearchDimension
{
    /// <summary>The separator between modality names in a subset's value.</summary>
    public const char Separator = '+';

    /// <summary>Creates the choice over the subsets of <paramref name="modalityNames"/> with at least <paramref name="minimumSize"/> modalities.</summary>
    public ModalitySubsetChoice(IReadOnlyList<string> modalityNames, int minimumSize = 1, bool gridOverAllSubsets = false)
    {
        ArgumentNullException.ThrowIfNull(modalityNames);
        if (modalityNames.Count == 0) throw new ArgumentException("A modality subset choice needs at least one modality.", nameof(modalityNames));
        var bad = modalityNames.FirstOrDefault(n => string.IsNullOrEmpty(n) || n.Contains(Separator));
        if (bad != null || modalityNames.Distinct().Count() != modalityNames.Count)
            throw new ArgumentException($"Modality names must be unique, non-empty and free of '{Separator}' to be searched as subsets (got '{bad ?? "a duplicate"}')." +
                Environment.NewLine + "Hint: rename the modality (ModalityOptions.Name).", nameof(modalityNames));
        if (minimumSize < 1 || minimumSize > modalityNames.Count)
            throw new ArgumentOutOfRangeException(nameof(minimumSize), minimumSize, $"The minimum subset size must be in [1, {modalityNames.Count}].");
        ModalityNames = modalityNames.ToArray();
        MinimumSize = minimumSize;
        GridOverAllSubsets = gridOverAllSubsets;
        int m = ModalityNames.Count;
        var subsets = new List<string>();
        for (int mask = (1 << m) - 1; mask > 0; mask--)   // the full set first
            if (System.Numerics.BitOperations.PopCount((uint)mask) >= minimumSize)
                subsets.Add(string.Join(Separator, Enumerable.Range(0, m).Where(i => (mask & (1 << i)) != 0).Select(i => ModalityNames[i])));
        Subsets = subsets.OrderByDescending(s => s.Split(Separator).Length).ThenBy(s => subsets.IndexOf(s)).ToArray();
    }

    /// <summary>The experiment's modality names, in order.</summary>
    public IReadOnlyList<string> ModalityNames { get; }
    /// <summary>The smallest subset allowed (2 for cross-modal fusion, which needs a pair to exchange).</summary>
    public int MinimumSize { get; }
    /// <summary>Whether grid search tries every subset (default: the full set only).</summary>
    public bool GridOverAllSubsets { get; }
    /// <summary>Every allowed subset, the full set first.</summary>
    public IReadOnlyList<string> Subsets { get; }
    /// <summary>The same names with a larger minimum size.</summary>
    public ModalitySubsetChoice AtLeast(int size) => size <= MinimumSize ? this : new(ModalityNames, Math.Min(size, ModalityNames.Count), GridOverAllSubsets);
    /// <inheritdoc />
    public object Default => Subsets[0];
    /// <inheritdoc />
    public object Sample(Random random) => Subsets.Count == 1 || random.NextDouble() < 0.5 ? Subsets[0] : Subsets[1 + random.Next(Subsets.Count - 1)];
    /// <inheritdoc />
    public IReadOnlyList<object> GridValues => GridOverAllSubsets ? Subsets.Cast<object>().ToArray() : new[] { Default };
    /// <inheritdoc />
    public bool IsEmpty => false;
    /// <summary>The modality names of a subset value.</summary>
    public static IReadOnlyList<string> Parse(string subset) => subset.Split(Separator);
    /// <inheritdoc />
    public override string ToString() => "{" + string.Join(", ", Subsets) + "}";
}

/// <summary>
/// The search space of a fusion sweep, declared in one place: the families and, per family, its main
/// hyperparameters. Narrow it by editing the lists (e.g. <c>space.Families = { FusionFamily.Merge }</c>,
/// <c>space.MergeOperation.Values.Remove(MergeOperation.Max)</c>) or widen it by adding values or replacing ranges.
/// </summary>
/// <remarks>
/// Parameter names (as they appear in <see cref="FusionTrialSettings.Parameters"/>):
/// <list type="table">
/// <item><term>early</term><description><c>trainer</c>; with <see cref="EarlyFusionLearner.FusionMlp"/> also the neural parameters.</description></item>
/// <item><term>late</term><description><c>combiner</c>, <c>members</c>; with neural members also <c>learningRate</c>, <c>epochs</c>.</description></item>
/// <item><term>merge</term><description><c>operation</c> and the neural parameters.</description></item>
/// <item><term>network</term><description><c>intermediateLayers</c> and the neural parameters.</description></item>
/// <item><term>cross-modal</term><description><c>depth</c> (1 = one exchange) and the neural parameters.</description></item>
/// <item><term>every family</term><description><c>modalities</c>: the subset of modalities the trial uses (see <see cref="Modalities"/>).</description></item>
/// <item><term>neural</term><description><c>learningRate</c> (log scale), <c>width</c>, <c>dropout</c>, <c>epochs</c>, <c>modalityDropout</c>, <c>auxiliaryLossWeight</c>, <c>modalityHeadWeight</c>, <c>balancedLearningAlpha</c>, <c>augmentationStrength</c>, <c>audioAugmentationStrength</c>, <c>perClipNormalization</c>.</description></item>
/// </list>
/// </remarks>
public sealed class FusionSearchSpace
{
    /// <summary>
    /// Families to try. Default: all five, in the order the sweep trains their defaults first: best measured
    /// leave-one-speaker-out accuracy on avdigits first (network, late, cross-modal, merge, early; figures in
    /// docs/benchmarks.md), so a short budget measures the strongest families before it runs out.
    /// </summary>
    public List<FusionFamily> Families { get; set; } = new() { FusionFamily.Network, FusionFamily.Late, FusionFamily.CrossModal, FusionFamily.Merge, FusionFamily.Early };

    /// <summary>Early fusion: the trainer after <c>Concatenate</c>.</summary>
    public Choice<EarlyFusionLearner> EarlyTrainer { get; set; } = new(EarlyFusionLearner.LightGbm, EarlyFusionLearner.LbfgsMaximumEntropy, EarlyFusionLearner.FusionMlp);

    /// <summary>Late fusion: the combiner. The product of experts comes first (its default): the best combiner under leave-one-speaker-out, and it needs no out-of-fold fits.</summary>
    public Choice<LateFusionCombiner> LateCombiner { get; set; } = new(LateFusionCombiner.ProductOfExperts, LateFusionCombiner.Stacking,
        LateFusionCombiner.WeightedAverage, LateFusionCombiner.Average, LateFusionCombiner.MajorityVote);

    /// <summary>Late fusion: the member trainers.</summary>
    public Choice<LateFusionMemberKind> LateMembers { get; set; } = new(LateFusionMemberKind.Mixed, LateFusionMemberKind.Neural, LateFusionMemberKind.Linear, LateFusionMemberKind.LightGbm);

    /// <summary>Merge fusion: the merge operation.</summary>
    public Choice<MergeOperation> MergeOperation { get; set; } = new(MLNetFusion.Trainers.Merge.MergeOperation.Attention, MLNetFusion.Trainers.Merge.MergeOperation.Mean, MLNetFusion.Trainers.Merge.MergeOperation.Sum,
        MLNetFusion.Trainers.Merge.MergeOperation.Gated, MLNetFusion.Trainers.Merge.MergeOperation.Product, MLNetFusion.Trainers.Merge.MergeOperation.Max, MLNetFusion.Trainers.Merge.MergeOperation.LowRankTensor);

    /// <summary>Network fusion: merge the final encoder layers only (false) or every stage (true).</summary>
    public Choice<bool> NetworkIntermediateLayers { get; set; } = new(false, true);

    /// <summary>Cross-modal fusion: number of exchanges (1 = once; more = at several depths).</summary>
    public Choice<int> CrossModalDepth { get; set; } = new(1, 2);

    /// <summary>Peak learning rate of the neural trainers, log scale. Default [3e-4, 1e-2], 2e-3.</summary>
    public NumericRange LearningRate { get; set; } = new(3e-4, 1e-2, 2e-3, logScale: true);

    /// <summary>Fusion width (merge/cross-modal token width, network merge width, MLP hidden width).</summary>
    public Choice<int> Width { get; set; } = new(64, 32, 128);

    /// <summary>Dropout in the head and merge layers. Default [0, 0.4], 0.2.</summary>
    public NumericRange Dropout { get; set; } = new(0, 0.4, 0.2);

    /// <summary>Epochs of the neural trainers. Default [5, 20], 15. The cost-aware tuner uses the maximum as a full budget.</summary>
    public NumericRange Epochs { get; set; } = new(5, 20, 15, integer: true);

    /// <summary>
    /// Modality dropout. Default [0.1, 0.4], 0.25: the default space never switches it off, because a model selected on
    /// in-distribution validation data could otherwise lean on one modality and collapse when that modality shifts.
    /// Widen it to [0, …] deliberately.
    /// </summary>
    public NumericRange ModalityDropout { get; set; } = new(0.1, 0.4, 0.25);

    /// <summary>Auxiliary per-modality loss weight. Default [0.25, 1], 0.5 (kept on for the same reason as <see cref="ModalityDropout"/>).</summary>
    public NumericRange AuxiliaryLossWeight { get; set; } = new(0.25, 1, 0.5);

    /// <summary>
    /// Weight of each modality's own head in the neural families' prediction (<see cref="FusionTrainerOptions.ModalityHeadWeight"/>;
    /// 0 = the fused head alone). Default {the trainers' default, 0, 0.5, 1} without repeats.
    /// </summary>
    public Choice<double> ModalityHeadWeight { get; set; } = new(new[] { FusionTrainerOptions.Defaults.ModalityHeadWeight, 0.0, 0.5, 1.0 }.Distinct().ToArray()) { SearchedByGrid = false };

    /// <summary>
    /// Balanced learning: OGM-GE strength α of the neural families (0 = off). Default {0, 0.5}. This and the next two
    /// remedies for modality competition and shift are drawn by random and cost-aware search; grid search keeps their
    /// first value unless <see cref="Choice{T}.SearchedByGrid"/> is set.
    /// </summary>
    public Choice<double> BalancedLearningAlpha { get; set; } = new(0.0, 0.5) { SearchedByGrid = false };

    /// <summary>Training-time augmentation strength of the neural families (0 = off). Default {0, 0.5, 1}.</summary>
    public Choice<double> AugmentationStrength { get; set; } = new(0.0, 0.5, 1.0) { SearchedByGrid = false };

    /// <summary>
    /// The modality kinds' own settings (<see cref="MLNetFusion.Models.IModalityKind.Tunings"/>) that the neural families
    /// draw, by parameter name: for the built-in audio kind <c>audioAugmentationStrength</c> {0.5, 0, 1} (its
    /// SpecAugment strength; it wins over <see cref="AugmentationStrength"/> for audio modalities) and
    /// <c>perClipNormalization</c> {false, true}. Empty by default: <see cref="ForModalities(IReadOnlyList{MLNetFusion.Models.ModalityOptions})"/>
    /// adds every tuning of the kinds an experiment has, with its values, where this space has none of that name; set
    /// one here to narrow it (<c>Tunings["perClipNormalization"] = new Choice&lt;bool&gt;(true)</c>). Drawn by random and
    /// cost-aware search; grid search keeps the first value.
    /// </summary>
    public Dictionary<string, ISearchDimension> Tunings { get; set; } = new();

    /// <summary>
    /// The modality subsets trials may use (parameter <c>modalities</c>, values like <c>"image+audio"</c>). <c>null</c>
    /// (the default) lets the experiment fill it with a <see cref="ModalitySubsetChoice"/> over every non-empty subset of
    /// its modalities when the run starts; set <c>new Choice&lt;string&gt;("image+audio")</c> to always use all of them.
    /// Cross-modal fusion only draws subsets of two or more.
    /// </summary>
    public ISearchDimension? Modalities { get; set; }

    /// <summary>
    /// The space trials of an experiment over <paramref name="modalities"/> are drawn from: a copy that searches their
    /// subsets when this one searches none of its own and there are several (<see cref="ModalitySubsetChoice"/>), and
    /// that adds the tunings of their kinds it does not have yet (<see cref="Tunings"/>). This space is not edited.
    /// </summary>
    /// <param name="modalities">The experiment's modalities, in order.</param>
    public FusionSearchSpace ForModalities(IReadOnlyList<MLNetFusion.Models.ModalityOptions> modalities)
    {
        ArgumentNullException.ThrowIfNull(modalities);
        var copy = Modalities is null && modalities.Count > 1 ? With(new ModalitySubsetChoice(modalities.Select(m => m.Name).ToArray())) : With(Modalities);
        copy.Tunings = new Dictionary<string, ISearchDimension>(Tunings);
        foreach (var tuning in modalities.Select(m => m.Kind).Distinct().SelectMany(k => MLNetFusion.Models.ModalityRegistry.Get(k).Tunings))
            if (!copy.Tunings.ContainsKey(tuning.Name)) copy.Tunings[tuning.Name] = TuningChoice(tuning);
        return copy;
    }

    /// <summary>A kind's tuning as a choice of its values' type, searched by random and cost-aware search only.</summary>
    private static ISearchDimension TuningChoice(MLNetFusion.Models.ModalityTuning tuning)
    {
        ISearchDimension Of<T>() where T : notnull => new Choice<T>(tuning.Values.Cast<T>().ToArray()) { SearchedByGrid = false };
        return tuning.Values switch
        {
            { Count: 0 } => throw new ArgumentException($"The tuning '{tuning.Name}' has no values." + Environment.NewLine + "Hint: give a modality kind's tuning at least one value.", nameof(tuning)),
            var v when v.All(x => x is double) => Of<double>(),
            var v when v.All(x => x is int) => Of<int>(),
            var v when v.All(x => x is bool) => Of<bool>(),
            var v when v.All(x => x is string) => Of<string>(),
            _ => throw new ArgumentException($"The tuning '{tuning.Name}' mixes value types or uses one a sweep cannot store ({string.Join(", ", tuning.Values.Select(x => x?.GetType().Name ?? "null").Distinct())})." +
                Environment.NewLine + "Hint: give a tuning values of one type: double, int, bool or string.", nameof(tuning)),
        };
    }

    /// <summary>The dimension of the parameter named <paramref name="name"/>: one of <see cref="SweepParameters.All"/> or a tuning, or <c>null</c>.</summary>
    public ISearchDimension? DimensionNamed(string name)
        => SweepParameters.All.FirstOrDefault(p => p.Name == name)?.DimensionIn(this) ?? Tunings.GetValueOrDefault(name);

    /// <summary>A copy that searches <paramref name="modalities"/> (the other dimensions are shared, the family list copied).</summary>
    internal FusionSearchSpace With(ISearchDimension? modalities)
    {
        var copy = (FusionSearchSpace)MemberwiseClone();
        copy.Families = new List<FusionFamily>(Families);
        copy.Modalities = modalities;
        return copy;
    }

    /// <summary>The parameter names and dimensions a configuration of <paramref name="family"/> draws, given the values <paramref name="chosen"/> so far.</summary>
    public IReadOnlyList<(string Name, ISearchDimension Dimension)> DimensionsOf(FusionFamily family, IReadOnlyDictionary<string, object>? chosen = null)
    {
        var parameters = FamilySweeps.Of(family).Parameters(chosen);
        var dims = parameters.Select(p => (p.Name, p.DimensionIn(this))).ToList();
        // The kinds' own settings, where a family trains modality encoders with augmentation (the neural families).
        if (parameters.Contains(SweepParameters.AugmentationStrength)) dims.AddRange(Tunings.Select(t => (t.Key, t.Value)));
        if (Modalities is null) return dims;
        var subsets = family == FusionFamily.CrossModal && Modalities is ModalitySubsetChoice c ? c.AtLeast(2) : Modalities;
        return dims.Prepend((SweepParameters.Modalities.Name, subsets)).ToList();
    }

    /// <summary>A family's configuration with every dimension at its default (all modalities, the trainers' defaults).</summary>
    public Dictionary<string, object> DefaultsOf(FusionFamily family)
    {
        var values = new Dictionary<string, object>();
        // Dimensions may depend on earlier choices (e.g. an early-fusion MLP has epochs, LightGBM has none).
        for (int pass = 0; pass < 2; pass++)
            foreach (var (name, dim) in DimensionsOf(family, values))
                if (!values.ContainsKey(name)) values[name] = dim.Default;
        return values;
    }

    /// <summary>Throws a clear error if the space has nothing to search.</summary>
    public void Validate()
    {
        if (Families.Count == 0)
            throw new ArgumentException("The search space is empty: Families has no fusion family." + Environment.NewLine +
                "Hint: add at least one FusionFamily to FusionSearchSpace.Families.", nameof(Families));
        foreach (var f in Families.Distinct())
            foreach (var (name, dim) in DimensionsOf(f))
                if (dim.IsEmpty)
                    throw new ArgumentException($"The search space is empty for family {f}: parameter '{name}' has no values." + Environment.NewLine +
                        $"Hint: give '{name}' at least one value, or remove {f} from Families.", name);
    }
}
