using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>A saved model loaded and served by another process predicts exactly what the training process predicts.</summary>
public class SeparateProcessTests
{
    [Fact]
    public async Task ASecondProcessLoadsTheFileAndPredictsTheSame()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(ToyRow.Make(200, 1));
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.Concatenate("Features", "Image", "Tab"))
            .Append(FusionTrainerTests.Make(ml, "merge-gated", epochs: 3))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedValue", "PredictedLabel"))
            .Fit(train);
        var folder = TestData.TempFolder("second-process");
        var modelPath = Path.Combine(folder, "model.zip");
        ml.Model.SaveFusionModel(model, train.Schema, modelPath);

        // Input CSV: the saved schema's columns, vectors slot by slot.
        var rows = ToyRow.Make(40, 9);
        var input = Path.Combine(folder, "rows.csv");
        var inv = CultureInfo.InvariantCulture;
        File.WriteAllLines(input, new[] { string.Join(",", new[] { "Label" }.Concat(Enumerable.Range(0, 64).Select(i => $"Image.{i}")).Concat(Enumerable.Range(0, 4).Select(i => $"Tab.{i}"))) }
            .Concat(rows.Select(r => string.Join(",", new[] { r.Label.ToString(inv) }.Concat(r.Image.Concat(r.Tab).Select(v => v.ToString("R", inv)))))));

        var output = Path.Combine(folder, "predictions.csv");
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "exec", Path.Combine(AppContext.BaseDirectory, "mlnetfusion.dll"), "predict", "--model", modelPath, "--input", input,
            "--output", output, "--columns", "PredictedValue", "Score" }) psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi)!)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await p.WaitForExitAsync(timeout.Token);
            Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {await stdout} {await stderr}");
        }

        var expected = ml.Model.CreatePredictionEngine<ToyRow, Prediction>(model);
        var lines = File.ReadAllLines(output);
        Assert.Equal("PredictedValue," + string.Join(",", Enumerable.Range(0, 4).Select(i => $"Score.{i}")), lines[0]);
        Assert.Equal(rows.Count + 1, lines.Length);
        for (int i = 0; i < rows.Count; i++)
        {
            var fields = lines[i + 1].Split(',');
            var q = expected.Predict(rows[i]);
            Assert.Equal(q.PredictedValue.ToString(inv), fields[0]);
            for (int k = 0; k < q.Score.Length; k++)
                Assert.True(Math.Abs(float.Parse(fields[k + 1], inv) - q.Score[k]) <= 1e-6, $"row {i} class {k}: {fields[k + 1]} vs {q.Score[k]}");
        }
        ((IDisposable)((IEnumerable<ITransformer>)model).ElementAt(2)).Dispose();
    }

    public sealed class Prediction
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public uint PredictedValue { get; set; }
    }
}
