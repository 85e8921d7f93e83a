using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
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
        // One probability column per class, named by the class value in slot order (the key's order here: first appearance).
        VBuffer<ReadOnlyMemory<char>> slots = default;
        model.GetOutputSchema(train.Schema)["Score"].GetSlotNames(ref slots);
        Assert.Equal("PredictedValue," + string.Join(",", slots.DenseValues().Select(n => $"Score.{n}")), lines[0]);
        Assert.NotEqual("PredictedValue," + string.Join(",", Enumerable.Range(0, 4).Select(i => $"Score.{i}")), lines[0]);   // the slot order is not the value order
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

/// <summary>Serving errors a person can act on: CSV line numbers, quoted bad text, and no partial output.</summary>
public class ServingErrorTests
{
    [Fact]
    public void BadRowsNameTheirCsvLineAndLeaveTheOutputUntouched()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(ToyRow.Make(100, 1));
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(FusionTrainerTests.Make(ml, "network", epochs: 1)).Fit(train);
        var folder = TestData.TempFolder("serving-errors");
        var modelPath = Path.Combine(folder, "model.zip");
        ml.Model.SaveFusionModel(model, train.Schema, modelPath);
        ((IDisposable)((IEnumerable<ITransformer>)model).Last()).Dispose();

        var inv = CultureInfo.InvariantCulture;
        var header = string.Join(",", new[] { "Label" }.Concat(Enumerable.Range(0, 64).Select(i => $"Image.{i}")).Concat(Enumerable.Range(0, 4).Select(i => $"Tab.{i}")));
        List<string[]> Rows() => ToyRow.Make(8, 9).Select(r => new[] { r.Label.ToString(inv) }.Concat(r.Image.Concat(r.Tab).Select(v => v.ToString("R", inv))).ToArray()).ToList();
        string Write(string name, List<string[]> rows)
        {
            var path = Path.Combine(folder, name);
            File.WriteAllLines(path, rows.Select(f => string.Join(",", f)).Prepend(header));
            return path;
        }
        var output = Path.Combine(folder, "predictions.csv");
        File.WriteAllText(output, "earlier predictions\n");

        var text = Rows();
        text[2][1 + 64 + 2] = "abc";                       // data row 2 is CSV line 4; Tab.2
        var input = Write("text.csv", text);
        var e = Assert.Throws<InvalidDataException>(() => MLNetFusion.Serving.ModelServer.Predict(modelPath, input, output, new[] { "PredictedLabel" }));
        Assert.StartsWith($"'{input}' line 4, column 'Tab.2': \"abc\" is not a number.", e.Message);

        var partial = Rows();
        partial[5][1 + 3] = "";                            // an empty field in a present image: partly NaN, CSV line 7
        input = Write("partial.csv", partial);
        e = Assert.Throws<InvalidDataException>(() => MLNetFusion.Serving.ModelServer.Predict(modelPath, input, output, new[] { "PredictedLabel" }));
        Assert.StartsWith($"'{input}' line 7: column 'Image' has 1 NaN values out of 64.", e.Message);
        Assert.Equal("earlier predictions\n", File.ReadAllText(output));   // all or nothing
        Assert.False(File.Exists(output + ".partial"));

        Assert.Equal(8, MLNetFusion.Serving.ModelServer.Predict(modelPath, Write("good.csv", Rows()), output, new[] { "PredictedLabel" }));
        Assert.Equal(9, File.ReadAllLines(output).Length);
    }
}
