using Kiln.Data;

namespace Kiln.Tests.Data;

public sealed class ValidationLabelsTests
{
    [Fact]
    public void Read_LocCsvAndCaffeText_GiveSortedSynsetIndices()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("val"));
        for (int i = 1; i <= 3; i++) File.WriteAllBytes(dir.File($"val/ILSVRC2012_val_{i:D8}.JPEG"), DataFixtures.LabelledJpeg(i));
        File.WriteAllLines(dir.File("LOC_val_solution.csv"),
        [
            "ImageId,PredictionString",
            "ILSVRC2012_val_00000002,n03 1 2 3 4 n03 5 6 7 8",
            "ILSVRC2012_val_00000001,n01 1 2 3 4",
            "ILSVRC2012_val_00000003,n02 1 2 3 4",
        ]);
        string[] synsets = ["n01", "n02", "n03"];
        var loc = ValidationLabels.Read(dir.File("val"), dir.File("LOC_val_solution.csv"), synsets);
        Assert.Equal([0, 2, 1], loc.Select(f => f.Label));
        Assert.EndsWith("ILSVRC2012_val_00000001.JPEG", loc[0].Path);

        File.WriteAllLines(dir.File("val.txt"), ["ILSVRC2012_val_00000001.JPEG 2", "ILSVRC2012_val_00000002.JPEG 0", "ILSVRC2012_val_00000003.JPEG 1"]);
        Assert.Equal([2, 0, 1], ValidationLabels.Read(dir.File("val"), dir.File("val.txt"), synsets).Select(f => f.Label));

        using var outDir = new TempDir();
        var report = FolderPacker.Pack(loc, 3, outDir.Path, "val", 2, seed: null);
        Assert.Equal(3, report.Samples);
        var keys = new ShardReader(Path.Combine(outDir.Path, "val-000000.tar"), 3).ReadSamples().Select(s => { s.Release(); return s.Key; });
        Assert.Equal(["val/ILSVRC2012_val_00000001", "val/ILSVRC2012_val_00000002"], keys);
    }

    [Fact]
    public void Read_UnknownSynsetOrUnlabelledImage_FailsWithLocation()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("val"));
        File.WriteAllBytes(dir.File("val/a.JPEG"), DataFixtures.LabelledJpeg(1));
        File.WriteAllBytes(dir.File("val/b.JPEG"), DataFixtures.LabelledJpeg(1));
        File.WriteAllLines(dir.File("bad.csv"), ["ImageId,PredictionString", "a,n09 1 2 3 4"]);
        Assert.Contains("bad.csv:2", Assert.Throws<InvalidDataException>(() => ValidationLabels.Read(dir.File("val"), dir.File("bad.csv"), ["n01"])).Message);
        File.WriteAllLines(dir.File("part.txt"), ["a.JPEG 0"]);
        Assert.Contains("b.JPEG", Assert.Throws<InvalidDataException>(() => ValidationLabels.Read(dir.File("val"), dir.File("part.txt"), ["n01"])).Message);
    }
}
