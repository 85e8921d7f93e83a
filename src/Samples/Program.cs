using Microsoft.ML; using Microsoft.ML.Data; using MLNetFusion.Trainers; using MLNetFusion.Models;
var ml = new MLContext(seed: 1);
ml.Log += (s, e) => { if (e.Source.StartsWith("MLNetFusion") && e.Kind <= Microsoft.ML.Runtime.ChannelMessageKind.Info) Console.WriteLine(e.Message); };
var rnd = new Random(0);
var rows = Enumerable.Range(0, 2000).Select(i => { int y = rnd.Next(4); var img = new float[64]; for (int k = 0; k < 64; k++) img[k] = (float)rnd.NextDouble(); img[y*8+3] += 2; var tab = new float[5]; for (int k=0;k<5;k++) tab[k]=(float)rnd.NextDouble(); tab[y % 2] += 1; return new Row { Label = y, Img = img, Tab = tab }; }).ToList();
var data = ml.Data.LoadFromEnumerable(rows);
var pipe = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.Concatenate("Features", "Img", "Tab"));
var prepared = pipe.Fit(data).Transform(data);
var t = ml.MulticlassClassification.Trainers.FusionMlp(epochs: 5);
using var model = t.Fit(prepared);
var m = ml.MulticlassClassification.Evaluate(model.Transform(prepared));
Console.WriteLine($"MLP acc {m.MicroAccuracy:F3}");
foreach (var (n, p) in model.Network.named_parameters()) Console.WriteLine(n + " " + string.Join("x", p.shape));
var mods = new[] { new ModalityOptions { Name = "img", ColumnName = "Img", Encoder = EncoderKind.Cnn, Shape = new[] { 8, 8 } }, ModalityOptions.Tabular("Tab") };
foreach (var tr in new IEstimator<FusionPredictionTransformer>[] { ml.MulticlassClassification.Trainers.MergeFusion(mods, epochs: 5), ml.MulticlassClassification.Trainers.NetworkFusion(mods, epochs: 5), ml.MulticlassClassification.Trainers.CrossModalFusion(mods, depth: 2, epochs: 5) })
{ using var mm = tr.Fit(prepared); var e = ml.MulticlassClassification.Evaluate(mm.Transform(prepared)); Console.WriteLine($"{mm.Family} acc {e.MicroAccuracy:F3} params {mm.Network.parameters().Count()}"); }
class Row { public int Label; [VectorType(64)] public float[] Img = null!; [VectorType(5)] public float[] Tab = null!; }
