using System.Diagnostics;
using CommandLine;
using Kiln.Core;
using Kiln.Core.Autograd;
using Kiln.Core.Ops;
using Kiln.Data;
using Kiln.Nn;
using Kiln.Training;

namespace Kiln.Cli.Commands;

[Verb("demo", HelpText = "Train a small convnet on generated shapes on the CPU and report held-out error (a smoke run of the whole stack).")]
public sealed class DemoOptions : CommonOptions
{
    [Option("steps", Default = 300, HelpText = "SGD steps.")]
    public int Steps { get; set; }

    [Option("batch", Default = 32, HelpText = "Images per step.")]
    public int Batch { get; set; }

    [Option("lr", Default = 0.05, HelpText = "Initial learning rate (divided by 10 at 2/3 of the steps).")]
    public double LearningRate { get; set; }

    [Option("seed", Default = 0UL, HelpText = "Seed for weights, data and dropout.")]
    public ulong Seed { get; set; }

    [Option("eval-images", Default = 1000, HelpText = "Held-out images to evaluate on.")]
    public int EvalImages { get; set; }
}

/// <summary>
/// <c>kiln demo</c>: the foundation end to end (tensors, autograd, CPU kernels, modules, SGD) on
/// generated 16x16 images of four shape classes, with a held-out evaluation at the end.
/// </summary>
public static class DemoCommand
{
    private const int Size = 16;

    public static int Run(DemoOptions o)
    {
        o.Apply();
        if (o.Steps < 1 || o.Batch < 1 || o.EvalImages < 1) throw new ArgumentException("--steps, --batch and --eval-images must be at least 1");
        RandomGenerator.Global.ManualSeed(o.Seed);
        using var model = new Sequential(
            new Conv2d(3, 16, 3, padding: 1), new ReLU(), new MaxPool2d(2, 2),
            new LocalResponseNorm(5, 1e-4, 0.75, 2),
            new Conv2d(16, 32, 3, padding: 1), new BatchNorm2d(32), new ReLU(), new MaxPool2d(2, 2),
            new Flatten(), new Dropout(0.3), new Linear(32 * 4 * 4, SyntheticShapes.Classes));
        using var sgd = new Sgd(model.Parameters(), new SgdOptions { LearningRate = o.LearningRate, Momentum = 0.9, WeightDecay = 5e-4 });
        var data = new SyntheticShapes(Size, o.Seed);

        Console.WriteLine($"kiln demo: {model.ParameterCount:N0} parameters, {o.Steps} steps of {o.Batch} images, {Kiln.Backends.Cpu.CpuParallel.Threads} CPU threads");
        var pixels = new float[o.Batch * 3 * Size * Size];
        var labels = new int[o.Batch];
        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        int report = Math.Max(1, o.Steps / 10), sinceReport = 0;
        for (int step = 1; step <= o.Steps; step++)
        {
            sgd.LearningRate = step > o.Steps * 2 / 3 ? o.LearningRate / 10 : o.LearningRate;
            data.Fill((long)(step - 1) * o.Batch, o.Batch, pixels, labels);
            using (TensorScope.Begin())
            {
                var x = Tensor.FromArray(pixels, [o.Batch, 3, Size, Size]);
                var y = Tensor.FromArray(labels, [o.Batch]);
                var loss = Op.CrossEntropy(model.Forward(x), y);
                sgd.ZeroGrad();
                loss.Backward();
                sgd.Step();
                lossSum += loss.Item();
                sinceReport++;
            }
            if (step % report == 0 || step == o.Steps)
            {
                double rate = (double)step * o.Batch / clock.Elapsed.TotalSeconds;
                Console.WriteLine($"step {step,5}/{o.Steps}  loss {lossSum / sinceReport:F4}  lr {sgd.LearningRate,-7:G3}  {rate,7:F0} images/s");
                lossSum = 0;
                sinceReport = 0;
            }
        }

        model.Eval();
        int top1 = 0, seen = 0;
        using (GradMode.NoGrad())
        {
            const long heldOutStart = 1L << 40; // far past any training sample
            while (seen < o.EvalImages)
            {
                int n = Math.Min(o.Batch, o.EvalImages - seen);
                data.Fill(heldOutStart + seen, n, pixels.AsSpan(0, n * 3 * Size * Size), labels.AsSpan(0, n));
                using var scope = TensorScope.Begin();
                var logits = model.Forward(Tensor.FromSpan<float>(pixels.AsSpan(0, n * 3 * Size * Size), [n, 3, Size, Size]));
                top1 += Accuracy.CountTopK(logits, Tensor.FromSpan<int>(labels.AsSpan(0, n), [n]), 1);
                seen += n;
            }
        }
        Console.WriteLine($"held-out top-1 error: {100.0 * (seen - top1) / seen:F1}% on {seen} images ({clock.Elapsed.TotalSeconds:F1} s in all)");
        return 0;
    }
}
