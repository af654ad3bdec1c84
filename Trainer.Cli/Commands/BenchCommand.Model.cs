using Kiln.Backends.Cpu;
using System.Diagnostics;
using System.Globalization;
using Kiln.Core;
using Kiln.Core.Autograd;
using Kiln.Core.Ops;
using Kiln.Models;
using Kiln.Training;

namespace Kiln.Cli.Commands;

public static partial class BenchCommand
{
    /// <summary>
    /// <c>kiln bench model</c>, in the manner of <c>caffe time</c>: training steps (forward, loss,
    /// backward, SGD update) and inference on one random batch, after warm-up; images/s from the
    /// median step; then each layer's median forward and backward time. Backward time is charged to
    /// the layer whose forward recorded the tape node (gradient accumulation included).
    /// </summary>
    private static int Model(BenchOptions o)
    {
        if (string.IsNullOrEmpty(o.Network)) throw new ArgumentException("bench model needs a network: kiln bench model resnet50 --batch 16");
        if (o.Batch < 1) throw new ArgumentException($"--batch must be at least 1, got {o.Batch}");
        var device = Device.Parse(o.Device);
        var plan = ModelZoo.Plan(o.Network, o.Input is null ? null : SummaryCommand.ParseShape(o.Input), SummaryCommand.ParseSettings(o.Set));
        RandomGenerator.Global.ManualSeed(1);
        using var net = plan.Build();
        net.To(device);
        int n = o.Batch, classes = plan.OutputShape[0];
        var pixels = new float[n * plan.InputShape.Aggregate(1, (a, d) => a * d)];
        new RandomGenerator(2).Normal<float>(pixels);
        using var x = Tensor.FromArray(pixels, [n, .. plan.InputShape], device);
        using var labels = Tensor.FromArray(Enumerable.Range(0, n).Select(i => i % classes).ToArray(), [n], device);
        using var sgd = new Sgd(net.Parameters(), new SgdOptions { LearningRate = 1e-4, Momentum = 0.9 });

        // Per-layer bookkeeping for one step: forward ms, backward ms, and the tape nodes each layer recorded.
        int layers = plan.Layers.Count;
        var forward = new double[layers + 1];
        var backward = new double[layers + 1];          // [layers]: the loss
        var lastNode = new long[layers];                // tape sequence after layer i's forward
        var ran = new bool[layers];
        long stamp = 0, firstNode = 0;
        double optimiserMs = 0;
        var runsForward = new List<double[]>();
        var runsBackward = new List<double[]>();
        var runsOptimiser = new List<double>();
        var runsStep = new List<double>();
        var runsOutside = new List<double>();           // step − Σ layers − SGD, per profiled step

        // A GPU queues work asynchronously: per-layer clocks wait for the device at each boundary. The step
        // times come from separate runs without these waits, so they are not slowed by the profiling.
        var backend = Backend.For(device);
        Action? barrier = device.Equals(Device.Cpu) ? null : backend.Synchronize;
        void LayerDone(int i, Tensor _)
        {
            barrier?.Invoke();
            long now = Stopwatch.GetTimestamp();
            forward[i] = Stopwatch.GetElapsedTime(stamp, now).TotalMilliseconds;
            stamp = now;
            lastNode[i] = Node.LastSequence;
            ran[i] = true;
        }
        void OnNode(Node node, double ms)
        {
            backward[LayerOf(node.Sequence)] += ms;
        }
        int LayerOf(long sequence)
        {
            if (sequence <= firstNode) return layers;
            for (int i = 0; i < layers; i++)
                if (ran[i] && sequence <= lastNode[i]) return i;
            return layers;
        }

        void TrainStep()
        {
            using var scope = TensorScope.Begin();
            Array.Clear(forward);
            Array.Clear(backward);
            Array.Clear(ran);
            firstNode = Node.LastSequence;
            barrier?.Invoke();
            stamp = Stopwatch.GetTimestamp();
            var heads = net.ForwardHeads(x);
            var loss = net.Loss(heads, labels);
            sgd.ZeroGrad();
            loss.Backward();
            long t0 = Stopwatch.GetTimestamp();
            sgd.Step();
            _ = loss.Item();
            optimiserMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }

        net.Train();
        // At least a second of warm-up as in Median: the JIT's tier-1 code replaces first-tier code only after a
        // background compile (ResNet-20: the steps after 3 warm-up steps took 250-282 ms, later ones 231-247).
        long warm0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < o.Warmup || (o.Warmup > 0 && Stopwatch.GetElapsedTime(warm0).TotalSeconds < MinWarmupSeconds); i++) TrainStep();
        var times = new double[o.Repeat];
        for (int r = 0; r < o.Repeat; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            TrainStep();
            times[r] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        double trainMs = MedianOf(times);
        if (!o.NoLayers)
        {
            Engine.Profiler = OnNode;
            Engine.ProfilerBarrier = barrier;
            net.AfterLayer = LayerDone;
            try
            {
                for (int r = 0; r < o.Repeat; r++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    TrainStep();
                    double stepMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    runsForward.Add((double[])forward.Clone());
                    runsBackward.Add((double[])backward.Clone());
                    runsOptimiser.Add(optimiserMs);
                    runsStep.Add(stepMs);
                    runsOutside.Add(stepMs - forward.Sum() - backward.Sum() - optimiserMs);
                }
            }
            finally
            {
                Engine.Profiler = null;
                Engine.ProfilerBarrier = null;
                net.AfterLayer = null;
            }
        }

        net.Eval();
        double inferMs = Median(o, () =>
        {
            using var scope = TensorScope.Begin();
            using var noGrad = GradMode.NoGrad();
            _ = net.Forward(x).ToArray<float>();
        });

        Console.WriteLine($"bench model {plan.Name}: batch {n}, input {string.Join("x", plan.InputShape)}, device {device}, threads {Kiln.Backends.Cpu.CpuParallel.Threads}, " +
                          $"{plan.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} parameters, {plan.MultiplyAdds / 1e9:F2} G mult-adds per image; median of {o.Repeat} after {o.Warmup} warm-up");
        Console.WriteLine($"  training step (forward, loss, backward, SGD)  {trainMs,10:F1} ms  {n * 1000 / trainMs,9:F1} images/s");
        Console.WriteLine($"  inference (evaluation forward)                {inferMs,10:F1} ms  {n * 1000 / inferMs,9:F1} images/s");
        if (PeakResidentMiB() is double peak)
            Console.WriteLine($"  peak resident memory (VmHWM, whole process)   {peak,10:F1} MiB");
        if (device.Type == DeviceType.Cpu)
            Console.WriteLine($"  host tensors and scratch: peak live {Kiln.Backends.Cpu.CpuAllocator.PeakLiveBytes / 1048576.0:F1} MiB, " +
                              $"held by the caching allocator {Kiln.Backends.Cpu.CpuAllocator.ReservedBytes / 1048576.0:F1} MiB");
        if (o.NoLayers) return 0;

        Console.WriteLine();
        Console.WriteLine("  per layer, training step (median ms):");
        int width = Math.Max(5, plan.Layers.Max(l => l.Name.Length));
        Console.WriteLine($"  {"layer".PadRight(width)}  {"type",-14} {"output",-14} {"forward",9} {"backward",9}");
        double sumF = 0, sumB = 0;
        for (int i = 0; i <= layers; i++)
        {
            double f = MedianOf(runsForward.Select(r => r[i]).ToArray());
            double b = MedianOf(runsBackward.Select(r => r[i]).ToArray());
            sumF += f;
            sumB += b;
            if (i == layers)
            {
                Console.WriteLine($"  {"(loss)".PadRight(width)}  {"",-14} {"",-14} {"",9} {b,9:F3}");
                break;
            }
            var l = plan.Layers[i];
            Console.WriteLine($"  {l.Name.PadRight(width)}  {l.Type,-14} {string.Join("x", l.OutputShape),-14} {f,9:F3} {b,9:F3}");
        }
        Console.WriteLine($"  {"(sgd update)".PadRight(width)}  {"",-14} {"",-14} {"",9} {MedianOf([.. runsOptimiser]),9:F3}");
        Console.WriteLine($"  {"total of medians".PadRight(width)}  {"",-14} {"",-14} {sumF,9:F3} {sumB,9:F3}");
        // Per-layer times are skewed (a preempted thread stalls one layer now and then), so their medians add
        // up to less than the median step; the time outside every layer is measured within each step instead.
        Console.WriteLine($"  {"(outside layers)".PadRight(width)}  {"",-14} {"",-14} {"",9} {MedianOf([.. runsOutside]),9:F3}   median per step; profiled step {MedianOf([.. runsStep]):F1} ms");
        if (device.Type == DeviceType.Cpu) PrintCpuConvPaths(net, n, width);
        return 0;
    }

    /// <summary>Which CPU path each convolution takes per pass (KILN_CPU_CONV overrides it), float32.</summary>
    private static void PrintCpuConvPaths(Network net, int batch, int width)
    {
        var convs = net.ConvLayers(batch);
        if (convs.Count == 0) return;
        Console.WriteLine();
        Console.WriteLine("  convolution paths on the CPU (forward / backward data / backward weights):");
        foreach (var c in convs)
            Console.WriteLine($"  {c.Name.PadRight(width)}  {string.Join("x", c.Weight)} {c.Geometry}: " +
                              $"{CpuBackend.ConvPath(c.Input, c.Weight, c.Geometry)} / {CpuBackend.ConvPath(c.Input, c.Weight, c.Geometry, backwardData: true)} / " +
                              $"{CpuBackend.ConvPath(c.Input, c.Weight, c.Geometry, weights: true)}");
    }

    /// <summary>The process's peak resident set (VmHWM in /proc/self/status) in MiB; null where there is no procfs.</summary>
    public static double? PeakResidentMiB()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    private static double MedianOf(double[] values)
    {
        if (values.Length == 0) return 0;
        var v = (double[])values.Clone();
        Array.Sort(v);
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}
