using System.CommandLine;
using MLNetFusion.Runtime;
using TorchSharp;

namespace MLNetFusion.Cli.Commands;

/// <summary>
/// <c>mlnetfusion doctor [--check]</c>: what this machine's TorchSharp runtime is (threads, CPU, the oneDNN remedy and
/// why) and, with <c>--check</c>, whether its convolutions give the right numbers (<see cref="TorchRuntime.CheckConvolutions"/>).
/// </summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var check = new Option<bool>("--check") { Description = "Also train the smallest network that diverged on AMD EPYC CPUs with oneDNN's AVX-512 kernels, and compare every step with float64." };
        var runs = new Option<int>("--runs") { Description = "Networks the check trains.", DefaultValueFactory = _ => 10 };
        var steps = new Option<int>("--steps") { Description = "Training steps of each network.", DefaultValueFactory = _ => 30 };
        var command = new Command("doctor", "Describe the TorchSharp runtime on this machine (threads, CPU, oneDNN remedy) and optionally check its convolutions.") { check, runs, steps };
        command.SetAction(r =>
        {
            var oneDnn = TorchRuntime.OneDnn;
            Console.WriteLine($"TorchSharp {typeof(torch).Assembly.GetName().Version}, CPU, {torch.get_num_threads()} torch thread(s) ({TorchRuntime.ThreadsVariable} sets them)");
            Console.WriteLine($"CPU: {(oneDnn.CpuVendor.Length == 0 ? "not x86" : oneDnn.CpuVendor)}, AVX-512 {(oneDnn.CpuHasAvx512 ? "yes" : "no")}, {Environment.ProcessorCount} logical cores");
            Console.WriteLine($"oneDNN: {oneDnn.Remedy}. {oneDnn.Reason}");
            if (!r.GetValue(check)) return 0;
            var result = TorchRuntime.CheckConvolutions(r.GetValue(runs), r.GetValue(steps));
            Console.WriteLine($"Convolution check: {result.Steps} steps, {result.NonFiniteSteps} non-finite, {result.WrongSteps} off the float64 reference by more than {ConvolutionCheckResult.Tolerance:G1}, " +
                $"largest relative error {result.LargestError:G2} ({result.Elapsed.TotalSeconds:F1}s): {(result.Passed ? "passed" : "FAILED")}");
            if (!result.Passed)
                Console.WriteLine($"Hint: convolutions on this machine give wrong numbers; set {TorchRuntime.OneDnnVariable}=avx2 (or off) and run the check again.");
            return result.Passed ? 0 : 1;
        });
        return command;
    }
}
