using MLNetFusion.Data;

namespace MLNetFusion.Training;

/// <summary>Learning-rate schedule, applied per optimisation step.</summary>
public enum LearningRateSchedule
{
    /// <summary>The learning rate stays at <see cref="TorchTrainerOptions.LearningRate"/>.</summary>
    Constant,
    /// <summary>Linear warm-up over <see cref="TorchTrainerOptions.WarmupFraction"/> of the steps, then cosine decay to zero.</summary>
    WarmupCosine,
}

/// <summary>A per-epoch report, sent to <see cref="TorchTrainerOptions.Progress"/> and to <c>MLContext.Log</c>.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Epochs">Epochs planned.</param>
/// <param name="TrainLoss">Mean training loss of the epoch.</param>
/// <param name="TrainAccuracy">Training accuracy of the epoch (on the fly, with dropout active).</param>
/// <param name="ValidationLoss">Validation loss, when a validation set is used.</param>
/// <param name="ValidationAccuracy">Validation accuracy, when a validation set is used.</param>
/// <param name="LearningRate">Learning rate at the end of the epoch.</param>
/// <param name="Elapsed">Time since training started.</param>
/// <param name="Samples">Training samples seen in this epoch.</param>
public sealed record EpochReport(int Epoch, int Epochs, double TrainLoss, double TrainAccuracy, double? ValidationLoss,
    double? ValidationAccuracy, double LearningRate, TimeSpan Elapsed, long Samples);

/// <summary>
/// Options shared by every MLNetFusion TorchSharp trainer: optimisation (AdamW), schedule, validation and early
/// stopping, gradient clipping, data caching, threads, seed, cancellation and progress.
/// </summary>
public abstract class TorchTrainerOptions
{
    /// <summary>Default values, reused by the catalog signatures.</summary>
    public static class Defaults
    {
        /// <summary>Default label column.</summary>
        public const string LabelColumnName = "Label";
        /// <summary>Default number of epochs.</summary>
        public const int Epochs = 20;
        /// <summary>Default batch size.</summary>
        public const int BatchSize = 64;
        /// <summary>Default peak learning rate.</summary>
        public const double LearningRate = 2e-3;
        /// <summary>Default AdamW weight decay.</summary>
        public const double WeightDecay = 1e-4;
        /// <summary>Default gradient clipping norm.</summary>
        public const double GradientClipNorm = 5.0;
        /// <summary>Default warm-up share of steps.</summary>
        public const double WarmupFraction = 0.05;
        /// <summary>Default shuffle-buffer rows for streaming.</summary>
        public const int ShuffleBufferRows = 8192;
        /// <summary>Default inference batch size.</summary>
        public const int InferenceBatchSize = Mapping.BatchMappingTransformer.DefaultBatchSize;
    }

    /// <summary>The key-typed label column. Default <c>Label</c>.</summary>
    public string LabelColumnName { get; set; } = Defaults.LabelColumnName;

    /// <summary>Passes over the training data. Default 20.</summary>
    public int Epochs { get; set; } = Defaults.Epochs;

    /// <summary>Rows per optimisation step. Default 64.</summary>
    public int BatchSize { get; set; } = Defaults.BatchSize;

    /// <summary>Peak AdamW learning rate. Default 2e-3.</summary>
    public double LearningRate { get; set; } = Defaults.LearningRate;

    /// <summary>AdamW decoupled weight decay. Default 1e-4.</summary>
    public double WeightDecay { get; set; } = Defaults.WeightDecay;

    /// <summary>Learning-rate schedule. Default <see cref="LearningRateSchedule.WarmupCosine"/>.</summary>
    public LearningRateSchedule Schedule { get; set; } = LearningRateSchedule.WarmupCosine;

    /// <summary>Share of steps used for linear warm-up with <see cref="LearningRateSchedule.WarmupCosine"/>. Default 0.05.</summary>
    public double WarmupFraction { get; set; } = Defaults.WarmupFraction;

    /// <summary>Clip the global gradient norm to this value; 0 disables clipping. Default 5.</summary>
    public double GradientClipNorm { get; set; } = Defaults.GradientClipNorm;

    /// <summary>
    /// Share of training rows held out for validation (chosen by a seeded hash of the row position). Ignored when a
    /// validation set is passed to <c>Fit</c>. Default 0 (no validation).
    /// </summary>
    public double ValidationFraction { get; set; }

    /// <summary>
    /// ML.NET's <c>samplingKeyColumnName</c>: a column naming each row's group (speaker, microphone, patient, site).
    /// When set, the <see cref="ValidationFraction"/> hold-out is made of whole groups, so validation and early stopping
    /// measure how the model does on groups it did not train on. The key may be text, a key type or numeric; missing
    /// values form one group. Default <c>null</c> (rows at random).
    /// </summary>
    public string? SamplingKeyColumnName { get; set; }

    /// <summary>
    /// Stop when the validation loss has not improved for this many epochs, and keep the best epoch's weights.
    /// 0 disables early stopping (the best epoch's weights are still kept when validating). Default 0.
    /// </summary>
    public int EarlyStoppingPatience { get; set; }

    /// <summary>How the data is read during training. Default <see cref="DataCaching.InMemory"/>.</summary>
    public DataCaching Caching { get; set; } = DataCaching.InMemory;

    /// <summary>Rows in the shuffle buffer with <see cref="DataCaching.Streaming"/>. Default 8192.</summary>
    public int ShuffleBufferRows { get; set; } = Defaults.ShuffleBufferRows;

    /// <summary>Rows evaluated together by the fitted transformer's <c>Transform</c>. Default 256.</summary>
    public int InferenceBatchSize { get; set; } = Defaults.InferenceBatchSize;

    /// <summary>
    /// Torch intra-op threads while training (process-wide, restored afterwards). <c>null</c> keeps the current setting
    /// (<c>MLNETFUSION_TORCH_THREADS</c>, else the core count).
    /// </summary>
    public int? NumberOfThreads { get; set; }

    /// <summary>
    /// Where to train and predict: <c>auto</c> (default: CUDA when TorchSharp has it, else the CPU), <c>cpu</c>,
    /// <c>cuda</c> or <c>cuda:N</c> (<see cref="Runtime.FusionDevice"/>). CUDA needs <c>TorchSharp-cuda-linux</c> or
    /// <c>-windows</c> in place of <c>TorchSharp-cpu</c>. A saved model loads on the CPU; move it with
    /// <c>FusionPredictionTransformer.ToDevice</c>. Results are reproducible for a seed on one device and thread count.
    /// </summary>
    public string Device { get; set; } = Runtime.FusionDevice.Auto;

    /// <summary>Seed for weights, dropout and shuffling. <c>null</c> derives it from the <c>MLContext</c> seed.</summary>
    public int? Seed { get; set; }

    /// <summary>Called after every epoch.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Action<EpochReport>? Progress { get; set; }

    /// <summary>Cancels training between steps; <c>Fit</c> then throws <see cref="OperationCanceledException"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public CancellationToken CancellationToken { get; set; }

    /// <summary>
    /// Copies the options shared by every TorchSharp trainer to <paramref name="target"/>: every public settable
    /// property this class declares (one mechanism, so a new option cannot be forgotten; arrays are copied).
    /// </summary>
    public void CopyTrainingOptionsTo(TorchTrainerOptions target)
    {
        ArgumentNullException.ThrowIfNull(target);
        foreach (var p in SharedProperties)
            p.SetValue(target, p.GetValue(this) is Array a ? a.Clone() : p.GetValue(this));
    }

    private static readonly System.Reflection.PropertyInfo[] SharedProperties = typeof(TorchTrainerOptions)
        .GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
        .Where(p => p.DeclaringType == typeof(TorchTrainerOptions) && p.CanRead && p.CanWrite && p.GetIndexParameters().Length == 0).ToArray();

    /// <summary>
    /// Upper bounds checked by <see cref="Validate"/>, so that a typo cannot start a training run that allocates
    /// gigabytes or runs for days: epochs ≤ 100,000; batch sizes (training and inference) ≤ 65,536; shuffle buffer ≤ 10,000,000 rows.
    /// </summary>
    public static class Limits
    {
        /// <summary>Most epochs.</summary>
        public const int Epochs = 100_000;
        /// <summary>Largest training or inference batch.</summary>
        public const int BatchSize = 65_536;
        /// <summary>Largest shuffle buffer, in rows.</summary>
        public const int ShuffleBufferRows = 10_000_000;
    }

    /// <summary>Checks the common options and throws <see cref="ArgumentOutOfRangeException"/> naming the bad one.</summary>
    public virtual void Validate()
    {
        Check.Positive(Epochs, Limits.Epochs);
        Check.Positive(BatchSize, Limits.BatchSize);
        Check.Positive(LearningRate);
        Check.NonNegative(WeightDecay);
        Check.Fraction(ValidationFraction);
        Check.Fraction(WarmupFraction);
        Check.NonNegative(GradientClipNorm);
        Check.NonNegative(EarlyStoppingPatience);
        Check.Positive(ShuffleBufferRows, Limits.ShuffleBufferRows);
        Check.Positive(InferenceBatchSize, Limits.BatchSize);
        Runtime.FusionDevice.Validate(Device, nameof(Device));
    }
}
