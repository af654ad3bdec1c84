using Kiln.Backends.Cpu;

namespace Kiln.Tests.Backends.Cpu;

/// <summary>
/// Note [Flat direct convolution]: the direct stride-1 path against the float64 im2col reference, with its error
/// compared to the float32 im2col path's on the same data, for forward, backward data and backward weights.
/// </summary>
public sealed class ConvDirectTests
{
    [Theory]
    [InlineData(4, 16, 16, 32, 32, 3, 3, 1, 1, 1)]   // ResNet-20's first stage
    [InlineData(3, 5, 11, 9, 7, 3, 3, 1, 1, 1)]      // odd sizes, K neither a multiple of 8 nor of 3
    [InlineData(1, 1, 1, 1, 2, 3, 3, 1, 1, 1)]       // one channel, a 1x2 map smaller than the filter's padding
    [InlineData(2, 3, 17, 8, 8, 3, 3, 0, 0, 1)]      // no padding
    [InlineData(2, 4, 9, 10, 12, 5, 5, 2, 2, 1)]     // 5x5: 25 taps per channel, register blocks of 9 (channel, tap) pairs span channels
    [InlineData(2, 6, 8, 11, 9, 3, 3, 2, 2, 2)]      // dilation 2
    [InlineData(2, 3, 4, 6, 13, 1, 3, 0, 1, 1)]      // 1x3 filter, padding in width only
    [InlineData(2, 8, 24, 7, 7, 3, 3, 1, 1, 1)]      // ResNet-18's last stage: a 7x7 map
    [InlineData(2, 3, 9, 13, 11, 3, 3, 1, 1, 1, 1)]  // bands of one block: rows split between bands
    [InlineData(1, 2, 5, 20, 17, 5, 5, 2, 2, 1, 3)]  // bands of three blocks
    [InlineData(3, 4, 7, 9, 9, 3, 3, 1, 1, 1, 0, 2)] // the weight gradient pads two images at a time: batches of 2 and 1
    public void DirectConv_MatchesFloat64_AsWellAsIm2Col(int n, int c, int k, int h, int w, int r, int s, int padH, int padW, int dil, int bandBlocks = 0, int weightBatch = 0)
    {
        using var scope = TensorScope.Begin();
        var p = new Conv2dParams((1, 1), (padH, padW), (dil, dil));
        var x = Random([n, c, h, w], 1);
        var wt = Random([k, c, r, s], 2);
        var bias = Random([k], 3);
        var yShape = p.OutputShape(x.Shape, wt.Shape);
        var dy = Random(yShape, 4);
        var backend = CpuBackend.Instance;

        double[][] Run(DType dtype, CpuBackend.ConvPathKind? path, bool? stacked = null)
        {
            var (x1, w1, b1, dy1) = (x.To(dtype), wt.To(dtype), bias.To(dtype), dy.To(dtype));
            var y = Tensor.Zeros(yShape, dtype);
            var dx = Tensor.Zeros(x.Shape.ToArray(), dtype);
            var dw = Tensor.Zeros(wt.Shape.ToArray(), dtype);
            CpuBackend.ForceConvPath = path;
            CpuBackend.DirectBandBytes = bandBlocks * c * 32 * sizeof(float);
            CpuBackend.DirectWeightBatchImages = weightBatch;
            CpuBackend.ForceStackedWeightGrad = stacked;
            try
            {
                backend.Conv2dForward(x1, w1, b1, y, p);
                backend.Conv2dBackwardData(w1, dy1, dx, p);
                backend.Conv2dBackwardWeights(x1, dy1, dw, null, p);
            }
            finally
            {
                CpuBackend.ForceConvPath = null;
                CpuBackend.DirectBandBytes = 0;
                CpuBackend.DirectWeightBatchImages = 0;
                CpuBackend.ForceStackedWeightGrad = null;
            }
            return [.. new[] { y, dx, dw }.Select(t => t.To(DType.Float64).ToArray<double>())];
        }

        var reference = Run(DType.Float64, null);
        var im2col = Run(DType.Float32, CpuBackend.ConvPathKind.Im2Col);
        string[] names = ["forward", "backward data", "backward weights"];
        // Winograd where it applies (3 filter rows, no dilation), else direct: Note [Row Winograd]. The direct weight
        // gradient with the images apart and stacked (Note [Stacked weight gradient]; stacking needs padH <= dil*(R-1)).
        foreach (var (path, stacked) in new (CpuBackend.ConvPathKind, bool?)[]
                 { (CpuBackend.ConvPathKind.Direct, false), (CpuBackend.ConvPathKind.Direct, true), (CpuBackend.ConvPathKind.RowWinograd, null) })
        {
            var fast = Run(DType.Float32, path, stacked);
            for (int i = 0; i < 3; i++)
            {
                double scale = reference[i].Max(Math.Abs), err = MaxDiff(fast[i], reference[i]), im2colErr = MaxDiff(im2col[i], reference[i]);
                Assert.True(err <= 1e-5 * scale, $"{path} (stacked {stacked}) {names[i]}: off by {err:G3} (values up to {scale:G3})");
                Assert.True(err <= 4 * im2colErr + 1e-6 * scale, $"{path} (stacked {stacked}) {names[i]}: off by {err:G3}, im2col by {im2colErr:G3}");
            }
        }
    }

    [Theory]
    [InlineData(2, 3, 8, 32, 32, 7, 2, 3)]      // ResNet's stem: 12 channels of 4x4 phases
    [InlineData(2, 3, 5, 37, 35, 11, 4, 2)]     // AlexNet's stem, odd sizes: 48 channels of 3x3 phases (row Winograd)
    [InlineData(1, 2, 3, 9, 10, 7, 2, 0)]       // no padding; the phases run past the input
    [InlineData(3, 3, 4, 67, 71, 11, 4, 2)]     // phase rows of 19: the vector de-interleave with an overlapping last vector
    [InlineData(3, 3, 4, 67, 71, 11, 4, 2, 2)]  // ... and the weight gradient splitting 2 images, then 1
    [InlineData(2, 2, 3, 40, 45, 7, 2, 5, 1)]   // padding wider than the stride; stride 2, rows of 26; an image at a time
    public void PhaseSplitStem_MatchesFloat64_AsWellAsIm2Col(int n, int c, int k, int h, int w, int r, int stride, int pad, int weightBatch = 0)
    {
        // Note [Phase-split stem convolution]: forward and weight gradient against float64 and the float32 im2col path.
        using var scope = TensorScope.Begin();
        var p = new Conv2dParams(stride, pad);
        var x = Random([n, c, h, w], 7);
        var wt = Random([k, c, r, r], 8);
        var bias = Random([k], 9);
        var yShape = p.OutputShape(x.Shape, wt.Shape);
        var dy = Random(yShape, 10);
        double[][] Run(DType dtype, CpuBackend.ConvPathKind? path, bool? stacked = null)
        {
            var y = Tensor.Zeros(yShape, dtype);
            var dw = Tensor.Zeros(wt.Shape.ToArray(), dtype);
            CpuBackend.ForceConvPath = path;
            CpuBackend.DirectWeightBatchImages = weightBatch;
            try
            {
                CpuBackend.Instance.Conv2dForward(x.To(dtype), wt.To(dtype), bias.To(dtype), y, p);
                CpuBackend.Instance.Conv2dBackwardWeights(x.To(dtype), dy.To(dtype), dw, null, p);
            }
            finally
            {
                CpuBackend.ForceConvPath = null;
                CpuBackend.DirectWeightBatchImages = 0;
            }
            return [y.To(DType.Float64).ToArray<double>(), dw.To(DType.Float64).ToArray<double>()];
        }
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "phases" : "im2col", CpuBackend.ConvPath(x.Shape, wt.Shape, p).Split('+')[0]);
        var reference = Run(DType.Float64, null);
        var im2col = Run(DType.Float32, CpuBackend.ConvPathKind.Im2Col);
        var phases = Run(DType.Float32, null);
        string[] names = ["forward", "backward weights"];
        for (int i = 0; i < 2; i++)
        {
            double scale = reference[i].Max(Math.Abs), err = MaxDiff(phases[i], reference[i]), im2colErr = MaxDiff(im2col[i], reference[i]);
            Assert.True(err <= 1e-5 * scale, $"{names[i]}: off by {err:G3} (values up to {scale:G3})");
            Assert.True(err <= 4 * im2colErr + 1e-6 * scale, $"{names[i]}: off by {err:G3}, im2col by {im2colErr:G3}");
        }
    }

    [Theory]
    [InlineData(CpuBackend.ConvPathKind.Direct, 10)]        // stacked images
    [InlineData(CpuBackend.ConvPathKind.Direct, 12)]        // images apart
    [InlineData(CpuBackend.ConvPathKind.RowWinograd, 10)]
    internal void DirectConv_WeightGradient_SameBitsOnOneThreadAndTwo(CpuBackend.ConvPathKind path, int size)
    {
        // Each dw element is owned by one work item that sums lanes and images in a fixed order (Note [Deterministic CPU]).
        // 11 output channels are 3 register blocks, which 2 threads split into 2 runs each (BalancedRuns) and 1 or 3 do not.
        using var scope = TensorScope.Begin();
        var p = new Conv2dParams(1, 1);
        var x = Random([6, 5, size, size], 5);
        var dy = Random([6, 11, size, size], 6);
        var results = new List<float[]>();
        int saved = CpuParallel.Threads;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var dw = Tensor.Zeros([11, 5, 3, 3]);
            CpuParallel.Threads = threads;
            CpuBackend.ForceConvPath = path;
            try { CpuBackend.Instance.Conv2dBackwardWeights(x, dy, dw, null, p); }
            finally
            {
                CpuBackend.ForceConvPath = null;
                CpuParallel.Threads = saved;
            }
            results.Add(dw.ToArray<float>());
        }
        Assert.True(results[0].AsSpan().SequenceEqual(results[1]), "weight gradient differs between 1 and 2 threads");
        Assert.True(results[0].AsSpan().SequenceEqual(results[2]), "weight gradient differs between 1 and 3 threads");
    }

    [Theory]
    [InlineData(11, 32, 2, 2)]   // ResNet-20's 32 channels: 11 blocks, 6 and 5 on two threads; 2 runs make 11 and 11
    [InlineData(16, 61, 2, 1)]   // AlexNet's stem: 16 blocks already even
    [InlineData(3, 1, 2, 1)]     // one chunk cannot be split
    [InlineData(3, 24, 1, 1)]    // one thread
    [InlineData(4, 24, 16, 4)]   // 16 threads: 4 runs of 4 blocks
    [InlineData(5, 24, 4, 4)]    // 20 items on 4 threads; 1-3 runs leave threads idle (5/8, 10/12, 15/16 < 97%)
    public void WeightGradient_BalancedRuns_KeepEveryThreadBusy(int kBlocks, int chunks, int threads, int expected)
    {
        Assert.Equal(expected, CpuBackend.BalancedRuns(kBlocks, chunks, threads));
    }

    private static Tensor Random(int[] shape, ulong seed)
    {
        var data = new float[shape.Aggregate(1, (a, d) => a * d)];
        new RandomGenerator(seed).Uniform<float>(data, -1, 1);
        return Tensor.FromArray(data, shape);
    }

    private static double MaxDiff(double[] a, double[] b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}
