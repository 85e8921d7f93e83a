namespace MLNetFusion.Samples.Samples;

/// <summary>Runs a documented sample by name (<c>mlnetfusion sample &lt;name&gt;</c>).</summary>
public static class SampleRunner
{
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
                Console.Error.WriteLine($"Unknown sample '{name}'. Samples: early-fusion-avdigits, neural-fusion, late-fusion, audio, pretrained-image, save-and-serve, sweep, modality-report.");
                return 2;
        }
    }
}
