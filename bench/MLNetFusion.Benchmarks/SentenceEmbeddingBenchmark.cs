using System.Diagnostics;
using Microsoft.ML;
using MLNetFusion.Pretrained.Text;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

/// <summary>
/// <c>bench --only sentences</c> (issue 42): sentence-embedding throughput of <c>EmbedSentences</c> (all-MiniLM-L6-v2 with
/// ONNX Runtime) on short texts the length of tweets and reviews, through <c>Transform</c>, at each batch size.
/// </summary>
internal static class SentenceEmbeddingBenchmark
{
    private static readonly string[] Words =
    {
        "the", "flight", "was", "delayed", "again", "and", "nobody", "told", "us", "why", "thanks", "for", "great", "service", "crew", "lost", "my",
        "bag", "seat", "food", "terrible", "lovely", "staff", "gate", "changed", "hours", "late", "refund", "please", "help", "customer", "never", "fly", "again",
    };

    public static void Run(int rows = 2000)
    {
        var rand = new Random(1);
        var texts = Enumerable.Range(0, rows).Select(_ => string.Join(' ', Enumerable.Range(0, 6 + rand.Next(20)).Select(_ => Words[rand.Next(Words.Length)]))).ToList();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(texts.Select(t => new TextRow { Text = t }));
        ml.Transforms.EmbedSentences("E", "Text").Fit(data).Embed(texts.Take(64).ToList());   // load the model once
        foreach (int batch in new[] { 1, 8, 32, 128 })
        {
            var model = ml.Transforms.EmbedSentences(new SentenceEmbeddingOptions { OutputColumnName = "E", InputColumnName = "Text", BatchSize = batch }).Fit(data);
            var sizes = new List<double>();
            for (int rep = 0; rep < Repetitions; rep++)
            {
                var sw = Stopwatch.StartNew();
                long n = Consume(model.Transform(data), "E");
                sizes.Add(n / sw.Elapsed.TotalSeconds);
            }
            Emit(new { benchmark = "sentence_embedding_throughput", model = "all-MiniLM-L6-v2", rows, words_per_text = "6-25", batch, threads = MLNetFusion.Runtime.TorchRuntime.DefaultThreads(),
                sentences_per_second = Math.Round(Median(sizes)), repetitions = Repetitions });
        }
    }

    private sealed class TextRow { public string Text { get; set; } = ""; }
}
