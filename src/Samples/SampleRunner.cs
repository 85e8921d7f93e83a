namespace MLNetFusion.Samples;

/// <summary>Runs a documented sample by name (<c>mlnetfusion sample &lt;name&gt;</c>).</summary>
public static class SampleRunner
{
    /// <summary>The samples' names.</summary>
    public static IReadOnlyList<string> Names { get; } = new[]
        { "early-fusion-avdigits", "neural-fusion", "late-fusion", "audio", "pretrained-image", "save-and-serve", "sweep", "modality-report" };

    /// <summary>Runs the sample and returns the exit code.</summary>
    public static int Run(string name)
    {
        switch (name)
        {
            case "early-fusion-avdigits": EarlyFusionSample.Example(); return 0;
            case "neural-fusion": NeuralFusionSample.Example(); return 0;
            case "audio": AudioFeaturizationSample.Example(); return 0;
            case "pretrained-image": PretrainedImageFeaturesSample.Example(); return 0;
            case "late-fusion": LateFusionSample.Example(); return 0;
            case "save-and-serve": SaveAndServeSample.Example(); return 0;
            case "sweep": SweepSample.Example(); return 0;
            case "modality-report": ModalityReportSample.Example(); return 0;
            default:
                throw new ArgumentException($"Unknown sample '{name}'." + Environment.NewLine + $"Hint: use one of {string.Join(", ", Names)}.");
        }
    }
}
