using System.Diagnostics;
using MLNetFusion.Data;
using MLNetFusion.Models;
using TorchSharp.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetFusion.Training;

/// <summary>What a training run did.</summary>
/// <param name="History">One report per epoch run.</param>
/// <param name="BestEpoch">The epoch whose weights were kept (the last one without validation).</param>
/// <param name="StoppedEarly">Whether early stopping ended training.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record TrainingSummary(IReadOnlyList<EpochReport> History, int BestEpoch, bool StoppedEarly, TimeSpan Elapsed);

/// <summary>
/// The one training loop behind every MLNetFusion TorchSharp trainer: AdamW, per-step learning-rate schedule, gradient
/// clipping, validation with best-epoch restore and early stopping, cancellation, and per-epoch progress.
/// </summary>
internal static class TrainingLoop
{
    /// <summary>Trains <paramref name="network"/> in place.</summary>
    /// <param name="network">The network.</param>
    /// <param name="train">Training batches.</param>
    /// <param name="validation">Validation batches, or <c>null</c>.</param>
    /// <param name="options">Optimisation options.</param>
    /// <param name="shuffleSeed">Seed for the batch order.</param>
    /// <param name="log">Receives one line per epoch (the trainers forward it to <c>MLContext.Log</c>).</param>
    /// <param name="loss">The training objective (default: cross-entropy of the fused logits).</param>
    /// <param name="what">What is trained, for errors (for example "merge fusion of image, audio").</param>
    public static TrainingSummary Run(IFusionNetwork network, ITensorDataSource train, ITensorDataSource? validation,
        TorchTrainerOptions options, int shuffleSeed, Action<string>? log = null, FusionLoss? loss = null, string? what = null)
    {
        loss ??= new FusionLoss();
        var module = network.Module;
        var parameters = module.parameters().Where(p => p.requires_grad).ToList();
        var device = FusionBatch.DeviceOf(module);
        // One AdamW parameter group per encoder whose learning rate is scaled (ModalityOptions.LearningRateMultiplier), one for the rest.
        var groups = new List<(List<TorchSharp.Modules.Parameter> parameters, double multiplier)>();
        var scaled = new HashSet<IntPtr>();
        foreach (var (sub, multiplier) in network.ScaledModules())
        {
            var own = sub.parameters().Where(p => p.requires_grad).ToList();
            foreach (var p in own) scaled.Add(p.Handle);
            groups.Add((own, multiplier));
        }
        groups.Insert(0, (parameters.Where(p => !scaled.Contains(p.Handle)).ToList(), 1.0));
        using var optimizer = optim.AdamW(groups.Select(g => new AdamW.ParamGroup(g.parameters, lr: options.LearningRate * g.multiplier,
            beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: options.WeightDecay)), options.LearningRate, 0.9, 0.999, 1e-8, options.WeightDecay);
        var multipliers = groups.Select(g => g.multiplier).ToArray();
        var rand = new Random(shuffleSeed);
        var sw = Stopwatch.StartNew();
        var history = new List<EpochReport>();
        long? n = train.Count;
        long stepsPerEpoch = n.HasValue ? (n.Value + options.BatchSize - 1) / options.BatchSize : 0;
        long totalSteps = stepsPerEpoch * options.Epochs;
        long step = 0;
        double bestValLoss = double.PositiveInfinity;
        int bestEpoch = 0, sinceBest = 0;
        Dictionary<string, Tensor>? bestState = null;
        bool stoppedEarly = false;
        double lr = options.LearningRate;
        double firstLoss = double.NaN;
        int epoch = 0;
        long epochSteps = 0;

        try
        {
            for (epoch = 1; epoch <= options.Epochs; epoch++)
            {
                options.CancellationToken.ThrowIfCancellationRequested();
                module.train();
                long seen = 0;
                epochSteps = 0;
                using var lossSumT = zeros(1, ScalarType.Float64, device: device);
                using var correctT = zeros(1, ScalarType.Int64, device: device);
                foreach (var rows in train.Batches(options.BatchSize, rand))
                {
                    using var scope = NewDisposeScope();
                    using var batch = rows.To(device);
                    options.CancellationToken.ThrowIfCancellationRequested();
                    lr = ScheduledRate(options, step, totalSteps);
                    int group = 0;
                    foreach (var g in optimizer.ParamGroups) g.LearningRate = lr * multipliers[group++];
                    optimizer.zero_grad();
                    var output = network.Forward(batch);
                    var logits = output.Logits;
                    var batchLoss = loss.Compute(output, batch);
                    CheckDivergence(batchLoss.item<float>(), ref firstLoss, epoch, epochSteps + 1, lr, what);
                    batchLoss.backward();
                    loss.AfterBackward(network, output, batch);
                    if (options.GradientClipNorm > 0) nn.utils.clip_grad_norm_(parameters, options.GradientClipNorm);
                    optimizer.step();
                    using (no_grad())
                    {
                        lossSumT.add_(batchLoss.detach().to_type(ScalarType.Float64) * batch.Count);
                        correctT.add_(logits.argmax(1).eq(batch.Labels!).sum());
                    }
                    seen += batch.Count;
                    step++; epochSteps++;
                }
                if (!n.HasValue && epoch == 1) { stepsPerEpoch = epochSteps; totalSteps = stepsPerEpoch * options.Epochs; }

                double? valLoss = null, valAcc = null;
                if (validation != null)
                {
                    (valLoss, valAcc) = Evaluate(network, validation, options.BatchSize);
                    if (valLoss < bestValLoss - 1e-6)
                    {
                        bestValLoss = valLoss.Value; bestEpoch = epoch; sinceBest = 0;
                        DisposeState(bestState);
                        bestState = Snapshot(module);
                    }
                    else sinceBest++;
                }
                else bestEpoch = epoch;

                double lossSum = lossSumT.item<double>();
                long correct = correctT.item<long>();
                var report = new EpochReport(epoch, options.Epochs, lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen),
                    valLoss, valAcc, lr, sw.Elapsed, seen);
                history.Add(report);
                log?.Invoke(Format(report) + (loss.EpochSummary() is { } extra ? ", " + extra : ""));
                options.Progress?.Invoke(report);

                if (validation != null && options.EarlyStoppingPatience > 0 && sinceBest >= options.EarlyStoppingPatience)
                {
                    stoppedEarly = epoch < options.Epochs;
                    log?.Invoke($"Early stopping after epoch {epoch}: validation loss has not improved for {sinceBest} epoch(s); keeping epoch {bestEpoch}.");
                    break;
                }
            }
            if (bestState != null) Restore(module, bestState);
        }
        catch (System.Runtime.InteropServices.ExternalException native)
        {
            // libtorch's own errors (TORCH_CHECK) say nothing of what was trained, or how to fix it.
            throw TrainingFailure.Create(
                $"libtorch failed while training{(what == null ? "" : " " + what)}, in epoch {epoch}, batch {epochSteps + 1}: {FirstLine(native.Message)}" + Environment.NewLine +
                "Hint: " + NativeFailureHint(), native);
        }
        finally
        {
            DisposeState(bestState);
        }
        module.eval();
        return new TrainingSummary(history, bestEpoch, stoppedEarly, sw.Elapsed);
    }

    /// <summary>Mean loss and accuracy of <paramref name="network"/> on <paramref name="data"/>, in eval mode.</summary>
    public static (double loss, double accuracy) Evaluate(IFusionNetwork network, ITensorDataSource data, int batchSize)
    {
        var module = network.Module;
        var device = FusionBatch.DeviceOf(module);
        bool wasTraining = module.training;
        module.eval();
        double lossSum = 0; long seen = 0, correct = 0;
        using (no_grad())
        {
            foreach (var rows in data.Batches(batchSize, null))
            {
                using var scope = NewDisposeScope();
                using var batch = rows.To(device);
                var output = network.Forward(batch);
                var logits = output.Logits;
                lossSum += nn.functional.cross_entropy(logits, batch.Labels!).item<float>() * batch.Count;
                correct += logits.argmax(1).eq(batch.Labels!).sum().item<long>();
                seen += batch.Count;
            }
        }
        if (wasTraining) module.train();
        return (lossSum / Math.Max(1, seen), (double)correct / Math.Max(1, seen));
    }

    /// <summary>A loss this many times the first batch's means training has exploded.</summary>
    internal const double ExplosionFactor = 1000;

    /// <summary>
    /// Stops a divergent run: a loss that is NaN or infinite, or that exceeds <see cref="ExplosionFactor"/> times the first
    /// batch's loss (cross-entropy starts near ln(classes) and only falls when training works), is an error naming the
    /// epoch, the batch and the learning rate, instead of a model that predicts the first class for everything. Where
    /// libtorch's oneDNN kernels run at AVX-512, the hint names them too: on some CPUs they give NaN (issue 41).
    /// </summary>
    internal static void CheckDivergence(double loss, ref double firstLoss, int epoch, long batch, double learningRate, string? what = null)
    {
        if (double.IsNaN(firstLoss) && double.IsFinite(loss)) firstLoss = Math.Max(loss, 1e-3);
        bool exploded = double.IsFinite(loss) && loss > ExplosionFactor * firstLoss;
        if (double.IsFinite(loss) && !exploded) return;
        throw TrainingFailure.Create(
            $"Training{(what == null ? "" : " " + what)} diverged in epoch {epoch}, batch {batch}: the loss became {(exploded ? $"{loss:G4} ({loss / firstLoss:F0} times the first batch's {firstLoss:G4})" : loss.ToString())} " +
            $"at learning rate {learningRate:G3}." + Environment.NewLine +
            $"Hint: lower LearningRate (for example to {learningRate / 10:G2}), keep GradientClipNorm on (default 5), and check the inputs for extreme values." +
            (exploded ? "" : OneDnnHint()));
    }

    /// <summary>The cause to name when a loss is NaN while oneDNN's AVX-512 kernels are active, or empty.</summary>
    private static string OneDnnHint()
    {
        var state = Runtime.TorchRuntime.OneDnn;
        return !state.Avx512KernelsActive ? ""
            : $" This CPU ({state.CpuVendor}) has AVX-512 and libtorch's oneDNN kernels run at that level, which gave NaN in training on some CPUs: " +
              $"set {Runtime.TorchRuntime.OneDnnVariable}=avx2 (or DNNL_MAX_CPU_ISA=AVX2) in the environment and train again.";
    }

    private static string NativeFailureHint()
        => "this is libtorch's own check, raised inside one of its kernels; run again with MLNETFUSION_DEBUG=1 for its stack, and with DNNL_VERBOSE=1 to see the last oneDNN primitive." +
           OneDnnHint() + (Runtime.TorchRuntime.OneDnn.Remedy == Runtime.OneDnnRemedy.CappedAtAvx2
               ? $" oneDNN is capped at AVX2 here; {Runtime.TorchRuntime.OneDnnVariable}=off runs libtorch's own convolutions instead." : "");

    private static string FirstLine(string message)
    {
        int end = message.IndexOfAny(new[] { '\r', '\n' });
        return (end < 0 ? message : message[..end]).Trim();
    }

    internal static double ScheduledRate(TorchTrainerOptions o, long step, long totalSteps)
    {
        if (o.Schedule == LearningRateSchedule.Constant || totalSteps <= 0) return o.LearningRate;
        long warm = (long)Math.Round(o.WarmupFraction * totalSteps);
        if (step < warm) return o.LearningRate * (step + 1) / warm;
        double progress = Math.Min(1.0, (double)(step - warm) / Math.Max(1, totalSteps - warm));
        return o.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }

    private static string Format(EpochReport r)
        => $"Epoch {r.Epoch}/{r.Epochs}: loss {r.TrainLoss:F4}, acc {r.TrainAccuracy:P1}" +
           (r.ValidationLoss.HasValue ? $", val loss {r.ValidationLoss:F4}, val acc {r.ValidationAccuracy:P1}" : "") +
           $", lr {r.LearningRate:G3}, {r.Samples / Math.Max(1e-9, r.Elapsed.TotalSeconds / r.Epoch):F0} samples/s";

    private static Dictionary<string, Tensor> Snapshot(nn.Module module)
    {
        var state = new Dictionary<string, Tensor>();
        foreach (var (name, t) in module.state_dict())
            state[name] = t.detach().clone().MoveToOuterDisposeScope();
        return state;
    }

    private static void Restore(nn.Module module, Dictionary<string, Tensor> state)
    {
        using var _ = no_grad();
        foreach (var (name, t) in module.state_dict()) t.copy_(state[name]);
        ModalityEncoder.ResetInferenceForms(module);
    }

    private static void DisposeState(Dictionary<string, Tensor>? state)
    {
        if (state == null) return;
        foreach (var t in state.Values) t.Dispose();
    }
}

/// <summary>
/// Training stopped: the loss diverged, or libtorch failed inside a kernel. The error is a plain
/// <see cref="InvalidOperationException"/> (what callers catch), marked so that the code that fitted the network can say
/// which member and fold it was.
/// </summary>
internal static class TrainingFailure
{
    private const string Marker = "MLNetFusion.TrainingFailure";

    public static InvalidOperationException Create(string message, Exception? inner = null)
    {
        var ex = new InvalidOperationException(message, inner);
        ex.Data[Marker] = true;
        return ex;
    }

    public static bool Is(Exception ex) => ex is InvalidOperationException && ex.Data.Contains(Marker);
}
