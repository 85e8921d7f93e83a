using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNetFusion.Models;
using MLNetFusion.Samples.Data;
using MLNetFusion.Transforms;
using MLNetFusion.Transforms.Audio;

namespace MLNetFusion.Samples.Pipelines;

/// <summary>
/// Describes a folder of multimodal rows (a CSV with a label, an image path, an audio path and tabular columns) and
/// builds the idiomatic ML.NET featurization chain for it.
/// </summary>
public sealed record MultimodalDataset(
    string Folder,
    string TrainFile,
    string TestFile,
    int ImageWidth,
    int ImageHeight,
    int SampleRate,
    double ClipSeconds,
    AudioFit AudioFit,
    int FftSize,
    int HopLength,
    int MelBands,
    IReadOnlyList<string> NumericColumns,
    IReadOnlyList<string> CategoricalColumns,
    string LabelColumn = "Label",
    string ImagePathColumn = "ImagePath",
    string AudioPathColumn = "AudioPath")
{
    /// <summary>Column names of the featurized modalities.</summary>
    public const string Pixels = "Pixels", LogMel = "LogMel", LogMelStats = "LogMelStats", Tabular = "Tabular", Features = "Features";

    /// <summary>MLNetFusion's generated default dataset (see <see cref="SyntheticMultimodalDataset"/>).</summary>
    public static MultimodalDataset Synthetic(string folder) => new(folder, "train.csv", "test.csv",
        SyntheticMultimodalDataset.ImageSize, SyntheticMultimodalDataset.ImageSize, SyntheticMultimodalDataset.SampleRate,
        SyntheticMultimodalDataset.ClipSeconds, AudioFit.Start, 256, 128, 32,
        SyntheticMultimodalDataset.NumericColumns, new[] { SyntheticMultimodalDataset.CategoryColumn });

    /// <summary>The avdigits dataset (FSDD spoken digits + corrupted MNIST); see its README for attribution.</summary>
    public static MultimodalDataset AvDigits(string folder) => new(folder, "train.csv", "test.csv", 28, 28, 8000, 1.0, AudioFit.Center,
        256, 128, 40, Array.Empty<string>(), Array.Empty<string>());

    /// <summary>
    /// The group column (speaker, site, patient), or <c>null</c>. It is loaded as text and kept through featurization,
    /// never used as a feature; late fusion's out-of-fold folds are grouped by it.
    /// </summary>
    public string? GroupColumn { get; init; }

    /// <summary>Whether the dataset has tabular columns.</summary>
    public bool HasTabular => NumericColumns.Count + CategoricalColumns.Count > 0;

    /// <summary>The featurized modality columns the neural families read (CNNs see the whole spectrogram).</summary>
    public IReadOnlyList<string> ModalityColumns => HasTabular ? new[] { Pixels, LogMel, Tabular } : new[] { Pixels, LogMel };

    /// <summary>Loads a split (CSV with a header) as an <see cref="IDataView"/>.</summary>
    public IDataView Load(MLContext ml, string file)
    {
        string path = Path.Combine(Folder, file);
        if (!File.Exists(path))
            throw new FileNotFoundException($"Dataset file '{path}' does not exist. Hint: check the dataset folder.", path);
        var header = File.ReadLines(path).First().Split(',');
        int Index(string name)
        {
            int i = Array.IndexOf(header, name);
            if (i < 0) throw new InvalidOperationException($"'{path}' has no column '{name}' (columns: {string.Join(", ", header)})." + Environment.NewLine +
                "Hint: check the column name (with --group, the name of the column that identifies each row's group).");
            return i;
        }
        var cols = new List<TextLoader.Column>
        {
            new(LabelColumn, DataKind.String, Index(LabelColumn)),
            new(ImagePathColumn, DataKind.String, Index(ImagePathColumn)),
            new(AudioPathColumn, DataKind.String, Index(AudioPathColumn)),
        };
        cols.AddRange(NumericColumns.Select(c => new TextLoader.Column(c, DataKind.Single, Index(c))));
        cols.AddRange(CategoricalColumns.Select(c => new TextLoader.Column(c, DataKind.String, Index(c))));
        if (GroupColumn != null) cols.Add(new TextLoader.Column(GroupColumn, DataKind.String, Index(GroupColumn)));
        return ml.Data.LoadFromTextFile(path, cols.ToArray(), separatorChar: ',', hasHeader: true);
    }

    /// <summary>
    /// The featurization chain: label to key; image → <c>LoadImages</c> → <c>ResizeImages</c> → <c>ExtractPixels</c>
    /// (gray, scaled to [0, 1]) as <see cref="Pixels"/> <c>[1, H, W]</c>; audio → <c>LoadAudio</c> → <c>MelSpectrogram</c>
    /// as <see cref="LogMel"/> <c>[bands, frames]</c> and its per-band mean/std over time (<c>SummarizeFrames</c>) as
    /// <see cref="LogMelStats"/>; tabular → <c>OneHotEncoding</c> + <c>Concatenate</c> +
    /// <c>NormalizeMeanVariance</c> as <see cref="Tabular"/>.
    /// </summary>
    public IEstimator<ITransformer> Featurizer(MLContext ml)
    {
        IEstimator<ITransformer> chain = ml.Transforms.Conversion.MapValueToKey(LabelColumn)
            .Append(ml.Transforms.LoadImages("Image", Folder, ImagePathColumn))
            .Append(ml.Transforms.ResizeImages("Image", ImageWidth, ImageHeight))
            .Append(ml.Transforms.ExtractPixels(Pixels, "Image", ImagePixelExtractingEstimator.ColorBits.Red, scaleImage: 1f / 255))

            .Append(ml.Transforms.LoadAudio(new AudioLoadingOptions
            {
                OutputColumnName = "Audio", InputColumnName = AudioPathColumn, AudioFolder = Folder, SampleRate = SampleRate,
                DurationSeconds = ClipSeconds, Fit = AudioFit,
            }))
            .Append(ml.Transforms.MelSpectrogram(LogMel, "Audio", FftSize, HopLength, MelBands))
            .Append(ml.Transforms.SummarizeFrames(LogMelStats, LogMel));
        if (HasTabular)
        {
            var parts = NumericColumns.ToList();
            foreach (var c in CategoricalColumns)
            {
                chain = chain.Append(ml.Transforms.Categorical.OneHotEncoding(c + "OneHot", c));
                parts.Add(c + "OneHot");
            }
            chain = chain.Append(ml.Transforms.Concatenate(Tabular, parts.ToArray()))
                         .Append(ml.Transforms.NormalizeMeanVariance(Tabular));
        }
        return chain;
    }

    /// <summary>Modality options for the neural fusion trainers: a CNN for pixels and log-mel, an MLP for tabular.</summary>
    public List<ModalityOptions> Modalities()
    {
        var list = new List<ModalityOptions> { ModalityOptions.Image(Pixels, "image"), ModalityOptions.Audio(LogMel, "audio") };
        if (HasTabular) list.Add(ModalityOptions.Tabular(Tabular, "tabular", 64, 32));
        return list;
    }

    /// <summary>Featurizes train and test once (fitted on train) and keeps the features in memory.</summary>
    public (IDataView train, IDataView test, ITransformer featurizer) Featurize(MLContext ml)
    {
        var rawTrain = Load(ml, TrainFile);
        var rawTest = Load(ml, TestFile);
        var featurizer = Featurizer(ml).Fit(rawTrain);
        var keep = ModalityColumns.Append(LogMelStats).Append(LabelColumn).Concat(GroupColumn == null ? Array.Empty<string>() : new[] { GroupColumn }).ToArray();
        var select = ml.Transforms.SelectColumns(keep).Fit(featurizer.Transform(rawTrain));
        IDataView Materialize(IDataView raw) => ml.Data.Cache(select.Transform(featurizer.Transform(raw)));
        return (Materialize(rawTrain), Materialize(rawTest), featurizer);
    }
}
