using System.Diagnostics;
using System.Runtime.InteropServices;
using Kiln.Backends.Cuda;
using Kiln.Training;

namespace Kiln.Tests.Backends.Cuda;

/// <summary>
/// Runs the CUDA kernels on the host, without a GPU: each Kernels/*.cu is compiled as C++ by g++ with a
/// small header that stands in for the CUDA built-ins (threadIdx, __syncthreads as a barrier over real
/// threads, __umulhi, atomics), loaded as a shared library, and its extern "C" kernels are called on CPU
/// tensors with the launch shapes the C# launchers use. The results are compared with the CPU backend,
/// the reference. This checks the kernels' index arithmetic and formulas (and the dropout mask bit for
/// bit); it cannot check what only a GPU shows (memory coalescing, races between blocks, the launch
/// itself), which the CUDA parity tests cover. Skips with the reason when g++ is missing.
/// </summary>
public sealed unsafe class KernelEmulationTests
{
    private const string EmulationHeader = """
        // Host stand-ins for the CUDA built-ins the kernels use (KernelEmulationTests.cs).
        #pragma once
        #include <cmath>
        #include <cstdint>
        #include <algorithm>
        #include <atomic>
        #include <barrier>
        struct dim3 { unsigned int x, y, z; };
        static thread_local dim3 threadIdx = {0, 0, 0}, blockIdx = {0, 0, 0}, blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
        static std::barrier<>* g_barrier = nullptr;
        #define __global__
        #define __device__
        #define __forceinline__ inline
        #define __shared__ static
        #define __launch_bounds__(x)
        #define __syncthreads() g_barrier->arrive_and_wait()
        inline unsigned int __umulhi(unsigned int a, unsigned int b) { return (unsigned int)(((unsigned long long)a * b) >> 32); }
        inline int atomicCAS(int* p, int cmp, int v) { std::atomic_ref<int> r(*p); r.compare_exchange_strong(cmp, v); return cmp; }
        inline int atomicAdd(int* p, int v) { std::atomic_ref<int> r(*p); return r.fetch_add(v); }
        using std::max; using std::min; using std::fmax; using std::sqrt; using std::exp; using std::log; using std::pow;
        extern "C" void emu_begin_block(int threads) { delete g_barrier; g_barrier = new std::barrier<>(threads); }
        extern "C" void emu_set_thread(unsigned int tx, unsigned int bx, unsigned int by, unsigned int bdx, unsigned int gdx, unsigned int gdy)
        { threadIdx = {tx, 0, 0}; blockIdx = {bx, by, 0}; blockDim = {bdx, 1, 1}; gridDim = {gdx, gdy, 1}; }
        """;

    private static readonly string[] EmulatedFiles =
        ["pool.cu", "lrn.cu", "dropout.cu", "crossentropy.cu", "concat.cu", "maxout.cu", "renorm.cu", "check.cu", "batchnorm.cu", "normalize.cu"];

    private static readonly Lazy<(string? Dir, string? WhyNot)> s_build = new(Build);
    private static readonly Dictionary<string, nint> s_libs = new();
    private static readonly Lock s_lock = new();

    private static (string? Dir, string? WhyNot) Build()
    {
        // One folder per content hash, reused by later runs (nothing piles up in /tmp; an edit gets a new folder).
        var content = new System.Text.StringBuilder(EmulationHeader);
        foreach (var (name, text) in KernelCache.Headers()) content.Append(name).Append(text);
        foreach (var file in EmulatedFiles) content.Append(file).Append(KernelCache.Source(file));
        string hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(content.ToString())))[..16];
        string dir = Path.Combine(Path.GetTempPath(), "kiln-kernel-emulation", hash);
        if (EmulatedFiles.All(f => File.Exists(Path.Combine(dir, f + ".so")))) return (dir, null);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "emu.h"), EmulationHeader);
        foreach (var (name, text) in KernelCache.Headers()) File.WriteAllText(Path.Combine(dir, name), text);
        // The toolchain itself first: a g++ without C++20's <barrier> is a reason to skip, not a kernel bug.
        File.WriteAllText(Path.Combine(dir, "probe.cu"), "extern \"C\" void probe() {}\n");
        if (Compile(dir, "probe.cu") is { } probeError) return (null, probeError);
        foreach (var file in EmulatedFiles)
        {
            File.WriteAllText(Path.Combine(dir, file), KernelCache.Source(file));
            if (Compile(dir, file) is { } error) throw new InvalidOperationException($"g++ could not compile {file} for emulation:\n{error}");
        }
        return (dir, null);
    }

    /// <summary>Compiles dir/file into dir/file.so; null on success, else why not.</summary>
    private static string? Compile(string dir, string file)
    {
        string partial = $"{file}.{Environment.ProcessId}.tmp";
        var psi = new ProcessStartInfo("g++", ["-std=c++20", "-O1", "-shared", "-fPIC", "-w", "-include", "emu.h", "-x", "c++", file, "-o", partial])
        {
            WorkingDirectory = dir,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        Process? p;
        try { p = Process.Start(psi); }
        catch (System.ComponentModel.Win32Exception e) { return $"g++ not runnable: {e.Message}"; }
        if (p is null) return "g++ did not start";
        string err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) return $"g++ -std=c++20 failed: {err}";
        File.Move(Path.Combine(dir, partial), Path.Combine(dir, file + ".so"), overwrite: true);
        return null;
    }

    private static nint Lib(string file)
    {
        var (dir, why) = s_build.Value;
        if (dir is null) Assert.Skip($"kernel emulation needs g++ (C++20): {why}");
        lock (s_lock)
        {
            if (!s_libs.TryGetValue(file, out nint h)) s_libs[file] = h = NativeLibrary.Load(Path.Combine(dir, file + ".so"));
            return h;
        }
    }

    private static nint Fn(string file, string kernel) => NativeLibrary.GetExport(Lib(file), kernel);

    /// <summary>Runs <paramref name="call"/> as every thread of a (gridX, gridY) x block launch; blocks one after another, a block's threads concurrently.</summary>
    private static void Launch(string file, int gridX, int gridY, int block, Action call)
    {
        nint lib = Lib(file);
        var begin = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(lib, "emu_begin_block");
        nint set = NativeLibrary.GetExport(lib, "emu_set_thread");
        for (int by = 0; by < gridY; by++)
            for (int bx = 0; bx < gridX; bx++)
            {
                begin(block);
                var threads = new Thread[block];
                for (int t = 0; t < block; t++)
                {
                    uint tx = (uint)t, bxx = (uint)bx, byy = (uint)by;
                    threads[t] = new Thread(() =>
                    {
                        ((delegate* unmanaged<uint, uint, uint, uint, uint, uint, void>)set)(tx, bxx, byy, (uint)block, (uint)gridX, (uint)gridY);
                        call();
                    }, 256 * 1024);
                    threads[t].Start();
                }
                foreach (var th in threads) th.Join();
            }
    }

    private static nint P(Tensor t) => t.Storage.Pointer + (nint)(t.Offset * t.DType.Size());

    private static IBackend Cpu => Backend.For(Device.Cpu);

    private static Tensor Random(int[] shape, ulong seed, DType dtype = DType.Float64, double lo = -1, double hi = 1)
    {
        var v = new double[Tensor.CountElementsOf(shape)];
        new RandomGenerator(seed).Uniform<double>(v, lo, hi);
        using var t = Tensor.FromArray(v, shape);
        return t.To(dtype);
    }

    /// <summary>A random permutation of well-spaced values (no ties), as the op table's Distinct sampling.</summary>
    private static Tensor Distinct(int[] shape, ulong seed)
    {
        int n = (int)Tensor.CountElementsOf(shape);
        var v = new double[n];
        for (int k = 0; k < n; k++) v[k] = (k - n / 2.0) * (2.0 / n);
        var rng = new RandomGenerator(seed);
        for (int k = n - 1; k > 0; k--)
        {
            int j = rng.NextInt(k + 1);
            (v[k], v[j]) = (v[j], v[k]);
        }
        return Tensor.FromArray(v, shape);
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tol, string what)
    {
        var e = expected.To(DType.Float64).ToArray<double>();
        var a = actual.To(DType.Float64).ToArray<double>();
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++)
            if (!(Math.Abs(e[i] - a[i]) <= tol * (1 + Math.Abs(e[i]))))
                Assert.Fail($"{what}: element {i}: CPU {e[i]:G17}, kernel {a[i]:G17}");
    }

    [Theory]
    [InlineData(1003, 0xDEADBEEF12345678UL, 123_456_789_012UL, 0.3, false)]
    [InlineData(64, 7UL, 0UL, 0.5, true)]
    [InlineData(5, 1UL, 3UL, 0.9, false)]
    public void Dropout_Kernel_GivesTheCpuMask_BitForBit(int n, ulong seed, ulong offset, double p, bool f64)
    {
        var dtype = f64 ? DType.Float64 : DType.Float32;
        using var scope = TensorScope.Begin();
        var x = Random([n], 5, dtype);
        Tensor y = Tensor.EmptyLike(x), mask = Tensor.EmptyLike(x), ky = Tensor.EmptyLike(x), km = Tensor.EmptyLike(x);
        Cpu.DropoutForward(x, y, mask, p, seed, offset);
        nint f = Fn("dropout.cu", f64 ? "dropout_forward_f64" : "dropout_forward_f32");
        long count = n;
        float threshold = (float)p;
        double keep = 1.0 / (1.0 - p);
        Launch("dropout.cu", 3, 1, 4, () => ((delegate* unmanaged<nint, nint, nint, long, float, double, ulong, ulong, void>)f)(P(x), P(ky), P(km), count, threshold, keep, seed, offset));
        if (f64) Assert.Equal(mask.ToArray<double>(), km.ToArray<double>());
        else Assert.Equal(mask.ToArray<float>(), km.ToArray<float>());
        AssertClose(y, ky, 0, "dropout y");
    }

    public static TheoryData<int, int, int, int, int, bool, bool> PoolCases => new()
    {
        { 7, 7, 3, 2, 0, false, true },
        { 6, 6, 2, 2, 0, false, true },
        { 10, 7, 3, 2, 0, true, true },
        { 5, 7, 2, 2, 0, true, true },
        { 5, 6, 3, 1, 1, false, true },
        { 6, 7, 3, 2, 1, true, true },
        { 6, 7, 3, 2, 1, true, false },
        { 7, 7, 3, 2, 1, false, false },
        { 9, 11, 5, 3, 2, true, false },
    };

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void Pool_Kernels_MatchCpu(int h, int w, int k, int s, int pad, bool ceil, bool includePad)
    {
        using var scope = TensorScope.Begin();
        var p = Pool2dParams.Square(k, s, pad, ceil, includePad);
        var x = Distinct([2, 3, h, w], 11);
        int oh = p.OutputHeight(h), ow = p.OutputWidth(w);
        var g = new CudaBackend.PoolGeom { NC = 6, H = h, W = w, P = oh, Q = ow, Kh = k, Kw = k, Sh = s, Sw = s, Ph = pad, Pw = pad };
        var dy = Random([2, 3, oh, ow], 12);
        int include = includePad ? 1 : 0;

        Tensor y = Tensor.Empty([2, 3, oh, ow], DType.Float64), ky = Tensor.EmptyLike(y);
        Cpu.MaxPool2dForward(x, y, p);
        nint f = Fn("pool.cu", "maxpool2d_forward_f64");
        Launch("pool.cu", 2, 1, 3, () => ((delegate* unmanaged<nint, nint, CudaBackend.PoolGeom, void>)f)(P(x), P(ky), g));
        AssertClose(y, ky, 0, $"max forward {p}");

        Tensor dx = Tensor.EmptyLike(x), kdx = Tensor.EmptyLike(x);
        Cpu.MaxPool2dBackward(x, y, dy, dx, p);
        f = Fn("pool.cu", "maxpool2d_backward_f64");
        Launch("pool.cu", 2, 1, 3, () => ((delegate* unmanaged<nint, nint, nint, CudaBackend.PoolGeom, void>)f)(P(x), P(dy), P(kdx), g));
        AssertClose(dx, kdx, 1e-14, $"max backward {p}");

        Cpu.AvgPool2dForward(x, y, p);
        f = Fn("pool.cu", "avgpool2d_forward_f64");
        Launch("pool.cu", 2, 1, 3, () => ((delegate* unmanaged<nint, nint, CudaBackend.PoolGeom, int, void>)f)(P(x), P(ky), g, include));
        AssertClose(y, ky, 1e-13, $"avg forward {p}");

        Cpu.AvgPool2dBackward(dy, dx, p);
        f = Fn("pool.cu", "avgpool2d_backward_f64");
        Launch("pool.cu", 2, 1, 3, () => ((delegate* unmanaged<nint, nint, CudaBackend.PoolGeom, int, void>)f)(P(dy), P(kdx), g, include));
        AssertClose(dx, kdx, 1e-13, $"avg backward {p}");
    }

    [Theory]
    [InlineData(5, 0.1, 0.75, 2.0)]
    [InlineData(4, 0.25, 0.75, 1.0)]
    [InlineData(3, 0.3, 0.6, 1.0)]
    [InlineData(1, 0.5, 0.75, 1.0)]
    public void Lrn_Kernels_MatchCpu(int size, double alpha, double beta, double k)
    {
        using var scope = TensorScope.Begin();
        var x = Random([2, 7, 3, 2], 21);
        var dy = Random([2, 7, 3, 2], 22);
        Tensor y = Tensor.EmptyLike(x), scale = Tensor.EmptyLike(x), ky = Tensor.EmptyLike(x), kscale = Tensor.EmptyLike(x);
        Cpu.LocalResponseNormForward(x, y, scale, size, alpha, beta, k);
        nint f = Fn("lrn.cu", "lrn_forward_f64");
        int n = 2, c = 7;
        long hw = 6;
        Launch("lrn.cu", 2, 1, 5, () => ((delegate* unmanaged<nint, nint, nint, int, int, long, int, double, double, double, void>)f)(P(x), P(ky), P(kscale), n, c, hw, size, alpha, beta, k));
        AssertClose(scale, kscale, 1e-14, "lrn scale");
        AssertClose(y, ky, 1e-13, "lrn y");
        Tensor dx = Tensor.EmptyLike(x), kdx = Tensor.EmptyLike(x);
        Cpu.LocalResponseNormBackward(x, y, scale, dy, dx, size, alpha, beta, k);
        f = Fn("lrn.cu", "lrn_backward_f64");
        Launch("lrn.cu", 2, 1, 5, () => ((delegate* unmanaged<nint, nint, nint, nint, nint, int, int, long, int, double, double, void>)f)(P(x), P(y), P(scale), P(dy), P(kdx), n, c, hw, size, alpha, beta));
        AssertClose(dx, kdx, 1e-13, "lrn dx");
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.1)]
    public void CrossEntropy_Kernels_MatchCpu(double smoothing)
    {
        using var scope = TensorScope.Begin();
        int n = 5, c = 300;   // C > the block, so the block-stride loops and tree reductions both run
        var logits = Random([n, c], 31, DType.Float64, -4, 4);
        var labels = Tensor.FromArray([0, 299, 17, 150, 3], [n]);
        var dloss = Random([n], 32);
        Tensor loss = Tensor.Empty([n], DType.Float64), kloss = Tensor.EmptyLike(loss);
        Cpu.CrossEntropyForward(logits, labels, smoothing, loss);
        int bad = 0;
        nint pbad = (nint)(&bad);
        nint f = Fn("crossentropy.cu", "crossentropy_forward_f64");
        Launch("crossentropy.cu", 2, 1, 256, () => ((delegate* unmanaged<nint, nint, nint, int, int, double, nint, void>)f)(P(logits), P(labels), P(kloss), n, c, smoothing, pbad));
        AssertClose(loss, kloss, 1e-13, "cross-entropy loss");
        Assert.Equal(0, bad);
        Tensor dx = Tensor.EmptyLike(logits), kdx = Tensor.EmptyLike(logits);
        Cpu.CrossEntropyBackward(logits, labels, smoothing, dloss, dx);
        f = Fn("crossentropy.cu", "crossentropy_backward_f64");
        Launch("crossentropy.cu", 2, 1, 256, () => ((delegate* unmanaged<nint, nint, nint, nint, int, int, double, void>)f)(P(logits), P(labels), P(dloss), P(kdx), n, c, smoothing));
        AssertClose(dx, kdx, 1e-13, "cross-entropy dlogits");

        var badLabels = Tensor.FromArray([0, 1, 300, 2, -1], [n]);
        f = Fn("crossentropy.cu", "crossentropy_forward_f64");
        Launch("crossentropy.cu", 1, 1, 256, () => ((delegate* unmanaged<nint, nint, nint, int, int, double, nint, void>)f)(P(logits), P(badLabels), P(kloss), n, c, smoothing, pbad));
        Assert.Equal(3, bad);   // sample 2 (one block: samples in order)
        Assert.True(double.IsNaN(kloss.ToArray<double>()[2]));
    }

    [Fact]
    public void MaxoutAndL2Normalize_Kernels_MatchCpu()
    {
        using var scope = TensorScope.Begin();
        int outer = 2, c = 6, inner = 5, group = 3;
        var x = Distinct([outer, c, inner], 41);
        var dy = Random([outer, c / group, inner], 42);
        Tensor y = Tensor.Empty([outer, c / group, inner], DType.Float64), ky = Tensor.EmptyLike(y);
        Cpu.MaxoutForward(x, y, outer, c, inner, group);
        nint f = Fn("maxout.cu", "maxout_forward_f64");
        long inner64 = inner;
        Launch("maxout.cu", 2, 1, 3, () => ((delegate* unmanaged<nint, nint, int, int, long, int, void>)f)(P(x), P(ky), outer, c, inner64, group));
        AssertClose(y, ky, 0, "maxout y");
        Tensor dx = Tensor.EmptyLike(x), kdx = Tensor.Full(x.Shape, 99, DType.Float64);   // every element must be written
        Cpu.MaxoutBackward(x, dy, dx, outer, c, inner, group);
        f = Fn("maxout.cu", "maxout_backward_f64");
        Launch("maxout.cu", 2, 1, 3, () => ((delegate* unmanaged<nint, nint, nint, int, int, long, int, void>)f)(P(x), P(dy), P(kdx), outer, c, inner64, group));
        AssertClose(dx, kdx, 0, "maxout dx");

        var x2 = Random([outer, c, inner], 43);
        var dy2 = Random([outer, c, inner], 44);
        Tensor y2 = Tensor.EmptyLike(x2), ky2 = Tensor.EmptyLike(x2), dx2 = Tensor.EmptyLike(x2), kdx2 = Tensor.EmptyLike(x2);
        double eps = 1e-12;
        Cpu.L2NormalizeForward(x2, y2, outer, c, inner, eps);
        f = Fn("maxout.cu", "l2norm_forward_f64");
        Launch("maxout.cu", 2, 1, 3, () => ((delegate* unmanaged<nint, nint, int, int, long, double, void>)f)(P(x2), P(ky2), outer, c, inner64, eps));
        AssertClose(y2, ky2, 1e-14, "l2 y");
        Cpu.L2NormalizeBackward(x2, y2, dy2, dx2, outer, c, inner, eps);
        f = Fn("maxout.cu", "l2norm_backward_f64");
        Launch("maxout.cu", 2, 1, 3, () => ((delegate* unmanaged<nint, nint, nint, nint, int, int, long, double, void>)f)(P(y2), P(x2), P(dy2), P(kdx2), outer, c, inner64, eps));
        AssertClose(dx2, kdx2, 1e-13, "l2 dx");
    }

    [Fact]
    public void Renorm_Kernel_MatchesCpu()
    {
        using var scope = TensorScope.Begin();
        var w = Random([4, 3, 5, 7], 51, DType.Float64, -2, 2);
        using (var s = Tensor.FromArray(new double[105].Select((_, i) => 0.001 * i).ToArray(), [105]))
            Cpu.Copy(s, w.View([105], [1], 105));   // one small row stays under the cap
        var expected = w.To(DType.Float64);
        Cpu.RenormFilters(expected, 0.5);
        nint f = Fn("renorm.cu", "renorm_forward_f64");
        long len = 105;
        double cap = 0.5;
        Launch("renorm.cu", 4, 1, 256, () => ((delegate* unmanaged<nint, long, double, void>)f)(P(w), len, cap));
        AssertClose(expected, w, 1e-14, "renorm");
    }

    [Fact]
    public void BatchNormEvalBackward_Kernels_MatchCpu()
    {
        using var scope = TensorScope.Begin();
        int n = 3, c = 4, h = 5, w = 6;
        var x = Random([n, c, h, w], 61);
        var dy = Random([n, c, h, w], 62);
        var weight = Random([c], 63);
        var mean = Random([c], 64);
        var variance = Random([c], 65, DType.Float64, 0.5, 2);
        double eps = 1e-5;
        Tensor dx = Tensor.EmptyLike(x), dw = Tensor.Empty([c], DType.Float64), db = Tensor.Empty([c], DType.Float64);
        Cpu.BatchNorm2dBackwardInference(x, dy, weight, mean, variance, eps, dx, dw, db);
        Tensor kdx = Tensor.EmptyLike(x), kdw = Tensor.EmptyLike(dw), kdb = Tensor.EmptyLike(db);
        nint f = Fn("batchnorm.cu", "batchnorm2d_backward_eval_params_f64");
        long hw = h * w, total = x.NumElements;
        Launch("batchnorm.cu", c, 1, 256, () => ((delegate* unmanaged<nint, nint, nint, nint, double, nint, nint, int, int, long, void>)f)(
            P(x), P(dy), P(mean), P(variance), eps, P(kdw), P(kdb), n, c, hw));
        AssertClose(dw, kdw, 1e-12, "bn dweight");
        AssertClose(db, kdb, 1e-12, "bn dbias");
        f = Fn("batchnorm.cu", "batchnorm2d_backward_eval_data_f64");
        Launch("batchnorm.cu", 2, 1, 7, () => ((delegate* unmanaged<nint, nint, nint, double, nint, int, long, long, void>)f)(
            P(dy), P(weight), P(variance), eps, P(kdx), c, hw, total));
        AssertClose(dx, kdx, 1e-13, "bn dx");
    }

    [Theory]
    [InlineData(3, 5, 7, 3, true)]
    [InlineData(2, 4, 9, 1, true)]
    [InlineData(4, 3, 5, 3, false)]
    public void Normalize_Kernel_MatchesCpuTwin(int n, int h, int w, int c, bool useFlip)
    {
        using var scope = TensorScope.Begin();
        var pixels = new byte[n * h * w * c];
        new System.Random(91 + n + c).NextBytes(pixels);
        var x = Tensor.FromArray(pixels, [n, h, w, c]);                                  // x: (N, H, W, C) uint8
        float[] mean = [0.485f, 0.456f, 0.406f], invStd = [1 / 0.229f, 1 / 0.224f, 1 / 0.225f];
        var m = Tensor.FromArray(mean[..c], [c]);
        var s = Tensor.FromArray(invStd[..c], [c]);
        var flip = useFlip ? Tensor.FromArray(Enumerable.Range(0, n).Select(i => (byte)(i % 2)).ToArray(), [n]) : null;
        Tensor y = Tensor.Empty([n, c, h, w]), ky = Tensor.Full([n, c, h, w], 99);     // y: (N, C, H, W); every element must be written
        float scale = 1 / 255f;
        Cpu.NormalizeImages(x, y, m, s, flip, scale);
        nint f = Fn("normalize.cu", "normalize_forward_u8_f32");
        nint pflip = flip is null ? 0 : P(flip);
        Launch("normalize.cu", 3, 1, 7, () => ((delegate* unmanaged<nint, nint, nint, nint, nint, int, int, int, int, float, void>)f)(
            P(x), P(ky), P(m), P(s), pflip, n, h, w, c, scale));
        AssertClose(y, ky, 1e-6, "normalize");
    }

    [Fact]
    public void ConcatAndNarrow_BlockCopy_MatchesCpu()
    {
        using var scope = TensorScope.Begin();
        Tensor a = Random([2, 3, 2, 2], 71), b = Random([2, 1, 2, 2], 72), c = Random([2, 4, 2, 2], 73);
        var y = Tensor.Empty([2, 8, 2, 2], DType.Float64);
        Cpu.Concat([a, b, c], 1, y);
        var ky = Tensor.Full([2, 8, 2, 2], 99, DType.Float64);
        nint f = Fn("concat.cu", "blockcopy_forward_b64");
        long offset = 0, rowOut = 32, outer = 2;
        foreach (var t in (Tensor[])[a, b, c])
        {
            long rowIn = t.NumElements / 2, off = offset;
            Launch("concat.cu", 2, 1, 3, () => ((delegate* unmanaged<nint, long, long, nint, long, long, long, long, void>)f)(P(t), rowIn, 0, P(ky), rowOut, off, outer, rowIn));
            offset += rowIn;
        }
        AssertClose(y, ky, 0, "concat");
        // narrow(y, 1, 2, 3): rows of 32, columns [2*4, 5*4)
        var n = Tensor.Empty([2, 3, 2, 2], DType.Float64);
        Cpu.Narrow(y, 1, 2, n);
        var kn = Tensor.EmptyLike(n);
        Launch("concat.cu", 2, 1, 3, () => ((delegate* unmanaged<nint, long, long, nint, long, long, long, long, void>)f)(P(y), 32, 8, P(kn), 12, 0, 2, 12));
        AssertClose(n, kn, 0, "narrow");
    }

    [Fact]
    public void TopKCount_AndNonFiniteCheck_Kernels()
    {
        using var scope = TensorScope.Begin();
        int n = 40, c = 9;
        var logits = Random([n, c], 81, DType.Float32);
        var data = logits.ToArray<float>();
        for (int i = 0; i < n; i += 3) data[i * c + 2] = data[i * c + 4];   // ties, broken by index
        logits = Tensor.FromArray(data, [n, c]);
        var labels = Tensor.FromArray(Enumerable.Range(0, n).Select(i => i % c).ToArray(), [n]);
        int* counts = stackalloc int[2];
        counts[0] = counts[1] = 0;
        nint pc = (nint)counts;
        nint f = Fn("check.cu", "topk_count_f32");
        Launch("check.cu", 2, 1, 4, () => ((delegate* unmanaged<nint, nint, int, int, int, int, nint, void>)f)(P(logits), P(labels), n, c, 1, 5, pc));
        Assert.Equal(Accuracy.CountTopK(logits, labels, 1), counts[0]);
        Assert.Equal(Accuracy.CountTopK(logits, labels, 5), counts[1]);

        var a = Random([100], 82);
        var b = Random([7], 83);
        var bad = Random([50], 84);
        var badData = bad.ToArray<double>();
        badData[49] = double.PositiveInfinity;
        bad = Tensor.FromArray(badData, [50]);
        int Check(Tensor[] ts)
        {
            var ptrs = ts.Select(t => (ulong)P(t)).ToArray();
            var lens = ts.Select(t => t.NumElements).ToArray();
            int flag = 0;
            fixed (ulong* pp = ptrs)
            fixed (long* pl = lens)
            {
                nint pptr = (nint)pp, plen = (nint)pl, pflag = (nint)(&flag);
                nint g = Fn("check.cu", "nonfinite_check_f64");
                Launch("check.cu", 2, ts.Length, 4, () => ((delegate* unmanaged<nint, nint, int, nint, void>)g)(pptr, plen, 0, pflag));
            }
            return flag;
        }
        Assert.Equal(0, Check([a, b]));
        Assert.Equal(1, Check([a, bad, b]));
        badData[49] = double.NaN;
        bad = Tensor.FromArray(badData, [50]);
        Assert.Equal(1, Check([bad]));
    }
}
