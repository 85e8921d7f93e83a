using System.Globalization;
using Microsoft.ML;

using MLNetFusion.Trainers;
namespace MLNetFusion.AutoML.Sweep;

/// <summary>One configuration to train: a family and its parameter values.</summary>
/// <param name="TrialId">0-based trial number.</param>
/// <param name="Family">The fusion family.</param>
/// <param name="Parameters">Parameter values by name (see <see cref="FusionSearchSpace"/>).</param>
public sealed record FusionTrialSettings(int TrialId, FusionFamily Family, IReadOnlyDictionary<string, object> Parameters)
{
    /// <summary>Epochs of the neural trainers, or 0 when the configuration trains none.</summary>
    public int Epochs => SweepParameters.Epochs.TryGet(Parameters, out var e) ? e : 0;

    /// <summary>
    /// The names of the modalities the trial uses (the <c>modalities</c> parameter), or <c>null</c> when the space does
    /// not search subsets (then every modality of the experiment is used).
    /// </summary>
    public IReadOnlyList<string>? Modalities => SweepParameters.Modalities.TryGet(Parameters, out var s) ? ModalitySubsetChoice.Parse(s) : null;

    /// <summary>A stable key of the family and parameters except epochs (the cost-aware tuner's identity of a configuration).</summary>
    public string ConfigurationKey => Family + "|" + string.Join(";", Parameters.Where(p => p.Key != SweepParameters.Epochs.Name).OrderBy(p => p.Key, StringComparer.Ordinal)
        .Select(p => p.Key + "=" + Convert.ToString(p.Value, CultureInfo.InvariantCulture)));

    /// <summary>A copy with another trial id and epochs.</summary>
    public FusionTrialSettings With(int trialId, int? epochs = null)
    {
        var p = new Dictionary<string, object>(Parameters);
        if (epochs is int e && p.ContainsKey(SweepParameters.Epochs.Name)) p[SweepParameters.Epochs.Name] = e;
        return new FusionTrialSettings(trialId, Family, p);
    }

    /// <summary>A copy whose neural trainers run <paramref name="epochs"/> (the leaderboard's epochs for all of its candidates; learners without epochs ignore it).</summary>
    public FusionTrialSettings WithEpochs(int epochs) => this with { Parameters = new Dictionary<string, object>(Parameters) { [SweepParameters.Epochs.Name] = epochs } };

    /// <inheritdoc />
    public override string ToString() => $"{Family.Name()}: " + string.Join(", ", Parameters.Select(p => p.Key + "=" + Format(p.Value)));

    private static string Format(object v) => v is double d ? d.ToString("G3", CultureInfo.InvariantCulture) : Convert.ToString(v, CultureInfo.InvariantCulture) ?? "";
}
