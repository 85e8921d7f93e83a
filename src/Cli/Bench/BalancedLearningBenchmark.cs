using System.Diagnostics;
using Microsoft.ML;
using MLNetFusion.Cli.Leaderboard;
using MLNetFusion.Data;
using MLNetFusion.Datasets;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Trainers.Network;
using static MLNetFusion.Cli.Bench.Measure;

namespace MLNetFusion.Cli.Bench;

/// <summary>
/// <c>bench --only balance --avdigits DIR</c>: the remedies for modality competition and shift (#14), each alone and all
/// together, against today's defaults: for merge, network and cross-modal fusion, leave-one-speaker-out accuracy on
/// avdigits' train.csv (train on three speakers, test on the fourth, mean over four) and the test-split accuracy of the
/// same configuration trained on all of train.csv; for late fusion (average, product of experts; L-BFGS members),
/// without and with temperature-scaled members.
/// </summary>
internal static class BalancedLearningBenchmark
{
    private sealed record Remedy(string Name, Action<FusionTrainerOptions> Apply);

    private static readonly Remedy[] Remedies =
    {
        new("defaults", _ => { }),
        new("ogm-ge 0.5", o => o.BalancedLearningAlpha = 0.5),
        new("augmentation 1", o => o.AugmentationStrength = 1),
        new("per-clip normalisation", o => o.PerClipAudioNormalization = true),
        new("20% validation (modality selection)", o => o.ValidationFraction = 0.2),
        new("image learning rate x0.1", o => { foreach (var m in o.Modalities.Where(m => m.Kind == MLNetFusion.Models.ModalityKind.Image)) m.LearningRateMultiplier = 0.1; }),
        new("audio augmentation 1", o => { foreach (var m in o.Modalities.Where(m => m.Kind == MLNetFusion.Models.ModalityKind.Audio)) m.Augmentation = MLNetFusion.Models.ModalityAugmentation.Spectrogram(1); }),
        new("modality dropout 0.5", o => o.ModalityDropout = 0.5),
        new("auxiliary weight 1", o => o.AuxiliaryLossWeight = 1),
        new("speaker perturbation 1", o => { foreach (var m in o.Modalities.Where(m => m.Kind == MLNetFusion.Models.ModalityKind.Audio)) m.Augmentation = MLNetFusion.Models.ModalityAugmentation.Speaker(1); }),
        new("speaker perturbation 2", o => { foreach (var m in o.Modalities.Where(m => m.Kind == MLNetFusion.Models.ModalityKind.Audio)) m.Augmentation = MLNetFusion.Models.ModalityAugmentation.Speaker(2); }),
        new("modality heads 1", o => o.ModalityHeadWeight = 1),
        new("modality heads 0.5", o => o.ModalityHeadWeight = 0.5),
        new("all three", o => { o.BalancedLearningAlpha = 0.5; o.AugmentationStrength = 1; o.PerClipAudioNormalization = true; }),
    };

    public static void Run(string folder, IReadOnlyList<string> families, IReadOnlyList<string> remedies)
    {
        var known = new[] { "merge", "network", "cross-modal", "late" };
        var unknown = families.FirstOrDefault(f => !known.Contains(f));
        if (unknown != null) throw new ArgumentException($"Unknown family '{unknown}' for the balance benchmark." + Environment.NewLine + $"Hint: use {string.Join(", ", known)}.");
        var ml = new MLContext(seed: 1);
        var ds = MultimodalDataset.AvDigits(folder);
        var (train, test, _) = ds.Featurize(ml);
        train.Preview(1);
        var groups = SamplingKeyGroups.Read(train, ds.GroupColumn!);
        var neural = new (string family, Func<FusionTrainerOptions> options, Func<MLContext, FusionTrainerOptions, IEstimator<ITransformer>> trainer)[]
        {
            ("merge", () => new MergeFusionOptions { Modalities = ds.Modalities(), Operation = MergeOperation.Attention, Epochs = Candidates.Epochs },
                (c, o) => c.MulticlassClassification.Trainers.MergeFusion((MergeFusionOptions)o)),
            ("network", () => new NetworkFusionOptions { Modalities = ds.Modalities(), Epochs = Candidates.Epochs },
                (c, o) => c.MulticlassClassification.Trainers.NetworkFusion((NetworkFusionOptions)o)),
            ("cross-modal", () => new CrossModalFusionOptions { Modalities = ds.Modalities(), Depth = 1, Epochs = Candidates.Epochs },
                (c, o) => c.MulticlassClassification.Trainers.CrossModalFusion((CrossModalFusionOptions)o)),
        };
        foreach (var (family, options, trainer) in neural)
        {
            if (families.Count > 0 && !families.Contains(family)) continue;
            foreach (var remedy in Remedies.Where(r => remedies.Count == 0 || remedies.Any(n => r.Name.StartsWith(n, StringComparison.OrdinalIgnoreCase))))
                Score(ml, ds, train, test, groups, family, remedy.Name, () => { var o = options(); remedy.Apply(o); return trainer(ml, o); });
        }
        if (families.Count > 0 && !families.Contains("late")) return;
        foreach (var combiner in new[] { LateFusionCombiner.Average, LateFusionCombiner.ProductOfExperts })
            foreach (var calibration in new[] { MemberCalibration.None, MemberCalibration.Temperature })
                Score(ml, ds, train, test, groups, "late " + combiner, calibration == MemberCalibration.None ? "defaults" : "temperature-scaled members", () =>
                    ml.MulticlassClassification.Trainers.LateFusion(new LateFusionOptions
                    {
                        Members = ds.Modalities().Select(m => new LateFusionMember(m.Name, m.FeaturesColumn,
                            ml.Transforms.NormalizeMinMax("__n." + m.Name, m.FeaturesColumn).Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(ds.LabelColumn, "__n." + m.Name)))).ToList(),
                        Combiner = combiner, MemberCalibration = calibration, NumberOfFolds = 3, SamplingKeyColumnName = ds.GroupColumn, Seed = 1,
                    }));
    }

    private static void Score(MLContext ml, MultimodalDataset ds, IDataView train, IDataView test, SamplingKeyGroups groups, string family, string remedy,
        Func<IEstimator<ITransformer>> build)
    {
        var sw = Stopwatch.StartNew();
        var perGroup = new Dictionary<string, double>();
        string? temperatures = null;
        foreach (var (group, foldTrain, foldTest) in groups.LeaveOneGroupOut(train))
        {
            var model = build().Fit(ml.Data.Cache(foldTrain));
            try
            {
                perGroup[group] = ml.MulticlassClassification.Evaluate(model.Transform(foldTest), ds.LabelColumn).MicroAccuracy;
                if (model is LateFusionTransformer { Calibration: { } c })
                    temperatures = string.Join("; ", c.Select(x => $"{x.Member} T={x.Temperature:F2} ECE {x.EceBefore:F3}->{x.EceAfter:F3}"));
            }
            finally { (model as IDisposable)?.Dispose(); }
        }
        var full = build().Fit(train);
        double testAccuracy;
        try { testAccuracy = ml.MulticlassClassification.Evaluate(full.Transform(test), ds.LabelColumn).MicroAccuracy; }
        finally { (full as IDisposable)?.Dispose(); }
        Emit(new
        {
            benchmark = "balanced_learning_leave_one_speaker_out", family, remedy, group_out_accuracy = Math.Round(perGroup.Values.Average(), 4),
            worst_group_accuracy = Math.Round(perGroup.Values.Min(), 4), test_accuracy = Math.Round(testAccuracy, 4),
            per_group = perGroup.ToDictionary(p => p.Key, p => Math.Round(p.Value, 4)), last_fold_calibration = temperatures,
            seconds = Math.Round(sw.Elapsed.TotalSeconds, 1),
        });
    }
}
