using MLNetFusion.Transforms.Audio;
using Microsoft.ML;
using System.Diagnostics;
using static MLNetFusion.Benchmarks.Measure;

namespace MLNetFusion.Benchmarks;

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
            seconds = Math.Round(median, 3), clips_per_second = Math.Round(n / median), target = 15000, repetitions = Repetitions,
            best_clips_per_second = Math.Round(n / runs.Min()),
            load_audio_only_clips_per_second = Math.Round(loadOnly / loadSeconds) });
        TorchaudioAnchor(folder, rows.Select(r => r.Path).ToArray(), n / median);
    }

    /// <summary>The anchor of issue 25: torchaudio's log-mel (and WAV decode + log-mel) on the same clips, 2 threads, in this run.</summary>
    private const string TorchaudioScript = """
        import json, sys, time, torch, torchaudio
        torch.set_num_threads(int(sys.argv[3]))
        folder, files = sys.argv[1], open(sys.argv[2]).read().split()
        mel = torchaudio.transforms.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=128, n_mels=40)
        def logmel(w): return torch.log(mel(w) + 1e-6)
        waves = {f: torchaudio.load(folder + "/" + f)[0] for f in set(files)}
        for f in files[:500]: logmel(waves[f])
        t = time.perf_counter()
        with torch.inference_mode():
            for f in files: logmel(waves[f])
        alone = len(files) / (time.perf_counter() - t)
        t = time.perf_counter()
        with torch.inference_mode():
            for f in files: logmel(torchaudio.load(folder + "/" + f)[0])
        decoded = len(files) / (time.perf_counter() - t)
        print(json.dumps({"torch": torch.__version__, "torchaudio": torchaudio.__version__, "logmel": alone, "decode_logmel": decoded}))
        """;

    private static void TorchaudioAnchor(string folder, string[] files, double ours)
    {
        string script = Path.Combine(Path.GetTempPath(), "mlnetfusion-bench-torchaudio.py");
        string list = Path.Combine(Path.GetTempPath(), "mlnetfusion-bench-torchaudio.txt");
        File.WriteAllText(script, TorchaudioScript);
        File.WriteAllLines(list, files);
        int threads = MLNetFusion.Runtime.TorchRuntime.DefaultThreads();
        string? output = null, error = null;
        try
        {
            // Debian's interpreter (where python3-torchaudio installs), not whichever python3 comes first on the path.
            var start = new ProcessStartInfo(File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { script, folder, list, threads.ToString(System.Globalization.CultureInfo.InvariantCulture) }) start.ArgumentList.Add(a);
            using var p = Process.Start(start)!;
            var stderr = p.StandardError.ReadToEndAsync();
            output = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            if (p.ExitCode != 0) { error = stderr.Result.Trim().Split('\n').LastOrDefault(); output = null; }
        }
        catch (System.ComponentModel.Win32Exception ex) { error = "python3 not found: " + ex.Message; }
        if (output == null)
        {
            Emit(new { benchmark = "audio_featurization_torchaudio", skipped = true,
                reason = $"{error} (install Debian's python3-torchaudio for the anchor: apt-get install python3-torch python3-torchaudio)" });
            return;
        }
        using var json = System.Text.Json.JsonDocument.Parse(output);
        double logmel = json.RootElement.GetProperty("logmel").GetDouble(), decoded = json.RootElement.GetProperty("decode_logmel").GetDouble();
        Emit(new { benchmark = "audio_featurization_torchaudio", torch = json.RootElement.GetProperty("torch").GetString(), torchaudio = json.RootElement.GetProperty("torchaudio").GetString(),
            threads, clips = files.Length, logmel_clips_per_second = Math.Round(logmel), decode_logmel_clips_per_second = Math.Round(decoded),
            mlnetfusion_load_logmel_clips_per_second = Math.Round(ours), ratio_to_torchaudio_logmel = Math.Round(ours / logmel, 2),
            ratio_to_torchaudio_decode_logmel = Math.Round(ours / decoded, 2), target_ratio = 3.0 });
    }


    private sealed class PathRow { public string Path { get; set; } = ""; }
}
