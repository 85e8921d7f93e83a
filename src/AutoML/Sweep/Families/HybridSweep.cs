using Microsoft.ML;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Hybrid;
using MLNetFusion.Trainers.Network;
using static MLNetFusion.AutoML.Sweep.SweepParameters;

namespace MLNetFusion.AutoML.Sweep.Families;

/// <summary>
/// Hybrid fusion: LightGBM on the trial's tabular modality, its out-of-fold probabilities fused with the trial's other
/// modalities by a network with the neural parameters. A trial whose modalities are not tabular plus another fails with
/// an error that says so; the sweep goes on.
/// </summary>
internal sealed class HybridSweep : FamilySweep
{
    public override FusionFamily Family => FusionFamily.Hybrid;

    public override IReadOnlyList<ISweepParameter> Parameters(IReadOnlyDictionary<string, object>? chosen) => SweepParameters.Neural;

    public override IEstimator<ITransformer> Build(TrialContext c, FusionTrialSettings s)
    {
        var modalities = c.ModalityOptionsOf(s);
        var tabular = modalities.FirstOrDefault(m => m.Kind == ModalityKind.Tabular);
        var others = modalities.Where(m => m.Kind != ModalityKind.Tabular).ToList();
        if (tabular == null || others.Count == 0)
            throw new ArgumentException($"Trial {s.TrialId}: hybrid fusion needs a tabular modality and another one, but the trial has {string.Join(", ", modalities.Select(m => $"{m.Name} ({m.Kind})"))}." +
                Environment.NewLine + "Hint: sweep hybrid fusion on data with tabular columns beside images, audio or text, or leave it out of FusionSearchSpace.Families.");
        return c.Ml.MulticlassClassification.Trainers.HybridFusion(new HybridFusionOptions
        {
            BoostedTrainer = c.Ml.MulticlassClassification.Trainers.LightGbm(c.LightGbm(tabular.FeaturesColumn, c.Seed)),
            BoostedFeatureColumnName = tabular.FeaturesColumn,
            BoostedName = tabular.Name + " (LightGBM)",
            Network = c.Neural(new NetworkFusionOptions
            {
                Modalities = others, FusionWidths = new[] { c.Value(s, Width) * 2 }, FusionDropout = c.Value(s, Dropout), SamplingKeyColumnName = c.SamplingKey,
            }, s, c.Seed),
        });
    }
}
