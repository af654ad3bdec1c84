using Kiln.Config;
using Kiln.Models;

namespace Kiln.Tests.Models;

/// <summary><see cref="Network.ForwardDense"/>: fully connected layers as convolutions, the score map averaged.</summary>
public sealed class DenseEvaluationTests
{
    /// <summary>
    /// conv 3x3 (no padding) → relu → maxpool 2/2 → fc1 (reads a (4, 4, 4) map) → relu → dropout → fc2. On a larger
    /// image the score map's position (i, j) is the net applied to the 10x10 window at (2i, 2j): the total stride is 2.
    /// </summary>
    private static Network FcHead(bool explicitFlatten, int seed = 3)
    {
        string yaml = $$"""
            name: fchead
            input: [2, 10, 10]
            layers:
              - {name: conv, type: conv, out: 4, kernel: 3}
              - {type: relu}
              - {name: pool, type: maxpool, kernel: 2, stride: 2}
            {{(explicitFlatten ? "  - {type: flatten}" : "")}}
              - {name: fc1, type: linear, out: 6}
              - {type: relu}
              - {type: dropout, p: 0.5}
              - {name: fc2, type: linear, out: 3}
            """;
        RandomGenerator.Global.ManualSeed((ulong)seed);
        var net = NetworkPlanner.Plan(NetworkSpecReader.Read(yaml, "fchead.yaml")).Build();
        net.Eval();
        return net;
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])), $"[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ForwardDense_AtThePlannedSize_EqualsForward(bool explicitFlatten)
    {
        using var net = FcHead(explicitFlatten);
        using var scope = TensorScope.Begin();
        var x = ModelZooTests.RandomInput(3, [2, 10, 10], 11);
        var linear = net.Forward(x).ToArray<float>();
        var dense = net.ForwardDense(x);
        Assert.Equal([3, 3], dense.Shape.ToArray());
        Assert.Contains(linear, v => Math.Abs(v) > 1e-3); // not trivially zero
        AssertClose(linear, dense.ToArray<float>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ForwardDense_LargerImage_ScoreMapOfEveryWindow_Averaged(bool explicitFlatten)
    {
        using var net = FcHead(explicitFlatten);
        using var scope = TensorScope.Begin();
        var x = ModelZooTests.RandomInput(1, [2, 14, 12], 12);     // (1, 2, 14, 12)
        Tensor? map = null;
        int fc2 = net.Plan.Layers.Count - 1;
        net.AfterLayer = (i, y) => { if (i == fc2) map = y; };
        var dense = net.ForwardDense(x);                             // (1, 3)
        net.AfterLayer = null;
        Assert.NotNull(map);
        Assert.Equal([1, 3, 3, 2], map!.Shape.ToArray());           // pool 6x5 → 4x4 kernel → 3x2 positions
        var scores = map.ToArray<float>();
        var mean = new float[3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 2; j++)
            {
                var window = Op.Narrow(Op.Narrow(x, 2, 2 * i, 10), 3, 2 * j, 10); // (1, 2, 10, 10)
                var expected = net.Forward(window).ToArray<float>();
                AssertClose(expected, [scores[0 * 6 + i * 2 + j], scores[1 * 6 + i * 2 + j], scores[2 * 6 + i * 2 + j]]);
                for (int k = 0; k < 3; k++) mean[k] += expected[k] / 6;
            }
        var logits = dense.ToArray<float>();
        AssertClose(mean, logits);
        int predicted = Array.IndexOf(logits, logits.Max());
        Assert.InRange(predicted, 0, 2);
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void ForwardDense_GlobalPoolNetwork_EqualsTheNetworkPlannedAtThatSize()
    {
        // ResNet-20 (CIFAR, 32x32, global average pool, fc): on a 40x36 image dense evaluation is the same network
        // planned for 40x36 (the fc reads the (64, 1, 1) pooled map as a 1x1 convolution).
        RandomGenerator.Global.ManualSeed(4);
        using var net = ModelZoo.Create("resnet20");
        using var wide = ModelZoo.Create("resnet20", [3, 40, 36]);
        using (var s0 = TensorScope.Begin())
            wide.LoadStateDict(net.StateDict().ToDictionary(p => p.Name, p => p.Value));
        net.Eval();
        wide.Eval();
        using var scope = TensorScope.Begin();
        var x = ModelZooTests.RandomInput(2, [3, 32, 32], 13);
        AssertClose(net.Forward(x).ToArray<float>(), net.ForwardDense(x).ToArray<float>());
        var big = ModelZooTests.RandomInput(2, [3, 40, 36], 14);
        var dense = net.ForwardDense(big);
        Assert.Equal([2, 10], dense.Shape.ToArray());
        AssertClose(wide.Forward(big).ToArray<float>(), dense.ToArray<float>());
    }

    [Theory]
    [InlineData("alexnet", 6)]      // classifier.1 reads the (256, 6, 6) map: a 6x6 convolution
    [InlineData("nin", 1)]          // global pool, then flatten: already convolutional
    [InlineData("googlenet", 1)]    // global pool, dropout, fc; the auxiliary heads do not run
    public void ForwardDense_ZooNetworks_EqualForwardAtThePlannedSize_ScoreMapsOnWiderImages(string name, int kernel)
    {
        RandomGenerator.Global.ManualSeed(6);
        using var net = ModelZoo.Create(name);
        net.Eval();
        using var scope = TensorScope.Begin();
        var x = ModelZooTests.RandomInput(1, net.Plan.InputShape, 15);
        AssertClose(net.Forward(x).ToArray<float>(), net.ForwardDense(x).ToArray<float>(), 1e-4);
        var wide = ModelZooTests.RandomInput(1, [3, 224, 288], 16);      // 64 more columns: 2 more positions at stride 32
        Tensor? map = null;
        int head = net.Plan.Heads[0].LayerIndex;
        net.AfterLayer = (i, y) => { if (i == head) map = y; };
        var dense = net.ForwardDense(wide);
        Assert.Equal([1, 1000], dense.Shape.ToArray());
        Assert.Equal(1000, map!.Size(1));
        Assert.Equal(kernel == 1 ? [1, 1] : new[] { 1, 3 }, new[] { map.Size(2), map.Size(3) });
        Assert.All(dense.ToArray<float>(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void ForwardDense_ImageSmallerThanTheFcWindow_SaysWhichLayer()
    {
        using var net = FcHead(explicitFlatten: false);
        using var scope = TensorScope.Begin();
        var e = Assert.Throws<ArgumentException>(() => net.ForwardDense(ModelZooTests.RandomInput(1, [2, 8, 8], 1)));
        Assert.Contains("layer 'fc1' reads a (4, 4, 4) map", e.Message);
        Assert.Contains("too small", e.Message);
        var channels = Assert.Throws<ArgumentException>(() => net.ForwardDense(ModelZooTests.RandomInput(1, [3, 10, 10], 1)));
        Assert.Contains("needs images (N, 2, H, W)", channels.Message);
    }

    [Fact]
    public void ForwardDense_VectorLayerOtherThanLinear_IsRefusedByName()
    {
        RandomGenerator.Global.ManualSeed(1);
        using var net = NetworkPlanner.Plan(NetworkSpecReader.Read("""
            name: soft
            input: [1, 6, 6]
            layers:
              - {name: conv, type: conv, out: 2, kernel: 3}
              - {name: fc, type: linear, out: 4}
              - {name: probs, type: softmax}
            """, "soft.yaml")).Build();
        net.Eval();
        using var scope = TensorScope.Begin();
        var e = Assert.Throws<NotSupportedException>(() => net.ForwardDense(ModelZooTests.RandomInput(1, [1, 6, 6], 2)));
        Assert.Contains("layer 'probs' (softmax)", e.Message);
        net.Train();
        Assert.Throws<InvalidOperationException>(() => net.ForwardDense(ModelZooTests.RandomInput(1, [1, 6, 6], 2)));
    }
}
