using System.Diagnostics;
using Microsoft.ML;

using MLNetFusion.Data;
using MLNetFusion.Datasets;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Trainers.Network;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

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
        new("per-clip normalisation", PerClip),
        new("20% validation (modality selection)", o => o.ValidationFraction = 0.2),
        new("image learning rate x0.1", o => { foreach (var m in o.Modalities.Where(m => m.Kind == ModalityKind.Image)) m.LearningRateMultiplier = 0.1; }),
        new("audio augmentation 1", o => Audio(o, a => ModalityAugmentation.Spectrogram(1))),
        new("modality dropout 0.5", o => o.ModalityDropout = 0.5),
        new("auxiliary weight 1", o => o.AuxiliaryLossWeight = 1),
        new("audio augmentation 0.5", o => Audio(o, a => ModalityAugmentation.Spectrogram(0.5))),
        new("speaker perturbation 1", o => Audio(o, a => WithSpeakerPerturbation(a, ModalityAugmentation.Speaker(1)))),
        new("speaker perturbation 2", o => Audio(o, a => WithSpeakerPerturbation(a, ModalityAugmentation.Speaker(2)))),
        new("25 epochs", o => o.Epochs = 25),
        new("modality heads 1", o => o.ModalityHeadWeight = 1),
        new("modality heads 0.5", o => o.ModalityHeadWeight = 0.5),
        new("all three", o => { o.BalancedLearningAlpha = 0.5; o.AugmentationStrength = 1; PerClip(o); }),
    };

    // Per-clip normalisation (CMVN) in every audio modality's CNN encoder.
    private static void PerClip(FusionTrainerOptions o)
    {
        foreach (var m in o.Modalities.Where(m => m.Kind == ModalityKind.Audio)) m.EncoderOptionsAs<CnnEncoderOptions>().PerClipNormalization = true;
    }

    // Sets every audio modality's augmentation from its current one (null when none).
    private static void Audio(FusionTrainerOptions o, Func<ModalityAugmentation?, ModalityAugmentation> set)
    {
        foreach (var m in o.Modalities.Where(m => m.Kind == ModalityKind.Audio)) m.Augmentation = set(m.Augmentation);
    }

    // Adds the speaker-perturbation settings of `warp` to `a` (or takes `warp` alone).
    private static ModalityAugmentation WithSpeakerPerturbation(ModalityAugmentation? a, ModalityAugmentation warp)
    {
        var result = a?.Clone() ?? new ModalityAugmentation();
        result.FrequencyWarp = warp.FrequencyWarp;
        result.TimeStretch = warp.TimeStretch;
        return result;
    }

    public static void Run(string folder, IReadOnlyList<string> families, IReadOnlyList<string> remedies, IReadOnlyList<int> seeds)
    {
        if (seeds.Count == 0) seeds = new[] { 1 };
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
            foreach (var remedy in Selected(remedies))
                Score(ml, ds, train, test, groups, family, remedy.Name, seed => { var o = options(); remedy.Apply(o); o.Seed = seed; return trainer(ml, o); }, seeds.Cast<int?>().ToList());
        }
        if (families.Count > 0 && !families.Contains("late")) return;
        foreach (var combiner in new[] { LateFusionCombiner.Average, LateFusionCombiner.ProductOfExperts })
            foreach (var calibration in new[] { MemberCalibration.None, MemberCalibration.Temperature })
                Score(ml, ds, train, test, groups, "late " + combiner, calibration == MemberCalibration.None ? "defaults" : "temperature-scaled members", _ =>
                    ml.MulticlassClassification.Trainers.LateFusion(new LateFusionOptions
                    {
                        Members = ds.Modalities().Select(m => new LateFusionMember(m.Name, m.FeaturesColumn,
                            ml.Transforms.NormalizeMinMax("__n." + m.Name, m.FeaturesColumn).Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(ds.LabelColumn, "__n." + m.Name)))).ToList(),
                        Combiner = combiner, MemberCalibration = calibration, NumberOfFolds = 3, SamplingKeyColumnName = ds.GroupColumn, Seed = 1,
                    }), new int?[] { null });
    }

    /// <summary>The remedies named (by the start of their name; "a+b" applies a and b together), or all of them.</summary>
    private static IEnumerable<Remedy> Selected(IReadOnlyList<string> names)
    {
        if (names.Count == 0) return Remedies;
        return names.SelectMany<string, Remedy>(spec =>
        {
            var parts = spec.Split('+', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(n => Remedies.Where(r => r.Name.StartsWith(n, StringComparison.OrdinalIgnoreCase)).ToList()).ToList();
            var missing = parts.FindIndex(p => p.Count == 0);
            if (missing >= 0)
                throw new ArgumentException($"No remedy starts with '{spec.Split('+')[missing].Trim()}'." + Environment.NewLine + $"Hint: use one of: {string.Join(", ", Remedies.Select(r => r.Name))}.");
            if (parts.Count == 1) return parts[0];
            var chosen = parts.Select(p => p[0]).ToList();
            return new[] { new Remedy(string.Join(" + ", chosen.Select(r => r.Name)), o => { foreach (var r in chosen) r.Apply(o); }) };
        });
    }

    /// <summary>Modality-head weights every multimodal network is also scored at (training is the same, so they are paired).</summary>
    private static readonly double[] HeadWeights = { 0, 0.5, 1 };

    private static void Score(MLContext ml, MultimodalDataset ds, IDataView train, IDataView test, SamplingKeyGroups groups, string family, string remedy,
        Func<int?, IEstimator<ITransformer>> build, IReadOnlyList<int?> seeds)
    {
        var sw = Stopwatch.StartNew();
        // Accuracy per (head weight, or NaN for the model as trained) and per seed: held-out groups, and the test split.
        var perGroup = new Dictionary<double, Dictionary<string, List<double>>>();
        var testAccuracy = new Dictionary<double, List<double>>();
        string? temperatures = null;
        void Add<T>(Dictionary<double, T> d, double w, Action<T> add) where T : new()
        {
            if (!d.TryGetValue(w, out var v)) d[w] = v = new T();
            add(v);
        }
        // Scores the model as trained (key NaN) and, for a network with modality heads, at each of HeadWeights.
        void Evaluate(ITransformer model, IDataView data, Action<double, double> record)
        {
            double asTrained = ml.MulticlassClassification.Evaluate(model.Transform(data), ds.LabelColumn).MicroAccuracy;
            record(double.NaN, asTrained);
            if (model is not FusionPredictionTransformer { Network: { HasModalityHeads: true } network }) return;
            double trained = network.ModalityHeadWeight;
            foreach (var w in HeadWeights)
            {
                network.ModalityHeadWeight = w;
                // The trained weight was just scored: reuse it rather than transform the data again.
                record(w, w == trained ? asTrained : ml.MulticlassClassification.Evaluate(model.Transform(data), ds.LabelColumn).MicroAccuracy);
            }
            network.ModalityHeadWeight = trained;
        }
        foreach (var seed in seeds)
        {
            foreach (var (group, foldTrain, foldTest) in groups.LeaveOneGroupOut(train))
            {
                var model = build(seed).Fit(ml.Data.Cache(foldTrain));
                try
                {
                    Evaluate(model, foldTest, (w, a) => Add(perGroup, w, g => { if (!g.TryGetValue(group, out var l)) g[group] = l = new(); l.Add(a); }));
                    if (model is LateFusionTransformer { Calibration: { } c })
                        temperatures = string.Join("; ", c.Select(x => $"{x.Member} T={x.Temperature:F2} ECE {x.EceBefore:F3}->{x.EceAfter:F3}"));
                }
                finally { (model as IDisposable)?.Dispose(); }
            }
            var full = build(seed).Fit(train);
            try { Evaluate(full, test, (w, a) => Add(testAccuracy, w, l => l.Add(a))); }
            finally { (full as IDisposable)?.Dispose(); }
        }
        object Summary(double w) => new
        {
            group_out_accuracy = Math.Round(perGroup[w].Values.Average(l => l.Average()), 4),
            worst_group_accuracy = Math.Round(perGroup[w].Values.Min(l => l.Average()), 4),
            test_accuracy = Math.Round(testAccuracy[w].Average(), 4),
            group_out_accuracy_per_seed = Enumerable.Range(0, seeds.Count).Select(i => Math.Round(perGroup[w].Values.Average(l => l[i]), 4)).ToArray(),
            test_accuracy_per_seed = testAccuracy[w].Select(a => Math.Round(a, 4)).ToArray(),
            per_group = perGroup[w].ToDictionary(p => p.Key, p => Math.Round(p.Value.Average(), 4)),
        };
        Emit(new
        {
            benchmark = "balanced_learning_leave_one_speaker_out", family, remedy, seeds = seeds.Select(x => x?.ToString() ?? "estimator's").ToArray(),
            trained = Summary(double.NaN),
            by_modality_head_weight = HeadWeights.Where(perGroup.ContainsKey).ToDictionary(w => w.ToString(System.Globalization.CultureInfo.InvariantCulture), Summary),
            last_fold_calibration = temperatures, seconds = Math.Round(sw.Elapsed.TotalSeconds, 1),
        });
    }
}
