using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Transforms.Audio;

namespace MLNetFusion.Samples;

/// <summary>LoadAudio + MelSpectrogram: WAV paths to a fixed-size log-mel matrix per row.</summary>
public static class AudioFeaturizationSample
{
    /// <summary>Runs the sample.</summary>
    public static void Example()
    {
        var folder = Path.Combine(Path.GetTempPath(), "mlnetfusion-audio-sample");
        Directory.CreateDirectory(folder);
        // A 0.5 s, 44.1 kHz tone: LoadAudio resamples it to 16 kHz and pads it to 1 s.
        WavWriter.Write(Path.Combine(folder, "tone.wav"), Enumerable.Range(0, 22050).Select(i => (float)(0.3 * Math.Sin(2 * Math.PI * 440 * i / 44100.0))).ToArray(), 44100);

        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new { Path = "tone.wav" }, new { Path = "" } });
        var pipeline = ml.Transforms.LoadAudio("Audio", folder, "Path", sampleRate: 16000, durationSeconds: 1.0)
            .Append(ml.Transforms.MelSpectrogram("LogMel", "Audio", fftSize: 400, hopLength: 160, bands: 64));
        var model = pipeline.Fit(data);
        var output = model.Transform(data);
        var type = (VectorDataViewType)output.Schema["LogMel"].Type;
        Console.WriteLine($"LogMel: {type} -> [bands, frames] = [{string.Join(", ", type.Dimensions)}]");
        var rows = output.GetColumn<float[]>("LogMel").ToList();
        Console.WriteLine($"Row 0 max {rows[0].Max():F2}; row 1 (empty path = missing audio) is all NaN: {rows[1].All(float.IsNaN)}");
        // Expected output:
        // LogMel: Vector<Single, 64, 101> -> [bands, frames] = [64, 101]
        // Row 0 max ...; row 1 (empty path = missing audio) is all NaN: True
    }
}
