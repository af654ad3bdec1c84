using Kiln.Data;
using Kiln.Tests.Data;

namespace Kiln.Tests.Cli;

/// <summary><c>kiln pack val</c> with the ILSVRC devkit's ground truth and synset map (see Note [ILSVRC ids]).</summary>
[Collection(ConsoleCollection.Name)]
public sealed class PackCommandTests
{
    [Fact]
    public void PackVal_DevkitGroundTruth_LabelsBySortedSynsetAndRefusesABadLine()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("val"));
        for (int i = 1; i <= 3; i++) File.WriteAllBytes(dir.File($"val/ILSVRC2012_val_{i:D8}.JPEG"), DataFixtures.LabelledJpeg(i));
        foreach (var synset in new[] { "n01", "n02", "n03" }) Directory.CreateDirectory(dir.File($"train/{synset}"));
        File.WriteAllLines(dir.File("mapping.txt"), ["1 n03", "2 n01", "3 n02"]);
        File.WriteAllLines(dir.File("truth.txt"), ["3", "1", "2"]);
        string[] args = ["pack", "val", "--source", dir.File("val"), "--labels", dir.File("truth.txt"), "--synset-map", dir.File("mapping.txt"),
            "--classes", dir.File("train"), "--out", dir.File("out")];

        var run = KilnCli.Run(args);
        Assert.True(run.Code == 0, run.Out + run.Err);
        var samples = new ShardReader(dir.File("out/val-000000.tar"), 3).ReadSamples().Select(s => { s.Release(); return (s.Key, s.Label); });
        Assert.Equal([("val/ILSVRC2012_val_00000001", 1), ("val/ILSVRC2012_val_00000002", 2), ("val/ILSVRC2012_val_00000003", 0)], samples);

        File.WriteAllLines(dir.File("truth.txt"), ["3", "1001", "2"]);
        var bad = KilnCli.Run([.. args[..^1], dir.File("out2")]);
        Assert.Equal(1, bad.Code);
        Assert.Contains($"{dir.File("truth.txt")}:2: ILSVRC id 1001 is out of range", bad.Err);
        Assert.False(Directory.Exists(dir.File("out2")));
    }
}
