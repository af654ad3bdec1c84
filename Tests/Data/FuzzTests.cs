using Kiln.Data;

namespace Kiln.Tests.Data;

/// <summary>Random corruption must give bad samples, never an exception or a hang.</summary>
public sealed class FuzzTests
{
    [Fact]
    public void ShardReader_RandomByteFlips_NeverThrows()
    {
        using var dir = new TempDir();
        var keys = DataFixtures.WriteShards(dir.Path, [6]);
        var bytes = File.ReadAllBytes(dir.File("train-000000.tar"));
        var rng = new Random(17);
        for (int trial = 0; trial < 200; trial++)
        {
            var copy = (byte[])bytes.Clone();
            int flips = 1 + rng.Next(8);
            for (int f = 0; f < flips; f++)
            {
                // Mostly header bytes (the first 512 of each member), sometimes anywhere.
                int header = 512 * rng.Next(copy.Length / 512);
                int at = rng.Next(4) == 0 ? rng.Next(copy.Length) : header + rng.Next(512);
                copy[at] = (byte)rng.Next(256);
            }
            string path = dir.File($"fuzz{trial % 4}.tar");
            File.WriteAllBytes(path, copy);
            var samples = new ShardReader(path, 5, maxMemberBytes: 1 << 20).ReadSamples().ToList();
            foreach (var s in samples)
            {
                s.Release();
                Assert.True(s.Fault is not null || (s.Label is >= 0 and < 5), $"trial {trial}: good sample {s.Key} with label {s.Label}");
            }
            Assert.True(samples.Count <= keys.Count + 2, $"trial {trial}: {samples.Count} samples from {keys.Count}");
        }
    }

    [Fact]
    public void ImageDecoder_RandomByteFlips_NeverThrows()
    {
        var jpeg = DataFixtures.Encode(64, 48, (x, y) => ((byte)(x * 4), (byte)(y * 5), (byte)(x ^ y)));
        var png = DataFixtures.Encode(64, 48, (x, y) => ((byte)(x * 4), (byte)(y * 5), (byte)(x ^ y)), SkiaSharp.SKEncodedImageFormat.Png);
        var t = new TransformOptions { OutputSize = 16, Mode = CropMode.RandomResizedCrop, Normalization = Normalization.UnitRange };
        var decoder = new ImageDecoder();
        var dst = new float[t.SampleElements];
        var rng = new Random(5);
        int bad = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            var copy = (byte[])(trial % 2 == 0 ? jpeg : png).Clone();
            for (int f = 0; f < 1 + rng.Next(6); f++) copy[rng.Next(copy.Length)] = (byte)rng.Next(256);
            if (rng.Next(4) == 0) copy = copy.AsSpan(0, rng.Next(copy.Length)).ToArray();
            var random = new SampleRandom(1, 0, trial);
            var result = decoder.Decode(copy, t, ref random, dst);
            if (!result.Success) bad++;
            else Assert.All(dst, v => Assert.True(float.IsFinite(v)));
        }
        Assert.True(bad > 0);
    }
}
