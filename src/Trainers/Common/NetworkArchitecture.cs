using MLNetFusion.Models;

namespace MLNetFusion.Trainers;

/// <summary>
/// What a model file records of a fusion network, instead of the trainer's options: the modalities' encoders as they
/// were built (the trainer-wide settings, such as augmentation presets and per-clip normalisation, already applied) and
/// the family's own layers. Its field names are the file format, written and read here only, so renaming or adding a
/// trainer option changes nothing in it; <see cref="CurrentVersion"/> is raised when a field's meaning changes. Files
/// written before it hold the trainer's options, which are read as they were.
/// </summary>
/// <typeparam name="TLayers">The family's layers (a <see cref="FusionLayers"/>; <c>object</c> when writing, so the family's own fields are written).</typeparam>
/// <param name="Version">The record's version.</param>
/// <param name="Modalities">The encoders' modalities, as built.</param>
/// <param name="Layers">The family's layers.</param>
internal sealed record NetworkArchitecture<TLayers>(int Version, List<ModalityOptions> Modalities, TLayers Layers)
{
    /// <summary>The version this build writes and reads up to.</summary>
    public const int CurrentVersion = 1;
}

/// <summary>The layers every fusion family's network has: its prediction head and the per-modality heads.</summary>
internal abstract record FusionLayers
{
    /// <summary>For reading a file.</summary>
    protected FusionLayers() { }

    /// <summary>The common layers of <paramref name="options"/>.</summary>
    protected FusionLayers(FusionTrainerOptions options)
    {
        HeadHiddenWidths = options.HeadHiddenWidths.ToArray();
        HeadDropout = options.HeadDropout;
        ModalityDropout = options.ModalityDropout;
        AuxiliaryLossWeight = options.AuxiliaryLossWeight;
    }

    /// <summary>Hidden widths of the prediction head.</summary>
    public int[] HeadHiddenWidths { get; init; } = Array.Empty<int>();
    /// <summary>Dropout in the prediction head.</summary>
    public double HeadDropout { get; init; }
    /// <summary>Modality dropout (its masks are part of the network's forward pass).</summary>
    public double ModalityDropout { get; init; }
    /// <summary>The auxiliary losses' weight: above 0, the network has per-modality heads.</summary>
    public double AuxiliaryLossWeight { get; init; }

    /// <summary>
    /// Sets these layers and <paramref name="modalities"/> on fresh options, with every trainer-wide modality setting
    /// neutral: the modalities were recorded with those settings applied, so building the network again gives the same encoders.
    /// </summary>
    public void ApplyTo(FusionTrainerOptions options, List<ModalityOptions> modalities)
    {
        options.HeadHiddenWidths = HeadHiddenWidths;
        options.HeadDropout = HeadDropout;
        options.ModalityDropout = ModalityDropout;
        options.AuxiliaryLossWeight = AuxiliaryLossWeight;
        options.AugmentationStrength = 0;
        ApplyFamily(options, modalities);
    }

    /// <summary>Sets the family's own layers and the modalities.</summary>
    protected abstract void ApplyFamily(FusionTrainerOptions options, List<ModalityOptions> modalities);
}
