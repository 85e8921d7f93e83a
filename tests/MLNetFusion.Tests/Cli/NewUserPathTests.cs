using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Datasets;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// The path a new user walks through the command line on a CSV of their own whose columns are not named like avdigits:
/// label <c>digit</c>, group <c>speaker</c>, image <c>photo</c>, audio <c>clip</c>, a text column <c>note</c> (one with a
/// quoted comma), a categorical <c>mic</c> and a numeric <c>loudness</c> with empty cells, CRLF line endings.
/// </summary>
public class NewUserPathTests
{
    /// <summary>Writes train.csv, test.csv and new-rows.csv (no label, no group) from the generated dataset's files.</summary>
    internal static string WriteOwnCsv(int trainRows = 360, int testRows = 120)
    {
        var source = TestData.SyntheticFolder;
        var folder = TestData.TempFolder("own-csv");
        var lines = File.ReadAllLines(Path.Combine(source, "train.csv")).Skip(1).Concat(File.ReadAllLines(Path.Combine(source, "test.csv")).Skip(1)).ToList();
        var rows = lines.Take(trainRows + testRows).Select(l => MLNetFusion.AutoML.Inference.CsvSample.Split(l, ',')).ToList();
        string Row(string[] f, int i, bool labelled)
        {
            // Id,Label,ImagePath,AudioPath,Age,Income,Score1,Score2,Region,Site,Notes
            int digit = Array.IndexOf(SyntheticMultimodalDataset.ClassNames, f[1]);
            string photo = Path.Combine(source, f[2]), clip = Path.Combine(source, f[3]);
            string note = f[10].Length == 0 ? "" : i % 7 == 0 ? $"\"{f[10]}, see attached\"" : f[10];
            string mic = i % 11 == 0 ? "" : f[8];
            string loudness = i % 13 == 0 ? "" : f[6];
            var cells = new List<string> { photo, clip, note };
            if (labelled) cells.Add(digit.ToString(CultureInfo.InvariantCulture));
            if (labelled) cells.Add(f[9]);
            cells.Add(mic); cells.Add(loudness);
            return string.Join(",", cells);
        }
        void Write(string name, IEnumerable<string[]> part, int offset, bool labelled)
        {
            var sb = new StringBuilder(labelled ? "photo,clip,note,digit,speaker,mic,loudness\r\n" : "photo,clip,note,mic,loudness\r\n");
            int i = offset;
            foreach (var f in part) sb.Append(Row(f, i++, labelled)).Append("\r\n");
            File.WriteAllText(Path.Combine(folder, name), sb.ToString());
        }
        Write("train.csv", rows.Take(trainRows), 0, true);
        Write("test.csv", rows.Skip(trainRows), trainRows, true);
        Write("new-rows.csv", rows.Skip(trainRows), trainRows, false);
        return folder;
    }

    /// <summary>Runs <c>mlnetfusion</c> as a user would, in its own process; returns exit code, standard output and error.</summary>
    internal static (int exit, string stdout, string stderr) Cli(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "mlnetfusion.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["MLNETFUSION_TORCH_THREADS"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(entireProcessTree: true); throw new TimeoutException("mlnetfusion " + string.Join(' ', args) + " did not finish in 10 minutes."); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void LeaderboardFitPredictAndEvaluateWorkOnAUsersOwnColumnNames()
    {
        var folder = WriteOwnCsv();
        string F(string name) => Path.Combine(folder, name);

        // 1. leaderboard --label digit: every candidate receives the label's name (before: "Could not find input column 'Label'").
        var board = Cli("leaderboard", "--train", F("train.csv"), "--test", F("test.csv"), "--label", "digit", "--epochs", "1",
            "--json", F("board.json"), "--chart", F("board.png"));
        Assert.True(board.exit == 0, board.stdout + board.stderr);
        var entries = JsonNode.Parse(File.ReadAllText(F("board.json")))!.AsArray();
        Assert.True(entries.Count >= 10, board.stdout);
        Assert.Contains("Hint: pass --group speaker to validate and select by leave-one-group-out.", board.stdout);   // no --group given
        Assert.All(entries, e => Assert.Null(e!["error"]?.GetValue<string>()));
        // The roles table names the user's columns and no grouping was claimed without --group.
        Assert.Contains("digit", board.stdout);
        Assert.DoesNotContain("grouped with --group", board.stdout);
        Assert.DoesNotContain("given by you", board.stdout);
        // Piped output: one line per finished entry with its time.
        Assert.Contains($"[1/{entries.Count}]", board.stdout);
        // The note column's sentence embeddings are computed once, on a line of their own (the CLI ships MLNetFusion.Pretrained).
        Assert.Contains("of which all-MiniLM-L6-v2 sentence embeddings of 'note':", board.stdout);

        // 2. fit --label digit --group speaker, then predict rows that have neither column. Twelve epochs: the text encoder's
        //    dropout and word dropout need more than a handful to learn from 360 rows (4 epochs left it near chance).
        var fit = Cli("fit", "--train", F("train.csv"), "--test", F("test.csv"), "--label", "digit", "--group", "speaker", "--family", "merge", "--epochs", "12",
            "--output", F("model.zip"));
        Assert.True(fit.exit == 0, fit.stdout + fit.stderr);
        Assert.Contains("Test accuracy", fit.stdout);
        Assert.Contains("epoch", fit.stdout);   // progress while it trains
        var predict = Cli("predict", "--model", F("model.zip"), "--input", F("new-rows.csv"), "--output", F("predictions.csv"));
        Assert.True(predict.exit == 0, predict.stdout + predict.stderr);

        // 3. The probabilities are named by class, sorted by value, and the largest one is the predicted label on every row.
        var lines = File.ReadAllLines(F("predictions.csv"));
        var header = lines[0].Split(',');
        Assert.Equal(new[] { "PredictedLabel" }.Concat(Enumerable.Range(0, SyntheticMultimodalDataset.Classes).Select(k => $"Score.{k}")), header);
        Assert.Equal(121, lines.Length);
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(',');
            var scores = f.Skip(1).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(f[0], header[1 + Array.IndexOf(scores, scores.Max())]["Score.".Length..]);
            Assert.Equal(1.0, scores.Sum(), 4);
        }
        // 3b. The same model with its graph on ONNX Runtime gives the same rows; `export` writes a graph ONNX Runtime loads.
        var onnx = Cli("predict", "--model", F("model.zip"), "--input", F("new-rows.csv"), "--output", F("predictions-onnx.csv"), "--engine", "onnx");
        Assert.True(onnx.exit == 0, onnx.stdout + onnx.stderr);
        var onnxLines = File.ReadAllLines(F("predictions-onnx.csv"));
        Assert.Equal(lines[0], onnxLines[0]);
        foreach (var (torchLine, onnxLine) in lines.Skip(1).Zip(onnxLines.Skip(1)))
        {
            var (t, o) = (torchLine.Split(','), onnxLine.Split(','));
            Assert.Equal(t[0], o[0]);
            for (int k = 1; k < t.Length; k++) Assert.True(Math.Abs(double.Parse(t[k], CultureInfo.InvariantCulture) - double.Parse(o[k], CultureInfo.InvariantCulture)) <= 1e-4, $"{torchLine} vs {onnxLine}");
        }
        var export = Cli("export", "--model", F("model.zip"), "--onnx", F("model.onnx"));
        Assert.True(export.exit == 0, export.stdout + export.stderr);
        Assert.Contains("MelSpectrogram", export.stdout);
        Assert.Contains("Outside the graph: ", export.stdout);
        Assert.Contains("LoadAudio", export.stdout);
        using (var session = new Microsoft.ML.OnnxRuntime.InferenceSession(F("model.onnx")))
            Assert.Contains("Score", session.OutputMetadata.Keys);

        // Better than chance (1/8) by a margin on the labelled copy of these rows.
        var truth = File.ReadAllLines(F("test.csv")).Skip(1).Select(l => MLNetFusion.AutoML.Inference.CsvSample.Split(l, ',')[3]).ToArray();
        double accuracy = lines.Skip(1).Select(l => l.Split(',')[0]).Zip(truth).Count(p => p.First == p.Second) / (double)truth.Length;
        Assert.True(accuracy > 0.3, $"served accuracy {accuracy:P1}");

        // 4. From C#: a class without label and group serves the CLI-fitted model; PredictedLabel is the label's value.
        var ml = new MLContext(seed: 1);
        using (var loaded = (IDisposable)ml.Model.LoadFusionModel(F("model.zip"), out _))
        {
            var engine = ml.Model.CreatePredictionEngine<ServedRow, ServedPrediction>((ITransformer)loaded);
            var first = MLNetFusion.AutoML.Inference.CsvSample.Split(File.ReadAllLines(F("new-rows.csv"))[1], ',');
            var prediction = engine.Predict(new ServedRow { photo = first[0], clip = first[1], note = first[2], mic = first[3],
                loudness = first[4].Length == 0 ? float.NaN : float.Parse(first[4], CultureInfo.InvariantCulture) });
            Assert.Equal(lines[1].Split(',')[0], prediction.PredictedLabel);
            Assert.Equal(SyntheticMultimodalDataset.Classes, prediction.Score.Length);
        }

        // 5. evaluate names the user's columns, and lists subsets full set first, then by size in column order.
        var evaluate = Cli("evaluate", "--model", F("model.zip"), "--data", F("test.csv"), "--label", "digit", "--group", "speaker", "--json", F("report.json"),
            "--permutations", "1");
        Assert.True(evaluate.exit == 0, evaluate.stdout + evaluate.stderr);
        var report = JsonNode.Parse(File.ReadAllText(F("report.json")))!;
        Assert.Equal(new[] { "photo", "clip", "loudness, mic", "note" }, report["modalities"]!.AsArray().Select(m => m!.GetValue<string>()));
        var subsets = report["subsets"]!.AsArray().Select(s => string.Join("+", s!["modalities"]!.AsArray().Select(m => m!.GetValue<string>()))).ToList();
        Assert.Equal("photo+clip+loudness, mic+note", subsets[0]);
        Assert.Equal("photo+clip+loudness, mic", subsets[1]);
        Assert.Equal("note", subsets[^1]);
    }

    [Fact]
    public void PredictNamesEveryMissingColumnAndBadImagesByLineAndColumn()
    {
        var folder = WriteOwnCsv(trainRows: 200, testRows: 40);
        string F(string name) => Path.Combine(folder, name);
        var fit = Cli("fit", "--train", F("train.csv"), "--test", F("test.csv"), "--label", "digit", "--group", "speaker", "--family", "network", "--epochs", "1", "--output", F("model.zip"));
        Assert.True(fit.exit == 0, fit.stdout + fit.stderr);

        // Every missing input column is named at once; the label and group are never required.
        var rows = File.ReadAllLines(F("new-rows.csv"));
        File.WriteAllLines(F("no-clip.csv"), rows.Select(l => string.Join(",", MLNetFusion.AutoML.Inference.CsvSample.Split(l, ',').Where((_, i) => i != 1 && i != 3)
            .Select(v => v.Contains(',') ? $"\"{v}\"" : v))));
        var missing = Cli("predict", "--model", F("model.zip"), "--input", F("no-clip.csv"), "--output", F("p.csv"));
        Assert.Equal(1, missing.exit);
        Assert.Contains("has no columns 'clip', 'mic'", missing.stderr);
        Assert.DoesNotContain("digit", missing.stderr.Split("its columns")[0]);

        // A missing image file and an empty image path: the line, the column and the file, never ML.NET's worker wrapper.
        var bad = rows.ToArray();
        bad[3] = "missing.png" + bad[3][bad[3].IndexOf(',')..];
        File.WriteAllLines(F("bad-image.csv"), bad);
        var missingFile = Cli("predict", "--model", F("model.zip"), "--input", F("bad-image.csv"), "--output", F("p.csv"));
        Assert.Equal(1, missingFile.exit);
        Assert.Contains("line 4, column 'photo': image file 'missing.png' does not exist", missingFile.stderr);
        Assert.DoesNotContain("worker", missingFile.stderr);
        bad[3] = bad[3][bad[3].IndexOf(',')..];
        File.WriteAllLines(F("empty-image.csv"), bad);
        var empty = Cli("predict", "--model", F("model.zip"), "--input", F("empty-image.csv"), "--output", F("p.csv"));
        Assert.Equal(1, empty.exit);
        Assert.Contains("line 4, column 'photo': the image path is empty", empty.stderr);
        Assert.DoesNotContain("disposed", empty.stderr);
        Assert.False(File.Exists(F("p.csv")));
    }

    /// <summary>A row to serve: the model's input columns only.</summary>
    public sealed class ServedRow
    {
        public string photo { get; set; } = "";
        public string clip { get; set; } = "";
        public string note { get; set; } = "";
        public string mic { get; set; } = "";
        public float loudness { get; set; }
    }

    /// <summary>The served prediction: the label's value and one probability per class (classes sorted by value).</summary>
    public sealed class ServedPrediction
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = Array.Empty<float>();
    }
}
