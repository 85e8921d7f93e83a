using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Trainers.LightGbm;
using MLNetFusion.Models;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Trainers.Early;
using MLNetFusion.Trainers.Network;
using MLNetFusion.Training;

using MLNetFusion.Trainers;
namespace MLNetFusion.AutoML.Sweep;

/// <summary>Turns a trial's settings into the family's estimator, through the trainers' public options only.</summary>
internal sealed class TrialPipelines
{
    internal const string EarlyFeatures = "__sweep.Features";
    private readonly MLContext _ml;
    private readonly IReadOnlyList<ModalityOptions> _modalities;
    private readonly string _label;
    private readonly FusionSearchSpace _space;

    private readonly string? _samplingKey;
    private readonly int _lateFolds;

    /// <param name="ml">The context.</param>
    /// <param name="modalities">The experiment's modalities (a trial may use a subset).</param>
    /// <param name="label">The key label.</param>
    /// <param name="space">The search space (defaults of parameters a trial does not set).</param>
    /// <param name="samplingKey">The sampling key column: late fusion's out-of-fold folds are grouped by it.</param>
    /// <param name="lateFolds">Late fusion's out-of-fold folds (at most the number of groups in any training split).</param>
    public TrialPipelines(MLContext ml, IReadOnlyList<ModalityOptions> modalities, string label, FusionSearchSpace space, string? samplingKey = null, int lateFolds = 3)
    {
        _ml = ml; _modalities = modalities; _label = label; _space = space; _samplingKey = samplingKey; _lateFolds = lateFolds;
    }

    /// <summary>The modalities a trial uses: its <c>modalities</c> subset, else all, in the experiment's order.</summary>
    public IReadOnlyList<ModalityOptions> ModalitiesOf(FusionTrialSettings s)
    {
        var names = s.Modalities;
        if (names == null) return _modalities;
        var unknown = names.FirstOrDefault(n => _modalities.All(m => m.Name != n));
        if (unknown != null)
            throw new ArgumentException($"Trial {s.TrialId} uses modality '{unknown}', which is not one of the experiment's modalities ({string.Join(", ", _modalities.Select(m => m.Name))})." +
                Environment.NewLine + "Hint: build FusionSearchSpace.Modalities from the names given to SetModalities, or leave it null.");
        return _modalities.Where(m => names.Contains(m.Name)).ToList();
    }

    private T Get<T>(FusionTrialSettings s, string name, ISearchDimension dim)
    {
        var v = s.Parameters.TryGetValue(name, out var x) ? x : dim.Default;
        return v is T t ? t : (T)Convert.ChangeType(v, typeof(T), CultureInfo.InvariantCulture);
    }

    private TOptions Neural<TOptions>(TOptions o, FusionTrialSettings s, int seed, Action<EpochReport> progress, CancellationToken cancel, bool multimodal = true)
        where TOptions : FusionTrainerOptions
    {
        o.LabelColumnName = _label;
        o.LearningRate = Get<double>(s, "learningRate", _space.LearningRate);
        o.Epochs = Get<int>(s, "epochs", _space.Epochs);
        o.HeadDropout = Get<double>(s, "dropout", _space.Dropout);
        if (multimodal)
        {
            o.ModalityDropout = Get<double>(s, "modalityDropout", _space.ModalityDropout);
            o.AuxiliaryLossWeight = Get<double>(s, "auxiliaryLossWeight", _space.AuxiliaryLossWeight);
        }
        o.Seed = seed; o.Progress = progress; o.CancellationToken = cancel;
        return o;
    }

    public IEstimator<ITransformer> Build(FusionTrialSettings s, int seed, Action<EpochReport> progress, CancellationToken cancel)
    {
        var t = _ml.MulticlassClassification.Trainers;
        var modalities = ModalitiesOf(s);
        List<ModalityOptions> Mods() => modalities.Select(m => m.Clone()).ToList();
        int width = Get<int>(s, "width", _space.Width);
        switch (s.Family)
        {
            case FusionFamily.Early:
            {
                var concat = _ml.Transforms.Concatenate(EarlyFeatures, modalities.Select(m => m.ColumnName).ToArray());
                return Get<EarlyFusionLearner>(s, "trainer", _space.EarlyTrainer) switch
                {
                    EarlyFusionLearner.LightGbm => concat.Append<ITransformer>(t.LightGbm(LightGbm(EarlyFeatures, seed))),
                    EarlyFusionLearner.LbfgsMaximumEntropy => concat.Append<ITransformer>(_ml.Transforms.NormalizeMinMax(EarlyFeatures))
                        .Append(t.LbfgsMaximumEntropy(_label, EarlyFeatures)),
                    _ => concat.Append<ITransformer>(t.FusionMlp(Neural(new FusionMlpOptions
                    {
                        FeatureColumnName = EarlyFeatures, HiddenWidths = new[] { width * 2, width }, Dropout = Get<double>(s, "dropout", _space.Dropout),
                    }, s, seed, progress, cancel, multimodal: false))),
                };
            }
            case FusionFamily.Late:
            {
                var kind = Get<LateFusionMemberKind>(s, "members", _space.LateMembers);
                var members = modalities.Select((m, i) =>
                {
                    bool neural = kind == LateFusionMemberKind.Neural || (kind == LateFusionMemberKind.Mixed && m.Encoder == EncoderKind.Cnn);
                    IEstimator<ITransformer> trainer = neural
                        ? t.NetworkFusion(Neural(new NetworkFusionOptions { Modalities = new() { m.Clone() } }, s, seed + i, progress, cancel, multimodal: false))
                        : kind == LateFusionMemberKind.LightGbm ? t.LightGbm(LightGbm(m.ColumnName, seed + i))
                        : _ml.Transforms.NormalizeMinMax("__sweep." + m.Name, m.ColumnName).Append(t.LbfgsMaximumEntropy(_label, "__sweep." + m.Name));
                    return new LateFusionMember(m.Name, m.ColumnName, trainer);
                }).ToList();
                return t.LateFusion(new LateFusionOptions
                {
                    Members = members, Combiner = Get<LateFusionCombiner>(s, "combiner", _space.LateCombiner), LabelColumnName = _label, NumberOfFolds = _lateFolds, Seed = seed, SamplingKeyColumnName = _samplingKey,
                });
            }
            case FusionFamily.Merge:
                return t.MergeFusion(Neural(new MergeFusionOptions
                {
                    Modalities = Mods(), Operation = Get<MergeOperation>(s, "operation", _space.MergeOperation), Width = width,
                }, s, seed, progress, cancel));
            case FusionFamily.Network:
                return t.NetworkFusion(Neural(new NetworkFusionOptions
                {
                    Modalities = Mods(), UseIntermediateLayers = Get<bool>(s, "intermediateLayers", _space.NetworkIntermediateLayers),
                    FusionWidths = new[] { width * 2 }, FusionDropout = Get<double>(s, "dropout", _space.Dropout),
                }, s, seed, progress, cancel));
            case FusionFamily.CrossModal:
                return t.CrossModalFusion(Neural(new CrossModalFusionOptions
                {
                    Modalities = Mods(), Depth = Get<int>(s, "depth", _space.CrossModalDepth), Width = width, Heads = width % 4 == 0 ? 4 : 1,
                }, s, seed, progress, cancel));
            default:
                throw new ArgumentOutOfRangeException(nameof(s), s.Family, "Unknown family.");
        }
    }

    private LightGbmMulticlassTrainer.Options LightGbm(string features, int seed) => new()
    {
        LabelColumnName = _label, FeatureColumnName = features, NumberOfIterations = 100, NumberOfLeaves = 15, MinimumExampleCountPerLeaf = 10,
        LearningRate = 0.1, Seed = seed, NumberOfThreads = Environment.ProcessorCount,
        Booster = new GradientBooster.Options { FeatureFraction = 0.5 },
    };
}
