using System.Text.Json;
using Kiln.Data;
using SkiaSharp;

namespace Kiln.Tests.Data;

public sealed class FolderPackerTests
{
    private static void MakeTree(string root)
    {
        string[] classes = ["n02", "n01", "n03"]; // ordinal order gives n01=0, n02=1, n03=2
        foreach (var c in classes)
        {
            Directory.CreateDirectory(Path.Combine(root, c));
            int label = string.CompareOrdinal(c, "n01") == 0 ? 0 : c == "n02" ? 1 : 2;
            for (int i = 0; i < 3; i++)
                File.WriteAllBytes(Path.Combine(root, c, $"{c}_{i}.JPEG"), DataFixtures.LabelledJpeg(label));
        }
        File.WriteAllBytes(Path.Combine(root, "n01", "n01_png.JPEG"), DataFixtures.Encode(20, 20, (x, y) => (10, 20, 30), SKEncodedImageFormat.Png));
        File.WriteAllBytes(Path.Combine(root, "n02", "n02_grey.JPEG"), DataFixtures.GrayJpeg(20, 20, (x, y) => 100));
        File.WriteAllBytes(Path.Combine(root, "n02", "n02_cmyk.JPEG"), CmykJpeg.Solid(16, 16, 200, 100, 50, 255));
        File.WriteAllBytes(Path.Combine(root, "n03", "n03_bad.JPEG"), [0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 1]);
        File.WriteAllText(Path.Combine(root, "n03", "notes.txt"), "not an image");
    }

    [Fact]
    public void PackClassFolders_ConvertsPngSkipsCorruptAndLoads()
    {
        using var src = new TempDir();
        using var outDir = new TempDir();
        MakeTree(src.Path);
        var report = FolderPacker.PackClassFolders(src.Path, outDir.Path, samplesPerShard: 4, seed: 3);
        Assert.Equal(12, report.Samples);
        Assert.Equal(4, report.ShardsWritten);
        Assert.Equal(2, report.Converted.Count);
        var png = report.Converted.Single(c => c.Path.Contains("n01_png"));
        Assert.Contains("PNG", png.Reason);
        var cmyk = report.Converted.Single(c => c.Path.Contains("n02_cmyk"));
        Assert.Contains("CMYK", cmyk.Reason);
        Assert.Single(report.Skipped);
        Assert.Contains("n03_bad", report.Skipped[0].Path);

        var classes = JsonDocument.Parse(File.ReadAllText(outDir.File("classes.json"))).RootElement;
        Assert.Equal("n01", classes[0].GetProperty("id").GetString());
        var manifest = JsonDocument.Parse(File.ReadAllText(report.ManifestPath)).RootElement;
        Assert.Equal(12, manifest.GetProperty("samples").GetInt32());
        Assert.Equal([4, 5, 3], manifest.GetProperty("samplesPerClass").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(64, manifest.GetProperty("shards")[0].GetProperty("sha256").GetString()!.Length);

        var options = DataFixtures.SmallOptions(report.ShardSpec, batch: 4) with { Mode = LoaderMode.Eval, NumClasses = 3, DropLast = false };
        var keys = new List<string>();
        foreach (var b in new DataLoader(options).ReadEpoch(0))
            using (b)
                for (int n = 0; n < b.Count; n++)
                {
                    keys.Add(b.Keys[n]);
                    Assert.Equal(b.Keys[n][..3] switch { "n01" => 0, "n02" => 1, _ => 2 }, b.Labels[n]);
                    if (b.Keys[n] == "n02/n02_cmyk")
                    {
                        // Stored as an RGB JPEG with the CMYK file's colour (normalised with ImageNet statistics).
                        float red = b.Data[n * 768 + 8 * 16 + 8] * 0.229f + 0.485f;
                        Assert.Equal(200, red * 255, 4.0);
                    }
                }
        Assert.Equal(12, keys.Distinct().Count());
        Assert.Contains("n01/n01_png", keys);
        Assert.Contains("n02/n02_cmyk", keys);
        foreach (var shard in ShardList.Resolve(report.ShardSpec))
            foreach (var sample in new ShardReader(shard, 3).ReadSamples())
            {
                if (sample.Key == "n02/n02_cmyk")
                {
                    Assert.True(JpegHeader.TryReadFrame(sample.ImageSpan, out _, out _, out int components));
                    Assert.Equal(3, components);
                }
                sample.Release();
            }
    }

    [Fact]
    public void PackClassFolders_Interrupted_ResumesWithIdenticalShards()
    {
        using var src = new TempDir();
        using var outDir = new TempDir();
        MakeTree(src.Path);
        FolderPacker.PackClassFolders(src.Path, outDir.Path, samplesPerShard: 4, seed: 3);
        var before = File.ReadAllBytes(outDir.File("train-000001.tar"));
        File.Delete(outDir.File("train-000001.tar"));
        File.WriteAllBytes(outDir.File("train-000002.tar.tmp"), [1, 2, 3]); // a shard cut off mid-write
        var report = FolderPacker.PackClassFolders(src.Path, outDir.Path, samplesPerShard: 4, seed: 3);
        Assert.Equal(1, report.ShardsWritten);
        Assert.Equal(3, report.ShardsKept);
        Assert.Equal(before, File.ReadAllBytes(outDir.File("train-000001.tar")));
        Assert.False(File.Exists(outDir.File("train-000002.tar.tmp")));
    }

    [Fact]
    public void PackClassFolders_MissingOrEmpty_FailsWithPath()
    {
        using var src = new TempDir();
        Assert.Contains("nothere", Assert.Throws<DirectoryNotFoundException>(() => FolderPacker.PackClassFolders(src.File("nothere"), src.File("out"))).Message);
        Assert.Contains(src.Path, Assert.Throws<InvalidDataException>(() => FolderPacker.PackClassFolders(src.Path, src.File("out"))).Message);
    }

    [Fact]
    public void JpegHeader_ReadsSizeAndComponents()
    {
        Assert.True(JpegHeader.TryReadFrame(DataFixtures.LabelledJpeg(1, 40, 32), out int w, out int h, out int c));
        Assert.Equal((40, 32, 3), (w, h, c));
        Assert.True(JpegHeader.TryReadFrame(DataFixtures.GrayJpeg(8, 9, (_, _) => 0), out w, out h, out c));
        Assert.Equal((8, 9, 1), (w, h, c));
        Assert.False(JpegHeader.TryReadFrame(DataFixtures.Encode(4, 4, (_, _) => (0, 0, 0), SKEncodedImageFormat.Png), out _, out _, out _));
    }

    [Fact]
    public void DataLoader_ClassFolderTree_ReadDirectlyExactlyOnce()
    {
        using var src = new TempDir();
        MakeTree(src.Path);
        var events = new List<DataEvent>();
        var options = DataFixtures.SmallOptions(src.Path, batch: 4) with { NumClasses = 3, DropLast = false, MaxBadFraction = 0.2, OnEvent = events.Add };
        var keys = new List<string>();
        foreach (var b in new DataLoader(options).ReadEpoch(0))
            using (b)
                for (int n = 0; n < b.Count; n++)
                {
                    keys.Add(b.Keys[n]);
                    Assert.Equal(b.Keys[n][..3] switch { "n01" => 0, "n02" => 1, _ => 2 }, b.Labels[n]);
                }
        Assert.Equal(12, keys.Distinct().Count());
        Assert.Contains("n01/n01_png", keys); // PNG named .JPEG and CMYK JPEG decode directly
        Assert.Contains("n02/n02_cmyk", keys);
        Assert.Single(events, e => e.Sample?.Key == "n03/n03_bad");
    }
}
