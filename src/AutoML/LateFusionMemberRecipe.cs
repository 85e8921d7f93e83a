using Microsoft.ML;
using MLNetFusion.AutoML.Leaderboard;
using MLNetFusion.AutoML.Sweep;
using MLNetFusion.Models;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Network;

namespace MLNetFusion.AutoML;

/// <summary>
/// The one definition of late fusion's members, one per modality, used by the leaderboard, the sweep and
/// <c>MultimodalDataset.LateFusionMembers</c>: MLNetFusion's single-modality network where the modality's kind asks for
/// it (images, spectrograms) or <see cref="LateFusionMemberKind.Neural"/> is chosen; LightGBM on its dense features
/// (<see cref="LightGbmDefaults"/>) for <see cref="LateFusionMemberKind.LightGbm"/>; otherwise L-BFGS maximum entropy
/// (<see cref="LinearDefaults"/>) on its features (tabular columns, a text's n-grams, with pretrained embeddings when given).
/// </summary>
public static class LateFusionMemberRecipe
{
    /// <summary>The members of <paramref name="modalities"/>, in order.</summary>
    /// <param name="ml">The context.</param>
    /// <param name="label">The key label column.</param>
    /// <param name="modalities">The modalities (each member gets a copy of its own).</param>
    /// <param name="neural">The options of a neural member, given a copy of its modality and its index (epochs, seed, progress, label).</param>
    /// <param name="kind">Which learner each member is. Default <see cref="LateFusionMemberKind.Mixed"/>: as the modality's kind declares.</param>
    /// <param name="linearFeatureColumns">Per modality, the column a linear member reads instead of its features (its pretrained embeddings beside them), or <c>null</c>.</param>
    /// <param name="seed">LightGBM's seed of the first member (the next get the following seeds).</param>
    public static List<LateFusionMember> Create(MLContext ml, string label, IReadOnlyList<ModalityOptions> modalities, Func<ModalityOptions, int, NetworkFusionOptions> neural,
        LateFusionMemberKind kind = LateFusionMemberKind.Mixed, IReadOnlyList<string>? linearFeatureColumns = null, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(ml);
        ArgumentNullException.ThrowIfNull(modalities);
        ArgumentNullException.ThrowIfNull(neural);
        if (linearFeatureColumns != null && linearFeatureColumns.Count != modalities.Count)
            throw new ArgumentException($"{linearFeatureColumns.Count} linear feature columns for {modalities.Count} modalities." + Environment.NewLine + "Hint: give one column per modality, in order.", nameof(linearFeatureColumns));
        var t = ml.MulticlassClassification.Trainers;
        return modalities.Select((m, i) =>
        {
            bool isNeural = kind == LateFusionMemberKind.Neural || (kind == LateFusionMemberKind.Mixed && ModalityRegistry.Get(m.Kind).NeuralLateFusionMember);
            if (isNeural)
            {
                var options = neural(m.Clone(), i);
                options.LabelColumnName = label;
                return new LateFusionMember(m.Name, m.ColumnName, t.NetworkFusion(options));
            }
            if (kind == LateFusionMemberKind.LightGbm)
                return new LateFusionMember(m.Name, m.DenseFeaturesColumn, t.LightGbm(LightGbmDefaults.Options(label, m.DenseFeaturesColumn, seed + i)));
            string features = linearFeatureColumns?[i] ?? m.FeaturesColumn;
            return new LateFusionMember(m.Name, features, t.LbfgsMaximumEntropy(LinearDefaults.Options(label, features)));
        }).ToList();
    }
}
