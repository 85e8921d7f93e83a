
using MLNetFusion.Data;
using MLNetFusion.Datasets;
using Microsoft.ML;
using System.Diagnostics;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary><c>bench --only late-logo</c>: late-fusion combiners by leave-one-speaker-out.</summary>
internal static class LateFusionShiftBenchmark
{
    /// <summary>
    /// Late fusion under shift (<c>bench --only late-logo --avdigits DIR [--late-members linear|cnn]</c>): every combiner
    /// scored by leave-one-speaker-out on avdigits' train.csv, with out-of-fold folds grouped by speaker, and each fitted
    /// model's weights or member temperatures. Target: weighted average and stacking at least as good as the plain average.
    /// </summary>
    public static void LateFusionUnderShift(string folder, string members, IReadOnlyList<string> combiners)
    {
        if (members is not ("linear" or "cnn"))
            throw new ArgumentException($"Unknown late-fusion members '{members}'." + Environment.NewLine + "Hint: use --late-members linear or cnn.");
        var unknown = combiners.FirstOrDefault(c => !Enum.TryParse<MLNetFusion.Trainers.LateFusion.LateFusionCombiner>(c, ignoreCase: true, out _));
        if (unknown != null)
            throw new ArgumentException($"Unknown combiner '{unknown}'." + Environment.NewLine +
                $"Hint: use one of {string.Join(", ", Enum.GetNames<MLNetFusion.Trainers.LateFusion.LateFusionCombiner>())}.");
        var ml = new MLContext(seed: 1);
        var ds = MultimodalDataset.AvDigits(folder);
        var (train, _, _) = ds.Featurize(ml);
        train.Preview(1);
        var groups = SamplingKeyGroups.Read(train, ds.GroupColumn!);
        foreach (var combiner in Enum.GetValues<MLNetFusion.Trainers.LateFusion.LateFusionCombiner>())
        {
            if (combiners.Count > 0 && !combiners.Contains(combiner.ToString(), StringComparer.OrdinalIgnoreCase)) continue;
            var sw = Stopwatch.StartNew();
            var perGroup = new Dictionary<string, double>();
            var details = new List<string>();
            foreach (var (group, foldTrain, foldTest) in groups.LeaveOneGroupOut(train))
            {
                var memberList = members == "cnn" ? ds.LateFusionMembers(ml, Candidates.Epochs)
                    : ds.Modalities().Select(m => new MLNetFusion.Trainers.LateFusion.LateFusionMember(m.Name, m.FeaturesColumn,
                        ml.Transforms.NormalizeMinMax("__n." + m.Name, m.FeaturesColumn).Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(ds.LabelColumn, "__n." + m.Name)))).ToList();
                using var model = ml.MulticlassClassification.Trainers.LateFusion(new MLNetFusion.Trainers.LateFusion.LateFusionOptions
                {
                    Members = memberList, Combiner = combiner, NumberOfFolds = 3, SamplingKeyColumnName = ds.GroupColumn, Seed = 1,
                }).Fit(ml.Data.Cache(foldTrain));
                perGroup[group] = ml.MulticlassClassification.Evaluate(model.Transform(foldTest), ds.LabelColumn).MicroAccuracy;
                if (model.Weights is { } w) details.Add($"{group}: weights {string.Join("/", w.Select(x => x.ToString("F2")))}");
            }
            Emit(new { benchmark = "late_fusion_leave_one_speaker_out", members, combiner = combiner.ToString(), group_out_accuracy = Math.Round(perGroup.Values.Average(), 4),
                worst_group_accuracy = Math.Round(perGroup.Values.Min(), 4), per_group = perGroup.ToDictionary(p => p.Key, p => Math.Round(p.Value, 4)), details,
                seconds = Math.Round(sw.Elapsed.TotalSeconds, 1) });
        }
    }
}
