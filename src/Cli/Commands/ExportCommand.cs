using System.CommandLine;
using Microsoft.ML;
using MLNetFusion.Onnx;

namespace MLNetFusion.Cli.Commands;

/// <summary><c>mlnetfusion export --model m.zip --onnx m.onnx</c>: write a saved model as one ONNX graph with its preprocessing.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A file written by `fit` or mlContext.Model.SaveFusionModel.", Required = true };
        var onnx = new Option<string>("--onnx") { Description = "The ONNX file to write.", Required = true };
        var whole = new Option<bool>("--require-whole-chain") { Description = "Fail instead of leaving WAV/image decoding and text steps outside the graph." };
        var command = new Command("export", "Export a saved model to ONNX (opset 17) with the log-mel, standardisation and missing-modality rule inside the graph, for ONNX Runtime.")
        {
            model, onnx, whole,
        };
        command.SetAction(r =>
        {
            var path = r.GetValue(model)!;
            var ml = new MLContext(seed: 1);
            var loaded = ml.Model.LoadFusionModel(path, out var schema);
            try
            {
                if (schema == null) throw new InvalidOperationException($"'{path}' was saved without its input schema, which the export needs to type the graph's inputs." +
                    Environment.NewLine + "Hint: save the model with mlContext.Model.SaveFusionModel(model, data.Schema, path) (the `fit` command does).");
                var result = ml.Model.ExportFusionToOnnx(loaded, schema, r.GetValue(onnx)!, new FusionOnnxExportOptions { RequireWholeChain = r.GetValue(whole) });
                Console.WriteLine($"Wrote {r.GetValue(onnx)} ({result.Bytes / 1024.0 / 1024.0:F2} MB, ONNX opset {result.Opset}).");
                Console.WriteLine("In the graph:      " + string.Join(" -> ", result.InGraph));
                Console.WriteLine("Outside the graph: " + (result.OutsideGraphSteps.Count == 0 ? "nothing" :
                    string.Join(", ", result.OutsideGraphNames) + " (apply them to raw rows to get the graph's inputs)"));
                Console.WriteLine("Inputs:  " + string.Join(", ", result.Inputs.Select(i => $"{i.Name} [batch, {i.Size}] {i.Type.ToString().ToLowerInvariant()}")));
                Console.WriteLine("Outputs: " + string.Join(", ", result.Outputs.Select(o => $"{o.Name} [batch, {o.Size}] {o.Type.ToString().ToLowerInvariant()}")));
            }
            finally { (loaded as IDisposable)?.Dispose(); }
            return 0;
        });
        return command;
    }
}
