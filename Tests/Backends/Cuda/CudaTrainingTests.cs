using System.Text.Json;
using Kiln.Models;
using static Kiln.Tests.Training.TrainerHarness;

namespace Kiln.Tests.Backends.Cuda;

/// <summary>`kiln train` with training.device: cuda:0, end to end in a child process (skips without a GPU and cuDNN).</summary>
public sealed class CudaTrainingTests
{
    private static string NewRunDir(string name) => Path.Combine(Path.GetTempPath(), $"kiln-cuda-train-{name}-{Guid.NewGuid():N}");

    private static readonly string[] Strict = ["--set", "training.device=cuda:0", "--set", "training.cuda.tf32=false", "--set", "training.cuda.deterministic=true"];

    /// <summary>Validation loss of each evaluation in the run's metrics.jsonl.</summary>
    private static double[] ValLosses(string runDir) =>
        File.ReadLines(Path.Combine(runDir, "metrics.jsonl"))
            .Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.GetProperty("kind").GetString() == "eval")
            .Select(e => e.GetProperty("val_loss").GetDouble()).ToArray();

    [Fact]
    public void Train_OnCuda_TracksTheCpuRun()
    {
        CudaTestEnvironment.RequireCudnn();
        CudaTestEnvironment.RequireKernels();
        string cpuRun = NewRunDir("cpu"), gpuRun = NewRunDir("gpu");
        var cpu = Run(TrainArgs(cpuRun), timeoutMs: 120_000);
        Assert.True(cpu.Code == 0, cpu.Out + cpu.Err);
        // Float32 batches as on the CPU: same seed, data order, initial weights and dropout masks, strict
        // FP32 on both devices, so the 12 steps stay close; only the summation order differs.
        var gpu = Run(TrainArgs(gpuRun, [.. Strict, "--set", "data.gpu_normalize=false"]), timeoutMs: 120_000);
        Assert.True(gpu.Code == 0, gpu.Out + gpu.Err);
        double[] a = ValLosses(cpuRun), b = ValLosses(gpuRun);
        Assert.Equal(2, a.Length);
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(a[i] - b[i]) <= 1e-2 * Math.Abs(a[i]), $"evaluation {i}: val loss CPU {a[i]:G9}, CUDA {b[i]:G9}");
        // uint8 batches normalised on the GPU (the default there) round each input pixel to 1/255: looser.
        string u8Run = NewRunDir("gpu-u8");
        var u8 = Run(TrainArgs(u8Run, Strict), timeoutMs: 120_000);
        Assert.True(u8.Code == 0, u8.Out + u8.Err);
        double[] c = ValLosses(u8Run);
        for (int i = 0; i < a.Length; i++)
            Assert.True(Math.Abs(a[i] - c[i]) <= 5e-2 * Math.Abs(a[i]), $"evaluation {i}: val loss CPU {a[i]:G9}, CUDA with uint8 batches {c[i]:G9}");
    }

    [Fact]
    public void Train_OnCuda_Deterministic_RepeatsBitForBit()
    {
        CudaTestEnvironment.RequireCudnn();
        CudaTestEnvironment.RequireKernels();
        string one = NewRunDir("det1"), two = NewRunDir("det2");
        var a = Run(TrainArgs(one, Strict), timeoutMs: 120_000);
        Assert.True(a.Code == 0, a.Out + a.Err);
        Assert.Contains("batches as uint8 NHWC", a.Out);   // data.gpu_normalize's default: normalised by the kernel (Note [Uint8 batches])
        var b = Run(TrainArgs(two, Strict), timeoutMs: 120_000);
        Assert.True(b.Code == 0, b.Out + b.Err);
        Assert.Equal(ValLosses(one), ValLosses(two));
        string weights = Path.Combine("checkpoints", File.ReadAllText(Path.Combine(one, "checkpoints", "latest")).Trim(), "model.safetensors");
        Assert.Equal(File.ReadAllBytes(Path.Combine(one, weights)), File.ReadAllBytes(Path.Combine(two, weights)));
    }

    [Fact]
    public void Train_OnCuda_SavesAlgorithmChoices_AndResumeReusesThem()
    {
        CudaTestEnvironment.RequireCudnn();
        CudaTestEnvironment.RequireKernels();
        string run = NewRunDir("algos");
        var first = Run(TrainArgs(run, ["--set", "training.epochs=1", .. Strict]), timeoutMs: 120_000);
        Assert.True(first.Code == 0, first.Out + first.Err);
        Assert.Contains("new convolution algorithm(s)", first.Out);
        string file = Path.Combine(run, "cudnn-algorithms.txt");
        Assert.True(File.Exists(file), $"{file} was not written");
        string[] lines = File.ReadAllLines(file);
        Assert.True(lines.Length > 3, $"{file} holds {lines.Length} lines");
        Assert.Contains("cudnn", lines[0]);   // the header names the GPU and cuDNN version

        var resumed = Run(TrainArgs(run, ["--set", "training.epochs=2", .. Strict, "--resume", "auto", "--allow-config-change"]), timeoutMs: 120_000);
        Assert.True(resumed.Code == 0, resumed.Out + resumed.Err);
        Assert.Contains($"cuDNN algorithm choice(s) from {file}", resumed.Out);
    }

    [Fact]
    public void Train_OnCuda_WithAndWithoutBatchPrefetch_SameLossesBitForBit()
    {
        CudaTestEnvironment.RequireCudnn();
        CudaTestEnvironment.RequireKernels();
        // Note [Batch prefetch ordering]: uploading ahead changes when bytes move, never which: deterministic runs agree exactly.
        string on = NewRunDir("prefetch-on"), off = NewRunDir("prefetch-off");
        var a = Run(TrainArgs(on, [.. Strict, "--set", "training.cuda.prefetch=true"]), timeoutMs: 120_000);
        Assert.True(a.Code == 0, a.Out + a.Err);
        Assert.Contains("batch prefetch on", a.Out);
        var b = Run(TrainArgs(off, [.. Strict, "--set", "training.cuda.prefetch=false"]), timeoutMs: 120_000);
        Assert.True(b.Code == 0, b.Out + b.Err);
        Assert.Contains("batch prefetch off", b.Out);
        var la = Losses(on);
        var lb = Losses(off);
        Assert.Equal(12, la.Count);   // 2 epochs of 6 steps
        Assert.Equal(la.Keys.Order(), lb.Keys.Order());
        foreach (var (step, losses) in la)
            Assert.True(losses.SequenceEqual(lb[step]), $"step {step}: loss with prefetch {losses[0]:R}, without {lb[step][0]:R}");
        Assert.Equal(ValLosses(on), ValLosses(off));
        string weights = Path.Combine("checkpoints", File.ReadAllText(Path.Combine(on, "checkpoints", "latest")).Trim(), "model.safetensors");
        Assert.Equal(File.ReadAllBytes(Path.Combine(on, weights)), File.ReadAllBytes(Path.Combine(off, weights)));
    }

    [Fact]
    public void Train_OnCuda_LogsAlgorithmsPerLayer_AndEvalReusesTheRunsAlgorithmFile()
    {
        CudaTestEnvironment.RequireCudnn();
        CudaTestEnvironment.RequireKernels();
        string run = NewRunDir("layers");
        var train = Run(TrainArgs(run, ["--set", "training.epochs=1", .. Strict]), timeoutMs: 120_000);
        Assert.True(train.Code == 0, train.Out + train.Err);

        // Note [Per-layer algorithm log]: after the first step, a line per convolution layer and cudnn-layers.txt.
        using var net = ModelZoo.Create("tiny");
        var convs = net.ConvLayers(16);
        Assert.Contains($"cuDNN algorithms of the {convs.Count} convolution layer(s)", train.Out);
        Assert.Contains("stem.conv: x (16, 3, 16, 16) w (8, 3, 3, 3)", train.Out);
        string[] rows = File.ReadAllLines(Path.Combine(run, "cudnn-layers.txt"));
        Assert.Equal(2 + convs.Count, rows.Length);
        foreach (var (conv, row) in convs.Zip(rows.Skip(2)))
        {
            string[] f = row.Split('\t');
            Assert.Equal(conv.Name, f[0]);
            Assert.StartsWith("CUDNN_CONVOLUTION_FWD_ALGO_", f[4]);
            Assert.Equal("CUDNN_FMA_MATH", f[5]);   // strict FP32
            Assert.True(conv.Name == "stem.conv" ? f[7] == "-" : f[7].StartsWith("CUDNN_CONVOLUTION_BWD_DATA_ALGO_", StringComparison.Ordinal), row);
            Assert.StartsWith("CUDNN_CONVOLUTION_BWD_FILTER_ALGO_", f[10]);
        }

        // kiln eval on the run: the run's policy and algorithm file; its validation already met every shape.
        string file = Path.Combine(run, "cudnn-algorithms.txt");
        string[] evalArgs = ["eval", "--checkpoint", run, "--data", ValSpec, "--device", "cuda:0"];
        var eval = Run(evalArgs, timeoutMs: 120_000);
        Assert.True(eval.Code == 0, eval.Out + eval.Err);
        Assert.Matches($@"reused [1-9][0-9]* algorithm choice\(s\) from {System.Text.RegularExpressions.Regex.Escape(file)}", eval.Err);
        Assert.Contains("cuDNN: 0 convolution algorithm(s) searched during evaluation", eval.Err);

        // Without the file: no error, the algorithms are searched.
        File.Delete(file);
        var again = Run(evalArgs, timeoutMs: 120_000);
        Assert.True(again.Code == 0, again.Out + again.Err);
        Assert.DoesNotContain("reused", again.Err);
        Assert.Matches(@"cuDNN: [1-9][0-9]* convolution algorithm\(s\) searched during evaluation", again.Err);
    }

    [Fact]
    public void Train_OnCuda_NonFiniteGradient_StopsNamingTheParameter()
    {
        CudaTestEnvironment.RequireCudnn();
        CudaTestEnvironment.RequireKernels();
        using var net = ModelZoo.Create("tiny");
        var names = net.NamedParameters().Select(p => p.Name).ToList();
        var r = Run(TrainArgs(NewRunDir("infgrad"), ["--set", "training.epochs=1", "--set", "data.val=null", "--set", "training.device=cuda:0"]),
            new Dictionary<string, string> { ["KILN_FAULT"] = "inf_grad@step=4" }, timeoutMs: 120_000);
        Assert.Equal(5, r.Code);
        Assert.Contains("step 4", r.Out);
        Assert.Contains($"gradient of '{names[names.Count / 2]}' is not finite", r.Out);
    }
}

/// <summary>`kiln bench gemm --device cuda:0`: cuBLAS timed with CUDA events, TF32 and strict FP32.</summary>
public sealed class CudaBenchTests
{
    [Fact]
    public void BenchGemm_OnCuda_ReportsTf32AndStrictFp32()
    {
        CudaTestEnvironment.RequireCublas();
        var output = new StringWriter();
        var old = Console.Out;
        Console.SetOut(output);
        int code;
        try { code = Kiln.Cli.Program.Main(["bench", "gemm", "--device", "cuda:0", "-m", "256", "-n", "128", "-k", "64", "--transa", "--repeat", "3", "--warmup", "1"]); }
        finally { Console.SetOut(old); }
        Assert.Equal(0, code);
        string text = output.ToString();
        Assert.Matches(@"gemm m=256 n=128 k=64 transa=True .*cuBLAS TF32: [0-9.]+ ms, [0-9.]+ TFLOP/s", text);
        Assert.Matches(@"cuBLAS strict FP32: [0-9.]+ ms", text);
    }
}
