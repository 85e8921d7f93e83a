using Microsoft.ML;
using MLNetFusion.Samples.Data;
using MLNetFusion.Samples.Leaderboard;
using MLNetFusion.Samples.Pipelines;
using MLNetFusion.Trainers.CrossModal;
var ml = new MLContext(seed: 1);
ml.Log += (s, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Info && e.Source.StartsWith("MLNetFusion")) Console.WriteLine(e.Message); };
var folder = SyntheticMultimodalDataset.EnsureGenerated(Path.Combine(Path.GetTempPath(), "mlnf-synth"));
var ds = args.Length > 0 ? MultimodalDataset.AvDigits(args[0]) : MultimodalDataset.Synthetic(folder);
var (train, test, _) = ds.Featurize(ml);
foreach (var (depth, aux, lr) in new[]{ (1, 0.5, 2e-3), (2, 0.5, 2e-3) }) {
var c = new Candidate("cross", $"d{depth} aux{aux} lr{lr}", (ml, d, p) => ml.MulticlassClassification.Trainers.CrossModalFusion(new CrossModalFusionOptions { Modalities = d.Modalities(), Depth = depth, AuxiliaryLossWeight = aux, LearningRate = lr, Epochs = 15 }));
var e = LeaderboardRunner.Run(ml, ds, c, train, test); Console.WriteLine($"{e.Family,-12} {e.Name,-45} acc {e.Accuracy:F3} f1 {e.MacroF1:F3} ll {e.LogLoss:F3} {e.TrainingTime.TotalSeconds:F1}s"); }
