using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.AutoML;
using MLNetFusion.Datasets;
using MLNetFusion.Models;
using MLNetFusion.Transforms.Audio;
using SkiaSharp;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>Your own data: column inference, the featurizer built from it, and fit → predict in a second process.</summary>
public class OwnDataTests
{
    private static readonly string[] Classes = { "cat", "dog", "bird" };
    private static readonly string[] Words = { "quick", "lazy", "small", "happy", "noisy", "calm", "bright", "dark", "soft", "loud", "old", "young" };

    /// <summary>
    /// A CSV with every role: an id, a group, a number, a category, integer categories, free text, colour image paths,
    /// WAV paths, the label, a constant and an empty column. The image, the clip and the number each carry the label.
    /// </summary>
    internal static string MakeCsv(string folder, string name, int rows, int seed, int firstId = 0)
    {
        Directory.CreateDirectory(Path.Combine(folder, "img"));
        Directory.CreateDirectory(Path.Combine(folder, "wav"));
        var r = new Random(seed);
        var csv = new StringBuilder("RowId,Site,Label,Photo,Clip,Weight,Color,Level,Notes,Constant,Empty\n");
        var inv = CultureInfo.InvariantCulture;
        for (int i = 0; i < rows; i++)
        {
            int id = firstId + i, y = r.Next(3);
            string photo = $"img/{id}.png", clip = $"wav/{id}.wav";
            using (var bmp = new SKBitmap(20, 16))
            {
                for (int py = 0; py < 16; py++)
                    for (int px = 0; px < 20; px++)
                    {
                        byte noise = (byte)r.Next(60);
                        bool band = py / 5 == y;
                        bmp.SetPixel(px, py, new SKColor((byte)(noise + (band ? 180 : 0)), noise, (byte)(noise + 40)));
                    }
                using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
                File.WriteAllBytes(Path.Combine(folder, photo), data.ToArray());
            }
            var samples = new float[4000];
            double f = 300 + 400 * y;
            for (int k = 0; k < samples.Length; k++) samples[k] = (float)(0.3 * Math.Sin(2 * Math.PI * f * k / 8000) + 0.05 * (r.NextDouble() - 0.5));
            WavWriter.Write(Path.Combine(folder, clip), samples, 8000);
            double weight = 10 + 5 * y + r.NextDouble() * 4;
            string notes = string.Join(' ', Enumerable.Range(0, 5).Select(_ => Words[r.Next(Words.Length)]));
            csv.Append(inv, $"{id},site{i % 4},{Classes[y]},{photo},{clip},{weight:F3},{new[] { "red", "green", "blue" }[r.Next(3)]},{1 + r.Next(4)},\"{notes}\",A,\n");
        }
        var path = Path.Combine(folder, name);
        File.WriteAllText(path, csv.ToString());
        return path;
    }

    [Fact]
    public void InferenceAssignsEveryRole()
    {
        var folder = TestData.TempFolder("own-data");
        var csv = MakeCsv(folder, "train.csv", 120, 1);
        var watch = Stopwatch.StartNew();
        var result = new MLContext(1).Fusion().InferColumns(csv, "Label", "Site");
        var roles = result.Columns.ToDictionary(c => c.Name, c => c.Role);
        Assert.Equal(ColumnRole.Ignored, roles["RowId"]);
        Assert.Equal(ColumnRole.Group, roles["Site"]);
        Assert.Equal(ColumnRole.Label, roles["Label"]);
        Assert.Equal((ColumnRole.Modality, ModalityKind.Image), (roles["Photo"], result["Photo"].Kind));
        Assert.Equal((ColumnRole.Modality, ModalityKind.Audio), (roles["Clip"], result["Clip"].Kind));
        Assert.Equal(("Image", "Audio"), (result["Photo"].RoleName, result["Clip"].RoleName));
        Assert.Equal(ColumnRole.Numeric, roles["Weight"]);
        Assert.Equal(ColumnRole.Categorical, roles["Color"]);
        Assert.Equal(ColumnRole.Categorical, roles["Level"]);
        Assert.Equal(ColumnRole.Text, roles["Notes"]);
        Assert.Equal(ColumnRole.Ignored, roles["Constant"]);
        Assert.Equal(ColumnRole.Ignored, roles["Empty"]);
        Assert.StartsWith("integers unique per row", result["RowId"].Reason);
        Assert.Equal(new ImageColumnSettings(20, 16, Grayscale: false, FilesDecoded: 20), result.SettingsOf<ImageColumnSettings>("Photo"));
        Assert.Equal(new AudioColumnSettings(8000, 0.5, 256, 128, 40, 20), result.SettingsOf<AudioColumnSettings>("Clip"));
        Assert.Equal(new[] { "Clip", "Photo" }, result.Settings.Keys.Order());
        Assert.Equal(3, result.ClassCount);
        Assert.Equal(120, result.RowCount);

        // The featurizer it builds runs, and its modalities match the roles.
        var ml = new MLContext(1);
        var featurization = result.CreateFeaturizer(ml);
        // Text and images (MLNetFusion.Pretrained and ResNet18's weights are shipped with the tests): sentence embeddings
        // and ImageNet features projected by an MLP for the neural families; n-grams and pixels for the plain baselines,
        // n-grams with embeddings and the image features for linear members.
        Assert.Contains("encoder: all-MiniLM-L6-v2 sentence embeddings (frozen, then an MLP)", result["Notes"].Reason);
        Assert.Contains("encoder: ResNet18 (ImageNet) features (frozen, then an MLP)", result["Photo"].Reason);
        Assert.Equal(new[] { "Photo.Pretrained", "LogMel", "Tabular", "Notes.Sentence" }, featurization.ModalityColumns);
        Assert.Equal(EncoderKind.Mlp, featurization.Modalities[0].Encoder);
        Assert.Equal(EncoderKind.Mlp, featurization.Modalities[3].Encoder);
        Assert.Equal(new[] { "Pixels", "LogMel", "Tabular", "Notes.Text" }, featurization.FeatureColumns);
        Assert.Equal(new[] { "Photo.PretrainedFilled", "LogMel", "Tabular", "Notes.TextAndSentence" }, featurization.PretrainedFeatureColumns);
        Assert.Equal(new[] { "Photo.PretrainedFilled", "LogMel", "Tabular", "Notes.HashedAndSentence" }, featurization.PretrainedDenseFeatureColumns);
        Assert.Equal("ResNet18 (ImageNet) features and all-MiniLM-L6-v2 sentence embeddings", featurization.PretrainedNames);
        // Without them: token ids for the trainable embedding bag, pixels for the CNN.
        var plain = new MLContext(1).Fusion().InferColumns(csv, "Label", "Site", new ColumnInferenceOptions { Pretrained = false });
        Assert.Contains("encoder: hashed words into a trainable embedding bag", plain["Notes"].Reason);
        Assert.Contains("encoder: a CNN trained from scratch", plain["Photo"].Reason);
        var plainFeaturization = plain.CreateFeaturizer(ml);
        Assert.Equal(new[] { "Pixels", "LogMel", "Tabular", "Notes.Tokens" }, plainFeaturization.ModalityColumns);
        Assert.Equal(plainFeaturization.FeatureColumns, plainFeaturization.PretrainedFeatureColumns);
        Assert.Null(plainFeaturization.PretrainedNames);
        Assert.Equal(new[] { 3, 16, 20 }, plainFeaturization.Modalities[0].EncoderOptionsAs<CnnEncoderOptions>().Shape);
        var data = result.Load(ml);
        var features = featurization.Featurizer.Fit(data).Transform(data);
        Assert.Equal(3 * 16 * 20, ((Microsoft.ML.Data.VectorDataViewType)features.Schema["Pixels"].Type).Size);
        Assert.DoesNotContain(features.Schema, c => c.Name.StartsWith("Site", StringComparison.Ordinal) && c.Name != "Site");   // the group is never featurized
        Assert.True(watch.Elapsed < TimeSpan.FromMinutes(1));
    }

    private sealed class Ambiguous { public int Id; public int Small; public int Age; public double Height; public string Code = ""; }

    [Fact]
    public void AmbiguousColumnsFollowTheDocumentedRules()
    {
        var folder = TestData.TempFolder("ambiguous");
        var r = new Random(3);
        var rows = Enumerable.Range(0, 200).Select(i => new Ambiguous { Id = 1000 + 7 * i, Small = r.Next(5), Age = 18 + r.Next(70), Height = 150 + r.NextDouble() * 50, Code = "u" + r.Next(150) }).ToList();
        var path = Path.Combine(folder, "data.csv");
        File.WriteAllLines(path, new[] { "Label,Id,Small,Age,Height,Code" }
            .Concat(rows.Select((x, i) => string.Create(CultureInfo.InvariantCulture, $"{(i % 2 == 0 ? "yes" : "no")},{x.Id},{x.Small},{x.Age},{x.Height:F2},{x.Code}"))));
        var result = new MLContext(1).Fusion().InferColumns(path, "Label");
        Assert.Equal(ColumnRole.Ignored, result["Id"].Role);          // integers unique per row: an id
        Assert.Equal(ColumnRole.Categorical, result["Small"].Role);   // 5 distinct integers ≤ 20 and ≤ a fifth of the rows
        Assert.Equal(ColumnRole.Numeric, result["Age"].Role);         // ~70 distinct integers: more than 20
        Assert.Equal(ColumnRole.Numeric, result["Height"].Role);
        Assert.Equal(ColumnRole.Ignored, result["Code"].Role);        // > half the rows distinct single words: an identifier
        // A role given by the user wins.
        var edited = new MLContext(1).Fusion().InferColumns(path, "Label", options: new ColumnInferenceOptions { Roles = { ["Small"] = ColumnRole.Numeric } });
        Assert.Equal(ColumnRole.Numeric, edited["Small"].Role);
        Assert.Equal("given by you", edited["Small"].Reason);
    }

    [Fact]
    public void ImageAndAudioAreKindsGivenByNameWithTheirOwnSettings()
    {
        var folder = TestData.TempFolder("own-data-kinds");
        var csv = MakeCsv(folder, "train.csv", 40, 2);

        // The roles older specifications and command lines wrote are read as the kinds; anything else is an exact error.
        var options = new ColumnInferenceOptions { GroupColumnName = "Site" };
        options.SetRoleOrKind("Photo", "ImagePath");
        options.SetRoleOrKind("Clip", "audiopath");
        options.SetRoleOrKind("Weight", "Categorical");
        Assert.Equal((ModalityKind.Image, ModalityKind.Audio), (options.Kinds["Photo"], options.Kinds["Clip"]));
        Assert.Equal(ColumnRole.Categorical, options.Roles["Weight"]);
        options.SetRoleOrKind("Weight", "Numeric");
        Assert.Equal(ColumnRole.Numeric, options.Roles["Weight"]);
        var unknown = Assert.Throws<ArgumentException>(() => options.SetRoleOrKind("Photo", "Video"));
        Assert.StartsWith("Column 'Photo' is given 'Video', which is neither a role nor a modality kind with column inference.", unknown.Message);
        Assert.Contains("the kinds Audio, Image", unknown.Message);
        Assert.Throws<ArgumentException>(() => options.SetRoleOrKind("Photo", "Modality"));

        // Each kind's own inference settings: the image kind's largest side caps the resize, and a wrong type is an exact error.
        options.For<ImageColumnInferenceOptions>(ModalityKind.Image).MaxSide = 10;
        var wrong = Assert.Throws<ArgumentException>(() => options.For<AudioColumnInferenceOptions>(ModalityKind.Image));
        Assert.StartsWith("Modality kind 'Image' has inference settings of type ImageColumnInferenceOptions, not AudioColumnInferenceOptions.", wrong.Message);
        var result = new MLContext(1).Fusion().InferColumns(csv, "Label", "Site", options);
        Assert.Equal(new ImageColumnSettings(10, 8, Grayscale: false, FilesDecoded: 20), result.SettingsOf<ImageColumnSettings>("Photo"));
        Assert.Equal("given by you: Image", result["Photo"].Reason.Split(';')[0]);
        Assert.Equal(ColumnRole.Numeric, result["Weight"].Role);
        options.For<ImageColumnInferenceOptions>(ModalityKind.Image).MaxSide = 2;
        Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext(1).Fusion().InferColumns(csv, "Label", "Site", options));

        // A column made an image after inference gets its settings when the featurizer is built; edited settings are used.
        var edited = new MLContext(1).Fusion().InferColumns(csv, "Label", "Site", new ColumnInferenceOptions { Pretrained = false });
        Assert.True(edited.Settings.Remove("Photo"));
        var photo = edited["Photo"];
        (photo.Role, photo.Kind) = (ColumnRole.Ignored, null);
        Assert.DoesNotContain("Pixels", edited.CreateFeaturizer(new MLContext(1)).ModalityColumns);
        (photo.Role, photo.Kind) = (ColumnRole.Modality, ModalityKind.Image);
        var featurization = edited.CreateFeaturizer(new MLContext(1));
        Assert.Equal(new ImageColumnSettings(20, 16, Grayscale: false, FilesDecoded: 20), edited.SettingsOf<ImageColumnSettings>("Photo"));
        edited.Settings["Clip"] = edited.SettingsOf<AudioColumnSettings>("Clip") with { MelBands = 24 };
        featurization = edited.CreateFeaturizer(new MLContext(1));
        Assert.Equal(new[] { "Pixels", "LogMel", "Tabular", "Notes.Tokens" }, featurization.ModalityColumns);
        var data = edited.Load(new MLContext(1));
        var mel = (Microsoft.ML.Data.VectorDataViewType)featurization.Featurizer.Fit(data).Transform(data).Schema["LogMel"].Type;
        Assert.Equal(24, mel.Dimensions[0]);
        var none = Assert.Throws<ArgumentException>(() => edited.SettingsOf<ImageColumnSettings>("Weight"));
        Assert.StartsWith($"Column 'Weight' of '{edited.Path}' has no inferred settings (columns with settings: ", none.Message);
    }

    [Fact]
    public void MissingNumbersAreReportedNotSilentlyFilled()
    {
        var folder = TestData.TempFolder("missing-numbers");
        var path = Path.Combine(folder, "data.csv");
        File.WriteAllLines(path, new[] { "Label,Height" }.Concat(Enumerable.Range(0, 50).Select(i => string.Create(CultureInfo.InvariantCulture, $"{(i % 2 == 0 ? "a" : "b")},{(i % 10 == 3 ? "" : (150 + i * 0.7).ToString("F1", CultureInfo.InvariantCulture))}"))));
        var result = new MLContext(1).Fusion().InferColumns(path, "Label");
        Assert.Equal(ColumnRole.Numeric, result["Height"].Role);
        Assert.EndsWith("5 of 50 sampled rows empty: replaced by the column mean, with a missing-value indicator", result["Height"].Reason);
    }

    [Fact]
    public void BadDataNamesTheFileLineAndColumn()
    {
        var folder = TestData.TempFolder("bad-data");
        var ml = new MLContext(1);
        string Write(string name, params string[] lines) { var p = Path.Combine(folder, name); File.WriteAllLines(p, lines); return p; }

        var oneClass = Assert.Throws<InvalidDataException>(() => ml.Fusion().InferColumns(Write("one.csv", "Label,X", "a,1", "a,2", "a,3"), "Label"));
        Assert.StartsWith($"The label column 'Label' of '{Path.Combine(folder, "one.csv")}' has a single class ('a') in 3 rows", oneClass.Message);

        File.WriteAllText(Path.Combine(folder, "broken.png"), "not an image");
        var image = Assert.Throws<InvalidDataException>(() => ml.Fusion().InferColumns(Write("img.csv", "Label,Photo", "a,broken.png", "b,other.png"), "Label"));
        Assert.StartsWith($"Line 2 of '{Path.Combine(folder, "img.csv")}', column 'Photo': image file 'broken.png' does not decode", image.Message);

        WavWriter.Write(Path.Combine(folder, "low.wav"), new float[800], 4000);
        WavWriter.Write(Path.Combine(folder, "high.wav"), new float[8000], 44100);
        var rates = Assert.Throws<InvalidDataException>(() => ml.Fusion().InferColumns(Write("wav.csv", "Label,Clip", "a,low.wav", "b,high.wav"), "Label"));
        Assert.StartsWith("Column 'Clip' of", rates.Message);
        Assert.Contains("mixes sample rates from 4000 Hz to 44100 Hz", rates.Message);

        var missing = Assert.Throws<FileNotFoundException>(() => ml.Fusion().InferColumns(Write("gone.csv", "Label,Clip", "a,nope.wav", "b,nope2.wav"), "Label"));
        Assert.StartsWith($"Line 2 of '{Path.Combine(folder, "gone.csv")}', column 'Clip': WAV file 'nope.wav' does not exist", missing.Message);

        var empty = Assert.Throws<InvalidDataException>(() => ml.Fusion().InferColumns(Write("empty.csv"), "Label"));
        Assert.StartsWith("CSV file", empty.Message);
        Assert.Contains("is empty: it has no header line.", empty.Message);
        var noRows = Assert.Throws<InvalidDataException>(() => ml.Fusion().InferColumns(Write("header.csv", "Label,X"), "Label"));
        Assert.Contains("has a header but no rows.", noRows.Message);
        var noLabel = Assert.Throws<ArgumentException>(() => ml.Fusion().InferColumns(Write("nolabel.csv", "Class,X", "a,1", "b,2"), "Label"));
        Assert.StartsWith("Could not find label column 'Label' in", noLabel.Message);
        var dir = Assert.Throws<ArgumentException>(() => ml.Fusion().InferColumns(folder, "Label"));
        Assert.Contains("is a directory, not a CSV file.", dir.Message);
        var ragged = Assert.Throws<InvalidDataException>(() => ml.Fusion().InferColumns(Write("ragged.csv", "Label,X", "a,1", "b,2,3"), "Label"));
        Assert.StartsWith("Line 3 of", ragged.Message);
    }

    [Fact]
    public async Task FitThenPredictRoundTripsInASecondProcess()
    {
        var folder = TestData.TempFolder("fit-predict");
        var train = MakeCsv(folder, "train.csv", 150, 5);
        var test = MakeCsv(folder, "test.csv", 40, 6, firstId: 1000);
        var modelPath = Path.Combine(folder, "model.zip");
        var output = Path.Combine(folder, "predictions.csv");
        await Cli("fit", "--train", train, "--test", test, "--label", "Label", "--group", "Site", "--family", "late", "--epochs", "3", "--output", modelPath);
        await Cli("predict", "--model", modelPath, "--input", test, "--output", output, "--columns", "PredictedLabel", "Score");

        var ml = new MLContext(1);
        using var model = (IDisposable)ml.Model.LoadFusionModel(modelPath, out var schema);
        var scored = ((ITransformer)model).Transform(ml.Data.LoadFromTextFile(test, MLNetFusion.Serving.ModelServer.LoaderColumns(schema!, test), ',', hasHeader: true, allowQuoting: true));
        var predicted = scored.GetColumn<Microsoft.ML.Data.VBuffer<float>>("Score").Select(v => v.DenseValues().ToArray()).ToList();
        var lines = File.ReadAllLines(output);
        Assert.Equal(41, lines.Length);
        for (int i = 0; i < 40; i++)
        {
            var fields = lines[i + 1].Split(',');
            for (int k = 0; k < 3; k++) Assert.Equal(predicted[i][k], float.Parse(fields[k + 1], CultureInfo.InvariantCulture));
        }
        // The fitted model's PredictedLabel is the label's value (the model reads no label; the test file's is compared).
        var labels = scored.GetColumn<ReadOnlyMemory<char>>("Label").Select(v => v.ToString()).ToArray();
        var predictedLabels = scored.GetColumn<ReadOnlyMemory<char>>("PredictedLabel").Select(v => v.ToString()).ToArray();
        Assert.Equal(predictedLabels, lines.Skip(1).Select(l => l.Split(',')[0]));
        double accuracy = labels.Zip(predictedLabels).Count(p => p.First == p.Second) / (double)labels.Length;
        Assert.True(accuracy > 1 / 3.0 + 0.3, $"fitted accuracy {accuracy:P1} is not 30 points above chance");
    }

    private static async Task Cli(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("exec"); psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "mlnetfusion.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["MLNETFUSION_TORCH_THREADS"] = "2";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await p.WaitForExitAsync(timeout.Token);
        Assert.True(p.ExitCode == 0, $"mlnetfusion {string.Join(' ', args)} exited {p.ExitCode}: {await stdout} {await stderr}");
    }
}
