using Kiln.Nn;
using Kiln.Visualization;

namespace Kiln.Tests.Visualization;

public sealed class LayerStatsTests
{
    [Fact]
    public void Compute_FindsADeliberatelyDeadFilter_AndGradientNorms()
    {
        using var net = VizFixtures.SmallNet();
        var conv1 = (Conv2d)((Sequential)net[0])[0];
        // Filter 2 of conv1: zero weights, bias -1, so its map is -1 everywhere and never positive.
        var w = conv1.Weight.Value.ToArray<float>();
        Array.Clear(w, 2 * 27, 27);
        conv1.Weight.Set(Tensor.FromArray(w, [4, 3, 3, 3]));
        var b = conv1.Bias!.Value.ToArray<float>();
        b[2] = -1;
        conv1.Bias.Set(Tensor.FromArray(b, [4]));
        var stack = FeatureStack.From(net);
        using var images = Tensor.FromArray(VizFixtures.Random(4 * 3 * 16 * 16, 3), [4, 3, 16, 16]);
        using var labels = Tensor.FromArray(new[] { 0, 1, 2, 3 }, [4]);
        LayerStats.AccumulateGradients(net, [(images, labels)]);
        var rows = LayerStats.Compute(stack, [images]);
        Assert.Equal(7, rows.Count);
        var conv = rows[0];
        Assert.Equal(("0.0", "conv", 4, 1), (conv.Layer, conv.Kind, conv.Maps, conv.DeadMaps));
        Assert.Equal(0.25, conv.DeadFraction);
        Assert.Equal(1, rows[1].DeadMaps); // its ReLU output is 0 everywhere
        Assert.Equal(LayerStats.Norm(conv1.Weight.Value), conv.WeightNorm!.Value, 9);
        Assert.True(conv.GradNorm > 0);
        Assert.Null(rows[1].WeightNorm);
        Assert.True(rows[1].MeanActivation > 0);
        var extra = LayerStats.ParameterRows(net, stack);
        Assert.Equal(["2"], extra.Select(r => r.Layer));
        string table = LayerStats.FormatTable(rows.Concat(extra));
        Assert.Contains("dead %", table);
        Assert.Contains("25.0", table);
    }
}
