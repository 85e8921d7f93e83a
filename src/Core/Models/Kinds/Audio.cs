namespace MLNetFusion.Models.Kinds;

/// <summary>
/// Audio as a <c>[bands, frames]</c> spectrogram: a CNN with the spectrogram augmentation (SpecAugment) on by default,
/// and, when a sweep tries it, per-clip normalisation inside the encoder.
/// </summary>
internal sealed class AudioKind : IModalityKind
{
    /// <summary>
    /// The spectrogram augmentation's strength on an audio modality that sets none of its own while the trainer's
    /// <c>AugmentationStrength</c> is 0: a voice or a microphone the model never saw is the shift audio meets, and masks,
    /// shifts and gain make the CNN rely less on exact spectra. Chosen by leave-one-speaker-out on avdigits (docs/shift.md, "Remedies").
    /// </summary>
    internal const double DefaultStrength = 0.5;

    public ModalityKind Kind => ModalityKind.Audio;
    public string PlainFeatures => "log-mel";
    public EncoderKind DefaultEncoder => EncoderKind.Cnn;
    public ModalityAugmentation DefaultAugmentation(double strength) => ModalityAugmentation.Spectrogram(strength);
    public bool NeuralLateFusionMember => true;
    public IModalityColumnInference? ColumnInference => BuiltInColumnInference.Get(Kind);

    public IReadOnlyList<ModalityTuning> Tunings { get; } = new[]
    {
        new ModalityTuning("audioAugmentationStrength", "Spectrogram augmentation (SpecAugment) strength of audio modalities (0: off)",
            new object[] { DefaultStrength, 0.0, 1.0 }, (m, v) => m.Augmentation = ModalityAugmentation.Spectrogram(Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture))),
        new ModalityTuning("perClipNormalization", "Per-clip normalisation (CMVN) inside audio CNN encoders: each mel band minus its mean over the clip, divided by its spread",
            new object[] { false, true }, (m, v) => { if (m.EncoderOptions is CnnEncoderOptions cnn) cnn.PerClipNormalization = Convert.ToBoolean(v, System.Globalization.CultureInfo.InvariantCulture); }),
    };

    public void ApplyTrainerSettings(ModalityOptions m, ModalityTrainerSettings s)
        => m.Augmentation ??= DefaultAugmentation(s.AugmentationStrength > 0 ? s.AugmentationStrength : DefaultStrength);

    /// <summary>
    /// Model files written before the architecture record (FusionPrediction 3 and older) stored the trainer's options,
    /// whose <c>perClipAudioNormalization</c> switched on per-clip normalisation in every audio modality's encoder:
    /// applied here to the modalities read from such options, so those files score as before.
    /// </summary>
    internal static void ReadLegacyTrainerOptions(string optionsJson, IEnumerable<ModalityOptions> modalities)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(optionsJson);
        if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object
            || !doc.RootElement.TryGetProperty("perClipAudioNormalization", out var perClip) || perClip.ValueKind != System.Text.Json.JsonValueKind.True) return;
        foreach (var m in modalities)
            if (m.Kind == ModalityKind.Audio && m.EncoderOptions is CnnEncoderOptions cnn) cnn.PerClipNormalization = true;
    }
}
