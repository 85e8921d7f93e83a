using Microsoft.ML;
using Microsoft.ML.Transforms.Image;
using MLNetFusion.Models;
using MLNetFusion.Transforms.Audio;

namespace MLNetFusion.AutoML;

/// <summary>Builds the ML.NET featurization chain for inferred column roles.</summary>
internal static class FusionFeaturizerBuilder
{
    private const string Pixels = FusionFeaturization.Pixels, LogMel = FusionFeaturization.LogMel, Tabular = FusionFeaturization.Tabular;

    public static FusionFeaturization Build(MLContext ml, ColumnInferenceResult r)
    {
        ArgumentNullException.ThrowIfNull(ml);
        Inference.ColumnInference.EnsureSettings(r);
        var modalities = new List<ModalityOptions>();
        IEstimator<ITransformer> chain = ml.Transforms.Conversion.MapValueToKey(r.LabelColumnName);

        var images = r.ColumnsWith(ColumnRole.ImagePath);
        foreach (var c in images)
        {
            var s = r.Images[c];
            bool single = images.Count == 1;
            string loaded = single ? "Image" : c + ".Image", pixels = single ? Pixels : c + ".Pixels";
            chain = chain.Append(ml.Transforms.LoadImages(loaded, r.DataFolder, c))
                .Append(ml.Transforms.ResizeImages(loaded, s.Width, s.Height))
                .Append(ml.Transforms.ExtractPixels(pixels, loaded, s.Grayscale ? ImagePixelExtractingEstimator.ColorBits.Red : ImagePixelExtractingEstimator.ColorBits.Rgb,
                    scaleImage: 1f / 255));
            modalities.Add(ModalityOptions.Image(pixels, single ? "image" : c, new[] { s.Channels, s.Height, s.Width }));
        }

        var audio = r.ColumnsWith(ColumnRole.AudioPath);
        foreach (var c in audio)
        {
            var s = r.Audio[c];
            bool single = audio.Count == 1;
            string samples = single ? "Audio" : c + ".Audio", mel = single ? LogMel : c + ".LogMel";
            chain = chain.Append(ml.Transforms.LoadAudio(new AudioLoadingOptions
                {
                    OutputColumnName = samples, InputColumnName = c, AudioFolder = r.DataFolder, SampleRate = s.SampleRate, DurationSeconds = s.ClipSeconds, Fit = AudioFit.Center,
                }))
                .Append(ml.Transforms.MelSpectrogram(mel, samples, s.FftSize, s.HopLength, s.MelBands));
            modalities.Add(ModalityOptions.Audio(mel, single ? "audio" : c));
        }

        var numeric = r.ColumnsWith(ColumnRole.Numeric);
        var categorical = r.ColumnsWith(ColumnRole.Categorical);
        if (numeric.Count + categorical.Count > 0)
        {
            var parts = new List<string>();
            foreach (var c in numeric)
            {
                chain = chain.Append(ml.Transforms.ReplaceMissingValues(c + ".Filled", c));
                parts.Add(c + ".Filled");
            }
            foreach (var c in categorical)
            {
                chain = chain.Append(ml.Transforms.Categorical.OneHotEncoding(c + "OneHot", c));
                parts.Add(c + "OneHot");
            }
            chain = chain.Append(ml.Transforms.Concatenate(Tabular, parts.ToArray())).Append(ml.Transforms.NormalizeMeanVariance(Tabular));
            modalities.Add(ModalityOptions.Tabular(Tabular, "tabular", 64, 32));
        }

        var text = r.ColumnsWith(ColumnRole.Text);
        foreach (var c in text)
        {
            // Token ids for the neural families' embedding-bag encoder (an empty text is a missing modality), and
            // FeaturizeText's n-gram vector for early fusion and linear late-fusion members.
            string tokens = c + ".Tokens", features = c + ".Text";
            chain = chain.Append(ml.Transforms.HashTextTokens(tokens, c)).Append(ml.Transforms.Text.FeaturizeText(features, c));
            var m = ModalityOptions.Text(tokens, text.Count == 1 ? "text" : c);
            m.FeaturesColumnName = features;
            modalities.Add(m);
        }
        if (modalities.Count == 0)
            throw new InvalidOperationException($"No column of '{r.Path}' is an image path, audio path, number, category or text: there is nothing to learn from." +
                Environment.NewLine + "Hint: check the roles (InferredColumn.Role, or --image/--audio/--numeric/--categorical/--text on the command line).");
        var kept = modalities.Select(m => m.ColumnName).Concat(modalities.Where(m => m.FeaturesColumnName != null).Select(m => m.FeaturesColumn))
            .Append(r.LabelColumnName).ToList();
        if (r.GroupColumnName != null) kept.Add(r.GroupColumnName);
        return new FusionFeaturization(chain, modalities, r.LabelColumnName, kept);
    }
}
