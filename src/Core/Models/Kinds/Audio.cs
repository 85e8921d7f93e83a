namespace MLNetFusion.Models.Kinds;

/// <summary>
/// Audio as a <c>[bands, frames]</c> spectrogram: a CNN with the spectrogram augmentation (SpecAugment) and, when the
/// trainer asks for it, per-clip normalisation inside the encoder.
/// </summary>
internal sealed class AudioKind : IModalityKind
{
    public ModalityKind Kind => ModalityKind.Audio;
    public EncoderKind DefaultEncoder => EncoderKind.Cnn;
    public ModalityAugmentation DefaultAugmentation(double strength) => ModalityAugmentation.Spectrogram(strength);
    public bool NeuralLateFusionMember => true;
    public IModalityColumnInference? ColumnInference => BuiltInColumnInference.Get(Kind);

    public void ApplyTrainerSettings(ModalityOptions m, ModalityTrainerSettings s)
    {
        if (m.Augmentation == null && s.AugmentationStrength > 0) m.Augmentation = DefaultAugmentation(s.AugmentationStrength);
        else if (m.Augmentation == null && s.AudioAugmentationStrength > 0) m.Augmentation = DefaultAugmentation(s.AudioAugmentationStrength);
        if (s.PerClipAudioNormalization && m.EncoderOptions is CnnEncoderOptions cnn) cnn.PerClipNormalization = true;
    }
}
