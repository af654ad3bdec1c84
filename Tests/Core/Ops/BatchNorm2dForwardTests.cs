using Kiln.Core.Autograd;

namespace Kiln.Tests.Core.Ops;

public sealed class BatchNorm2dForwardTests
{
    // x (2, 1, 1, 2) = [1, 2, 3, 4]: one channel, mean 2.5, biased variance 1.25, unbiased 5/3.
    private static Tensor OneToFour() => Tensor.FromArray(new double[] { 1, 2, 3, 4 }, [2, 1, 1, 2]);

    [Fact]
    public void BatchNorm2d_Training_NormalisesWithTheBiasedBatchVariance()
    {
        using var scope = TensorScope.Begin();
        var y = Op.BatchNorm2d(OneToFour(), null, null, null, null, training: true).ToArray<double>();
        double invStd = 1 / Math.Sqrt(1.25 + 1e-5);
        Expect.Near([-1.5 * invStd, -0.5 * invStd, 0.5 * invStd, 1.5 * invStd], y);
    }

    [Fact]
    public void BatchNorm2d_Training_UpdatesRunningStatsWithTheUnbiasedVariance()
    {
        using var scope = TensorScope.Begin();
        var runningMean = Tensor.Zeros([1], DType.Float64);
        var runningVar = Tensor.Ones([1], DType.Float64);
        var weight = Tensor.Full([1], 2, DType.Float64);
        var bias = Tensor.Full([1], 1, DType.Float64);
        var y = Op.BatchNorm2d(OneToFour(), weight, bias, runningMean, runningVar, training: true, momentum: 0.1).ToArray<double>();
        Assert.Equal(0.9 * 0 + 0.1 * 2.5, runningMean.Item(), 12);
        Assert.Equal(0.9 * 1 + 0.1 * (5.0 / 3), runningVar.Item(), 12); // 1.0666…, not 1.025 (biased)
        double invStd = 1 / Math.Sqrt(1.25 + 1e-5);
        Expect.Near([1 - 3 * invStd, 1 - invStd, 1 + invStd, 1 + 3 * invStd], y);
    }

    [Fact]
    public void BatchNorm2d_Eval_UsesRunningStatsAndLeavesThemAlone()
    {
        using var scope = TensorScope.Begin();
        var runningMean = Tensor.Full([1], 1, DType.Float64);
        var runningVar = Tensor.Full([1], 4, DType.Float64);
        var weight = Tensor.Full([1], 3, DType.Float64);
        var bias = Tensor.Full([1], -1, DType.Float64);
        var y = Op.BatchNorm2d(OneToFour(), weight, bias, runningMean, runningVar, training: false, eps: 1e-5).ToArray<double>();
        double invStd = 1 / Math.Sqrt(4 + 1e-5);
        Expect.Near([-1, -1 + 3 * invStd, -1 + 6 * invStd, -1 + 9 * invStd], y);
        Assert.Equal(1.0, runningMean.Item());
        Assert.Equal(4.0, runningVar.Item());
    }

    [Fact]
    public void BatchNorm2d_Training_SumOfOutputs_HasZeroGradientForInputAndWeight()
    {
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(Enumerable.Range(0, 2 * 3 * 4).Select(i => Math.Sin(i)).ToArray(), [2, 3, 2, 2]);
        var weight = Tensor.FromArray(new double[] { 0.5, 1.5, -2 }, [3]);
        var bias = Tensor.Zeros([3], DType.Float64);
        foreach (var t in new[] { x, weight, bias }) t.RequiresGrad = true;
        Op.Sum(Op.BatchNorm2d(x, weight, bias, null, null, training: true)).Backward();
        Expect.Near(new double[24], x.Grad!.ToArray<double>(), 1e-12);
        Expect.Near(new double[3], weight.Grad!.ToArray<double>(), 1e-12);
        Expect.Near([8.0, 8, 8], bias.Grad!.ToArray<double>());
        foreach (var t in new[] { x, weight, bias }) t.Grad!.Dispose();
    }

    [Fact]
    public void BatchNorm2d_Float32_LargeOffset_StatisticsStayAccurate()
    {
        using var scope = TensorScope.Begin();
        // Mean 1000, spread ~1: float32 sums of 4800 values would lose the variance's digits.
        var data = Enumerable.Range(0, 4 * 3 * 20 * 20).Select(i => 1000 + Math.Sin(i * 0.7)).ToArray();
        var x64 = Tensor.FromArray(data, [4, 3, 20, 20]);
        var rm32 = Tensor.Zeros([3]);
        var rv32 = Tensor.Zeros([3]);
        var rm64 = Tensor.Zeros([3], DType.Float64);
        var rv64 = Tensor.Zeros([3], DType.Float64);
        var y64 = Op.BatchNorm2d(x64, null, null, rm64, rv64, training: true, momentum: 1).ToArray<double>();
        var y32 = Op.BatchNorm2d(x64.To(DType.Float32), null, null, rm32, rv32, training: true, momentum: 1).To(DType.Float64).ToArray<double>();
        Expect.Near(y64, y32, 2e-3); // x itself is float32-rounded at 1000 (ulp 6e-5)
        Expect.Near(rv64.ToArray<double>(), rv32.To(DType.Float64).ToArray<double>(), 1e-4);
        Expect.Near(rm64.ToArray<double>(), rm32.To(DType.Float64).ToArray<double>(), 1e-3);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BatchNorm2d_SameBitsOnOneTwoAndThreeThreads(bool relu)
    {
        // Note [Batch-norm passes in memory order]: 37 images are 32 chunks of the sums, 20 channels two channel blocks;
        // the chunks' sums are added in order whatever thread ran them.
        using var scope = TensorScope.Begin();
        var data = new float[37 * 20 * 5 * 7];
        new RandomGenerator(3).Uniform<float>(data, -2, 3);
        var dyData = new float[data.Length];
        new RandomGenerator(4).Uniform<float>(dyData, -1, 1);
        var results = new List<float[]>();
        int saved = Kiln.Backends.Cpu.CpuParallel.Threads;
        try
        {
            foreach (int threads in new[] { 1, 2, 3 })
            {
                Kiln.Backends.Cpu.CpuParallel.Threads = threads;
                var x = Tensor.FromArray(data, [37, 20, 5, 7]);
                x.RequiresGrad = true;
                var weight = Tensor.Full([20], 1.5f);
                weight.RequiresGrad = true;
                var y = Op.BatchNorm2d(x, weight, Tensor.Zeros([20]), null, null, training: true, momentum: 0.1, eps: 1e-5, relu: relu);
                Op.Sum(Op.Mul(y, Tensor.FromArray(dyData, [37, 20, 5, 7]))).Backward();
                results.Add([.. y.ToArray<float>(), .. x.Grad!.ToArray<float>(), .. weight.Grad!.ToArray<float>()]);
            }
        }
        finally { Kiln.Backends.Cpu.CpuParallel.Threads = saved; }
        Assert.True(results[0].AsSpan().SequenceEqual(results[1]), "batch norm differs between 1 and 2 threads");
        Assert.True(results[0].AsSpan().SequenceEqual(results[2]), "batch norm differs between 1 and 3 threads");
    }

    [Theory]
    [InlineData(1, 0.0)]        // scalar tail only
    [InlineData(255, 0.0)]      // one block short of its last vector
    [InlineData(1000, 0.0)]
    [InlineData(4099, 1000.0)]  // many blocks, a tail, and a mean far from zero (float32 ulp 6e-5)
    public void BatchNormSums_Float32_MatchExactDoubleSums(int n, double offset)
    {
        // Note [Batch-norm sums in double]: the AVX-512 float32 blocks, the centring about the float32 mean and its
        // exact correction, against sums of the same float32 values taken in double one by one.
        var x = new float[n];
        var dy = new float[n];
        new RandomGenerator(5).Uniform<float>(x, -1, 1);
        new RandomGenerator(6).Uniform<float>(dy, -1, 1);
        for (int i = 0; i < n; i++) x[i] += (float)offset;
        double sum = 0, sumDy = 0;
        for (int i = 0; i < n; i++) (sum, sumDy) = (sum + x[i], sumDy + dy[i]);
        double mean = sum / n + 0.37 + 1e-3 / 3;   // off the true mean and not a float32 value: every correction term counts
        double squares = 0, dot = 0;
        for (int i = 0; i < n; i++)
        {
            squares += (x[i] - mean) * (x[i] - mean);
            dot += dy[i] * (x[i] - mean);
        }
        Assert.Equal(sum, Kiln.Backends.Cpu.CpuBackend.SumDouble<float>(x), 1e-8 * n * (offset + 1));   // float32 partials of up to 16 terms
        Assert.Equal(squares, Kiln.Backends.Cpu.CpuBackend.SumSquaredDeviationDouble<float>(x, mean), 1e-7 * n);
        var (s1, s2) = Kiln.Backends.Cpu.CpuBackend.SumAndDotCenteredDouble<float>(dy, x, mean);
        Assert.Equal(sumDy, s1, 1e-8 * n);
        Assert.Equal(dot, s2, 1e-7 * n);
    }

    [Fact]
    public void BatchNorm2d_Eval_UnderNoGrad_RecordsNothing()
    {
        using var scope = TensorScope.Begin();
        var x = OneToFour();
        x.RequiresGrad = true;
        using var _ = GradMode.NoGrad();
        var y = Op.BatchNorm2d(x, null, null, Tensor.Zeros([1], DType.Float64), Tensor.Ones([1], DType.Float64), training: false);
        Assert.Null(y.GradFn);
    }

    [Fact]
    public void BatchNorm2d_BadArguments_Throw()
    {
        using var scope = TensorScope.Begin();
        var x = OneToFour();
        Assert.Throws<ArgumentException>(() => Op.BatchNorm2d(Tensor.Zeros([1, 2, 1, 1], DType.Float64), null, null, null, null, training: true));
        Assert.Throws<ArgumentException>(() => Op.BatchNorm2d(x, null, null, null, null, training: false));
        var e = Assert.Throws<ArgumentException>(() => Op.BatchNorm2d(x, Tensor.Ones([2], DType.Float64), null, null, null, training: true));
        Assert.Contains("weight must have shape (1)", e.Message);
        Assert.Throws<ArgumentException>(() => Op.BatchNorm2d(x, Tensor.Ones([1]), null, null, null, training: true)); // float32 weight, float64 x
    }
}
