using System.IO.Compression;
using System.Text.Json.Nodes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Models;
using MLNetFusion.Persistence;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.LateFusion;
using MLNetFusion.Trainers.Early;
using MLNetFusion.Transforms.Audio;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>SaveFusionModel / LoadFusionModel: round trips of every component type, and damaged or tampered files.</summary>
public class PersistenceTests
{
    private static IDataView Raw(MLContext ml, int n, int seed) => ml.Data.LoadFromEnumerable(ToyRow.Make(n, seed));

    /// <summary>ML.NET key mapping, then Concatenate, then the trainer: a mixed chain with the model last.</summary>
    private static IEstimator<ITransformer> Pipeline(MLContext ml, string family, int epochs = 3)
        => ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue)
            .Append(ml.Transforms.Concatenate("Features", "Image", "Tab"))
            .Append(FusionTrainerTests.Make(ml, family, epochs, embedding: family == "merge-mean" ? "Embedding" : null, used: family == "network" ? "Used" : null))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedValue", "PredictedLabel"));

    internal static (ITransformer loaded, DataViewSchema? schema) RoundTrip(MLContext ml, ITransformer model, DataViewSchema schema, out byte[] file)
    {
        using (var ms = new MemoryStream())
        {
            ml.Model.SaveFusionModel(model, schema, ms);
            file = ms.ToArray();
        }
        // A fresh context, as a different process would have.
        var fresh = new MLContext(seed: 99);
        var loaded = fresh.Model.LoadFusionModel(new MemoryStream(file), out var loadedSchema);
        return (loaded, loadedSchema);
    }

    /// <summary>Every output column of both models on the same data: exactly equal, floats to 1e-6.</summary>
    internal static void AssertSameOutputs(IDataView a, IDataView b)
    {
        Assert.Equal(a.Schema.Count, b.Schema.Count);
        for (int c = 0; c < a.Schema.Count; c++)
        {
            var ca = a.Schema[c]; var cb = b.Schema[c];
            Assert.Equal(ca.Name, cb.Name);
            Assert.Equal(ca.Type, cb.Type);
            // Images (ML.NET's MLImage) have no value equality; their pixels are compared through ExtractPixels' output.
            if (ca.IsHidden || ca.Type is not (PrimitiveDataViewType or VectorDataViewType)) continue;
            var va = Values(a, ca); var vb = Values(b, cb);
            Assert.Equal(va.Count, vb.Count);
            for (int i = 0; i < va.Count; i++)
            {
                Assert.Equal(va[i].Length, vb[i].Length);
                for (int k = 0; k < va[i].Length; k++)
                {
                    if (va[i][k] is float fa && vb[i][k] is float fb)
                        Assert.True(fa.Equals(fb) || Math.Abs(fa - fb) <= 1e-6, $"Column '{ca.Name}' row {i} slot {k}: {fa} vs {fb}");
                    else Assert.Equal(va[i][k], vb[i][k]);
                }
            }
        }
    }

    private static List<object?[]> Values(IDataView data, DataViewSchema.Column col)
    {
        var method = typeof(PersistenceTests).GetMethod(nameof(ValuesOf), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        var raw = col.Type is VectorDataViewType v ? v.ItemType.RawType : col.Type.RawType;
        return (List<object?[]>)method.MakeGenericMethod(raw).Invoke(null, new object[] { data, col })!;
    }

    private static List<object?[]> ValuesOf<T>(IDataView data, DataViewSchema.Column col)
    {
        var result = new List<object?[]>();
        using var cursor = data.GetRowCursor(new[] { col });
        if (col.Type is VectorDataViewType)
        {
            var g = cursor.GetGetter<VBuffer<T>>(col);
            VBuffer<T> buf = default;
            while (cursor.MoveNext()) { g(ref buf); result.Add(buf.DenseValues().Select(x => (object?)(x is ReadOnlyMemory<char> m ? m.ToString() : x)).ToArray()); }
        }
        else
        {
            var g = cursor.GetGetter<T>(col);
            T v = default!;
            while (cursor.MoveNext()) { g(ref v); result.Add(new object?[] { v is ReadOnlyMemory<char> m ? m.ToString() : v }); }
        }
        return result;
    }

    [Theory]
    [MemberData(nameof(FusionTrainerTests.Families), MemberType = typeof(FusionTrainerTests))]
    public void EveryNeuralFamilyRoundTripsExactlyWithBitIdenticalWeights(string family)
    {
        var ml = new MLContext(seed: 1);
        var train = Raw(ml, 200, 1);
        var test = Raw(ml, 60, 2);
        var model = Pipeline(ml, family).Fit(train);
        var (loaded, schema) = RoundTrip(ml, model, train.Schema, out _);
        using var owned = (IDisposable)loaded;
        AssertSameOutputs(model.Transform(test), loaded.Transform(test));

        // The input schema comes back, and the weights bit for bit.
        Assert.NotNull(schema);
        Assert.Equal(train.Schema.Select(c => (c.Name, c.Type)), schema!.Select(c => (c.Name, c.Type)));
        var original = ((IEnumerable<ITransformer>)model).OfType<FusionPredictionTransformer>().Single();
        var restored = ((IEnumerable<ITransformer>)loaded).OfType<FusionPredictionTransformer>().Single();
        var a = original.Network.state_dict(); var b = restored.Network.state_dict();
        Assert.Equal(a.Keys, b.Keys);
        foreach (var k in a.Keys) Assert.True(a[k].bytes.SequenceEqual(b[k].bytes), $"tensor {k} differs");
        Assert.Equal(original.Labels.Names, restored.Labels.Names);
        original.Dispose();
    }

    public sealed class Prediction
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public uint PredictedValue { get; set; }
    }

    [Fact]
    public void PredictionEngineWorksOnTheLoadedModelAndDisposingFreesIt()
    {
        var ml = new MLContext(seed: 1);
        var model = Pipeline(ml, "crossmodal").Fit(Raw(ml, 200, 1));
        var (loaded, _) = RoundTrip(ml, model, Raw(ml, 1, 1).Schema, out _);
        var rows = ToyRow.Make(20, 5);
        var expected = ml.Model.CreatePredictionEngine<ToyRow, Prediction>(model);
        var fresh = new MLContext(seed: 5);
        var engine = fresh.Model.CreatePredictionEngine<ToyRow, Prediction>(loaded);
        foreach (var row in rows)
        {
            var p = engine.Predict(row); var q = expected.Predict(row);
            Assert.Equal(q.PredictedValue, p.PredictedValue);
            for (int k = 0; k < p.Score.Length; k++) Assert.True(Math.Abs(p.Score[k] - q.Score[k]) <= 1e-6);
        }
        engine.Dispose();
        var network = ((IEnumerable<ITransformer>)loaded).OfType<FusionPredictionTransformer>().Single();
        Assert.IsAssignableFrom<IDisposable>(loaded);
        ((IDisposable)loaded).Dispose();
        Assert.Throws<ObjectDisposedException>(() => network.Transform(Raw(ml, 5, 3)).Preview());
    }

    [Fact]
    public void NestedChainsOfFeaturizersBuiltInsAndLateFusionRoundTrip()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Raw(ml, 300, 1)).Transform(Raw(ml, 300, 1));
        // Inner chain: a trainable image featurizer (ours), ML.NET's normalizer and concatenation.
        var features = ml.Transforms.FeaturizeImage("ImageFeatures", "Image", epochs: 3)
            .Append(ml.Transforms.NormalizeMinMax("TabNorm", "Tab"))
            .Append(ml.Transforms.Concatenate("Features", "ImageFeatures", "TabNorm"));
        var members = new List<LateFusionMember>
        {
            new("image", "ImageFeatures", ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "ImageFeatures")),
            new("tab", "TabNorm", ml.MulticlassClassification.Trainers.LightGbm("Label", "TabNorm", numberOfIterations: 10)),
            new("torch", "Features", ml.MulticlassClassification.Trainers.FusionMlp(new FusionMlpOptions { FeatureColumnName = "Features", Epochs = 3 })),
        };
        var featureModel = features.Fit(train);
        var featurized = featureModel.Transform(train);
        var late = ml.MulticlassClassification.Trainers.LateFusion(members, LateFusionCombiner.Stacking).Fit(featurized);
        var model = new TransformerChain<ITransformer>(featureModel, late);

        var (loaded, _) = RoundTrip(ml, model, train.Schema, out var file);
        using var owned = (IDisposable)loaded;
        var test = ml.Transforms.Conversion.MapValueToKey("Label").Fit(Raw(ml, 300, 1)).Transform(Raw(ml, 50, 4));
        AssertSameOutputs(model.Transform(test), loaded.Transform(test));

        // The nesting survives: the outer chain holds the inner chain and the late-fusion model.
        var links = ((IEnumerable<ITransformer>)loaded).ToArray();
        Assert.Equal(2, links.Length);
        Assert.Equal(3, ((IEnumerable<ITransformer>)links[0]).Count());
        var lateLoaded = Assert.IsType<LateFusionTransformer>(links[1]);
        Assert.Equal(new[] { "image", "tab", "torch" }, lateLoaded.MemberNames);
        Assert.Equal(LateFusionCombiner.Stacking, lateLoaded.Combiner);

        // The manifest lists the components, and ML.NET's parts are stored in ML.NET's own format.
        var manifest = Manifest(file);
        var kinds = manifest["components"]!.AsArray().Select(c => (string)c!["kind"]!).ToList();
        Assert.Contains("MLNetFusion.FusionPrediction", kinds);
        Assert.Contains("MLNetFusion.LateFusion", kinds);
        Assert.Contains("mlnet", kinds);
        Assert.Equal(FusionModelFile.FormatVersion, (int)manifest["formatVersion"]!);
        Assert.False(string.IsNullOrEmpty((string?)manifest["libraryVersion"]));
        late.Dispose(); featureModel.Dispose();
    }

    [Fact]
    public void AudioLoadingMelSpectrogramAndFrameStatisticsRoundTrip()
    {
        var folder = TestData.TempFolder("persist-audio");
        var rows = new List<AudioRow>();
        var r = new Random(3);
        for (int i = 0; i < 6; i++)
        {
            var samples = Enumerable.Range(0, 6000).Select(t => (float)(0.4 * Math.Sin(2 * Math.PI * (200 + 150 * i) * t / 11025.0) + 0.05 * (r.NextDouble() - 0.5))).ToArray();
            WavWriter.Write(Path.Combine(folder, $"{i}.wav"), samples, 11025);
            rows.Add(new AudioRow { Path = $"{i}.wav" });
        }
        rows.Add(new AudioRow { Path = "" });   // missing audio stays missing after loading
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.LoadAudio("Audio", folder, "Path", sampleRate: 8000, durationSeconds: 0.5)
            .Append(ml.Transforms.MelSpectrogram("LogMel", "Audio", bands: 16))
            .Append(ml.Transforms.SummarizeFrames("MelStats", "LogMel"))
            .Fit(data);
        var (loaded, _) = RoundTrip(ml, model, data.Schema, out _);
        using var owned = (IDisposable)loaded;
        AssertSameOutputs(model.Transform(data), loaded.Transform(data));
        model.Dispose();
    }

    public sealed class AudioRow { public string Path { get; set; } = ""; }

    [Fact]
    public void AWholePipelineFromFilePathsRoundTrips()
    {
        // ML.NET's MapValueToKey, LoadImages, ResizeImages, ExtractPixels, OneHotEncoding, Concatenate and
        // NormalizeMeanVariance, MLNetFusion's LoadAudio, MelSpectrogram and SummarizeFrames, then merge fusion.
        var ml = new MLContext(seed: 1);
        var ds = MLNetFusion.Datasets.MultimodalDataset.Synthetic(TestData.SyntheticFolder);
        var train = ml.Data.TakeRows(ds.Load(ml, ds.TrainFile), 300);
        var model = ds.Featurizer(ml)
            .Append(ml.MulticlassClassification.Trainers.MergeFusion(new MLNetFusion.Trainers.Merge.MergeFusionOptions { Modalities = ds.Modalities(), Epochs = 1 }))
            .Fit(train);
        var (loaded, schema) = RoundTrip(ml, model, train.Schema, out var file);
        using var owned = (IDisposable)loaded;
        var test = ml.Data.TakeRows(ds.Load(ml, ds.TestFile), 40);
        AssertSameOutputs(model.Transform(test), loaded.Transform(test));
        Assert.Equal(train.Schema.Select(c => c.Name), schema!.Select(c => c.Name));
        Assert.Contains("Microsoft.ML.ImageAnalytics", Manifest(file)["mlNetAssemblies"]!.AsArray().Select(n => (string)n!));
        foreach (var t in model) (t as IDisposable)?.Dispose();
    }

    // ---- damaged and tampered files ----

    private static byte[] SmallModelFile(out ITransformer model, out IDataView test)
    {
        var ml = new MLContext(seed: 1);
        model = Pipeline(ml, "merge-mean", epochs: 1).Fit(Raw(ml, 80, 1));
        test = Raw(ml, 10, 2);
        using var ms = new MemoryStream();
        ml.Model.SaveFusionModel(model, Raw(ml, 1, 1).Schema, ms);
        return ms.ToArray();
    }

    private static FusionModelFormatException LoadFails(byte[] file)
        => Assert.Throws<FusionModelFormatException>(() => new MLContext().Model.LoadFusionModel(new MemoryStream(file), out _));

    private static JsonNode Manifest(byte[] file)
    {
        using var zip = new ZipArchive(new MemoryStream(file), ZipArchiveMode.Read);
        using var s = zip.GetEntry(FusionModelFile.ManifestEntry)!.Open();
        return JsonNode.Parse(s)!;
    }

    /// <summary>Rewrites the archive: <paramref name="edit"/> may change the manifest and rename entries.</summary>
    private static byte[] Rewrite(byte[] file, Action<JsonNode> editManifest, Func<string, string>? rename = null)
    {
        using var src = new ZipArchive(new MemoryStream(file), ZipArchiveMode.Read);
        using var ms = new MemoryStream();
        using (var dst = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var e in src.Entries)
            {
                using var input = e.Open();
                byte[] data;
                if (e.FullName == FusionModelFile.ManifestEntry)
                {
                    var m = JsonNode.Parse(input)!;
                    editManifest(m);
                    data = System.Text.Encoding.UTF8.GetBytes(m.ToJsonString());
                }
                else { using var copy = new MemoryStream(); input.CopyTo(copy); data = copy.ToArray(); }
                using var output = dst.CreateEntry(rename?.Invoke(e.FullName) ?? e.FullName).Open();
                output.Write(data);
            }
        }
        return ms.ToArray();
    }

    [Fact]
    public void UntouchedRewriteStillLoads()
    {
        var file = SmallModelFile(out var model, out var test);
        var ml = new MLContext();
        using var loaded = (IDisposable)ml.Model.LoadFusionModel(new MemoryStream(Rewrite(file, _ => { })), out _);
        AssertSameOutputs(model.Transform(test), ((ITransformer)loaded).Transform(test));
    }

    private static JsonNode FusionPrediction(JsonNode manifest)
        => manifest["components"]!.AsArray().First(c => (string)c!["kind"]! == "MLNetFusion.FusionPrediction")!;

    [Fact]
    public void ComponentsRecordTheirVersionAndANewerOneIsRefused()
    {
        var file = SmallModelFile(out var model, out var test);
        Assert.Equal(4, (int)FusionPrediction(Manifest(file))["version"]!);
        var ex = LoadFails(Rewrite(file, m => FusionPrediction(m)["version"] = 5));
        Assert.Matches(@"^Component \d+ \('MLNetFusion.FusionPrediction'\) was written as version 5 \(by MLNetFusion [^)]+\), but this MLNetFusion \([^)]+\) reads it up to version 4\.", ex.Message);
        // Versions 1 and 2 (and files from before components were versioned) lack later fields: the loader's branches ignore
        // them. Before version 3 a network predicted from its fused head alone, whatever the file's head weight says.
        var network = ((IEnumerable<ITransformer>)model).OfType<FusionPredictionTransformer>().Single().Network;
        Assert.Equal(1, network.ModalityHeadWeight);
        network.ModalityHeadWeight = 0;
        var ml = new MLContext();
        foreach (var old in new[] { Rewrite(file, m => FusionPrediction(m)["version"] = 1), Rewrite(file, m => FusionPrediction(m)["version"] = 2),
                     Rewrite(file, m => FusionPrediction(m).AsObject().Remove("version")) })
        {
            using var loaded = (IDisposable)ml.Model.LoadFusionModel(new MemoryStream(old), out _);
            AssertSameOutputs(model.Transform(test), ((ITransformer)loaded).Transform(test));
        }
    }

    [Fact]
    public void ATensorTheNetworkDoesNotHaveNamesAVersionMismatch()
    {
        var file = SmallModelFile(out _, out _);
        var manifest = Manifest(file);
        var weights = FusionPrediction(manifest)["entries"]!["weights"]!;
        string path = (string)weights["path"]!;
        byte[] data;
        using (var zip = new ZipArchive(new MemoryStream(file), ZipArchiveMode.Read))
        using (var s = zip.GetEntry(path)!.Open())
        using (var copy = new MemoryStream()) { s.CopyTo(copy); data = copy.ToArray(); }
        // Rename the first tensor, keeping its length, as a renamed module field would, and re-hash: only the names differ.
        int at = data.AsSpan().IndexOf("encoders."u8);
        Assert.True(at > 0);
        var renamed = (byte[])data.Clone();
        "encodexs."u8.CopyTo(renamed.AsSpan(at));
        var edited = RewriteEntry(file, path, renamed);
        var ex = LoadFails(edited);
        Assert.Matches($@"^Entry '{System.Text.RegularExpressions.Regex.Escape(path)}' holds tensor 'encodexs\.[^']+', which this version's network does not have \(it expects 'encoders\.", ex.Message);
        Assert.Contains("a version mismatch", ex.Message);
    }

    /// <summary>Replaces entry <paramref name="path"/> and updates its size and SHA-256 in the manifest, so only the content checks can object.</summary>
    internal static byte[] RewriteEntry(byte[] file, string path, byte[] data)
    {
        var withHash = Rewrite(file, m =>
        {
            foreach (var c in m["components"]!.AsArray())
                foreach (var (_, e) in c!["entries"]!.AsObject())
                    if ((string)e!["path"]! == path)
                    {
                        e["size"] = data.Length;
                        e["sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));
                    }
        });
        using var src = new ZipArchive(new MemoryStream(withHash), ZipArchiveMode.Read);
        using var ms = new MemoryStream();
        using (var dst = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var e in src.Entries)
            {
                using var input = e.Open();
                using var output = dst.CreateEntry(e.FullName).Open();
                if (e.FullName == path) output.Write(data); else input.CopyTo(output);
            }
        return ms.ToArray();
    }

    [Fact]
    public void AnAbsurdBatchSizeFailsAtLoadNotAtTheFirstTransform()
    {
        var file = SmallModelFile(out _, out _);
        string path = (string)FusionPrediction(Manifest(file))["entries"]!["config"]!["path"]!;
        var config = JsonNode.Parse(ReadEntry(file, path))!;
        config["batchSize"] = 1_000_000_000;
        var ex = LoadFails(RewriteEntry(file, path, System.Text.Encoding.UTF8.GetBytes(config.ToJsonString())));
        Assert.Contains("is invalid: its inference batch size 1000000000 is outside [1, 65536].", ex.Message);
    }

    [Fact]
    public void TheCallerSetsTheParameterLimitOfALoad()
    {
        var file = SmallModelFile(out _, out var test);
        var ml = new MLContext(seed: 1);
        var ex = Assert.Throws<FusionModelFormatException>(() => ml.Model.LoadFusionModel(new MemoryStream(file), out _, new FusionModelLoadOptions { MaximumParameters = 100 }));
        Assert.Matches(@"^The model's '[a-z-]+' network stores \d+ weights, more than the 100 parameters this load allows \(FusionModelLoadOptions.MaximumParameters\)\.", ex.Message);
        Assert.Contains("Hint: if you trust the file, raise the limit", ex.Message);
        using var loaded = (IDisposable)ml.Model.LoadFusionModel(new MemoryStream(file), out _, new FusionModelLoadOptions { MaximumParameters = 10_000_000 });
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Model.LoadFusionModel(new MemoryStream(file), out _, new FusionModelLoadOptions { MaximumEntryBytes = 1L << 32 }));
    }

    [Fact]
    public void TruncatedFilesGiveAClearError()
    {
        var file = SmallModelFile(out _, out _);
        foreach (var length in new[] { 0, 10, 100, file.Length / 3, file.Length / 2, file.Length - 100, file.Length - 1 })
        {
            var ex = LoadFails(file.AsSpan(0, length).ToArray());
            Assert.Contains("Hint:", ex.Message);
        }
        Assert.StartsWith("This is not a readable MLNetFusion model file", LoadFails(file.AsSpan(0, file.Length / 2).ToArray()).Message);
    }

    [Fact]
    public void FlippedBytesInEveryEntryNeverCrashOrHang()
    {
        var file = SmallModelFile(out _, out _);
        var entries = ZipLayout.LocalEntries(file);
        Assert.True(entries.Count >= 5, $"expected at least 5 entries, got {entries.Count}");
        var r = new Random(42);
        int mutated = 0, loadedFine = 0;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        foreach (var (name, start, length) in entries)
        {
            int perEntry = Math.Max(40, 240 / entries.Count);
            for (int i = 0; i < perEntry; i++)
            {
                var copy = file.ToArray();
                int flips = 1 + r.Next(3);
                for (int f = 0; f < flips; f++) copy[start + r.Next(length)] ^= (byte)(1 << r.Next(8));
                mutated++;
                try
                {
                    var loaded = new MLContext().Model.LoadFusionModel(new MemoryStream(copy), out _);
                    // A flip the format cannot notice (e.g. in JSON whitespace of the manifest) may load; it must load a working model.
                    (loaded as IDisposable)?.Dispose();
                    loadedFine++;
                }
                catch (FusionModelFormatException ex)
                {
                    Assert.Contains("Hint:", ex.Message);
                }
            }
        }
        Assert.True(mutated >= 200, $"only {mutated} mutations");
        // Almost every flip is detected (CRC, SHA-256 or a parse error); the rest are harmless.
        Assert.True(loadedFine < mutated / 10, $"{loadedFine} of {mutated} mutated files loaded");
        Assert.True(watch.Elapsed < TimeSpan.FromMinutes(3), $"mutations took {watch.Elapsed}");
    }

    /// <summary>
    /// 1,000 mutated files: 400 with flipped bytes, and 600 whose configuration JSON (the fusion model's, the late-fusion
    /// combiner's, the featurizers') was edited — a number made extreme, a field removed, a string changed — with the
    /// entry's size and SHA-256 recomputed, so that only the configuration checks can catch it. Every file must give
    /// <see cref="FusionModelFormatException"/>, or load and transform to finite scores: no other exception at load or
    /// at the first Transform.
    /// </summary>
    [Fact]
    public void AThousandMutatedFilesFailCleanlyOrLoadAndScoreFinitely()
    {
        var ml = new MLContext(seed: 1);
        var test = Raw(ml, 10, 2);
        var bases = new[] { SmallModelFile(out _, out _), LateModelFile(ml) };
        var r = new Random(7);
        var extremes = new JsonNode?[] { 0, -1, 1, 2, 3, 7, 20_000, int.MaxValue, int.MinValue, 1e9, -1e9, 1e300, 0.5, -0.5, "x", true, null };
        int flips = 0, edits = 0, loaded = 0, rejected = 0;
        var failures = new List<string>();
        for (int i = 0; i < 1000; i++)
        {
            var file = bases[i % bases.Length];
            byte[] mutated;
            string what;
            if (i % 5 < 2)
            {
                var entries = ZipLayout.LocalEntries(file);
                var (name, start, length) = entries[r.Next(entries.Count)];
                mutated = file.ToArray();
                mutated[start + r.Next(length)] ^= (byte)(1 << r.Next(8));
                what = $"flip in {name}";
                flips++;
            }
            else
            {
                var manifest = Manifest(file);
                var configs = manifest["components"]!.AsArray().Select(c => c!["entries"]!["config"]).Where(e => e != null).Select(e => (string)e!["path"]!).ToList();
                string path = configs[r.Next(configs.Count)];
                var json = JsonNode.Parse(ReadEntry(file, path))!;
                what = $"{path}: " + MutateJson(json, r, extremes);
                mutated = RewriteEntry(file, path, System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()));
                edits++;
            }
            try
            {
                var model = new MLContext(seed: 1).Model.LoadFusionModel(new MemoryStream(mutated), out _);
                try
                {
                    var output = model.Transform(test);
                    // A configuration may legitimately name no score column (a fusion trainer's ScoreColumnName = null): then every row is still read.
                    if (output.Schema.GetColumnOrNull("Score") == null) { using var cursor = output.GetRowCursor(output.Schema); while (cursor.MoveNext()) { } }
                    else if (Columns.Vectors(output, "Score").Any(v => v.Any(x => !float.IsFinite(x)))) failures.Add($"{what}: non-finite scores");
                    loaded++;
                }
                catch (Exception ex) when (ex is InvalidOperationException or ArgumentException && ex.Message.Contains("Hint:"))
                {
                    // A loaded model may still refuse data it was not made for, with an actionable message.
                    loaded++;
                }
                finally { (model as IDisposable)?.Dispose(); }
            }
            catch (FusionModelFormatException ex)
            {
                if (!ex.Message.Contains("Hint:")) failures.Add($"{what}: no hint: {ex.Message}");
                rejected++;
            }
            catch (Exception ex)
            {
                failures.Add($"{what}: {ex.GetType().Name}: {ex.Message.Split('\n')[0]}");
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of 1000 mutated files failed uncleanly ({flips} flips, {edits} edits; {loaded} loaded, {rejected} rejected):\n" +
            string.Join("\n", failures.Take(15)));
        Assert.True(edits >= 500 && flips >= 300);
    }

    private static byte[] LateModelFile(MLContext ml)
    {
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.LateFusion(new LateFusionOptions
        {
            Members = new()
            {
                new LateFusionMember("image", "Image", ml.Transforms.NormalizeMinMax("__n", "Image").Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", "__n"))),
                new LateFusionMember("tab", "Tab", ml.MulticlassClassification.Trainers.NetworkFusion(new() { Modalities = new() { ModalityOptions.Tabular("Tab", "tab", 8) }, Epochs = 1, Seed = 2 })),
            },
            Combiner = LateFusionCombiner.Stacking, NumberOfFolds = 2, Seed = 1, MemberCalibration = MemberCalibration.Temperature,
        })).Fit(Raw(ml, 80, 1));
        using var ms = new MemoryStream();
        ml.Model.SaveFusionModel(model, Raw(ml, 1, 1).Schema, ms);
        (model as IDisposable)?.Dispose();
        return ms.ToArray();
    }

    internal static byte[] ReadEntry(byte[] file, string path)
    {
        using var zip = new ZipArchive(new MemoryStream(file), ZipArchiveMode.Read);
        using var s = zip.GetEntry(path)!.Open();
        using var copy = new MemoryStream();
        s.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Changes one value somewhere in <paramref name="root"/> (nested option JSON strings included); returns what it did.</summary>
    private static string MutateJson(JsonNode root, Random r, JsonNode?[] extremes)
    {
        var slots = new List<(JsonNode parent, object key, JsonNode? value)>();
        void Walk(JsonNode? node)
        {
            if (node is JsonObject o) foreach (var (k, v) in o.ToList()) { slots.Add((o, k, v)); Walk(v); }
            else if (node is JsonArray a) for (int i = 0; i < a.Count; i++) { slots.Add((a, i, a[i])); Walk(a[i]); }
        }
        // The trainer options are JSON inside a string: mutate inside them half the time.
        if (root is JsonObject top && top["options"] is JsonValue v && v.TryGetValue<string>(out var inner) && inner.StartsWith('{') && r.Next(2) == 0)
        {
            var options = JsonNode.Parse(inner)!;
            string did = "options." + MutateJson(options, r, extremes);
            top["options"] = options.ToJsonString();
            return did;
        }
        Walk(root);
        if (slots.Count == 0) return "nothing";
        var (parent, key, value) = slots[r.Next(slots.Count)];
        var replacement = extremes[r.Next(extremes.Length)]?.DeepClone();
        if (parent is JsonObject po)
        {
            if (r.Next(6) == 0) { po.Remove((string)key); return $"removed {key}"; }
            po[(string)key] = replacement;
        }
        else ((JsonArray)parent)[(int)key] = replacement;
        return $"{key}: {value?.ToJsonString() ?? "null"} -> {replacement?.ToJsonString() ?? "null"}";
    }

    [Fact]
    public void ANewerFormatVersionStatesBothVersions()
    {
        var file = Rewrite(SmallModelFile(out _, out _), m => m["formatVersion"] = FusionModelFile.FormatVersion + 1);
        var ex = LoadFails(file);
        Assert.StartsWith($"The model file has format version {FusionModelFile.FormatVersion + 1} (written by MLNetFusion {FusionModelFile.LibraryVersion}), " +
            $"but this MLNetFusion ({FusionModelFile.LibraryVersion}) reads format versions up to {FusionModelFile.FormatVersion}.", ex.Message);
    }

    [Fact]
    public void EntryPathsOutsideTheArchiveAreRejected()
    {
        var file = SmallModelFile(out _, out _);
        var ex = LoadFails(Rewrite(file, _ => { }, name => name.StartsWith("components/1/") ? "../" + name : name));
        Assert.StartsWith("Entry path '../components/1/", ex.Message);
        Assert.Contains("points outside the archive root", ex.Message);
        // A manifest that points an entry outside the root is rejected before anything is read.
        var ex2 = LoadFails(Rewrite(file, m => m["components"]![1]!["entries"]!.AsObject().First().Value!["path"] = "../../etc/passwd"));
        Assert.StartsWith("Entry path '../../etc/passwd' points outside the archive root", ex2.Message);
        Assert.Contains("Entry path '/abs' points outside", LoadFails(Rewrite(file, _ => { }, n => n == FusionModelFile.SchemaEntry ? "/abs" : n)).Message);
    }

    [Fact]
    public void UnknownComponentTypesAreNeverCreated()
    {
        var file = SmallModelFile(out _, out _);
        var ex = LoadFails(Rewrite(file, m => m["components"]![1]!["kind"] = "System.Diagnostics.Process"));
        Assert.StartsWith("Component 1 has unknown type 'System.Diagnostics.Process'.", ex.Message);
        Assert.Contains("MLNetFusion.FusionPrediction", ex.Message);
        // The informational CLR type name is never used to create anything.
        using var ok = (IDisposable)new MLContext().Model.LoadFusionModel(
            new MemoryStream(Rewrite(file, m => { foreach (var c in m["components"]!.AsArray()) c!["clrType"] = "System.Diagnostics.Process"; })), out _);
        // Assemblies outside ML.NET are never loaded.
        var ex2 = LoadFails(Rewrite(file, m => m["mlNetAssemblies"]!.AsArray().Add("System.Diagnostics.Process")));
        Assert.StartsWith("The manifest names assembly 'System.Diagnostics.Process', which is not part of ML.NET.", ex2.Message);
    }

    [Fact]
    public void TamperedManifestsGiveClearErrors()
    {
        var file = SmallModelFile(out _, out _);
        Assert.StartsWith("The manifest's component graph is invalid: component 1 is used more than once",
            LoadFails(Rewrite(file, m => m["components"]![0]!["children"]!.AsArray().Add(1))).Message);
        Assert.StartsWith("The manifest's component graph is invalid: component 0 has child 99",
            LoadFails(Rewrite(file, m => m["components"]![0]!["children"]!.AsArray().Add(99))).Message);
        Assert.Contains("its SHA-256 does not match the manifest",
            LoadFails(Rewrite(file, m => m["components"]!.AsArray().First(c => (string)c!["kind"]! == "MLNetFusion.FusionPrediction")!["entries"]!["config"]!["sha256"] = new string('0', 64))).Message);
        Assert.StartsWith("The manifest is not valid",
            LoadFails(Rewrite(file, m => m["components"] = "nonsense")).Message);
        Assert.StartsWith("The manifest does not describe an MLNetFusion model",
            LoadFails(Rewrite(file, m => m["format"] = "Other")).Message);
    }

    [Fact]
    public void AnMLNetModelFileIsNotAFusionModel()
    {
        var ml = new MLContext();
        var data = Raw(ml, 10, 1);
        using var ms = new MemoryStream();
        ml.Model.Save(ml.Transforms.Concatenate("F", "Tab").Fit(data), data.Schema, ms);
        Assert.StartsWith("The archive has no 'manifest.json', so it is not an MLNetFusion model file.", LoadFails(ms.ToArray()).Message);
    }

    [Fact]
    public void ACustomTransformerThatCannotBeSavedIsNamed()
    {
        var ml = new MLContext();
        var data = Raw(ml, 10, 1);
        // A CustomMapping without a registered contract name: ML.NET itself cannot save it.
        var custom = ml.Transforms.CustomMapping<ToyRow, DoubledTab>((src, dst) => dst.Doubled = src.Tab.Select(v => 2 * v).ToArray(), contractName: null).Fit(data);
        var chain = new TransformerChain<ITransformer>(ml.Transforms.Concatenate("F", "Tab").Fit(data), custom);
        var ex = Assert.Throws<InvalidOperationException>(() => ml.Model.SaveFusionModel(chain, data.Schema, new MemoryStream()));
        Assert.StartsWith("Component '0:TransformerChain`1, link 1' (Microsoft.ML.Transforms.CustomMappingTransformer`2", ex.Message);
        Assert.Contains("cannot be saved:", ex.Message);
        Assert.Contains("Hint: a fusion model file can hold ML.NET's built-in transformers, MLNetFusion's components and chains of them", ex.Message);
    }

    public sealed class DoubledTab { [VectorType(4)] public float[] Doubled { get; set; } = Array.Empty<float>(); }
}

/// <summary>Finds each entry's data bytes in a zip file (local headers), to corrupt one entry at a time.</summary>
internal static class ZipLayout
{
    public static List<(string name, int start, int length)> LocalEntries(byte[] zip)
    {
        var result = new List<(string, int, int)>();
        int p = 0;
        while (p + 30 <= zip.Length && BitConverter.ToUInt32(zip, p) == 0x04034b50)
        {
            int flags = BitConverter.ToUInt16(zip, p + 6);
            int compressed = (int)BitConverter.ToUInt32(zip, p + 18);
            int nameLen = BitConverter.ToUInt16(zip, p + 26), extraLen = BitConverter.ToUInt16(zip, p + 28);
            var name = System.Text.Encoding.UTF8.GetString(zip, p + 30, nameLen);
            int start = p + 30 + nameLen + extraLen;
            if ((flags & 8) != 0) throw new InvalidOperationException("entries with data descriptors are not supported by this helper");
            result.Add((name, start, compressed));
            p = start + compressed;
        }
        return result;
    }
}
