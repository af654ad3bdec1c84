using System.Diagnostics;
using CommandLine;
using Kiln.Backends.Cpu;
using Kiln.Backends.Cpu.Gemm;
using Kiln.Core;
using Kiln.Core.Autograd;
using Kiln.Core.Ops;

namespace Kiln.Cli.Commands;

[Verb("bench", HelpText = "Measure kernels, models and the input pipeline: bench gemm | conv2d | model | data.")]
public sealed class BenchOptions : CommonOptions
{
    /// <summary>
    /// CommandLineParser needs long names of two or more letters, so gemm sizes are the short options
    /// -m/-n/-k; <see cref="NormalizeArgs"/> also accepts the documented spelling --m/--n/--k.
    /// </summary>
    public static string[] NormalizeArgs(string[] args) =>
        args.Select(a => a is "--m" or "--n" or "--k" ? a[1..] : a.StartsWith("--m=") || a.StartsWith("--n=") || a.StartsWith("--k=") ? a[1..] : a).ToArray();

    [Value(0, MetaName = "target", Required = true, HelpText = "What to measure: gemm, conv2d, data, model.")]
    public string Target { get; set; } = "";

    [Value(1, MetaName = "network", HelpText = "model: a zoo name (resnet50, ...) or a network file (.yaml).")]
    public string? Network { get; set; }

    [Option("repeat", Default = 10, HelpText = "Timed runs (the median is reported), after warm-up.")]
    public int Repeat { get; set; } = 10;

    [Option("warmup", Default = 2, HelpText = "Untimed runs first, and for at least 1 s unless 0 (the JIT replaces first-tier code in the background).")]
    public int Warmup { get; set; } = 2;

    // gemm
    [Option('m', Default = "1024", HelpText = "gemm: rows of C (also --m).")]
    public string M { get; set; } = "1024";

    [Option('n', Default = "1024", HelpText = "gemm: columns of C (also --n).")]
    public string N { get; set; } = "1024";

    [Option('k', Default = "1024", HelpText = "gemm: inner dimension (also --k).")]
    public string K { get; set; } = "1024";

    [Option("transa", HelpText = "gemm: use A transposed (A stored as (k, m)).")]
    public bool TransA { get; set; }

    [Option("transb", HelpText = "gemm: use B transposed (B stored as (n, k)).")]
    public bool TransB { get; set; }

    [Option("isa", HelpText = "gemm: micro-kernel (avx512, avx2, scalar); default: the best this CPU runs.")]
    public GemmIsa? Isa { get; set; }

    // conv2d
    [Option("input", HelpText = "conv2d: input shape NxCxHxW (default 16x256x28x28); model: image size CxHxW (default: the network's).")]
    public string? Input { get; set; }

    [Option("filter", Default = "256x256x3x3", HelpText = "conv2d: filter shape KxCxRxS (C per group).")]
    public string Filter { get; set; } = "256x256x3x3";

    [Option("stride", Default = "1", HelpText = "conv2d: stride, S or SHxSW.")]
    public string Stride { get; set; } = "1";

    [Option("pad", Default = "0", HelpText = "conv2d: zero padding, P or PHxPW.")]
    public string Pad { get; set; } = "0";

    [Option("dilation", Default = "1", HelpText = "conv2d: dilation, D or DHxDW.")]
    public string Dilation { get; set; } = "1";

    [Option("groups", Default = 1, HelpText = "conv2d: groups (C and K divisible by it).")]
    public int Groups { get; set; } = 1;

    [Option("no-bias", HelpText = "conv2d: no bias.")]
    public bool NoBias { get; set; }

    // data
    [Option("shards", HelpText = "data: shard spec to read.")]
    public string? Shards { get; set; }

    [Option("workers", HelpText = "data: decode threads (default: all cores).")]
    public int? Workers { get; set; }

    [Option("augment", HelpText = "data: train (random-resized-crop 224 + flip), eval (256 + centre 224), tencrop or full (whole image to 224x224).")]
    public string? Augment { get; set; }

    [Option("decoder", Default = "auto", HelpText = "data: JPEG decoder, auto (TurboJPEG when libturbojpeg.so.0 loads), turbojpeg or skia.")]
    public string Decoder { get; set; } = "auto";

    [Option("format", Default = "float32", HelpText = "data: batch format, float32 (normalised NCHW, the CPU path) or uint8 (NHWC, normalised later on a GPU).")]
    public string Format { get; set; } = "float32";

    [Option("images", Default = 500, HelpText = "data: images to time per stage.")]
    public int Images { get; set; }

    // model
    [Option("batch", Default = 16, HelpText = "model: images per step.")]
    public int Batch { get; set; } = 16;

    [Option("device", Default = "cpu", HelpText = "model, gemm: cpu or cuda[:N] (gemm on a GPU: cuBLAS, with TF32 and in strict FP32).")]
    public string Device { get; set; } = "cpu";

    [Option("set", Separator = ',', HelpText = "model: network parameters, name=value[,name=value].")]
    public IEnumerable<string> Set { get; set; } = [];

    [Option("no-layers", HelpText = "model: skip the per-layer forward/backward table.")]
    public bool NoLayers { get; set; }
}

/// <summary><c>kiln bench</c>: warm-up, then the median of repeated runs.</summary>
public static partial class BenchCommand
{
    public static int Run(BenchOptions o)
    {
        o.Apply();
        if (o.Repeat < 1) throw new ArgumentException($"--repeat must be at least 1, got {o.Repeat}");
        if (o.Warmup < 0) throw new ArgumentException($"--warmup must be at least 0, got {o.Warmup}");
        return o.Target.ToLowerInvariant() switch
        {
            "gemm" => Gemm(o),
            "conv2d" => Conv2d(o),
            "data" => DataBenchCommand.Run(o),
            "model" => Model(o),
            _ => throw new ArgumentException($"unknown bench target '{o.Target}'; expected gemm, conv2d, data or model"),
        };
    }

    private static int Gemm(BenchOptions o)
    {
        int m = ParseSize("--m", o.M), n = ParseSize("--n", o.N), k = ParseSize("--k", o.K);
        var device = Device.Parse(o.Device);
        if (!device.Equals(Device.Cpu)) return GpuGemm(o, device, m, n, k);
        if (o.Isa is GemmIsa isa) Sgemm.Isa = isa;
        int lda = o.TransA ? m : k, ldb = o.TransB ? k : n;
        using var a = Tensor.Empty([m * k]);
        using var b = Tensor.Empty([k * n]);
        using var c = Tensor.Zeros([m * n]);
        var rng = new RandomGenerator(1);
        rng.Uniform<float>(CpuBackend.Data<float>(a), -1, 1);
        rng.Uniform<float>(CpuBackend.Data<float>(b), -1, 1);
        double ms = Median(o, () => Sgemm.Run(o.TransA, o.TransB, m, n, k, 1f,
            CpuBackend.Data<float>(a), lda, CpuBackend.Data<float>(b), ldb, 0f, CpuBackend.Data<float>(c), ldc: n));
        double flops = 2.0 * m * n * k;
        Console.WriteLine($"gemm m={m} n={n} k={k} transa={o.TransA} transb={o.TransB} kernel={Sgemm.Isa} threads={CpuParallel.Threads}: " +
                          $"{ms:F3} ms, {flops / ms / 1e6:F1} GFLOP/s (median of {o.Repeat}; cpu/wall {s_cpuPerWall:F2})");
        return 0;
    }

    /// <summary>cuBLAS SGEMM on <paramref name="device"/>, timed with CUDA events, with TF32 tensor cores and in strict FP32.</summary>
    private static int GpuGemm(BenchOptions o, Device device, int m, int n, int k)
    {
        if (o.Isa is not null) throw new ArgumentException("--isa selects a CPU micro-kernel; it does not apply to --device " + device);
        if (Backend.For(device) is not Kiln.Backends.Cuda.CudaBackend cuda)
            throw new ArgumentException($"bench gemm: no GPU GEMM for device {device}");
        var rng = new RandomGenerator(1);
        var av = new float[m * k];
        var bv = new float[k * n];
        rng.Uniform<float>(av, -1, 1);
        rng.Uniform<float>(bv, -1, 1);
        using var a = Tensor.FromArray(av, o.TransA ? [k, m] : [m, k], device);   // op(A): (m, k)
        using var b = Tensor.FromArray(bv, o.TransB ? [n, k] : [k, n], device);   // op(B): (k, n)
        using var c = Tensor.Zeros([m, n], DType.Float32, device);              // C: (m, n)
        using var start = cuda.CreateEvent(timing: true);
        using var stop = cuda.CreateEvent(timing: true);
        bool tf32 = cuda.AllowTf32;
        try
        {
            foreach (bool allow in (bool[])[true, false])
            {
                cuda.AllowTf32 = allow;
                double Time()
                {
                    start.Record();
                    cuda.Sgemm(a, o.TransA, b, o.TransB, c);
                    stop.Record();
                    stop.Synchronize();
                    return stop.ElapsedMsSince(start);
                }
                for (int i = 0; i < o.Warmup; i++) Time();
                double ms = MedianOf(Enumerable.Range(0, o.Repeat).Select(_ => Time()).ToArray());
                Console.WriteLine($"gemm m={m} n={n} k={k} transa={o.TransA} transb={o.TransB} {device} {cuda.Info.Name} cuBLAS {(allow ? "TF32" : "strict FP32")}: " +
                                  $"{ms:F3} ms, {2.0 * m * n * k / ms / 1e9:F1} TFLOP/s (median of {o.Repeat}, CUDA events)");
            }
        }
        finally { cuda.AllowTf32 = tf32; }
        return 0;
    }

    private static int Conv2d(BenchOptions o)
    {
        var x = ParseShape("--input", o.Input ?? "16x256x28x28", "NxCxHxW");
        var w = ParseShape("--filter", o.Filter, "KxCxRxS");
        var stride = ParsePair("--stride", o.Stride);
        var pad = ParsePair("--pad", o.Pad);
        var dilation = ParsePair("--dilation", o.Dilation);
        var p = new Conv2dParams(stride, pad, dilation, o.Groups);
        using var scope = TensorScope.Begin();
        var rng = new RandomGenerator(1);
        var input = Tensor.Empty(x);
        var weight = Tensor.Empty(w);
        var bias = o.NoBias ? null : Tensor.Zeros([w[0]]);
        rng.Uniform<float>(CpuBackend.Data<float>(input), -1, 1);
        rng.Uniform<float>(CpuBackend.Data<float>(weight), -0.1f, 0.1f);
        var yShape = p.OutputShape(x, w);
        var y = Tensor.Empty(yShape);
        var dy = Tensor.Empty(yShape);
        rng.Uniform<float>(CpuBackend.Data<float>(dy), -1, 1);
        var dx = Tensor.Empty(x);
        var dw = Tensor.Empty(w);
        var db = bias is null ? null : Tensor.Empty([w[0]]);
        var be = CpuBackend.Instance;
        double flops = 2.0 * yShape[0] * yShape[1] * yShape[2] * yShape[3] * w[1] * w[2] * w[3];
        double fwd = Median(o, () => be.Conv2dForward(input, weight, bias, y, p));
        double fwdCpu = s_cpuPerWall;
        double bwdData = Median(o, () => be.Conv2dBackwardData(weight, dy, dx, p));
        double bwdDataCpu = s_cpuPerWall;
        double bwdWeights = Median(o, () => be.Conv2dBackwardWeights(input, dy, dw, db, p));
        double bwdWeightsCpu = s_cpuPerWall;
        Console.WriteLine($"conv2d input {Tensor.ShapeString(x)} filter {Tensor.ShapeString(w)} {p} -> output {Tensor.ShapeString(yShape)}, " +
                          $"{flops / 1e9:F2} GFLOP per pass, threads={CpuParallel.Threads}, kernel={Sgemm.Isa}, median of {o.Repeat}");
        // The path each pass took (KILN_CPU_CONV=im2col|direct|auto overrides the choice, for A/B runs).
        string path = CpuBackend.ConvPath(x, w, p), dataPath = CpuBackend.ConvPath(x, w, p, backwardData: true), weightsPath = CpuBackend.ConvPath(x, w, p, weights: true);
        Console.WriteLine($"  forward           {fwd,9:F3} ms  {flops / fwd / 1e6,8:F1} GFLOP/s  cpu/wall {fwdCpu:F2}  {path}");
        Console.WriteLine($"  backward data     {bwdData,9:F3} ms  {flops / bwdData / 1e6,8:F1} GFLOP/s  cpu/wall {bwdDataCpu:F2}  {dataPath}");
        Console.WriteLine($"  backward weights  {bwdWeights,9:F3} ms  {flops / bwdWeights / 1e6,8:F1} GFLOP/s  cpu/wall {bwdWeightsCpu:F2}  {weightsPath}");
        return 0;
    }


    /// <summary>Process CPU time over wall time during the last <see cref="Median"/>: below the thread count, other processes took cores.</summary>
    private static double s_cpuPerWall;

    internal static double Median(BenchOptions o, Action run)
    {
        // Warm up for at least a second as well: the JIT replaces first-tier code (and library code such as
        // TensorPrimitives) only after calls have been counted and a background compile has run, so two quick
        // runs of a small kernel measured first-tier code (conv2d backward data, 16 channels: 33 instead of ~100 GFLOP/s).
        long warm0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < o.Warmup || (o.Warmup > 0 && Stopwatch.GetElapsedTime(warm0).TotalSeconds < MinWarmupSeconds); i++) run();
        var times = new double[o.Repeat];
        var process = System.Diagnostics.Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        long wall0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < times.Length; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        process.Refresh();
        s_cpuPerWall = (process.TotalProcessorTime - cpu0).TotalMilliseconds / Stopwatch.GetElapsedTime(wall0).TotalMilliseconds;
        return MedianOf(times);
    }

    /// <summary>Shortest warm-up of <see cref="Median"/> unless --warmup is 0.</summary>
    private const double MinWarmupSeconds = 1.0;

    /// <summary>Parses one positive size.</summary>
    internal static int ParseSize(string option, string text) =>
        int.TryParse(text, out int v) && v >= 1 ? v : throw new ArgumentException($"{option} '{text}' is not a positive integer");

    /// <summary>Parses "16x3x227x227" into four positive sizes.</summary>
    internal static int[] ParseShape(string option, string text, string layout)
    {
        var parts = text.Split('x', 'X');
        if (parts.Length != 4)
            throw new ArgumentException($"{option} '{text}': expected four sizes {layout}, e.g. 16x3x227x227");
        var dims = new int[4];
        for (int i = 0; i < 4; i++)
            if (!int.TryParse(parts[i], out dims[i]) || dims[i] < 1)
                throw new ArgumentException($"{option} '{text}': '{parts[i]}' is not a positive integer ({layout})");
        return dims;
    }

    /// <summary>Parses "2" or "2x3" into an (h, w) pair.</summary>
    internal static (int H, int W) ParsePair(string option, string text)
    {
        var parts = text.Split('x', 'X');
        if (parts.Length is < 1 or > 2)
            throw new ArgumentException($"{option} '{text}': expected V or HxW");
        var v = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out v[i]) || v[i] < 0)
                throw new ArgumentException($"{option} '{text}': '{parts[i]}' is not a non-negative integer");
        return parts.Length == 1 ? (v[0], v[0]) : (v[0], v[1]);
    }
}
