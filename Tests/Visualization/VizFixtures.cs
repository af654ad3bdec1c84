using Kiln.Nn;
using SkiaSharp;

namespace Kiln.Tests.Visualization;

/// <summary>Small networks, temporary directories and PNG checks shared by the visualisation tests.</summary>
internal static class VizFixtures
{
    /// <summary>conv(3→4, 3x3, pad 1), ReLU, maxpool 2/2, LRN, conv(4→6, 3x3), ReLU, maxpool 2/2, flatten, linear: 16x16 inputs.</summary>
    public static Sequential SmallNet(int classes = 5, ulong seed = 7)
    {
        RandomGenerator.Global.ManualSeed(seed);
        return new Sequential(
            new Sequential(
                new Conv2d(3, 4, 3, padding: 1),
                new ReLU(),
                new MaxPool2d(2, 2),
                new LocalResponseNorm(3, 1e-4, 0.75, 2),
                new Conv2d(4, 6, 3),
                new ReLU(),
                new MaxPool2d(2, 2)),
            new Flatten(),
            new Linear(6 * 3 * 3, classes));
    }

    public static float[] Random(int n, ulong seed, float scale = 1)
    {
        var rng = new Random((int)seed);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return v;
    }

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "kiln-viz-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Decodes a PNG with SkiaSharp and checks its size; returns the bitmap for pixel checks.</summary>
    public static SKBitmap AssertPng(string path, int width, int height)
    {
        Assert.True(File.Exists(path), $"{path} was not written");
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.Length > 8 && bytes[0] == 0x89 && bytes[1] == (byte)'P', $"{path} is not a PNG");
        var bitmap = SKBitmap.Decode(bytes);
        Assert.NotNull(bitmap);
        Assert.Equal((width, height), (bitmap.Width, bitmap.Height));
        return bitmap;
    }
}
