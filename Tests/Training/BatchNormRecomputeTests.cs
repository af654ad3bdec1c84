using Kiln.Nn;
using Kiln.Training;
using static Kiln.Tests.Training.TrainerHarness;

namespace Kiln.Tests.Training;

public sealed class BatchNormRecomputeTests
{
    [Fact]
    public void Recompute_GivesThePlainAverageOfBatchStatistics_AndRestoresTheLayer()
    {
        using var bn = new BatchNorm2d(2, momentum: 0.1);
        bn.Eval();
        var rng = new RandomGenerator(5);
        var batches = new List<float[]>();
        for (int b = 0; b < 3; b++)
        {
            var v = new float[4 * 2 * 3 * 3];   // (N=4, C=2, H=3, W=3)
            rng.Normal<float>(v);
            for (int i = 0; i < v.Length; i++) v[i] = v[i] * (1 + b) + 2 * b;   // a different mean and spread per batch
            batches.Add(v);
        }
        int used = BatchNormRecompute.Run(bn, batches.Select(v => Tensor.FromArray(v, [4, 2, 3, 3])));
        Assert.Equal(3, used);
        var mean = bn.RunningMean.ToArray<float>();
        var variance = bn.RunningVar.ToArray<float>();
        for (int c = 0; c < 2; c++)
        {
            double expectMean = 0, expectVar = 0;
            foreach (var v in batches)
            {
                var xs = Enumerable.Range(0, 4).SelectMany(n => Enumerable.Range(0, 9).Select(i => (double)v[(n * 2 + c) * 9 + i])).ToArray();
                double m = xs.Average();
                expectMean += m / 3;
                expectVar += xs.Sum(x => (x - m) * (x - m)) / (xs.Length - 1) / 3;   // unbiased, as the running update uses
            }
            Assert.Equal(expectMean, mean[c], 1e-5);
            Assert.Equal(expectVar, variance[c], 1e-4);
        }
        Assert.Equal(0.1, bn.Momentum);
        Assert.False(bn.IsTraining);
    }

    [Fact]
    public void Recompute_WithoutBatchNorm_RunsNothing()
    {
        using var relu = new ReLU();
        int pulled = 0;
        IEnumerable<Tensor> Batches() { pulled++; yield return Tensor.Zeros([1, 1, 2, 2]); }
        Assert.Equal(0, BatchNormRecompute.Run(relu, Batches()));
        Assert.Equal(0, pulled);
    }

    [Fact]
    public void Train_WithBnRecompute_ReestimatesBeforeTheFinalEvaluation()
    {
        string run = Path.Combine(Path.GetTempPath(), $"kiln-bnre-{Guid.NewGuid():N}");
        var r = Run(TrainArgs(run, "--set", "training.epochs=1", "--set", "training.bn_recompute_batches=2"));
        Assert.True(r.Code == 0, r.Out + r.Err);
        int at = r.Out.IndexOf("statistics re-estimated as plain averages over 2 training batch(es)", StringComparison.Ordinal);
        Assert.True(at >= 0, r.Out);
        Assert.True(r.Out.IndexOf("top-1 error", at, StringComparison.Ordinal) > at, "the final evaluation should follow the re-estimation");
        var bad = Run(TrainArgs(run + "-bad", "--set", "training.bn_recompute_batches=2", "--set", "training.ema_decay=0.9"));
        Assert.NotEqual(0, bad.Code);
        Assert.Contains("bn_recompute_batches", bad.Out + bad.Err);
    }
}
