using static TorchSharp.torch;

namespace MLNetFusion.Models;

/// <summary>
/// On-the-fly augmentation of one modality's training batches, applied by its encoder to the standardised input in
/// training mode only (never at inference: <c>Transform</c> and <c>PredictionEngine</c> run the network in eval mode).
/// Random draws come from torch's generator, which the trainer seeds, so a seed gives the same augmented batches.
/// </summary>
/// <remarks>
/// <list type="table">
/// <item><term>Spectrograms</term><description>SpecAugment (Park et al., 2019): <see cref="TimeMasks"/> and
/// <see cref="FrequencyMasks"/> set random bands of frames or mel bands to the clip's mean (0 after standardisation);
/// <see cref="TimeShift"/> moves the clip in time (edges repeated); <see cref="GainDecibels"/> adds a random level;
/// <see cref="FrequencyWarp"/> stretches the band axis from its low end (vocal tract length perturbation, Jaitly and Hinton,
/// 2013: a shorter or longer vocal tract scales the formants), and <see cref="TimeStretch"/> stretches the time axis about
/// the clip's centre (a faster or slower speaker). Both interpolate linearly and repeat the edge values.</description></item>
/// <item><term>Images</term><description>Random erasing (Zhong et al., 2020) with <see cref="ErasingProbability"/> of a
/// rectangle up to <see cref="ErasingArea"/> of the image; random translation up to <see cref="Translate"/> of each side.</description></item>
/// <item><term>Tabular</term><description>Gaussian noise of <see cref="Noise"/> standard deviations and feature dropout
/// (<see cref="FeatureDropout"/>: each value set to its mean with that probability).</description></item>
/// </list>
/// Every field defaults to 0 (off). The presets <see cref="Spectrogram"/>, <see cref="Image"/> and <see cref="Tabular"/>
/// scale one strength; <see cref="For"/> picks the preset of a modality kind.
/// </remarks>
public sealed class ModalityAugmentation
{
    /// <summary>Number of time masks per spectrogram.</summary>
    public int TimeMasks { get; set; }
    /// <summary>Largest time mask, as a share of the frames.</summary>
    public double TimeMaskWidth { get; set; }
    /// <summary>Number of frequency masks per spectrogram.</summary>
    public int FrequencyMasks { get; set; }
    /// <summary>Largest frequency mask, as a share of the bands.</summary>
    public double FrequencyMaskWidth { get; set; }
    /// <summary>Largest shift in time, as a share of the frames.</summary>
    public double TimeShift { get; set; }
    /// <summary>Largest random gain, ± this many dB (on a natural-log spectrogram).</summary>
    public double GainDecibels { get; set; }
    /// <summary>Largest frequency warp: each clip's band axis is scaled by a factor drawn from [1 − w, 1 + w] (VTLP). The
    /// factor acts on mel bands, which approximates a linear warp of the frequencies.</summary>
    public double FrequencyWarp { get; set; }
    /// <summary>Largest time stretch: each clip's time axis is scaled about its centre by a factor drawn from [1 − s, 1 + s].</summary>
    public double TimeStretch { get; set; }
    /// <summary>Probability of erasing a rectangle of an image.</summary>
    public double ErasingProbability { get; set; }
    /// <summary>Largest erased area, as a share of the image.</summary>
    public double ErasingArea { get; set; }
    /// <summary>Largest translation, as a share of each side.</summary>
    public double Translate { get; set; }
    /// <summary>Standard deviation of Gaussian noise added to standardised tabular features.</summary>
    public double Noise { get; set; }
    /// <summary>Probability of setting each standardised tabular feature to its mean (for text: of dropping each token).</summary>
    public double FeatureDropout { get; set; }

    /// <summary>SpecAugment-style spectrogram augmentation of the given strength (1 = two masks of up to 10% each way, 10% shift, ±6 dB).</summary>
    /// <param name="strength">Scale of every setting; 0 is off.</param>
    public static ModalityAugmentation Spectrogram(double strength = 1) => new()
    {
        TimeMasks = strength > 0 ? 2 : 0, TimeMaskWidth = 0.1 * strength, FrequencyMasks = strength > 0 ? 2 : 0, FrequencyMaskWidth = 0.1 * strength,
        TimeShift = 0.1 * strength, GainDecibels = 6 * strength,
    };

    /// <summary>Speaker perturbation of the given strength (1 = frequency warp and time stretch of up to ±10%): the
    /// augmentation that targets a new voice, where <see cref="Spectrogram"/> targets noise and occlusion.</summary>
    /// <param name="strength">Scale of every setting; 0 is off.</param>
    public static ModalityAugmentation Speaker(double strength = 1) => new() { FrequencyWarp = Math.Min(0.5, 0.1 * strength), TimeStretch = Math.Min(0.5, 0.1 * strength) };

    /// <summary>Image augmentation of the given strength (1 = erasing half the time up to 20% of the area, translations up to 10%).</summary>
    /// <param name="strength">Scale of every setting; 0 is off.</param>
    public static ModalityAugmentation Image(double strength = 1) => new()
    {
        ErasingProbability = Math.Min(1, 0.5 * strength), ErasingArea = 0.2 * strength, Translate = 0.1 * strength,
    };

    /// <summary>Tabular augmentation of the given strength (1 = noise of 0.1 standard deviation, 10% feature dropout).</summary>
    /// <param name="strength">Scale of every setting; 0 is off.</param>
    public static ModalityAugmentation Tabular(double strength = 1) => new() { Noise = 0.1 * strength, FeatureDropout = Math.Min(0.5, 0.1 * strength) };

    /// <summary>Text augmentation of the given strength (1 = 10% of the tokens dropped, <see cref="FeatureDropout"/> on token ids).</summary>
    /// <param name="strength">Scale of every setting; 0 is off.</param>
    public static ModalityAugmentation Text(double strength = 1) => new() { FeatureDropout = Math.Min(0.5, 0.1 * strength) };

    /// <summary>
    /// The text preset's strength a text modality trains with when neither it nor the trainer sets one: 30% of the
    /// tokens dropped, the word dropout of deep averaging networks (Iyyer et al., ACL 2015), which keeps an embedding
    /// bag from memorising the rare words of a few thousand rows.
    /// </summary>
    public const double TextWordDropoutStrength = 3;

    /// <summary>The preset for a kind of modality.</summary>
    /// <param name="kind">The modality's kind.</param>
    /// <param name="strength">Scale of every setting; 0 is off.</param>
    public static ModalityAugmentation For(ModalityKind kind, double strength) => ModalityRegistry.Get(kind).DefaultAugmentation(strength);

    /// <summary>Whether any setting is on.</summary>
    public bool IsActive => (TimeMasks > 0 && TimeMaskWidth > 0) || (FrequencyMasks > 0 && FrequencyMaskWidth > 0) || TimeShift > 0 || GainDecibels > 0 || FrequencyWarp > 0 || TimeStretch > 0
        || (ErasingProbability > 0 && ErasingArea > 0) || Translate > 0 || Noise > 0 || FeatureDropout > 0;

    /// <summary>Throws a clear error for a setting out of range.</summary>
    public void Validate()
    {
        Check.InRange(TimeMasks, 0, 16);
        Check.Fraction(TimeMaskWidth, allowOne: true);
        Check.InRange(FrequencyMasks, 0, 16);
        Check.Fraction(FrequencyMaskWidth, allowOne: true);
        Check.Fraction(TimeShift, allowOne: true);
        Check.InRange(GainDecibels, 0, 60);
        Check.InRange(FrequencyWarp, 0, 0.5);
        Check.InRange(TimeStretch, 0, 0.5);
        Check.Fraction(ErasingProbability, allowOne: true);
        Check.Fraction(ErasingArea, allowOne: true);
        Check.Fraction(Translate, allowOne: true);
        Check.InRange(Noise, 0, 10);
        Check.Fraction(FeatureDropout);
    }

    /// <summary>A copy.</summary>
    public ModalityAugmentation Clone() => (ModalityAugmentation)MemberwiseClone();

    /// <summary>Augments a standardised <c>[B, C, H, W]</c> batch (H = bands and W = frames for a spectrogram).</summary>
    internal Tensor ApplyToMaps(Tensor x, double scale)
    {
        long b = x.shape[0], h = x.shape[2], w = x.shape[3];
        if (GainDecibels > 0)
        {
            // g dB on power is g/10·ln 10 on a natural-log spectrogram; in standardised units, times the input scale.
            var gain = (rand(new long[] { b, 1, 1, 1 }, device: x.device) * 2 - 1) * (GainDecibels / 10 * Math.Log(10) * scale);
            x = x + gain;
        }
        if (FrequencyWarp > 0) x = Warp(x, 2, h, FrequencyWarp, anchor: 0);
        if (TimeStretch > 0) x = Warp(x, 3, w, TimeStretch, anchor: (w - 1) / 2.0);
        if (TimeShift > 0) x = Shift(x, 3, w, (long)Math.Round(TimeShift * w));
        if (Translate > 0)
        {
            x = Shift(x, 2, h, (long)Math.Round(Translate * h));
            x = Shift(x, 3, w, (long)Math.Round(Translate * w));
        }
        for (int i = 0; i < TimeMasks; i++) x = Mask(x, 3, w, (long)Math.Round(TimeMaskWidth * w));
        for (int i = 0; i < FrequencyMasks; i++) x = Mask(x, 2, h, (long)Math.Round(FrequencyMaskWidth * h));
        if (ErasingProbability > 0 && ErasingArea > 0)
        {
            // One rectangle per chosen row, sides drawn so that the area is at most ErasingArea.
            var side = Math.Sqrt(ErasingArea);
            var hh = (rand(new long[] { b }, device: x.device) * side * h).floor().clamp_min(1).view(b, 1, 1, 1);
            var ww = (rand(new long[] { b }, device: x.device) * side * w).floor().clamp_min(1).view(b, 1, 1, 1);
            var top = (rand(new long[] { b }, device: x.device).view(b, 1, 1, 1) * (h - hh + 1)).floor();
            var left = (rand(new long[] { b }, device: x.device).view(b, 1, 1, 1) * (w - ww + 1)).floor();
            var rows = arange(h, ScalarType.Float32, device: x.device).view(1, 1, h, 1);
            var cols = arange(w, ScalarType.Float32, device: x.device).view(1, 1, 1, w);
            var chosen = (rand(new long[] { b }, device: x.device) < ErasingProbability).view(b, 1, 1, 1);
            var erase = (rows >= top).logical_and(rows < top + hh).logical_and(cols >= left).logical_and(cols < left + ww).logical_and(chosen);
            x = x.masked_fill(erase, 0);
        }
        return x;
    }

    /// <summary>Augments a standardised <c>[B, features]</c> batch.</summary>
    internal Tensor ApplyToFeatures(Tensor x)
    {
        if (Noise > 0) x = x + randn_like(x) * Noise;
        if (FeatureDropout > 0) x = x.masked_fill(rand_like(x) < FeatureDropout, 0);
        return x;
    }

    // Moves each row by a random offset in [-max, max] along a dimension, repeating the edge values.
    private static Tensor Shift(Tensor x, int dim, long size, long max)
    {
        if (max <= 0 || size < 2) return x;
        long b = x.shape[0];
        var offset = randint(-max, max + 1, new long[] { b }, device: x.device).view(b, 1);
        var index = (arange(size, device: x.device).view(1, size) - offset).clamp(0, size - 1);        // [B, size]
        var shape = new long[] { b, 1, 1, 1 };
        shape[dim] = size;
        return x.gather(dim, index.view(shape).expand(x.shape));
    }

    // Scales each row's axis about `anchor` by a factor in [1 - max, 1 + max]: output position i reads input position
    // anchor + (i - anchor) / factor, interpolated linearly, clamped to the edges.
    private static Tensor Warp(Tensor x, int dim, long size, double max, double anchor)
    {
        if (max <= 0 || size < 2) return x;
        long b = x.shape[0];
        var factor = (rand(new long[] { b, 1 }, device: x.device) * 2 - 1) * max + 1;                                 // [B, 1]
        var source = ((arange(size, ScalarType.Float32, device: x.device).view(1, size) - anchor) / factor + anchor).clamp(0, size - 1);
        var low = source.floor();
        var frac = source - low;
        var lowIndex = low.to_type(ScalarType.Int64);
        var highIndex = (lowIndex + 1).clamp_max(size - 1);
        var shape = new long[] { b, 1, 1, 1 };
        shape[dim] = size;
        Tensor Along(Tensor t) => t.view(shape).expand(x.shape);
        return x.gather(dim, Along(lowIndex)) * Along(1 - frac) + x.gather(dim, Along(highIndex)) * Along(frac);
    }

    // Sets a random band of up to max positions along a dimension to 0 (the mean, after standardisation), per row.
    private static Tensor Mask(Tensor x, int dim, long size, long max)
    {
        if (max <= 0) return x;
        long b = x.shape[0];
        var width = randint(0, max + 1, new long[] { b }, device: x.device).to_type(ScalarType.Float32);
        var start = (rand(new long[] { b }, device: x.device) * (size - width + 1)).floor();
        var shape = new long[] { 1, 1, 1, 1 };
        shape[dim] = size;
        var pos = arange(size, ScalarType.Float32, device: x.device).view(shape);
        var bshape = new long[] { b, 1, 1, 1 };
        var masked = (pos >= start.view(bshape)).logical_and(pos < (start + width).view(bshape));
        return x.masked_fill(masked, 0);
    }
}
