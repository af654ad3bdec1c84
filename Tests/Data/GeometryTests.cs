using Kiln.Data;

namespace Kiln.Tests.Data;

public sealed class GeometryTests
{
    private static CropBox PlanOne(TransformOptions t, int w, int h, long index, ulong seed = 1)
    {
        var random = new SampleRandom(seed, SampleRandom.Stream(StreamPurpose.Augment, 0, 0), index);
        var views = new CropBox[10];
        Assert.Equal(1, Geometry.Plan(t, w, h, ref random, views));
        return views[0];
    }

    private static void AssertInside(CropBox b, int w, int h)
    {
        const double eps = 1e-9;
        Assert.True(b.X >= -eps && b.Y >= -eps && b.Right <= w + eps && b.Bottom <= h + eps && b.Width > 0 && b.Height > 0,
            $"box {b} outside {w}x{h}");
    }

    [Theory]
    [InlineData(500, 375)]
    [InlineData(64, 640)]
    [InlineData(17, 13)]
    public void RandomResizedCrop_Boxes_InBoundsWithAreaAndAspectInRange(int w, int h)
    {
        var t = new TransformOptions { Mode = CropMode.RandomResizedCrop };
        int fallbacks = 0;
        for (int i = 0; i < 2000; i++)
        {
            var b = PlanOne(t, w, h, i);
            AssertInside(b, w, h);
            Assert.Equal(Math.Floor(b.X), b.X);
            double area = b.Width * b.Height / (w * (double)h), aspect = b.Width / b.Height;
            bool inRange = area >= 0.08 * 0.9 && area <= 1.0001 && aspect >= 0.75 * 0.9 && aspect <= 4.0 / 3 * 1.1;
            if (!inRange) fallbacks++; // rounding on tiny images, or the centre-crop fallback
        }
        Assert.True(fallbacks < (w < 50 ? 700 : 40), $"{fallbacks} boxes outside the area/aspect range");
    }

    [Fact]
    public void RandomResizedCrop_AreaCoversTheRange()
    {
        var t = new TransformOptions { Mode = CropMode.RandomResizedCrop };
        var areas = Enumerable.Range(0, 2000).Select(i => { var b = PlanOne(t, 500, 500, i); return b.Width * b.Height / 250000; }).ToList();
        Assert.True(areas.Min() < 0.1 && areas.Max() > 0.9, $"areas in [{areas.Min()}, {areas.Max()}]");
    }

    [Fact]
    public void ScaleJitter_BoxIsOutputSizeAtTheDrawnScale()
    {
        var t = new TransformOptions { Mode = CropMode.ScaleJitter, ShorterMin = 256, ShorterMax = 480, OutputSize = 224 };
        var shorterSides = new HashSet<int>();
        for (int i = 0; i < 500; i++)
        {
            var b = PlanOne(t, 500, 375, i);
            AssertInside(b, 500, 375);
            Assert.Equal(b.Width, b.Height, 9);
            int shorter = (int)Math.Round(224 * 375 / b.Width);
            Assert.InRange(shorter, 256, 480);
            shorterSides.Add(shorter);
        }
        Assert.True(shorterSides.Count > 100);
    }

    [Fact]
    public void ResizeRandomCrop_AlexNet227_InBoundsAndCoversAllOffsets()
    {
        var t = new TransformOptions { Mode = CropMode.ResizeRandomCrop, Resize = 256, OutputSize = 227 };
        var xs = new HashSet<int>();
        for (int i = 0; i < 2000; i++)
        {
            var b = PlanOne(t, 512, 256, i);
            AssertInside(b, 512, 256);
            Assert.Equal(227 * 2.0, b.Width, 9);
            Assert.Equal(227.0, b.Height, 9);
            xs.Add((int)Math.Round(b.X / 2));
        }
        Assert.Equal(30, xs.Count); // offsets 0..29
    }

    [Fact]
    public void CenterCrop_MatchesTorchvisionRounding()
    {
        var t = new TransformOptions { Mode = CropMode.CenterCrop, Resize = 256, OutputSize = 224, Flip = false };
        var b = PlanOne(t, 500, 375, 0);
        double f = 256.0 / 375; // resized 341x256, crop at (58, 16)
        Assert.Equal(58 / f, b.X, 9);
        Assert.Equal(16 / f, b.Y, 9);
        Assert.Equal(224 / f, b.Width, 9);
        Assert.False(b.Flip);
    }

    [Fact]
    public void TenCrop_CornersCentreThenMirrors()
    {
        var views = new CropBox[10];
        Geometry.TenCrop(320, 256, 256, 224, views);
        (double X, double Y)[] expected = [(0, 0), (96, 0), (0, 32), (96, 32), (48, 16)];
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(expected[i % 5].X, views[i].X, 9);
            Assert.Equal(expected[i % 5].Y, views[i].Y, 9);
            Assert.Equal(224, views[i].Width, 9);
            Assert.Equal(i >= 5, views[i].Flip);
        }
    }

    [Fact]
    public void MultiScale_CentreOfEachScaleThenItsMirror()
    {
        // 320x256 source, network input 224, Q = 224, 256, 288: the centre 224 crop of the image resized to shorter side Q, in source pixels.
        var t = new TransformOptions { Mode = CropMode.MultiScale, OutputSize = 224, Scales = [224, 256, 288], Flip = false };
        var random = new SampleRandom(1, 0, 0);
        var views = new CropBox[t.Views];
        Assert.Equal(6, Geometry.Plan(t, 320, 256, ref random, views));
        // Q = 224: resized 280x224 (factor 0.875), offset (28, 0): box (32, 0) of side 256.
        // Q = 256: resized 320x256 (factor 1), offset (48, 16): box (48, 16) of side 224.
        // Q = 288: resized 360x288 (factor 1.125), offset (68, 32): box (60.44, 28.44) of side 199.11.
        (double X, double Y, double Side)[] expected = [(32, 0, 256), (48, 16, 224), (68 / 1.125, 32 / 1.125, 224 / 1.125)];
        for (int i = 0; i < 6; i++)
        {
            var (x, y, side) = expected[i / 2];
            Assert.Equal(x, views[i].X, 9);
            Assert.Equal(y, views[i].Y, 9);
            Assert.Equal(side, views[i].Width, 9);
            Assert.Equal(side, views[i].Height, 9);
            Assert.Equal(i % 2 == 1, views[i].Flip);
            AssertInside(views[i], 320, 256);
        }
        Assert.Equal(6 * 3 * 224 * 224, t.SampleElements);
    }

    [Theory]
    [InlineData(500, 375, 256, 0, 0, 500, 375, 341, 256)]        // whole image, longer side in proportion (341.33 rounds to 341)
    [InlineData(375, 500, 384, 0, 0, 375, 500, 384, 512)]        // portrait
    [InlineData(224, 224, 224, 0, 0, 224, 224, 224, 224)]        // the network's input size: one view equals the whole-image crop
    [InlineData(200, 600, 100, 0, 100, 200, 400, 100, 200)]      // aspect 3 > 2: the centre 200x400 kept, output 100x200
    [InlineData(900, 300, 150, 150, 0, 600, 300, 300, 150)]      // aspect 3, landscape
    public void DenseView_WholeImageAtShorterSideQ_LongSideCapped(int w, int h, int q, double bx, double by, double bw, double bh, int ow, int oh)
    {
        var (box, width, height) = Geometry.DenseView(w, h, q, maxAspect: 2);
        Assert.Equal((ow, oh), (width, height));
        Assert.Equal(bx, box.X, 9);
        Assert.Equal(by, box.Y, 9);
        Assert.Equal(bw, box.Width, 9);
        Assert.Equal(bh, box.Height, 9);
        AssertInside(box, w, h);
    }

    [Fact]
    public void Dense_PlanGivesEachScaleAndItsMirror_SampleRoomFitsTheLargest()
    {
        var t = new TransformOptions { Mode = CropMode.Dense, OutputSize = 32, Scales = [32, 48], Flip = false };
        var random = new SampleRandom(1, 0, 0);
        var views = new CropBox[t.Views];
        Assert.Equal(4, Geometry.Plan(t, 90, 40, ref random, views));
        for (int i = 0; i < 4; i++)
        {
            // Aspect 2.25 > 2: the centre 80x40 of 90x40 at both scales (outputs 64x32 and 96x48).
            Assert.Equal(5, views[i].X, 9);
            Assert.Equal(0, views[i].Y, 9);
            Assert.Equal(80, views[i].Width, 9);
            Assert.Equal(40, views[i].Height, 9);
            Assert.Equal(i % 2 == 1, views[i].Flip);
        }
        Assert.Equal((96, 48), (Geometry.DenseView(90, 40, 48, 2).Width, Geometry.DenseView(90, 40, 48, 2).Height));
        Assert.Equal(2 * 3 * (32 * 64 + 48 * 96), t.SampleElements);
    }

    [Fact]
    public void Validate_MultiScaleAndDense_NeedScalesAtLeastTheOutput()
    {
        var e = Assert.Throws<ArgumentException>(new TransformOptions { Mode = CropMode.MultiScale, OutputSize = 224, Scales = [200, 256] }.Validate);
        Assert.Contains("scales must be in [output size 224, 4096], got [200, 256]", e.Message);
        e = Assert.Throws<ArgumentException>(new TransformOptions { Mode = CropMode.Dense, OutputSize = 16, Scales = [] }.Validate);
        Assert.Contains("Dense needs 1 to 8 scales, got 0", e.Message);
        new TransformOptions { Mode = CropMode.Dense, OutputSize = 224, Scales = [256, 384, 512] }.Validate();
    }

    [Fact]
    public void Plan_SameSeedAndIndex_SameBox_FlipsAboutHalf()
    {
        var t = new TransformOptions { Mode = CropMode.RandomResizedCrop };
        Assert.Equal(PlanOne(t, 300, 200, 42), PlanOne(t, 300, 200, 42));
        Assert.NotEqual(PlanOne(t, 300, 200, 42), PlanOne(t, 300, 200, 43));
        Assert.NotEqual(PlanOne(t, 300, 200, 42), PlanOne(t, 300, 200, 42, seed: 2));
        int flips = Enumerable.Range(0, 4000).Count(i => PlanOne(t, 300, 200, i).Flip);
        Assert.InRange(flips, 1850, 2150);
    }

    [Fact]
    public void Validate_ReportsAllProblems()
    {
        var t = new TransformOptions { OutputSize = 0, Channels = 2, AreaMin = 2 };
        var e = Assert.Throws<ArgumentException>(t.Validate);
        Assert.Contains("output size", e.Message);
        Assert.Contains("channels", e.Message);
        Assert.Contains("area", e.Message);
    }
}
