using Kiln.Data;
using Kiln.Nn;
using Kiln.Visualization;

namespace Kiln.Tests.Visualization;

public sealed class OcclusionMapTests
{
    /// <summary>
    /// A classifier whose class 0 only looks at rows 8..11, columns 4..7 (a 16x16 convolution with
    /// filter 0.25 there, 0 elsewhere), and whose class 1 weakly looks at every other pixel (0.01).
    /// On an image of ones: logits 12 and 7.2.
    /// </summary>
    private static Sequential RegionNet()
    {
        var conv = new Conv2d(3, 2, 16, bias: false);
        var w = new float[2 * 3 * 16 * 16];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 16; y++)
                for (int x = 0; x < 16; x++)
                {
                    bool region = y is >= 8 and < 12 && x is >= 4 and < 8;
                    w[((region ? 0 : 3) + c) * 256 + y * 16 + x] = region ? 0.25f : 0.01f;
                }
        conv.Weight.Set(Tensor.FromArray(w, [2, 3, 16, 16]));
        return new Sequential(conv, new Flatten());
    }

    [Fact]
    public void Compute_NetworkThatLooksAtOneRegion_DropsOnlyThere()
    {
        using var net = RegionNet();
        using var image = Tensor.Ones([3, 16, 16]);
        var map = OcclusionMap.Compute(net, image, patch: 4, stride: 2);
        Assert.Equal((7, 7), (map.Rows, map.Cols));
        Assert.Equal(0, map.TargetClass);
        Assert.True(map.BaseProbability > 0.99f);
        int argmin = Array.IndexOf(map.Probability, map.Probability.Min());
        Assert.Equal((4, 2), (argmin / map.Cols, argmin % map.Cols)); // square at rows 8..11, columns 4..7
        Assert.Equal(1 / (1 + MathF.Exp(7.2f)), map.Probability[argmin], 1e-5f); // region covered: logits 0 and 7.2
        Assert.Equal(1, map.TopClass[argmin]);  // the second map: class 1 wins where the region is hidden
        Assert.Equal(0, map.TopClass[0]);
        float lowestAway = float.MaxValue, highestOver = 0;
        for (int r = 0; r < map.Rows; r++)
            for (int c = 0; c < map.Cols; c++)
            {
                bool overlaps = map.RowOffsets[r] + 4 > 8 && map.RowOffsets[r] < 12 && map.ColOffsets[c] + 4 > 4 && map.ColOffsets[c] < 8;
                float p = map.Probability[r * map.Cols + c];
                if (overlaps) highestOver = Math.Max(highestOver, p);
                else lowestAway = Math.Min(lowestAway, p);
            }
        Assert.True(highestOver < lowestAway, $"hiding the region ({highestOver}) must cost more than hiding anything else ({lowestAway})");
    }

    [Fact]
    public void Render_WritesHeatAndClassMapsOfTheExpectedSize()
    {
        using var net = RegionNet();
        var pixels = VizFixtures.Random(3 * 16 * 16, 3);
        using var image = Tensor.FromArray(pixels, [1, 3, 16, 16]);
        var map = OcclusionMap.Compute(net, image, patch: 6, stride: 3, targetClass: 1);
        Assert.Equal(1, map.TargetClass);
        string dir = VizFixtures.TempDir();
        try
        {
            map.RenderHeatMap(pixels, 3, 16, 16, Normalization.ImageNetRgb, scale: 4).SavePng(Path.Combine(dir, "heat.png"));
            map.RenderClassMap(pixels, 3, 16, 16, Normalization.ImageNetRgb, scale: 4).SavePng(Path.Combine(dir, "classes.png"));
            using var heat = VizFixtures.AssertPng(Path.Combine(dir, "heat.png"), 2 * 64 + 4, 64);
            using var classes = VizFixtures.AssertPng(Path.Combine(dir, "classes.png"), 2 * 64 + 4, 64);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
