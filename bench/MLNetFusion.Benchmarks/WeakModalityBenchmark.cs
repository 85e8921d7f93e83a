using System.Diagnostics;
using Microsoft.ML;

using MLNetFusion.Datasets;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.CrossModal;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Trainers.Network;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary>
/// <c>bench --only weak</c>: a fusion must not end below its best single modality. On the generated
/// <see cref="WeakModalityDataset"/> (400 training rows; tabular columns that carry the label, 64 × 64 images that are
/// nearly noise), every candidate of the main job and each single modality, over several generated copies (dataset seeds),
/// scored on 1,000 test rows.
/// </summary>
internal static class WeakModalityBenchmark
{
    /// <param name="copies">Generated copies (dataset seeds 7, 8, …).</param>
    /// <param name="remediesOnly">Train the single modalities and the per-modality learning-rate remedy only.</param>
    public static void Run(int copies, bool remediesOnly = false)
    {
        var results = new Dictionary<string, List<double>>();
        for (int copy = 0; copy < copies; copy++)
        {
            int seed = 7 + copy;
            string folder = WeakModalityDataset.EnsureGenerated(Path.Combine(Path.GetTempPath(), "mlnetfusion-weak", $"seed{seed}"), seed);
            var ds = MultimodalDataset.FromCsv(Path.Combine(folder, "train.csv"), Path.Combine(folder, "test.csv"), "Label");
            var ml = new MLContext(seed: 1);
            var (train, test, _) = ds.Featurize(ml);
            train.Preview(1);
            var candidates = Candidates.All(ds).ToList();
            foreach (var m in ds.Modalities())
                candidates.Add(new Candidate(null, $"{m.Name} only (same encoder)", (c, d, p) => c.MulticlassClassification.Trainers.NetworkFusion(
                    new NetworkFusionOptions { Modalities = new() { m.Clone() }, Epochs = Candidates.Epochs, Progress = Candidates.EpochProgress(p) })));
            // The remedies: a validation hold-out, so that modality selection (on by default) can switch off a modality that
            // does not help, and temperature-scaled late-fusion members.
            candidates.Add(new Candidate(FusionFamily.Merge, "attention, 20% validation (modality selection)", (c, d, p) => c.MulticlassClassification.Trainers.MergeFusion(
                new MergeFusionOptions { Modalities = d.Modalities(), Operation = MergeOperation.Attention, Epochs = Candidates.Epochs, ValidationFraction = 0.2, Progress = Candidates.EpochProgress(p) })));
            candidates.Add(new Candidate(FusionFamily.Network, "20% validation (modality selection)", (c, d, p) => c.MulticlassClassification.Trainers.NetworkFusion(
                new NetworkFusionOptions { Modalities = d.Modalities(), Epochs = Candidates.Epochs, ValidationFraction = 0.2, Progress = Candidates.EpochProgress(p) })));
            candidates.Add(new Candidate(FusionFamily.CrossModal, "one exchange, 20% validation (modality selection)", (c, d, p) => c.MulticlassClassification.Trainers.CrossModalFusion(
                new CrossModalFusionOptions { Modalities = d.Modalities(), Depth = 1, Epochs = Candidates.Epochs, ValidationFraction = 0.2, Progress = Candidates.EpochProgress(p) })));
            // Per-modality learning rates: the image encoder at a tenth of the trainer's rate, so it cannot overfit its noise first.
            List<MLNetFusion.Models.ModalityOptions> SlowImage(MultimodalDataset d)
            {
                var mods = d.Modalities();
                foreach (var m in mods.Where(m => m.Kind == MLNetFusion.Models.ModalityKind.Image)) m.LearningRateMultiplier = 0.1;
                return mods;
            }
            candidates.Add(new Candidate(FusionFamily.Merge, "attention, image learning rate x0.1", (c, d, p) => c.MulticlassClassification.Trainers.MergeFusion(
                new MergeFusionOptions { Modalities = SlowImage(d), Operation = MergeOperation.Attention, Epochs = Candidates.Epochs, Progress = Candidates.EpochProgress(p) })));
            candidates.Add(new Candidate(FusionFamily.Network, "image learning rate x0.1", (c, d, p) => c.MulticlassClassification.Trainers.NetworkFusion(
                new NetworkFusionOptions { Modalities = SlowImage(d), Epochs = Candidates.Epochs, Progress = Candidates.EpochProgress(p) })));
            candidates.Add(new Candidate(FusionFamily.CrossModal, "one exchange, image learning rate x0.1", (c, d, p) => c.MulticlassClassification.Trainers.CrossModalFusion(
                new CrossModalFusionOptions { Modalities = SlowImage(d), Depth = 1, Epochs = Candidates.Epochs, Progress = Candidates.EpochProgress(p) })));
            foreach (var combiner in new[] { LateFusionCombiner.Average, LateFusionCombiner.ProductOfExperts })
                candidates.Add(new Candidate(FusionFamily.Late, $"{combiner}, temperature-scaled members", (c, d, _) => c.MulticlassClassification.Trainers.LateFusion(
                    new LateFusionOptions { Members = d.LateFusionMembers(c, Candidates.Epochs), Combiner = combiner, NumberOfFolds = 3, MemberCalibration = MemberCalibration.Temperature })));
            var tabular = ds.Modalities().First(m => m.Kind == MLNetFusion.Models.ModalityKind.Tabular);
            candidates.Add(new Candidate(null, $"{tabular.Name} only (L-BFGS)", (c, d, _) =>
                c.Transforms.NormalizeMinMax("__n", tabular.ColumnName).Append(c.MulticlassClassification.Trainers.LbfgsMaximumEntropy(d.LabelColumn, "__n"))));
            foreach (var c in candidates)
            {
                if (remediesOnly && !c.Name.Contains("learning rate") && c.Family != null) continue;
                var sw = Stopwatch.StartNew();
                var entry = CandidateRunner.Run(ml, ds, c, train, test);
                string key = $"{c.FamilyName}: {c.Name}";
                (results.TryGetValue(key, out var list) ? list : results[key] = new()).Add(entry.Accuracy);
                Emit(new { benchmark = "weak_modality", dataset_seed = seed, family = c.FamilyName, configuration = c.Name, test_accuracy = Math.Round(entry.Accuracy, 4),
                    log_loss = Math.Round(entry.LogLoss, 4), seconds = Math.Round(sw.Elapsed.TotalSeconds, 1) });
            }
        }
        double bestSingle = results.Where(r => r.Key.StartsWith("single:")).Max(r => r.Value.Average());
        foreach (var (key, accs) in results.OrderByDescending(r => r.Value.Average()))
            Emit(new { benchmark = "weak_modality_summary", candidate = key, mean_test_accuracy = Math.Round(accs.Average(), 4), copies = accs.Count,
                versus_best_single = Math.Round(accs.Average() - bestSingle, 4) });
    }
}
