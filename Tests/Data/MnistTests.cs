using System.Globalization;
using System.Text;
using Kiln.Data;

namespace Kiln.Tests.Data;

public sealed class MnistTests
{
    /// <summary>Writes {d}.json files in the npm package's format: { "data": [ ... ] }, 784 values per digit, three decimals.</summary>
    private static Dictionary<(int, int), byte[]> WriteFixture(string dir, int classes, int perClass)
    {
        var expected = new Dictionary<(int, int), byte[]>();
        var rng = new Random(11);
        for (int label = 0; label < classes; label++)
        {
            var sb = new StringBuilder("{ \"data\": [");
            for (int i = 0; i < perClass; i++)
            {
                var pixels = new byte[784];
                for (int p = 0; p < 784; p++)
                {
                    double v = rng.Next(4) == 0 ? Math.Round(rng.NextDouble(), 3) : 0;
                    pixels[p] = (byte)Math.Round(v * 255);
                    if (i > 0 || p > 0) sb.Append(',');
                    sb.Append(v.ToString(CultureInfo.InvariantCulture));
                }
                expected[(label, i)] = pixels;
            }
            sb.Append("]}");
            File.WriteAllText(Path.Combine(dir, $"{label}.json"), sb.ToString());
        }
        return expected;
    }

    [Fact]
    public void Read_NpmJsonDigits_SplitsIntoImages()
    {
        using var dir = new TempDir();
        var expected = WriteFixture(dir.Path, 3, 2);
        var digits = MnistJson.Read(dir.Path).ToList();
        Assert.Equal(6, digits.Count);
        foreach (var d in digits) Assert.Equal(expected[(d.Label, d.IndexInClass)], d.Pixels);
    }

    [Fact]
    public void Read_BadJson_FailsWithPath()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("0.json"), "{ \"data\": [0.5, 0.25] }");
        Assert.Contains("0.json", Assert.Throws<InvalidDataException>(() => MnistJson.Read(dir.Path).ToList()).Message);
        Assert.Throws<DirectoryNotFoundException>(() => MnistJson.Read(dir.File("nothere")).ToList());
    }

    [Fact]
    public void Pack_ThenLoad_PixelsAndLabelsSurvive_AndPackResumes()
    {
        using var src = new TempDir();
        using var outDir = new TempDir();
        var expected = WriteFixture(src.Path, 3, 3);
        var result = MnistPacker.Pack(src.Path, outDir.Path, samplesPerShard: 4, testFraction: 0.34);
        Assert.Equal(6, result.TrainSamples);
        Assert.Equal(3, result.TestSamples);
        Assert.Equal(3, result.ShardsWritten);
        Assert.True(File.Exists(outDir.File("classes.json")));

        var options = new LoaderOptions
        {
            Shards = result.TrainShards + ";" + result.TestShards,
            Mode = LoaderMode.Eval,
            BatchSize = 4,
            NumClasses = 10,
            Workers = 2,
            Transform = new TransformOptions { Mode = CropMode.Full, OutputSize = 28, Channels = 1, Flip = false, Normalization = Normalization.UnitRange },
        };
        int count = 0;
        foreach (var batch in new DataLoader(options).ReadEpoch(0))
        {
            using (batch)
            {
                Assert.Equal([batch.Count, 1, 28, 28], batch.Shape);
                for (int n = 0; n < batch.Count; n++)
                {
                    var parts = batch.Keys[n].Split('_');
                    var pixels = expected[(int.Parse(parts[1]), int.Parse(parts[2]))];
                    Assert.Equal(int.Parse(parts[1]), batch.Labels[n]);
                    for (int p = 0; p < 784; p++) Assert.Equal(pixels[p] / 255f, batch.Data[n * 784 + p], 3);
                    count++;
                }
            }
        }
        Assert.Equal(9, count);

        // Interrupted pack: finished shards are kept, the missing one is rewritten identically.
        var before = File.ReadAllBytes(outDir.File("mnist-train-000001.tar"));
        File.Delete(outDir.File("mnist-train-000001.tar"));
        var again = MnistPacker.Pack(src.Path, outDir.Path, samplesPerShard: 4, testFraction: 0.34);
        Assert.Equal(1, again.ShardsWritten);
        Assert.Equal(2, again.ShardsKept);
        Assert.Equal(before, File.ReadAllBytes(outDir.File("mnist-train-000001.tar")));
    }

    [Fact]
    public void KilnPackMnist_WritesShardsAndReturnsZero()
    {
        using var src = new TempDir();
        using var outDir = new TempDir();
        WriteFixture(src.Path, 2, 2);
        int code = Kiln.Cli.Program.Main(["pack", "mnist", "--source", src.Path, "--out", outDir.Path, "--shard-size", "3", "--test-fraction", "0"]);
        Assert.Equal(0, code);
        Assert.Equal(2, Directory.GetFiles(outDir.Path, "mnist-train-*.tar").Length);
        Assert.Equal(1, Kiln.Cli.Program.Main(["pack", "mnist", "--source", src.File("nothere"), "--out", outDir.Path]));
    }
}
