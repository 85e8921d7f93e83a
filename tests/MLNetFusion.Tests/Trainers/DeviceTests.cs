using Microsoft.ML;
using MLNetFusion.Models;
using MLNetFusion.Runtime;
using MLNetFusion.Trainers;
using MLNetFusion.Trainers.Merge;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>The Device option: its spelling is checked, CUDA without a CUDA backend fails with the fix, and the CPU path trains, predicts and moves.</summary>
public class DeviceTests
{
    private static MergeFusionOptions Options(string device) => new()
    {
        Modalities = new() { ModalityOptions.Tabular("Tab", "tab", 16), new ModalityOptions { Name = "image", ColumnName = "Image", EncoderOptions = new CnnEncoderOptions { ConvChannels = new[] { 4 }, OutputWidth = 16 } } },
        Epochs = 4, Seed = 2, Device = device,
    };

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    public void AMisspelledDeviceIsRejectedByValidate(string device)
    {
        var e = Assert.Throws<ArgumentException>(() => Options(device).Validate());
        Assert.Equal($"Unknown device '{device}'.{Environment.NewLine}Hint: use auto, cpu, cuda or cuda:N (N from 0). (Parameter 'Device')", e.Message);
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("CPU")]
    [InlineData("cuda")]
    [InlineData("cuda:1")]
    [InlineData("")]
    public void TheDocumentedSpellingsValidate(string device) => Options(device).Validate();

    [Fact]
    public void CudaWithoutACudaBackendFailsBeforeTrainingAndNamesThePackage()
    {
        TorchRuntime.EnsureInitialized();
        Assert.False(TorchSharp.torch.cuda.is_available(), "this test describes a machine without CUDA (the repository's CI); with TorchSharp-cuda it does not apply");
        var ml = new MLContext(1);
        var e = Assert.Throws<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.MergeFusion(Options("cuda")).Fit(ToyRow.Load(ml, ToyRow.Make(40, 1))));
        Assert.Equal("Device 'cuda' was requested, but TorchSharp has no CUDA backend in this app." + Environment.NewLine +
            "Hint: reference TorchSharp-cuda-linux or TorchSharp-cuda-windows instead of TorchSharp-cpu (and a matching NVIDIA driver), or set Device = \"cpu\" or \"auto\".", e.Message);
    }

    [Fact]
    public void TheCpuPathTrainsLikeAutoAndALoadedModelMoves()
    {
        var ml = new MLContext(1);
        var train = ToyRow.Load(ml, ToyRow.Make(200, 1));
        var test = ToyRow.Load(ml, ToyRow.Make(50, 2));
        using var cpu = ml.MulticlassClassification.Trainers.MergeFusion(Options("cpu")).Fit(train);
        using var auto = ml.MulticlassClassification.Trainers.MergeFusion(Options("auto")).Fit(train);
        Assert.Equal("cpu", cpu.Device);
        var expected = Columns.Vectors(cpu.Transform(test), "Score");
        Assert.Equal(expected, Columns.Vectors(auto.Transform(test), "Score"));
        Assert.True(ml.MulticlassClassification.Evaluate(cpu.Transform(test)).MicroAccuracy > 0.5);   // four classes

        using var ms = new MemoryStream();
        ml.Model.SaveFusionModel(cpu, train.Schema, ms);
        using var loaded = (FusionPredictionTransformer)ml.Model.LoadFusionModel(new MemoryStream(ms.ToArray()), out _);
        Assert.Same(loaded, loaded.ToDevice(FusionDevice.Cpu));
        Assert.Equal(expected, Columns.Vectors(loaded.Transform(test), "Score"));
        Assert.Throws<InvalidOperationException>(() => loaded.ToDevice("cuda:0"));
    }
}
