using Kiln.Visualization;

namespace Kiln.Tests.Visualization;

public sealed class FilterGridTests
{
    [Fact]
    public void Save_FirstLayerFilters_RgbGridOfExpectedSize_EachFilterContrastNormalised()
    {
        var w = VizFixtures.Random(8 * 3 * 5 * 5, 1, 0.01f);
        w[0] = 0.5f; // filter 0, red channel, pixel (0, 0): its maximum
        using var weight = Tensor.FromArray(w, [8, 3, 5, 5]);
        string dir = VizFixtures.TempDir();
        try
        {
            string path = Path.Combine(dir, "filters.png");
            FilterGrid.Save(weight, path);
            // Cells 5·8 = 40 pixels, 3 columns and 3 rows with 2-pixel gaps.
            using var png = VizFixtures.AssertPng(path, 2 + 3 * 42, 2 + 3 * 42);
            var c = png.GetPixel(2, 2);
            Assert.Equal(255, c.Red); // the filter's maximum is full red, whatever the other filters hold
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Render_DeeperLayer_MeanAndPerChannelLayouts()
    {
        using var weight = Tensor.FromArray(VizFixtures.Random(6 * 4 * 3 * 3, 2), [6, 4, 3, 3]);
        var mean = FilterGrid.Render(weight); // auto: mean over the 4 input channels
        Assert.Equal((2 + 3 * (42 + 2), 2 + 2 * (42 + 2)), (mean.Width, mean.Height));
        var per = FilterGrid.Render(weight, new FilterGridOptions { Mode = FilterGridMode.PerChannel, CellSize = 9 });
        Assert.Equal((2 + 4 * 11, 2 + 6 * 11), (per.Width, per.Height));
        Assert.Throws<ArgumentException>(() => FilterGrid.Render(weight, new FilterGridOptions { Mode = FilterGridMode.Rgb }));
    }

    [Fact]
    public void Render_BgrInput_ShowsTheFirstChannelAsBlue()
    {
        var w = new float[1 * 3 * 2 * 2];
        for (int i = 0; i < 4; i++) w[i] = 1; // channel 0 bright, channels 1 and 2 dark
        using var weight = Tensor.FromArray(w, [1, 3, 2, 2]);
        var rgb = FilterGrid.Render(weight);
        var bgr = FilterGrid.Render(weight, new FilterGridOptions { InputOrder = Kiln.Data.ChannelOrder.Bgr });
        Assert.Equal(((byte)255, (byte)0, (byte)0), rgb[5, 5]);
        Assert.Equal(((byte)0, (byte)0, (byte)255), bgr[5, 5]);
    }
}
