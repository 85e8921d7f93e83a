using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Data;

namespace MLNetFusion.AutoML.Sweep;

/// <summary>
/// How an experiment validates its trials, set by one of <see cref="FusionExperiment"/>'s <c>SetDataset</c> overloads:
/// a given training and validation pair, k folds (of whole groups with a sampling key), or one hold-out of whole groups.
/// It makes the splits (the feature pipeline fitted on each training side) and late fusion's own out-of-fold folds, from
/// the data and the seed alone: it holds no state a run changes.
/// </summary>
internal sealed class FusionSplitPlan
{
    private readonly IDataView? _train, _validation, _all;
    private readonly int _folds;
    private readonly double _validationFraction;

    private FusionSplitPlan(IDataView? train, IDataView? validation, IDataView? all, int folds, double validationFraction, string? samplingKey)
    {
        _train = train; _validation = validation; _all = all; _folds = folds; _validationFraction = validationFraction; SamplingKey = samplingKey;
    }

    /// <summary>Trials train on <paramref name="train"/> and are validated on <paramref name="validation"/>.</summary>
    public static FusionSplitPlan Given(IDataView train, IDataView validation) => new(train, validation, null, 0, 0, null);

    /// <summary>k-fold cross-validation (whole groups of <paramref name="samplingKey"/> when given).</summary>
    public static FusionSplitPlan Folds(IDataView data, int folds, string? samplingKey) => new(null, null, data, folds, 0, samplingKey);

    /// <summary>One hold-out of whole groups holding at least <paramref name="fraction"/> of the rows.</summary>
    public static FusionSplitPlan HoldOut(IDataView data, double fraction, string samplingKey) => new(null, null, data, 0, fraction, samplingKey);

    /// <summary>The group column, or <c>null</c>.</summary>
    public string? SamplingKey { get; }

    /// <summary>The data the sampling key is read from (the rows before the feature pipeline); <c>null</c> for a given pair.</summary>
    public IDataView? Data => _all;

    /// <summary>Whether the final model is always refitted on all the rows (cross-validation and hold-outs: no trial saw all of them).</summary>
    public bool RefitsAlways => _all != null;

    /// <summary>Every row: the data, or the training rows followed by the validation rows.</summary>
    public IDataView AllRows => _all ?? new AppendedDataView(_train!, _validation!);

    /// <summary>Late fusion's own out-of-fold folds: grouped too when every training split keeps at least two groups.</summary>
    public (int Folds, string? Key) LateFolds(int seed)
        => _all != null && SamplingKey != null ? LateFolds(SamplingKeyGroups.Read(_all, SamplingKey), seed) : (3, null);

    private (int Folds, string? Key) LateFolds(SamplingKeyGroups groups, int seed)
    {
        var foldOfGroup = FoldOfGroup(groups, seed);
        int folds = _folds > 0 ? _folds : 1;
        int fewest = Enumerable.Range(0, folds).Min(held => foldOfGroup.Count(x => x != held));
        return (Math.Clamp(fewest, 2, 3), fewest >= 2 ? SamplingKey : null);
    }

    private int[] FoldOfGroup(SamplingKeyGroups groups, int seed)
        => _folds > 0 ? groups.FoldOfGroup(_folds, seed) : groups.ValidationGroups(_validationFraction, seed).Select(held => held ? 0 : 1).ToArray();

    /// <summary>The splits, each featurized by <paramref name="features"/> fitted on its training side and cached, and late fusion's folds.</summary>
    public (List<FusionTrialSplit> Splits, int LateFolds, string? LateKey) Make(MLContext ml, IEstimator<ITransformer>? features, int seed)
    {
        FusionTrialSplit Featurize(IDataView train, IDataView validation)
        {
            var featurizer = features?.Fit(train) ?? new TransformerChain<ITransformer>();
            return new FusionTrialSplit(ml.Data.Cache(featurizer.Transform(train)), ml.Data.Cache(featurizer.Transform(validation)), featurizer);
        }
        var list = new List<FusionTrialSplit>();
        if (_all != null && SamplingKey != null)
        {
            // Whole groups on one side only: a trial is validated on groups it never trained on.
            var groups = SamplingKeyGroups.Read(_all, SamplingKey);
            var foldOfGroup = FoldOfGroup(groups, seed);
            int folds = _folds > 0 ? _folds : 1;
            for (int f = 0; f < folds; f++)
            {
                int held = f;
                var train = new RowFilterDataView(_all, Array.Empty<string>(), row => () => groups.FoldOfRow(row.Position, foldOfGroup) != held);
                var validation = new RowFilterDataView(_all, Array.Empty<string>(), row => () => groups.FoldOfRow(row.Position, foldOfGroup) == held);
                list.Add(Featurize(train, validation));
            }
            var (lateFolds, lateKey) = LateFolds(groups, seed);
            return (list, lateFolds, lateKey);
        }
        if (_all != null)
            foreach (var fold in ml.Data.CrossValidationSplit(_all, _folds, seed: seed)) list.Add(Featurize(fold.TrainSet, fold.TestSet));
        else list.Add(Featurize(_train!, _validation!));
        return (list, 3, null);
    }
}
