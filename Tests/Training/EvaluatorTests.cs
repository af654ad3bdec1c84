using Kiln.Core.Ops;
using Kiln.Data;
using Kiln.Training;

namespace Kiln.Tests.Training;

public sealed class EvaluatorTests
{
    /// <summary>A fixed "model": logits are per-channel means of the image, plus one constant column (4 classes).</summary>
    private static Tensor ChannelMeans(Tensor x)
    {
        int n = x.Size(0), plane = x.Size(2) * x.Size(3);
        var px = x.ToArray<float>();
        var logits = new float[n * 4];
        for (int i = 0; i < n; i++)
        {
            for (int c = 0; c < 3; c++)
            {
                double s = 0;
                for (int j = 0; j < plane; j++) s += px[(i * 3 + c) * plane + j];
                logits[i * 4 + c] = (float)(s / plane);
            }
            logits[i * 4 + 3] = 0.1f;
        }
        return Tensor.FromArray(logits, [n, 4]);
    }

    private static EvalResult Evaluate(int batchSize, int workers, CropMode mode = CropMode.Full)
    {
        var loader = new DataLoader(new LoaderOptions
        {
            Shards = TrainerHarness.ValSpec,
            Mode = LoaderMode.Eval,
            BatchSize = batchSize,
            NumClasses = 4,
            Workers = workers,
            Transform = new TransformOptions { Mode = mode, OutputSize = 16, Resize = 16, Flip = false, Normalization = Normalization.UnitRange },
        });
        var evaluator = new Evaluator(4);
        foreach (var batch in loader.ReadEpoch(0))
            using (batch) evaluator.Add(batch, [ChannelMeans], Device.Cpu);
        return evaluator.Result();
    }

    [Fact]
    public void Evaluate_BatchSizesThatDoNotDivide_CountEveryImageOnce()
    {
        var reference = Evaluate(TrainerHarness.ValCount, 1);
        Assert.Equal(TrainerHarness.ValCount, reference.Count);
        foreach (var (batch, workers) in new[] { (1, 1), (5, 2), (8, 3), (36, 2), (64, 1) })
        {
            var r = Evaluate(batch, workers);
            Assert.Equal(TrainerHarness.ValCount, r.Count);
            Assert.Equal(reference.Top1Correct, r.Top1Correct);
            Assert.Equal(reference.Top5Correct, r.Top5Correct);
            Assert.Equal(reference.PerClassTotal, r.PerClassTotal);
            Assert.Equal(reference.Loss, r.Loss, 1e-12);
        }
        Assert.Equal(TrainerHarness.ValCount, reference.PerClassTotal.Sum());
    }

    [Fact]
    public void Evaluate_TenCrop_CountsImagesNotViews()
    {
        var r = Evaluate(6, 2, CropMode.TenCrop);
        Assert.Equal(TrainerHarness.ValCount, r.Count);
    }

    [Fact]
    public void Ensemble_AveragesSoftmaxNotLogits()
    {
        // One image, 3 classes. Model A: logits (0, 10, 0) → p ≈ (0, 1, 0). Model B: (5, 0, 4.9) → p ≈ (0.52, 0.003, 0.47).
        // Averaged softmax: class 1 ≈ 0.50, class 0 ≈ 0.26 → top-1 is class 1. Averaged logits would give (2.5, 5, 2.45): also 1;
        // so label the image 0 and check the loss is −log of the averaged probability.
        var batch = new HostBatch(new float[3], 1, 1, 3, 1, null) { Count = 1 };
        batch.Labels[0] = 1;
        Func<Tensor, Tensor> a = x => Tensor.FromArray(new float[] { 0, 10, 0 }, [1, 3]);
        Func<Tensor, Tensor> b = x => Tensor.FromArray(new float[] { 5, 0, 4.9f }, [1, 3]);
        var ev = new Evaluator(3);
        ev.Add(batch, [a, b], Device.Cpu);
        var r = ev.Result();
        double pa = Math.Exp(10) / (Math.Exp(10) + 2), pb = 1 / (Math.Exp(5) + 1 + Math.Exp(4.9));
        Assert.Equal(1, r.Top1Correct);
        Assert.Equal(-Math.Log((pa + pb) / 2), r.Loss, 1e-9);

        // Disagreeing models where softmax averaging and logit averaging differ: A (0, 3, 0), B (20, 0, 0).
        // Softmax mean: class 0 ≈ (0.043 + 1)/2 = 0.52, class 1 ≈ 0.45 → class 0. (Logit mean (10, 1.5, 0) also 0; probabilities decide.)
        var batch2 = new HostBatch(new float[3], 1, 1, 3, 1, null) { Count = 1 };
        batch2.Labels[0] = 0;
        var ev2 = new Evaluator(3);
        ev2.Add(batch2, [x => Tensor.FromArray(new float[] { 0, 3, 0 }, [1, 3]), x => Tensor.FromArray(new float[] { 20, 0, 0 }, [1, 3])], Device.Cpu);
        var r2 = ev2.Result();
        double p0 = (1 / (2 + Math.Exp(3)) + 1 / (1 + 2 * Math.Exp(-20))) / 2;
        Assert.Equal(-Math.Log(p0), r2.Loss, 1e-9);
        Assert.Equal(1, r2.Top1Correct);
    }

    [Fact]
    public void AddProbabilities_TiesRankLowerClassFirst_AndTop5CapsAtClassCount()
    {
        var ev = new Evaluator(3);
        ev.AddProbabilities([0.5, 0.5, 0.0, 0.5, 0.5, 0.0], [0, 1]);
        var r = ev.Result();
        Assert.Equal(2, r.Count);
        Assert.Equal(1, r.Top1Correct); // the tie goes to class 0
        Assert.Equal(2, r.Top5Correct);
        Assert.Equal(1, r.Confusion[1, 0]);
        Assert.Single(r.MostConfused(5));
    }
}
