using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Samples.Pipelines;
using MLNetFusion.Trainers.Sweep;
using MLNetFusion.Training;

namespace MLNetFusion.Samples.Leaderboard;

/// <summary>One leaderboard row.</summary>
public sealed record LeaderboardEntry(string Family, string Name, double Accuracy, double MacroF1, double LogLoss, TimeSpan TrainingTime);

/// <summary>Trains candidates on featurized data and evaluates them on the test split.</summary>
public static class LeaderboardRunner
{
    /// <summary>Trains and evaluates one candidate.</summary>
    public static LeaderboardEntry Run(MLContext ml, MultimodalDataset ds, Candidate c, IDataView train, IDataView test, Action<EpochReport>? progress = null)
    {
        var sw = Stopwatch.StartNew();
        var model = c.Build(ml, ds, progress).Fit(train);
        sw.Stop();
        try
        {
            var m = ml.MulticlassClassification.Evaluate(model.Transform(test), ds.LabelColumn);
            return new LeaderboardEntry(c.Family, c.Name, m.MicroAccuracy, FusionMetrics.MacroF1(m), m.LogLoss, sw.Elapsed);
        }
        finally
        {
            (model as IDisposable)?.Dispose(); // a TransformerChain disposes its links
        }
    }
}
