using System.CommandLine;
using MLNetFusion.Serving;

namespace MLNetFusion.Cli.Commands;

/// <summary><c>mlnetfusion predict --model m.zip --input rows.csv --output p.csv</c>: serve a saved model in this process.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A file written by mlContext.Model.SaveFusionModel.", Required = true };
        var input = new Option<string>("--input") { Description = "CSV with a header holding the model's input columns.", Required = true };
        var output = new Option<string>("--output") { Description = "Where to write the predictions (CSV).", Required = true };
        var columns = new Option<string[]>("--columns") { Description = "Output columns to write.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => new[] { "PredictedLabel", "Score" } };
        var engine = new Option<string>("--engine")
        {
            Description = "auto (default): each network runs with ONNX Runtime where its export covers it, else TorchSharp; torch: TorchSharp only; " +
                "onnx: the whole model's graph (featurization too) runs with ONNX Runtime. The same columns either way.",
            DefaultValueFactory = _ => "auto",
        };
        engine.AcceptOnlyFromAmong("auto", "torch", "onnx");
        var command = new Command("predict", "Load a saved fusion model in this process and predict a CSV (serving).") { model, input, output, columns, engine };
        command.SetAction(r =>
        {
            using var scope = r.GetValue(engine) == "torch" ? MLNetFusion.Trainers.FusionServing.Use(MLNetFusion.Trainers.FusionServingEngine.TorchSharp) : null;
            int rows = ModelServer.Predict(r.GetValue(model)!, r.GetValue(input)!, r.GetValue(output)!, r.GetValue(columns)!, r.GetValue(engine) == "onnx");
            Console.WriteLine($"Wrote {rows} predictions to {r.GetValue(output)}.");
            return 0;
        });
        return command;
    }
}
