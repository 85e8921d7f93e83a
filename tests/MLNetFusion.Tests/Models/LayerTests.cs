using MLNetFusion.Models;
using MLNetFusion.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace MLNetFusion.Tests;

/// <summary>The encoders' own layers against the libtorch layers they replace.</summary>
public class LayerTests
{
    [Theory]
    [InlineData(4, 16, 40, 63)]    // the log-mel's first map: odd width, last column dropped
    [InlineData(3, 8, 15, 15)]     // odd both ways
    [InlineData(2, 1, 28, 28)]
    public void MaxPool2x2EqualsMaxPool2dInValuesAndGradient(int batch, int channels, int height, int width)
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(3);
        var x = randn(batch, channels, height, width).relu();   // after ReLU, as in the encoders: ties at 0
        x.index_put_(float.NaN, 0L, 0L, 1L, 1L);                 // a NaN propagates in both
        var ours = new MaxPool2x2().call(x);
        var theirs = nn.functional.max_pool2d(x, 2);
        Assert.Equal(theirs.shape, ours.shape);
        Assert.Equal(theirs.isnan().sum().item<long>(), ours.isnan().sum().item<long>());
        Assert.True(ours.nan_to_num(-1).equal(theirs.nan_to_num(-1)).all().item<bool>());

        // The same gradient where the maximum is unique (continuous values, no ReLU zeros).
        var a = randn(batch, channels, height, width).requires_grad_(true);
        var b = a.detach().clone().requires_grad_(true);
        var weights = randn(ours.shape);
        (new MaxPool2x2().call(a) * weights).sum().backward();
        (nn.functional.max_pool2d(b, 2) * weights).sum().backward();
        Assert.True(a.grad!.equal(b.grad!).all().item<bool>());
    }
}
