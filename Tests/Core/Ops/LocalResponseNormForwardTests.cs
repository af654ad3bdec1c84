namespace Kiln.Tests.Core.Ops;

public sealed class LocalResponseNormForwardTests
{
    // x (1, 3, 1, 1) = [1, 2, 3]; with size 5 every channel's window holds all three: Σ a² = 14.
    private static Tensor OneTwoThree() => Tensor.FromArray(new double[] { 1, 2, 3 }, [1, 3, 1, 1]);

    [Fact]
    public void LocalResponseNorm_DividedBySize_IsTheDefaultAndDividesAlphaByN()
    {
        using var scope = TensorScope.Begin();
        // b1 = 2 / (2 + (0.5 / 5) * 14)^0.75 = 2 / 3.4^0.75
        var y = Op.LocalResponseNorm(OneTwoThree(), 5, alpha: 0.5, beta: 0.75, k: 2).ToArray<double>();
        Assert.Equal(2 / Math.Pow(3.4, 0.75), y[1], 12);
        Assert.Equal(0.798768, y[1], 6);
    }

    [Fact]
    public void LocalResponseNorm_AsWritten_UsesAlphaUnscaled()
    {
        using var scope = TensorScope.Begin();
        // b1 = 2 / (2 + 0.5 * 14)^0.75 = 2 / 9^0.75 = 2 / 3^1.5
        var y = Op.LocalResponseNorm(OneTwoThree(), 5, 0.5, 0.75, 2, LrnAlphaScaling.AsWritten).ToArray<double>();
        Assert.Equal(2 / (3 * Math.Sqrt(3)), y[1], 12);
        Assert.Equal(0.384900, y[1], 6);
    }

    [Fact]
    public void LocalResponseNorm_WindowIsClippedAtTheChannelEdges()
    {
        using var scope = TensorScope.Begin();
        // size 3, alpha' = alpha = 1, beta = 1, k = 1: channel 0 sees {0, 1}: 1 / (1 + 1 + 4); channel 2 sees {1, 2}: 3 / (1 + 4 + 9)
        var y = Op.LocalResponseNorm(OneTwoThree(), 3, 1, 1, 1, LrnAlphaScaling.AsWritten).ToArray<double>();
        Expect.Near([1 / 6.0, 2 / 15.0, 3 / 14.0], y);
    }

    [Fact]
    public void LocalResponseNorm_EvenSize_LooksOneChannelBackMoreThanForward()
    {
        using var scope = TensorScope.Begin();
        // size 2: window [c - 1, c] (PyTorch pads size/2 before and (size-1)/2 after).
        var y = Op.LocalResponseNorm(OneTwoThree(), 2, 1, 1, 1, LrnAlphaScaling.AsWritten).ToArray<double>();
        Expect.Near([1 / 2.0, 2 / 6.0, 3 / 14.0], y);
    }

    [Fact]
    public void LocalResponseNorm_Float32_MatchesFloat64OnAWideImage()
    {
        using var scope = TensorScope.Begin();
        var data = Enumerable.Range(0, 2 * 16 * 30 * 30).Select(i => 3 * Math.Sin(i * 0.013)).ToArray();
        var x = Tensor.FromArray(data, [2, 16, 30, 30]);
        var y64 = Op.LocalResponseNorm(x, 5, 1e-2, 0.75, 2).ToArray<double>();
        var y32 = Op.LocalResponseNorm(x.To(DType.Float32), 5, 1e-2, 0.75, 2).To(DType.Float64).ToArray<double>();
        Expect.Near(y64, y32, 2e-6);
    }

    [Fact]
    public void LocalResponseNorm_BadArguments_Throw()
    {
        using var scope = TensorScope.Begin();
        var x = OneTwoThree();
        Assert.Throws<ArgumentException>(() => Op.LocalResponseNorm(x, 0));
        Assert.Throws<ArgumentException>(() => Op.LocalResponseNorm(x, 5, k: 0));
        Assert.Throws<ArgumentException>(() => Op.LocalResponseNorm(Tensor.Zeros([3, 4]), 5));
    }
}
