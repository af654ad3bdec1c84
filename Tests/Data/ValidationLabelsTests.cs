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

    /// <summary>A val folder of <paramref name="images"/> JPEGs named like ImageNet's, a synset map and classes n01..n03.</summary>
    private static (string Val, string Map) DevkitLayout(TempDir dir, int images)
    {
        Directory.CreateDirectory(dir.File("val"));
        for (int i = 1; i <= images; i++) File.WriteAllBytes(dir.File($"val/ILSVRC2012_val_{i:D8}.JPEG"), DataFixtures.LabelledJpeg(i));
        // ILSVRC ids number the synsets in another order than sorted: id 1 is n03 here (in ImageNet, n02119789).
        File.WriteAllLines(dir.File("ILSVRC2012_mapping.txt"), ["1 n03 kit fox", "2 n01", "3 n02"]);
        return (dir.File("val"), dir.File("ILSVRC2012_mapping.txt"));
    }

    private static readonly string[] Synsets = ["n01", "n02", "n03"];

    [Fact]
    public void Read_DevkitGroundTruth_MapsIlsvrcIdsToSortedSynsetIndices()
    {
        using var dir = new TempDir();
        var (val, map) = DevkitLayout(dir, 4);
        File.WriteAllLines(dir.File("ILSVRC2012_validation_ground_truth.txt"), ["2", "1", "3", "1"]);
        var files = ValidationLabels.Read(val, dir.File("ILSVRC2012_validation_ground_truth.txt"), Synsets, map);
        Assert.Equal([0, 2, 1, 2], files.Select(f => f.Label));
        Assert.EndsWith("ILSVRC2012_val_00000004.JPEG", files[3].Path);
        Assert.Equal(new Dictionary<int, (string, int)> { [1] = ("n03", 1), [2] = ("n01", 2), [3] = ("n02", 3) }, ValidationLabels.ReadSynsetMap(map));
    }

    [Theory]
    [InlineData(new[] { "2", "x", "3" }, "truth.txt:2: expected one ILSVRC id (an integer) per line, got 'x'")]
    [InlineData(new[] { "2", "1 3", "3" }, "truth.txt:2: expected one ILSVRC id (an integer) per line, got '1 3'")]
    [InlineData(new[] { "2", "1", "4" }, "truth.txt:3: ILSVRC id 4 is out of range: |ILSVRC2012_mapping.txt maps ids 1..3 (3 synsets)")]
    [InlineData(new[] { "0", "1", "2" }, "truth.txt:1: ILSVRC id 0 is out of range")]
    [InlineData(new[] { "2", "", "1", "3" }, "truth.txt:2: blank line before line 3")]
    [InlineData(new[] { "2", "1" }, "truth.txt has 2 labels but")]
    [InlineData(new[] { "2", "1", "3", "3" }, "truth.txt has 4 labels but")]
    public void Read_DevkitGroundTruth_BadLinesNameFileAndLine(string[] lines, string expected)  // expected: parts joined by '|'
    {
        using var dir = new TempDir();
        var (val, map) = DevkitLayout(dir, 3);
        File.WriteAllLines(dir.File("truth.txt"), lines);
        var e = Assert.Throws<InvalidDataException>(() => ValidationLabels.Read(val, dir.File("truth.txt"), Synsets, map));
        foreach (var part in expected.Split('|')) Assert.Contains(part, e.Message);
        Assert.Contains(dir.File("truth.txt"), e.Message);
    }

    [Theory]
    [InlineData(new[] { "1 n03", "n01 2" }, "map.txt:2: expected 'ILSVRC2012_ID WNID' (e.g. '1 n02119789'), got 'n01 2'")]
    [InlineData(new[] { "1 n03", "2" }, "map.txt:2: expected 'ILSVRC2012_ID WNID'")]
    [InlineData(new[] { "1 n03", "# comment", "1 n01" }, "map.txt:3: ILSVRC id 1 again (first at line 1)")]
    [InlineData(new[] { "1 n03", "2 n09", "3 n02" }, "truth.txt:2: ILSVRC id 2 is n09 (")]
    [InlineData(new string[0], "map.txt: no 'ILSVRC2012_ID WNID' lines")]
    public void Read_DevkitGroundTruth_BadSynsetMapNamesFileAndLine(string[] mapLines, string expected)
    {
        using var dir = new TempDir();
        var (val, _) = DevkitLayout(dir, 3);
        File.WriteAllLines(dir.File("map.txt"), mapLines);
        File.WriteAllLines(dir.File("truth.txt"), ["1", "2", "3"]);
        var e = Assert.Throws<InvalidDataException>(() => ValidationLabels.Read(val, dir.File("truth.txt"), Synsets, dir.File("map.txt")));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Read_DevkitGroundTruth_MissingImageThatShiftsTheLinesIsRefused()
    {
        using var dir = new TempDir();
        var (val, map) = DevkitLayout(dir, 4);
        File.Delete(dir.File("val/ILSVRC2012_val_00000002.JPEG"));
        File.WriteAllBytes(dir.File("val/ILSVRC2012_val_00000005.JPEG"), DataFixtures.LabelledJpeg(5));
        File.WriteAllLines(dir.File("truth.txt"), ["2", "1", "3", "1"]);
        var e = Assert.Throws<InvalidDataException>(() => ValidationLabels.Read(val, dir.File("truth.txt"), Synsets, map));
        Assert.Contains("ILSVRC2012_val_00000003.JPEG is image 2 in file-name order but its name says 3", e.Message);
    }

    [Fact]
    public void Read_GroundTruthWithoutSynsetMap_SaysWhatIsMissing()
    {
        using var dir = new TempDir();
        var (val, _) = DevkitLayout(dir, 3);
        File.WriteAllLines(dir.File("truth.txt"), ["2", "1", "3"]);
        var e = Assert.Throws<InvalidDataException>(() => ValidationLabels.Read(val, dir.File("truth.txt"), Synsets));
        Assert.Contains("truth.txt:1: a bare ILSVRC id", e.Message);
        Assert.Contains("--synset-map", e.Message);
    }
}
