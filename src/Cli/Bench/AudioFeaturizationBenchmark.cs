using MLNetFusion.Transforms.Audio;
using Microsoft.ML;
using System.Diagnostics;
using static MLNetFusion.Cli.Bench.Measure;

namespace MLNetFusion.Cli.Bench;

/// <summary><c>bench --only audio</c>: LoadAudio + MelSpectrogram throughput.</summary>
internal static class AudioFeaturizationBenchmark
{
    /// <summary>LoadAudio + MelSpectrogram throughput on one-second 8 kHz clips.</summary>
    public static void AudioThroughput(string? avdigits)
    {
        var ml = new MLContext(seed: 1);
        string folder;
        string[] files;
        if (avdigits != null && Directory.Exists(Path.Combine(avdigits, "audio")))
        {
            folder = Path.Combine(avdigits, "audio");
            files = Directory.GetFiles(folder, "*.wav").Select(Path.GetFileName).ToArray()!;
        }
        else
        {
            folder = Path.Combine(Path.GetTempPath(), "mlnetfusion-bench-audio");
            Directory.CreateDirectory(folder);
            var r = new Random(1);
            files = Enumerable.Range(0, 1000).Select(i => $"{i}.wav").ToArray();
            foreach (var f in files)
                if (!File.Exists(Path.Combine(folder, f)))
                    WavWriter.Write(Path.Combine(folder, f), Enumerable.Range(0, 8000).Select(_ => (float)(r.NextDouble() - 0.5)).ToArray(), 8000);
        }
        var rows = Enumerable.Range(0, 10_000).Select(i => new PathRow { Path = files[i % files.Length] }).ToArray();
        var data = ml.Data.LoadFromEnumerable(rows);
        var pipeline = ml.Transforms.LoadAudio("Audio", folder, "Path", 8000, 1.0).Append(ml.Transforms.MelSpectrogram("LogMel", "Audio", 256, 128, 40));
        var model = pipeline.Fit(data);
        Consume(model.Transform(ml.Data.LoadFromEnumerable(rows.Take(500))), "LogMel");   // warm-up (file cache, torch)
        var sw = Stopwatch.StartNew();
        long loadOnly = Consume(model.Transform(data), "Audio");
        double loadSeconds = sw.Elapsed.TotalSeconds;
        long n = 0;
        var runs = new List<double>();
        for (int rep = 0; rep < Repetitions; rep++)
        {
            sw.Restart();
            n = Consume(model.Transform(data), "LogMel");
            runs.Add(sw.Elapsed.TotalSeconds);
        }
        double median = Median(runs);
        Emit(new { benchmark = "audio_featurization", pipeline = "LoadAudio(8 kHz, 1 s) + MelSpectrogram(n_fft 256, hop 128, 40 bands)", source = avdigits != null ? "avdigits" : "generated", clips = n,
            seconds = Math.Round(median, 3), clips_per_second = Math.Round(n / median), target = 5000, repetitions = Repetitions,
            best_clips_per_second = Math.Round(n / runs.Min()),
            load_audio_only_clips_per_second = Math.Round(loadOnly / loadSeconds) });
    }


    private sealed class PathRow { public string Path { get; set; } = ""; }
}
