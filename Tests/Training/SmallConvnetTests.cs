using Kiln.Backends.Cpu;
using Kiln.Data;
using Kiln.Nn;
using Kiln.Training;

namespace Kiln.Tests.Training;

/// <summary>End-to-end checks of a small convnet: it learns a fixed batch, and steps leak nothing.</summary>
[Collection(MemoryCollection.Name)]
public sealed class SmallConvnetTests
{
    /// <summary>conv, relu, max-pool, LRN, conv, batch norm, relu, dropout, linear (issue 2's test network).</summary>
    private static Sequential Build(int classes)
    {
        RandomGenerator.Global.ManualSeed(11);
        return new Sequential(
            new Conv2d(3, 8, 3, padding: 1),
            new ReLU(),
            new MaxPool2d(2, 2),
            new LocalResponseNorm(5, 1e-4, 0.75, 2),
            new Conv2d(8, 16, 3, padding: 1),
            new BatchNorm2d(16),
            new ReLU(),
            new Flatten(),
            new Dropout(0.1, new RandomGenerator(5)),
            new Linear(16 * 8 * 8, classes));
    }

    private static (Tensor X, Tensor Y) Batch(int n)
    {
        var data = new SyntheticShapes(16, seed: 3);
        var x = new float[n * 3 * 16 * 16];
        var y = new int[n];
        data.Fill(0, n, x, y);
        return (Tensor.FromArray(x, [n, 3, 16, 16]).MoveOutOfScope(), Tensor.FromArray(y, [n]).MoveOutOfScope());
    }

    private static double Step(Module model, Sgd sgd, Tensor x, Tensor y)
    {
        using var scope = TensorScope.Begin();
        var loss = Op.CrossEntropy(model.Forward(x), y);
        sgd.ZeroGrad();
        loss.Backward();
        sgd.Step();
        return loss.Item();
    }

    [Fact]
    public void SmallConvnet_OverfitsAFixedBatch_LossFallsBy90Percent()
    {
        using var model = Build(SyntheticShapes.Classes);
        var (x, y) = Batch(32);
        using (x)
        using (y)
        using (var sgd = new Sgd(model.Parameters(), new SgdOptions { LearningRate = 0.05, Momentum = 0.9, WeightDecay = 1e-4 }))
        {
            double first = Step(model, sgd, x, y);
            double last = first;
            for (int i = 0; i < 60; i++) last = Step(model, sgd, x, y);
            Assert.True(last < 0.1 * first, $"loss went from {first:F4} to {last:F4}, less than the 90% drop expected");
        }
    }

    [Fact]
    public void TrainingSteps_HoldTheSameNativeMemoryAfter100StepsAsAfterTheFirst()
    {
        using var model = Build(SyntheticShapes.Classes);
        var (x, y) = Batch(8);
        using (x)
        using (y)
        using (var sgd = new Sgd(model.Parameters(), new SgdOptions { LearningRate = 0.01, Momentum = 0.9 }))
        {
            CpuAllocator.TrackLiveBlocks = true;
            try
            {
                // Held memory: parameters, their gradients and the momentum buffers the first step creates.
                Step(model, sgd, x, y);
                long live = CpuAllocator.LiveBytes, blocks = CpuAllocator.LiveBlocks;
                var sizes = CpuAllocator.LiveBlockSizes();
                // The cache grows once more in step 2 (the momentum buffers took cached blocks at the end
                // of step 1), then must stay put: the same requests every step, whatever the scheduling.
                Step(model, sgd, x, y);
                long reserved = CpuAllocator.ReservedBytes;
                for (int i = 0; i < 98; i++) Step(model, sgd, x, y);
                var after = CpuAllocator.LiveBlockSizes();
                Assert.True(sizes.SequenceEqual(after), $"live blocks by size after step 1: {string.Join(", ", sizes)}; after step 100: {string.Join(", ", after)}");
                Assert.Equal(blocks, CpuAllocator.LiveBlocks);
                Assert.Equal(live, CpuAllocator.LiveBytes);
                Assert.Equal(reserved, CpuAllocator.ReservedBytes);
            }
            finally
            {
                CpuAllocator.TrackLiveBlocks = false;
            }
        }
    }

    [Fact]
    public void SameSeed_SameLosses_BitForBit()
    {
        double[] Run()
        {
            using var model = Build(SyntheticShapes.Classes);
            var (x, y) = Batch(8);
            using (x)
            using (y)
            using (var sgd = new Sgd(model.Parameters(), new SgdOptions { LearningRate = 0.05, Momentum = 0.9 }))
                return Enumerable.Range(0, 5).Select(_ => Step(model, sgd, x, y)).ToArray();
        }
        Assert.Equal(Run(), Run());
    }
}
