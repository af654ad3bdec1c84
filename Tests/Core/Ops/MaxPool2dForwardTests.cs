using Kiln.Backends.Cpu;

namespace Kiln.Tests.Core.Ops;

public sealed class MaxPool2dForwardTests
{
    private static double[] Range(int n, double start = 1) => Enumerable.Range(0, n).Select(i => start + i).ToArray();

    [Fact]
    public void MaxPool2d_4x4Kernel2Stride2_TakesEachQuadrantsMaximum()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(Range(16), [1, 1, 4, 4]);
        var y = Op.MaxPool2d(x, 2, 2);
        Assert.Equal([1, 1, 2, 2], y.Shape.ToArray());
        Assert.Equal([6.0, 8, 14, 16], y.ToArray<double>());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]   // float32 and float64 take Note [1x1 pooling]'s sampling path
    public void MaxPool2d_1x1Stride2_SamplesEveryOtherPixel_AndRoutesDyBackThere(int dtypeCase)
    {
        using var scope = TensorScope.Begin();
        var dtype = dtypeCase == 1 ? DType.Float32 : DType.Float64;
        var x = Tensor.FromArray(Range(2 * 5 * 4), [1, 2, 5, 4]).To(dtype);   // (N, C, H, W)
        x.RequiresGrad = true;
        var y = Op.MaxPool2d(x, 1, 2);                                        // (1, 2, 3, 2)
        Assert.Equal([1, 2, 3, 2], y.Shape.ToArray());
        Assert.Equal([1.0, 3, 9, 11, 17, 19, 21, 23, 29, 31, 37, 39], y.To(DType.Float64).ToArray<double>());
        Op.Sum(Op.Mul(y, Tensor.FromArray(Range(12, 100), [1, 2, 3, 2]).To(dtype))).Backward();
        var dx = x.Grad!.To(DType.Float64).ToArray<double>();
        var expected = new double[40];
        int[] sampled = [0, 2, 8, 10, 16, 18, 20, 22, 28, 30, 36, 38];
        for (int i = 0; i < sampled.Length; i++) expected[sampled[i]] = 100 + i;
        Assert.Equal(expected, dx);
    }

    [Theory]
    [InlineData(112, 3, 2, 0, true, 56)]  // GoogLeNet pool1 (Caffe rounds up)
    [InlineData(112, 3, 2, 0, false, 55)]
    [InlineData(56, 3, 2, 0, true, 28)]   // GoogLeNet pool2
    [InlineData(14, 3, 2, 0, true, 7)]    // GoogLeNet pool4
    [InlineData(55, 3, 2, 0, false, 27)]  // AlexNet pool1
    [InlineData(13, 3, 2, 0, false, 6)]   // AlexNet pool5
    [InlineData(112, 3, 2, 1, false, 56)] // ResNet maxpool
    [InlineData(5, 2, 2, 0, true, 3)]     // last window overhangs by one column
    [InlineData(5, 2, 2, 0, false, 2)]
    [InlineData(2, 2, 3, 1, true, 1)]     // ceil would start a window in the right padding: dropped (PyTorch gives 1)
    [InlineData(6, 3, 2, 1, true, 4)]
    public void OutputSize_MatchesPyTorch(int size, int kernel, int stride, int pad, bool ceil, int expected) =>
        Assert.Equal(expected, Pool2dParams.OutputSize(size, kernel, stride, pad, ceil));

    [Fact]
    public void MaxPool2d_CeilMode_LastWindowSeesOnlyTheInput()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(Range(25, -30), [1, 1, 5, 5]); // all negative: an implicit 0 would win
        var y = Op.MaxPool2d(x, 2, 2, ceilMode: true);
        Assert.Equal([1, 1, 3, 3], y.Shape.ToArray());
        Assert.Equal([-24.0, -22, -21, -14, -12, -11, -9, -7, -6], y.ToArray<double>());
    }

    [Fact]
    public void MaxPool2d_Padding_NeverWins()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(Range(9, -9), [1, 1, 3, 3]); // -9 .. -1
        var y = Op.MaxPool2d(x, 3, 1, 1);
        Assert.Equal([-5.0, -4, -4, -2, -1, -1, -2, -1, -1], y.ToArray<double>());
    }

    [Fact]
    public void MaxPool2d_Float32_MatchesFloat64OnStrideOneAndTwo()
    {
        using var scope = TensorScope.Begin();
        var data = Enumerable.Range(0, 2 * 3 * 9 * 11).Select(i => Math.Sin(i * 0.37)).ToArray();
        var x64 = Tensor.FromArray(data, [2, 3, 9, 11]);
        var x32 = x64.To(DType.Float32);
        foreach (var (k, s, p) in new[] { (3, 1, 1), (3, 2, 0), (2, 2, 1) })
        {
            var y64 = Op.MaxPool2d(x64, k, s, p, ceilMode: true).ToArray<double>();
            var y32 = Op.MaxPool2d(x32, k, s, p, ceilMode: true).To(DType.Float64).ToArray<double>();
            Expect.Near(y64, y32, 1e-6);
        }
    }

    [Fact]
    public void MaxPool2d_Backward_Ties_GoToTheFirstMaximum()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.Ones([1, 1, 2, 4], DType.Float64);
        x.RequiresGrad = true;
        var y = Op.MaxPool2d(x, 2, 2);
        y.Backward(Tensor.FromArray([3.0, 5.0], [1, 1, 1, 2]));
        Assert.Equal([3.0, 0, 5, 0, 0, 0, 0, 0], x.Grad!.ToArray<double>());
        x.Grad.Dispose();
    }

    [Fact]
    public void MaxPool2d_OverlappingWindows_AccumulateGradient()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(new double[] { 0, 0, 0, 0, 9, 0, 0, 0, 0 }, [1, 1, 3, 3]);
        x.RequiresGrad = true;
        Op.Sum(Op.MaxPool2d(x, 2, 1)).Backward();
        Assert.Equal(4.0, x.Grad!.ToArray<double>()[4]);
        x.Grad.Dispose();
    }

    [Fact]
    public void MaxPool2d_NonContiguousInput_IsCopiedFirst()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(Range(16), [1, 1, 4, 4]);
        var xt = x.View([1, 1, 4, 4], [16, 16, 1, 4], 0); // transposed H and W
        Assert.Equal([6.0, 14, 8, 16], Op.MaxPool2d(xt, 2, 2).ToArray<double>());
    }

    [Fact]
    public void MaxPool2d_PaddingAboveHalfTheKernel_Throws()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.Zeros([1, 1, 4, 4]);
        var e = Assert.Throws<ArgumentException>(() => Op.MaxPool2d(x, 2, 2, 2));
        Assert.Contains("padding (2, 2)", e.Message);
        Assert.Throws<ArgumentException>(() => Op.MaxPool2d(Tensor.Zeros([4, 4]), 2, 2));
        Assert.Throws<ArgumentException>(() => Op.MaxPool2d(x, 5, 1));
    }

    [Theory]
    [InlineData(3, 2, 0, false, 11, 13)]
    [InlineData(3, 1, 1, false, 11, 13)]
    [InlineData(2, 2, 0, true, 11, 13)]
    [InlineData(3, 2, 1, true, 11, 13)]
    [InlineData(5, 3, 2, true, 11, 13)]
    // Wide rows: 512- and 256-bit steps and scalar tails in both passes (W = 37, 53; Q = 19, 37, 18, 27).
    [InlineData(3, 2, 1, false, 9, 37)]
    [InlineData(3, 1, 1, false, 6, 37)]
    [InlineData(3, 2, 0, true, 7, 53)]
    [InlineData(2, 2, 0, false, 5, 53)]
    // Stride 1 (Note [Flat max-pool backward]): no padding, padding 1 and 2, a 14x14 plane, one row.
    [InlineData(3, 1, 0, false, 9, 10)]
    [InlineData(2, 1, 1, false, 7, 5)]
    [InlineData(5, 1, 2, true, 14, 14)]
    [InlineData(3, 1, 1, true, 14, 14)]
    [InlineData(3, 1, 1, false, 1, 23)]
    public void MaxPool2d_SimdBackward_MatchesReference_WithTiesInfinitiesAndNaN(int kernel, int stride, int pad, bool ceil, int h, int w)
    {
        using var scope = TensorScope.Begin();
        var p = Pool2dParams.Square(kernel, stride, pad, ceil);
        var rng = new Random(7);
        // Few distinct values: many ties, also between -0 and +0. Some -inf (a window may hold nothing else) and a few NaN.
        var data = Enumerable.Range(0, 2 * 3 * h * w).Select(_ => rng.Next(60) switch
        {
            0 => double.NaN,
            < 10 => double.NegativeInfinity,
            < 14 => -0.0,
            var v => (double)(v % 3),
        }).ToArray();
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            using var x64 = Tensor.FromArray(data, [2, 3, h, w]);
            var x = x64.To(dtype);
            var y = Op.MaxPool2d(x, p);
            Assert.Equal(NaiveMaxPool(data, 2 * 3, h, w, p), y.To(DType.Float64).ToArray<double>());
            var dy64 = Tensor.FromArray(Enumerable.Range(1, (int)y.NumElements).Select(i => (double)i).ToArray(), y.Shape);
            var dy = dy64.To(dtype);
            var fast = Tensor.EmptyLike(x);
            var reference = Tensor.EmptyLike(x);
            CpuBackend.Instance.MaxPool2dBackward(x, y, dy, fast, p);
            if (dtype == DType.Float32) CpuBackend.MaxPool2dBackwardReference<float>(x, y, dy, reference, p);
            else CpuBackend.MaxPool2dBackwardReference<double>(x, y, dy, reference, p);
            Assert.Equal(reference.To(DType.Float64).ToArray<double>(), fast.To(DType.Float64).ToArray<double>());
        }
    }

    /// <summary>The window maximum by a plain scan (NaN wins, padding never does), per (H, W) plane.</summary>
    private static double[] NaiveMaxPool(double[] x, int planes, int h, int w, Pool2dParams p)
    {
        int ph = p.OutputHeight(h), pw = p.OutputWidth(w);
        var y = new double[planes * ph * pw];
        for (int plane = 0; plane < planes; plane++)
            for (int oh = 0; oh < ph; oh++)
                for (int ow = 0; ow < pw; ow++)
                {
                    double m = double.NegativeInfinity;
                    for (int i = Math.Max(0, oh * p.StrideH - p.PadH); i < Math.Min(h, oh * p.StrideH - p.PadH + p.KernelH); i++)
                        for (int j = Math.Max(0, ow * p.StrideW - p.PadW); j < Math.Min(w, ow * p.StrideW - p.PadW + p.KernelW); j++)
                        {
                            double v = x[(plane * h + i) * w + j];
                            if (double.IsNaN(v) || v > m) m = double.IsNaN(m) ? m : v;
                        }
                    y[(plane * ph + oh) * pw + ow] = m;
                }
        return y;
    }
}
