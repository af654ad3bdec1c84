using Kiln.Backends.Cpu;
using Kiln.Backends.Cuda;

namespace Kiln.Tests.Backends.Cuda;

/// <summary>
/// Tests that need a GPU: each is a [CudaFact], skipped with the probe's reason elsewhere. The CPU
/// backend is the reference.
/// </summary>
public sealed class CudaGpuTests
{
    private static CudaBackend Gpu => (CudaBackend)Backend.For(Device.Cuda(0));

    private static float[] Random(int n, int seed, float lo = -1, float hi = 1)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * r.NextSingle();
        return a;
    }

    private static void AssertClose(float[] expected, float[] actual, float rtol, float atol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (!(Math.Abs(expected[i] - actual[i]) <= atol + rtol * Math.Abs(expected[i])))
                Assert.Fail($"{what}: element {i}: expected {expected[i]:G9}, got {actual[i]:G9}");
    }

    [CudaFact]
    public void Allocator_ReusesFreedMemory_AndTracksStats()
    {
        var alloc = Gpu.Allocator;
        long live = alloc.LiveBuffers;
        var a = alloc.Allocate(3 << 20);
        ulong p = a.Pointer;
        Assert.Equal(live + 1, alloc.LiveBuffers);
        a.Dispose();
        long driverAllocs = alloc.DriverAllocations;
        using var b = alloc.Allocate(3 << 20);
        Assert.Equal(p, b.Pointer);
        Assert.Equal(driverAllocs, alloc.DriverAllocations);
        Assert.True(alloc.PeakAllocatedBytes >= 3 << 20);
    }

    [CudaFact]
    public void Allocator_HugeRequest_ThrowsOutOfMemoryWithSizes()
    {
        long request = 2 * Gpu.Info.TotalMemoryBytes;   // can never fit, but is a sane size to ask for
        var e = Assert.Throws<CudaException>(() => Gpu.Allocator.Allocate(request));
        Assert.Equal(2, e.Status);
        Assert.Contains("smaller batch", e.Message);
        Assert.Contains("total", e.Message);
    }

    [CudaFact]
    public void Tensor_RoundTrip_HostDeviceHost()
    {
        CudaTestEnvironment.RequireKernels();
        var data = Random(1000, 1);
        using var g = Tensor.FromArray(data, [10, 100], Device.Cuda(0));
        Assert.Equal(data, g.ToArray<float>());
        using var back = g.To(Device.Cpu);
        Assert.Equal(data, back.ToArray<float>());
        using var g64 = g.To(DType.Float64);
        Assert.Equal(data.Select(v => (double)v).ToArray(), g64.ToArray<double>());
    }

    [CudaFact]
    public void Fill_AndStridedCopy_MatchCpu()
    {
        CudaTestEnvironment.RequireKernels();
        using var f = Tensor.Full([3, 5], 2.5, DType.Float32, Device.Cuda(0));
        Assert.All(f.ToArray<float>(), v => Assert.Equal(2.5f, v));
        using var d = Tensor.Full([7], -1.25, DType.Float64, Device.Cuda(0));
        Assert.All(d.ToArray<double>(), v => Assert.Equal(-1.25, v));

        var data = Random(24, 2);
        using var cpu = Tensor.FromArray(data, [2, 3, 4]);
        using var gpu = cpu.To(Device.Cuda(0));
        // A transposed view: (4, 3, 2) with reversed strides.
        using var tc = cpu.View([4, 3, 2], [1, 4, 12], 0);
        using var tg = gpu.View([4, 3, 2], [1, 4, 12], 0);
        using var cc = Tensor.EmptyLike(tc);
        using var cg = Tensor.EmptyLike(tg);
        CpuBackend.Instance.Copy(tc, cc);
        Gpu.Copy(tg, cg);
        Assert.Equal(cc.ToArray<float>(), cg.ToArray<float>());
    }

    [CudaFact]
    public void Elementwise_AddScaleMulRelu_MatchCpu()
    {
        CudaTestEnvironment.RequireKernels();
        const int n = 100_003;   // not a multiple of the block size
        var a = Random(n, 3);
        var b = Random(n, 4);
        using var ca = Tensor.FromArray(a, [n]);
        using var cb = Tensor.FromArray(b, [n]);
        using var ga = ca.To(Device.Cuda(0));
        using var gb = cb.To(Device.Cuda(0));

        using (var y = Op.Add(ga, gb)) using (var r = Op.Add(ca, cb)) Assert.Equal(r.ToArray<float>(), y.ToArray<float>());
        using (var y = Op.Scale(ga, 0.3)) using (var r = Op.Scale(ca, 0.3)) Assert.Equal(r.ToArray<float>(), y.ToArray<float>());
        using (var y = Op.Relu(ga)) using (var r = Op.Relu(ca)) Assert.Equal(r.ToArray<float>(), y.ToArray<float>());

        using var gy = Tensor.EmptyLike(ga);
        Gpu.Mul(ga, gb, gy);
        Assert.Equal(a.Zip(b, (x, z) => x * z).ToArray(), gy.ToArray<float>());

        using var gdx = Tensor.EmptyLike(ga);
        using var cdx = Tensor.EmptyLike(ca);
        using var grelu = Op.Relu(ga);
        using var crelu = Op.Relu(ca);
        Gpu.ReluBackward(grelu, gb, gdx);
        CpuBackend.Instance.ReluBackward(crelu, cb, cdx);
        Assert.Equal(cdx.ToArray<float>(), gdx.ToArray<float>());

        using var acc = ga.To(Device.Cuda(0));
        Gpu.AddInPlace(acc, gb);
        using var accCpu = ca.To(Device.Cpu);
        CpuBackend.Instance.AddInPlace(accCpu, cb);
        Assert.Equal(accCpu.ToArray<float>(), acc.ToArray<float>());
    }

    [CudaFact]
    public void Sum_MatchesCpu_AndIsDeterministic()
    {
        CudaTestEnvironment.RequireKernels();
        foreach (int n in (int[])[1, 255, 256, 1000, 1 << 20, 3_000_001])
        {
            var a = Random(n, n);
            using var c = Tensor.FromArray(a, [n]);
            using var g = c.To(Device.Cuda(0));
            using var sc = Op.Sum(c);
            using var sg1 = Op.Sum(g);
            using var sg2 = Op.Sum(g);
            double expected = sc.Item();
            Assert.True(Math.Abs(expected - sg1.Item()) <= 1e-6 * Math.Sqrt(n) + 1e-5, $"n={n}: cpu {expected}, gpu {sg1.Item()}");
            Assert.Equal(sg1.Item(), sg2.Item());   // bitwise
            using var mean = Op.Mean(g);
            Assert.True(Math.Abs(expected / n - mean.Item()) <= 1e-6);
        }
    }

    [CudaFact]
    public void SumBackward_FillsGradient()
    {
        CudaTestEnvironment.RequireKernels();
        using var x = Tensor.FromArray(Random(1000, 9), [10, 100], Device.Cuda(0));
        x.RequiresGrad = true;
        using var m = Op.Mean(x);
        m.Backward();
        Assert.All(x.Grad!.ToArray<float>(), v => Assert.Equal(1f / 1000, v, 1e-9f));
    }

    /// <summary>C = op(A) op(B), naive, in double.</summary>
    private static float[] NaiveGemm(float[] a, float[] b, int m, int n, int k, bool ta, bool tb)
    {
        var c = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                c[i * n + j] = (float)s;
            }
        return c;
    }

    [CudaFact]
    public void Sgemm_AllTransposeCombinations_MatchNaiveCpu_StrictFp32()
    {
        CudaTestEnvironment.RequireCublas();
        var gpu = Gpu;
        bool saved = gpu.AllowTf32;
        gpu.AllowTf32 = false;
        try
        {
            const int m = 37, n = 53, k = 71;
            foreach (bool ta in (bool[])[false, true])
                foreach (bool tb in (bool[])[false, true])
                {
                    var a = Random(m * k, 11);
                    var b = Random(k * n, 12);
                    using var ga = Tensor.FromArray(a, ta ? [k, m] : [m, k], Device.Cuda(0));
                    using var gb = Tensor.FromArray(b, tb ? [n, k] : [k, n], Device.Cuda(0));
                    using var gc = Tensor.Zeros([m, n], DType.Float32, Device.Cuda(0));
                    gpu.Sgemm(ga, ta, gb, tb, gc);
                    AssertClose(NaiveGemm(a, b, m, n, k, ta, tb), gc.ToArray<float>(), 1e-5f, 1e-5f, $"sgemm ta={ta} tb={tb}");
                }
        }
        finally
        {
            gpu.AllowTf32 = saved;
        }
    }

    [CudaFact]
    public void Sgemm_Tf32_IsCloseToFp32()
    {
        CudaTestEnvironment.RequireCublas();
        const int m = 64, n = 64, k = 256;
        var a = Random(m * k, 21);
        var b = Random(k * n, 22);
        using var ga = Tensor.FromArray(a, [m, k], Device.Cuda(0));
        using var gb = Tensor.FromArray(b, [k, n], Device.Cuda(0));
        using var gc = Tensor.Zeros([m, n], DType.Float32, Device.Cuda(0));
        Gpu.AllowTf32 = true;
        Gpu.Sgemm(ga, false, gb, false, gc, alpha: 1, beta: 0);
        AssertClose(NaiveGemm(a, b, m, n, k, false, false), gc.ToArray<float>(), 1e-2f, 5e-2f, "sgemm tf32");
    }

    private static (float[] W, float[] V) SgdReference(float[] w0, float[] g, float[] v0, float lr, float wd, float mu, SgdMomentumForm form, bool nesterov)
    {
        var w = (float[])w0.Clone();
        var v = (float[])v0.Clone();
        for (int i = 0; i < w.Length; i++)
        {
            float gi = g[i] + wd * w[i], vp = v[i];
            if (form == SgdMomentumForm.Caffe)
            {
                v[i] = mu * vp - lr * gi;
                w[i] = nesterov ? w[i] + (1 + mu) * v[i] - mu * vp : w[i] + v[i];
            }
            else
            {
                v[i] = mu * vp + gi;
                w[i] -= lr * (nesterov ? gi + mu * v[i] : v[i]);
            }
        }
        return (w, v);
    }

    [CudaFact]
    public void SgdUpdate_BothFormsAndNesterov_MatchCpuReference()
    {
        CudaTestEnvironment.RequireKernels();
        foreach (var form in (SgdMomentumForm[])[SgdMomentumForm.Caffe, SgdMomentumForm.PyTorch])
            foreach (bool nesterov in (bool[])[false, true])
            {
                int[] sizes = [1000, 7, 65_537];
                float[] lrMult = [1f, 2f, 0.5f], decayMult = [1f, 0f, 1f];
                const float lr = 0.01f, wd = 5e-4f, mu = 0.9f;
                var tensors = new List<(Tensor W, Tensor G, Tensor V, float[] W0, float[] G0, float[] V0)>();
                var parameters = new List<SgdParameter>();
                for (int p = 0; p < sizes.Length; p++)
                {
                    var w0 = Random(sizes[p], 100 + p);
                    var g0 = Random(sizes[p], 200 + p);
                    var v0 = Random(sizes[p], 300 + p, -0.1f, 0.1f);
                    var t = (Tensor.FromArray(w0, [sizes[p]], Device.Cuda(0)), Tensor.FromArray(g0, [sizes[p]], Device.Cuda(0)),
                             Tensor.FromArray(v0, [sizes[p]], Device.Cuda(0)), w0, g0, v0);
                    tensors.Add(t);
                    parameters.Add(new SgdParameter(t.Item1, t.Item2, t.Item3, lr * lrMult[p], wd * decayMult[p]));
                }
                Gpu.SgdUpdate(parameters, mu, form, nesterov);
                for (int p = 0; p < sizes.Length; p++)
                {
                    var (w, v) = SgdReference(tensors[p].W0, tensors[p].G0, tensors[p].V0, lr * lrMult[p], wd * decayMult[p], mu, form, nesterov);
                    AssertClose(w, tensors[p].W.ToArray<float>(), 1e-6f, 1e-7f, $"sgd {form} nesterov={nesterov} w[{p}]");
                    AssertClose(v, tensors[p].V.ToArray<float>(), 1e-6f, 1e-7f, $"sgd {form} nesterov={nesterov} v[{p}]");
                    tensors[p].W.Dispose();
                    tensors[p].G.Dispose();
                    tensors[p].V.Dispose();
                }
            }
    }

    [CudaFact]
    public void NormalizeImagesOp_Gpu_MatchesCpuTwin_OddSizesOneChannelAndFlip()
    {
        CudaTestEnvironment.RequireKernels();
        foreach (var (n, h, w, c) in new[] { (3, 5, 7, 3), (2, 9, 4, 1), (5, 17, 13, 3) })
        {
            using var scope = TensorScope.Begin();
            var pixels = new byte[n * h * w * c];
            new Random(n * 31 + w).NextBytes(pixels);
            float[] mean = c == 3 ? [0.485f, 0.456f, 0.406f] : [0.1307f], std = c == 3 ? [0.229f, 0.224f, 0.225f] : [0.3081f];
            var flip = Enumerable.Range(0, n).Select(i => (byte)(i % 2)).ToArray();
            var cpu = Op.NormalizeImages(Tensor.FromArray(pixels, [n, h, w, c]), mean, std, 1 / 255f, Tensor.FromArray(flip, [n]));
            var gpu = Op.NormalizeImages(Tensor.FromArray(pixels, [n, h, w, c], Device.Cuda(0)), mean, std, 1 / 255f, Tensor.FromArray(flip, [n], Device.Cuda(0)));
            Assert.Equal(Device.Cuda(0), gpu.Device);
            AssertClose(cpu.ToArray<float>(), gpu.ToArray<float>(), 1e-6f, 1e-6f, $"normalize ({n}, {h}, {w}, {c})");
        }
    }

    [CudaFact]
    public void NormalizeImages_MatchesCpuReference_WithFlip()
    {
        CudaTestEnvironment.RequireKernels();
        const int n = 3, h = 5, w = 7, c = 3;
        var r = new Random(5);
        var pixels = new byte[n * h * w * c];
        r.NextBytes(pixels);
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        var invStd = std.Select(s => 1 / s).ToArray();
        byte[] flip = [0, 1, 0];
        using var x = Tensor.FromArray(pixels, [n, h, w, c], Device.Cuda(0));
        using var y = Tensor.Empty([n, c, h, w], DType.Float32, Device.Cuda(0));
        using var gm = Tensor.FromArray(mean, [c], Device.Cuda(0));
        using var gs = Tensor.FromArray(invStd, [c], Device.Cuda(0));
        using var gf = Tensor.FromArray(flip, [n], Device.Cuda(0));
        Gpu.NormalizeImages(x, y, gm, gs, gf, 1 / 255f);
        var expected = new float[n * c * h * w];
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                for (int yy = 0; yy < h; yy++)
                    for (int xx = 0; xx < w; xx++)
                    {
                        int xs = flip[i] != 0 ? w - 1 - xx : xx;
                        expected[((i * c + ch) * h + yy) * w + xx] = (pixels[((i * h + yy) * w + xs) * c + ch] * (1 / 255f) - mean[ch]) * invStd[ch];
                    }
        AssertClose(expected, y.ToArray<float>(), 1e-6f, 1e-6f, "normalize");
    }

    [CudaFact]
    public void StagedUpload_DoubleBuffered_FeedsComputeInOrder()
    {
        CudaTestEnvironment.RequireKernels();
        var gpu = Gpu;
        const int n = 4096;
        using var pinned = gpu.AllocatePinned(2L * n * sizeof(float));
        using var bufA = Tensor.Empty([n], DType.Float32, Device.Cuda(0));
        using var bufB = Tensor.Empty([n], DType.Float32, Device.Cuda(0));
        Tensor[] slots = [bufA, bufB];
        var free = new CudaEvent?[2];
        double total = 0, expected = 0;
        for (int step = 0; step < 6; step++)
        {
            int s = step % 2;
            var host = pinned.AsSpan<float>().Slice(s * n, n);
            for (int i = 0; i < n; i++) host[i] = step + i * 1e-3f;
            expected += n * (double)step + 1e-3 * n * (n - 1) / 2;
            using var uploaded = gpu.UploadAsync(pinned, (long)s * n * sizeof(float), slots[s], free[s]);
            using var sum = Op.Sum(slots[s]);
            free[s]?.Dispose();
            free[s] = gpu.CreateEvent();
            free[s]!.Record();
            total += sum.Item();
            uploaded.Synchronize();   // the host may now refill this half of the pinned buffer
        }
        foreach (var e in free) e?.Dispose();
        Assert.True(Math.Abs(total - expected) <= 1e-5 * Math.Abs(expected), $"{total} vs {expected}");
    }

    [CudaFact]
    public void Events_MeasureElapsedTime()
    {
        CudaTestEnvironment.RequireKernels();
        using var start = Gpu.CreateEvent(timing: true);
        using var stop = Gpu.CreateEvent(timing: true);
        using var x = Tensor.Zeros([1 << 20], DType.Float32, Device.Cuda(0));
        start.Record();
        for (int i = 0; i < 10; i++) Gpu.Scale(x, 2, x);
        stop.Record();
        stop.Synchronize();
        Assert.True(stop.IsComplete);
        Assert.InRange(stop.ElapsedMsSince(start), 0f, 10_000f);
    }

    [CudaFact]
    public void CudnnRelu_MatchesOurKernel_Nchw()
    {
        CudaTestEnvironment.RequireKernels();
        CudaTestEnvironment.RequireCudnn();
        var data = Random(2 * 3 * 5 * 7, 31);
        using var x = Tensor.FromArray(data, [2, 3, 5, 7], Device.Cuda(0));
        using var ours = Tensor.EmptyLike(x);
        using var theirs = Tensor.EmptyLike(x);
        Gpu.ReluForward(x, ours);
        Gpu.CudnnReluForward(x, theirs);
        Assert.Equal(ours.ToArray<float>(), theirs.ToArray<float>());
    }

    [CudaFact]
    public void Kernels_CompileForThisDevice()
    {
        CudaTestEnvironment.RequireKernels();
        foreach (var file in KernelCache.SourceFiles())
            Assert.NotEmpty(Gpu.Kernels.Get(file).Image);
    }
}
