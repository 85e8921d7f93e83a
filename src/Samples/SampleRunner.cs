namespace MLNetFusion.Samples;

/// <summary>Runs a documented sample by name (<c>mlnetfusion sample &lt;name&gt;</c>).</summary>
public static class SampleRunner
{
    /// <summary>The samples' names.</summary>
    public static IReadOnlyList<string> Names { get; } = new[]
        { "early-fusion-avdigits", "neural-fusion", "late-fusion", "audio", "pretrained-image", "save-and-serve", "onnx-export", "sweep", "modality-report" };

    /// <summary>The samples that train networks, and so take <c>--epochs</c>.</summary>
    public static IReadOnlyList<string> WithEpochs { get; } = new[] { "early-fusion-avdigits", "neural-fusion", "late-fusion", "save-and-serve", "onnx-export", "sweep", "modality-report" };

    /// <summary>The samples that read avdigits, and so take <c>--data</c>.</summary>
    public static IReadOnlyList<string> WithData { get; } = new[] { "early-fusion-avdigits" };

    /// <summary>Runs the sample and returns the exit code.</summary>
    /// <param name="name">The sample (<see cref="Names"/>).</param>
    /// <param name="epochs">Epochs of its networks (the sweep's most), or <c>null</c> for the sample's own (8 to 15).</param>
    /// <param name="data">The avdigits folder for the samples that read it (<see cref="WithData"/>), or <c>null</c> for <see cref="Datasets.DefaultPaths.AvDigits"/>.</param>
    public static int Run(string name, int? epochs = null, string? data = null)
    {
        if (data != null && Names.Contains(name) && !WithData.Contains(name))
            throw new ArgumentException($"Sample '{name}' reads no dataset folder (it generates its data), so --data does not apply." + Environment.NewLine + $"Hint: --data applies to {string.Join(", ", WithData)}.");
        if (epochs is int e && (e < 1 || e > 1000))
            throw new ArgumentOutOfRangeException(nameof(epochs), e, "--epochs must be between 1 and 1000." + Environment.NewLine + "Hint: a few epochs give a quick look; the samples' defaults are 8 to 15.");
        if (epochs != null && Names.Contains(name) && !WithEpochs.Contains(name))
            throw new ArgumentException($"Sample '{name}' trains no network, so --epochs does not apply." + Environment.NewLine + $"Hint: --epochs applies to {string.Join(", ", WithEpochs)}.");
        switch (name)
        {
            case "early-fusion-avdigits": EarlyFusionSample.Example(data, epochs: epochs ?? 15); return 0;
            case "neural-fusion": NeuralFusionSample.Example(epochs ?? 15); return 0;
            case "audio": AudioFeaturizationSample.Example(); return 0;
            case "pretrained-image": PretrainedImageFeaturesSample.Example(); return 0;
            case "late-fusion": LateFusionSample.Example(epochs ?? 15); return 0;
            case "save-and-serve": SaveAndServeSample.Example(epochs ?? 8); return 0;
            case "onnx-export": OnnxExportSample.Example(epochs ?? 8); return 0;
            case "sweep": SweepSample.Example(epochs ?? 12); return 0;
            case "modality-report": ModalityReportSample.Example(epochs ?? 10); return 0;
            default:
                throw new ArgumentException($"Unknown sample '{name}'." + Environment.NewLine + $"Hint: use one of {string.Join(", ", Names)}.");
        }
    }
}
