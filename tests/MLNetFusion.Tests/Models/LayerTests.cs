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

    [Theory]
    [InlineData(true, 1, 40, 63, 2)]    // a log-mel with batch norm: odd width
    [InlineData(true, 3, 15, 17, 2)]    // odd both ways, three channels
    [InlineData(false, 1, 28, 28, 1)]   // no batch norm, one block
    public void ConvEncoderServesAFoldedFormEqualToItsModulesAndRebuildsItWhenTheWeightsChange(bool batchNorm, int channels, int height, int width, int blocks)
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(5);
        var encoder = new ConvEncoder("x", "X", new[] { channels, height, width }, Enumerable.Repeat(6, blocks).ToArray(), 8, 0.2, batchNorm, mean: 0.3f, std: 1.7f);
        using (no_grad())
            foreach (var bn in encoder.modules().OfType<TorchSharp.Modules.BatchNorm2d>())
            {
                // Statistics and an affine part far from the identity, with a negative scale (max-pooling before ReLU must still be right).
                bn.running_mean!.copy_(randn(6));
                bn.running_var!.copy_(rand(6) * 3 + 0.1);
                bn.weight!.copy_(randn(6));
                bn.bias!.copy_(randn(6));
            }
        encoder.eval();
        var x = randn(5, channels * height * width) * 2;
        int convCalls = 0;
        var conv = encoder.modules().OfType<TorchSharp.Modules.Conv2d>().First();
        var hook = conv.register_forward_hook((m, input, output) => { convCalls++; return output; });

        (Tensor embedding, Tensor[] stages, Tensor tokens) Run(bool served)
        {
            using var mode = served ? inference_mode() : no_grad();
            return (encoder.call(x).clone(), encoder.ForwardStages(x).Select(t => t.clone()).ToArray(), encoder.Tokens(x).clone());
        }
        void AssertSame((Tensor embedding, Tensor[] stages, Tensor tokens) modules, (Tensor embedding, Tensor[] stages, Tensor tokens) served)
        {
            static double Gap(Tensor a, Tensor b) => ((a - b).abs().max() / a.abs().max().clamp_min(1)).item<float>();
            Assert.True(Gap(modules.embedding, served.embedding) < 1e-5, $"embedding differs by {Gap(modules.embedding, served.embedding):E2}");
            Assert.Equal(modules.stages.Length, served.stages.Length);
            for (int i = 0; i < modules.stages.Length; i++) Assert.True(Gap(modules.stages[i], served.stages[i]) < 1e-5, $"stage {i} differs");
            Assert.True(Gap(modules.tokens, served.tokens) < 1e-5, "tokens differ");
        }

        var byModules = Run(served: false);
        int moduleCalls = convCalls;
        var byServing = Run(served: true);
        Assert.True(moduleCalls > 0);
        Assert.Equal(moduleCalls, convCalls);   // the serving form ran instead of the modules
        AssertSame(byModules, byServing);
        Assert.True(byModules.tokens.abs().sum().item<float>() > 0);   // not a trivial all-zero comparison

        // Weights written in place (as training and loading do), then eval(): the serving form follows them.
        using (no_grad()) conv.weight!.mul_(-0.5);
        encoder.train();
        encoder.eval();
        var changed = Run(served: false);
        Assert.False(changed.tokens.allclose(byModules.tokens));
        AssertSame(changed, Run(served: true));

        // And after a load-like write that only resets the forms (no mode switch).
        using (no_grad()) conv.bias!.add_(1);
        ModalityEncoder.ResetInferenceForms(encoder);
        AssertSame(Run(served: false), Run(served: true));
        hook.remove();
    }
}
