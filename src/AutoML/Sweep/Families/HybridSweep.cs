using Microsoft.ML;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Hybrid;

namespace MLNetFusion.AutoML.Sweep.Families;

/// <summary>
/// Hybrid fusion: LightGBM on the candidate's tabular modality, its out-of-fold probabilities fused with the other
/// modalities by a network (network fusion's parameters). A candidate whose modalities are not tabular plus another
/// fails with an error that says so; the sweep goes on.
/// </summary>
internal sealed class HybridSweep : FamilySweep
{
    public override FusionFamily Family => FusionFamily.Hybrid;

    public override IReadOnlyList<ISweepParameter> Parameters(IReadOnlyDictionary<string, object>? chosen) => SweepParameters.Neural;

    public override IEstimator<ITransformer> Build(CandidateContext c, FusionTrialSettings s)
    {
        var modalities = c.ModalitiesOf(s);
        var tabular = modalities.FirstOrDefault(m => m.Kind == ModalityKind.Tabular);
        var others = modalities.Where(m => m.Kind != ModalityKind.Tabular).Select(m => m.Clone()).ToList();
        if (tabular == null || others.Count == 0)
            throw new ArgumentException($"Trial {s.TrialId}: hybrid fusion needs a tabular modality and another one, but the trial has {string.Join(", ", modalities.Select(m => $"{m.Name} ({m.Kind})"))}." +
                Environment.NewLine + "Hint: sweep hybrid fusion on data with tabular columns beside images, audio or text, or leave it out of FusionSearchSpace.Families.");
        var network = NetworkSweep.Options(c, s, others);
        network.SamplingKeyColumnName = c.GroupColumnName;
        return c.ML.MulticlassClassification.Trainers.HybridFusion(new HybridFusionOptions
        {
            BoostedTrainer = c.ML.MulticlassClassification.Trainers.LightGbm(c.LightGbm(tabular.FeaturesColumn)),
            BoostedFeatureColumnName = tabular.FeaturesColumn,
            BoostedName = tabular.Name + " (LightGBM)",
            Network = c.Neural(network, s),
        });
    }
}
