using Kiln.Visualization;

namespace Kiln.Tests.Visualization;

public sealed class TrainingCurvesTests
{
    private const string Csv = """
        epoch,step,images,lr,train_loss,val_loss,val_top1_err,val_top5_err
        0.5,10,640,0.1,2.10,,,
        1,20,1280,0.1,1.80,1.90,0.62,0.21
        1.5,30,1920,0.1,1.50,,,
        2,40,2560,0.1,1.30,1.45,0.48,0.15
        3,60,3840,0.01,1.00,1.20,0.40,0.11
        """;

    [Fact]
    public void Read_CsvRunDir_ColumnsByNameAndMissingCells()
    {
        string dir = VizFixtures.TempDir();
        try
        {
            File.WriteAllText(Path.Combine(dir, "metrics.csv"), Csv);
            var run = RunMetrics.Read(dir);
            Assert.Equal(Path.GetFileName(dir), run.Name);
            Assert.Equal(5, run.Rows);
            Assert.Equal([0.5, 1, 1.5, 2, 3], run["epoch"]);
            Assert.True(double.IsNaN(run["val_loss"][0]));
            Assert.Equal(0.40, run["val_top1_err"][4]);
            Assert.False(run.Has("train_top1_err"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Read_JsonLines_AccuracyBecomesError()
    {
        var run = RunMetrics.FromJsonLines("r", ["{\"epoch\": 1, \"val_top1_acc\": 0.75, \"split\": \"val\"}", "{\"epoch\": 2, \"train_loss\": 0.5}"]);
        Assert.Equal(0.25, run["val_top1_err"][0], 12);
        Assert.True(double.IsNaN(run["val_top1_err"][1]));
    }

    [Fact]
    public void WriteForRun_TwoRunsOverlaid_PngOfThreePanels()
    {
        string root = VizFixtures.TempDir();
        try
        {
            var a = Path.Combine(root, "lr0.1");
            var b = Path.Combine(root, "lr0.01");
            Directory.CreateDirectory(a);
            Directory.CreateDirectory(b);
            File.WriteAllText(Path.Combine(a, "metrics.csv"), Csv);
            File.WriteAllText(Path.Combine(b, "metrics.csv"), Csv.Replace(",1.", ",2."));
            Assert.Equal(["lr0.01", "lr0.1"], RunMetrics.ReadRuns(root).Select(r => r.Name)); // a sweep directory
            Assert.Equal(["lr0.1"], RunMetrics.ReadRuns(a).Select(r => r.Name));
            string? path = TrainingCurves.WriteForRun(a);
            Assert.Equal(Path.Combine(a, "curves.png"), path);
            using (VizFixtures.AssertPng(path!, 3 * TrainingCurves.PanelWidth, TrainingCurves.PanelHeight)) { }
            string both = Path.Combine(root, "both.png");
            TrainingCurves.Save([RunMetrics.Read(a), RunMetrics.Read(b)], both, CurveAxis.Images);
            using var png = VizFixtures.AssertPng(both, 3 * TrainingCurves.PanelWidth, TrainingCurves.PanelHeight);
            var colours = new HashSet<uint>();
            for (int y = 0; y < png.Height; y += 3)
                for (int x = 0; x < png.Width; x += 3) colours.Add((uint)png.GetPixel(x, y));
            Assert.True(colours.Count > 20, $"the plot looks blank ({colours.Count} colours)");
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }
}
