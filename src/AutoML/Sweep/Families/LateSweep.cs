using Microsoft.ML;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Network;
using MLNetFusion.Training;
using static MLNetFusion.AutoML.Sweep.SweepParameters;

namespace MLNetFusion.AutoML.Sweep.Families;

/// <summary>Late fusion: the combiner and the member kind (neural members add learning rate and epochs).</summary>
internal sealed class LateSweep : FamilySweep
{
    public override FusionFamily Family => FusionFamily.Late;

    public override IReadOnlyList<ISweepParameter> Parameters(IReadOnlyDictionary<string, object>? chosen)
        => LateMembers.TryGet(chosen, out var kind) && kind is LateFusionMemberKind.Neural or LateFusionMemberKind.Mixed
            ? new ISweepParameter[] { LateCombiner, LateMembers, LearningRate, Epochs }
            : new ISweepParameter[] { LateCombiner, LateMembers };

    public override IEstimator<ITransformer> Build(CandidateContext c, FusionTrialSettings s)
    {
        var tracker = c.Progress == null ? null : new LateProgress(c.Progress, c.EpochFinished);
        var members = LateFusionMemberRecipe.Create(c.ML, c.Label, c.ModalitiesOf(s).ToList(),
            (m, i) => c.Neural(new NetworkFusionOptions { Modalities = new() { m } }, s, seedOffset: i, multimodal: false, progress: tracker == null ? null : tracker.Epoch),
            c.Value(s, LateMembers, LateFusionMemberKind.Mixed), c.PretrainedFeatureColumns == null ? null : c.ModalitiesOf(s).Select(m => c.FeatureColumnOf(m, dense: false, pretrained: true)).ToList(),
            seed: c.Seed ?? 1);
        var options = new LateFusionOptions
        {
            Members = members, LabelColumnName = c.Label, NumberOfFolds = c.LateFusionFolds, SamplingKeyColumnName = c.GroupColumnName,
            Progress = tracker == null ? null : tracker.Step,
            SharedFits = c.LateFusionFits,   // the leaderboard's combiners share one set of member fits and folds per training set
        };
        if (c.TryValue(s, LateCombiner, out var combiner)) options.Combiner = combiner;
        if (c.Seed is int seed) options.Seed = seed;
        return c.ML.MulticlassClassification.Trainers.LateFusion(options);
    }

    /// <summary>A late-fusion fit's progress: which member fit of how many, and the running member's epochs.</summary>
    private sealed class LateProgress(Action<double, string> report, Action<EpochReport>? epochFinished)
    {
        private LateFusionProgress _at = new(0, 1, "", null, TimeSpan.Zero);
        public void Step(LateFusionProgress p) { _at = p; Report(0, null); }
        public void Epoch(EpochReport r) { epochFinished?.Invoke(r); Report((double)r.Epoch / r.Epochs, $"epoch {r.Epoch}/{r.Epochs}"); }
        private void Report(double within, string? epoch)
        {
            var p = _at;
            string where = p.Step >= p.Steps ? "combining" : (p.Fold is int f ? $"fold {f}: " : "final: ") + $"member {p.Member} (fit {p.Step + 1}/{p.Steps})";
            report((p.Step + within) / Math.Max(1, p.Steps), epoch == null ? where : $"{where}, {epoch}");
        }
    }
}
