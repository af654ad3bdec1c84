using Kiln.Backends.Cpu;

namespace Kiln.Tests.Backends.Cpu;

/// <summary>Convolution forward values against hand-computed examples, argument errors, and path independence.</summary>
public sealed class Conv2dTests
{
    private static readonly float[] OneToNine = [1, 2, 3, 4, 5, 6, 7, 8, 9];

    [Fact]
    public void Conv2d_2x2Filter_MatchesHandComputed()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(OneToNine, [1, 1, 3, 3]);
        var w = Tensor.FromArray(new float[] { 1, 0, 0, -1 }, [1, 1, 2, 2]);   // y[p,q] = x[p,q] - x[p+1,q+1]
        var b = Tensor.FromArray(new float[] { 0.5f }, [1]);
        var y = Op.Conv2d(x, w, b);
        Assert.Equal([1, 1, 2, 2], y.Shape.ToArray());
        Assert.Equal([-3.5f, -3.5f, -3.5f, -3.5f], y.ToArray<float>());
    }

    [Fact]
    public void Conv2d_Stride2Pad1_MatchesHandComputed()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(OneToNine, [1, 1, 3, 3]);
        var w = Tensor.FromArray(new float[] { 1, 0, 0, -1 }, [1, 1, 2, 2]);
        var y = Op.Conv2d(x, w, stride: 2, padding: 1);
        // Windows start at rows/cols -1 and 1: (0 - 1), (0 - 3), (0 - 7), (5 - 9).
        Assert.Equal([-1f, -3f, -7f, -4f], y.ToArray<float>());
    }

    [Fact]
    public void Conv2d_1x1Groups2_ScalesEachChannelByItsOwnFilter()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(new double[] { 1, 1, 1, 1, 2, 2, 2, 2 }, [1, 2, 2, 2]);
        var w = Tensor.FromArray(new double[] { 3, 5 }, [2, 1, 1, 1]);
        var y = Op.Conv2d(x, w, groups: 2);
        Assert.Equal([3.0, 3, 3, 3, 10, 10, 10, 10], y.ToArray<double>());
    }

    [Fact]
    public void Conv2d_WrongChannels_NamesShapes()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.Zeros([1, 4, 227, 227]);
        var w = Tensor.Zeros([64, 3, 11, 11]);
        var ex = Assert.Throws<ArgumentException>(() => Op.Conv2d(x, w, stride: 4));
        Assert.Equal("conv2d: weight (64, 3, 11, 11) needs input with 3 channels, got (1, 4, 227, 227)", ex.Message);
    }

    [Fact]
    public void Conv2d_GroupsNotDividingChannels_Throws()
    {
        using var scope = TensorScope.Begin();
        var ex = Assert.Throws<ArgumentException>(() => Op.Conv2d(Tensor.Zeros([1, 3, 5, 5]), Tensor.Zeros([4, 1, 3, 3]), groups: 2));
        Assert.Contains("groups=2 must divide", ex.Message);
    }

    [Fact]
    public void Conv2d_NonContiguousInput_SaysContiguousNchw()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.Zeros([2, 3, 5, 5]);
        var view = TransposedView(x);
        var ex = Assert.Throws<ArgumentException>(() => Op.Conv2d(view, Tensor.Zeros([4, 3, 3, 3])));
        Assert.Contains("contiguous NCHW input", ex.Message);
    }

    [Fact]
    public void Conv2d_WholeBatch_EqualsImageByImageBitwise()
    {
        // A batch of 4 runs images in parallel with one-thread GEMMs; one image runs a parallel GEMM.
        using var scope = TensorScope.Begin();
        var data = new float[4 * 8 * 9 * 9];
        new RandomGenerator(3).Uniform<float>(data, -1, 1);
        var wData = new float[16 * 8 * 3 * 3];
        new RandomGenerator(4).Uniform<float>(wData, -1, 1);
        var w = Tensor.FromArray(wData, [16, 8, 3, 3]);
        var batch = Op.Conv2d(Tensor.FromArray(data, [4, 8, 9, 9]), w, padding: 1).ToArray<float>();
        int per = 8 * 9 * 9, outPer = 16 * 9 * 9;
        for (int n = 0; n < 4; n++)
        {
            var one = Op.Conv2d(Tensor.FromArray(data.AsSpan(n * per, per).ToArray(), [1, 8, 9, 9]), w, padding: 1).ToArray<float>();
            Assert.True(one.AsSpan().SequenceEqual(batch.AsSpan(n * outPer, outPer)), $"image {n} differs");
        }
    }

    [Fact]
    public void Conv2d_EmptyBatch_GivesZeroWeightGradient()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.Zeros([0, 2, 5, 5]);
        var w = Tensor.Ones([3, 2, 3, 3]);
        var b = Tensor.Ones([3]);
        w.RequiresGrad = true;
        b.RequiresGrad = true;
        var y = Op.Conv2d(x, w, b, padding: 1);
        Assert.Equal([0, 3, 5, 5], y.Shape.ToArray());
        Op.Sum(y).Backward();
        Assert.All(w.Grad!.ToArray<float>(), v => Assert.Equal(0f, v));
        Assert.All(b.Grad!.ToArray<float>(), v => Assert.Equal(0f, v));
        w.Grad.Dispose();
        b.Grad.Dispose();
    }

    [Theory]
    [InlineData("conv2d_stride2_pad1_odd")]
    [InlineData("conv2d_dilation2_no_bias")]
    [InlineData("conv2d_groups2")]
    public void Conv2d_Im2ColInSlabsOfOneRow_PassesGradCheck(string name)
    {
        // Other tests may run meanwhile with this budget: any budget gives correct results.
        long saved = Kiln.Backends.Cpu.CpuBackend.ConvColumnBudget;
        Kiln.Backends.Cpu.CpuBackend.ConvColumnBudget = 1;
        try
        {
            var errors = Kiln.Tests.Core.Ops.OpHarness.GradCheck(Kiln.Tests.Core.Ops.OpCases.Get(name));
            Assert.True(errors.Count == 0, string.Join("\n", errors.Take(20)));
        }
        finally
        {
            Kiln.Backends.Cpu.CpuBackend.ConvColumnBudget = saved;
        }
    }

    [Theory]
    [InlineData(5, 16, 16, 9, 7, 1, 1)]      // ResNet-20's first stage, odd map; 4 chunks of images
    [InlineData(3, 6, 9, 8, 8, 2, 3)]        // groups 3, stride 2
    [InlineData(1, 4, 40, 5, 6, 1, 1)]       // one image; Kg = 40 is not transposed by default
    public void Conv2d_WeightGradientTransposedOrNot_SameBits(int n, int c, int k, int h, int w, int stride, int groups)
    {
        // Note [Transposed weight gradient]: both orientations compute every element with the same FMA chain.
        using var scope = TensorScope.Begin();
        var xData = new float[n * c * h * w];
        new RandomGenerator(5).Uniform<float>(xData, -1, 1);
        var x = Tensor.FromArray(xData, [n, c, h, w]);
        var p = new Conv2dParams(stride, 1, 1, groups);
        var yShape = p.OutputShape(x.Shape, [k, c / groups, 3, 3]);
        var dyData = new float[yShape.Aggregate(1, (a, d) => a * d)];
        new RandomGenerator(6).Uniform<float>(dyData, -1, 1);
        var dy = Tensor.FromArray(dyData, yShape);
        var backend = CpuBackend.Instance;
        var results = new List<float[]>();
        foreach (bool transposed in new[] { false, true })
        {
            var dw = Tensor.Zeros([k, c / groups, 3, 3]);
            CpuBackend.ForceWeightGradTransposed = transposed;
            try { backend.Conv2dBackwardWeights(x, dy, dw, null, p); }
            finally { CpuBackend.ForceWeightGradTransposed = null; }
            results.Add(dw.ToArray<float>());
        }
        Assert.True(results[0].AsSpan().SequenceEqual(results[1]), "transposed weight gradient differs");
    }

    /// <summary>(N, C, H, W) data seen through swapped H and W strides: same shape for square images, not contiguous.</summary>
    private static Tensor TransposedView(Tensor x)
    {
        var s = x.Strides.ToArray();
        return x.View(x.Shape.ToArray(), [s[0], s[1], s[3], s[2]], x.Offset);
    }
}
