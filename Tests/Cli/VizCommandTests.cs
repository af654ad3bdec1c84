using Kiln.Cli;
using Kiln.Tests.Visualization;
using Kiln.Visualization;

namespace Kiln.Tests.Cli;

/// <summary>
/// <c>kiln viz</c> end to end on a real smoke run: generated shapes packed into shards, one epoch of
/// the zoo's tiny network with <c>kiln train</c>, then every viz verb on its run directory.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class VizCommandTests
{
    private static (int Code, string Out, string Err) Kiln(params string[] args) => KilnCli.Run(args);

    private static string ConfigPath([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "configs", "tiny-shapes-cpu.yaml"));

    private static int FirstLabel(string shard) => new Kiln.Data.ShardReader(shard).ReadSamples().First().Label;

    [Fact]
    public void Viz_OnASmokeRun_EveryVerbWritesItsPictures()
    {
        string root = VizFixtures.TempDir();
        try
        {
            string data = Path.Combine(root, "data");
            Assert.Equal(0, Kiln("pack", "shapes", "--out", data, "--count", "64", "--shard-size", "64", "--prefix", "train").Code);
            Assert.Equal(0, Kiln("pack", "shapes", "--out", data, "--count", "32", "--first", "1000000", "--prefix", "val").Code);
            string run = Path.Combine(root, "run");
            var train = Kiln("train", ConfigPath(), "--set", $"data.train={data}/train-000000.tar", "--set", $"data.val={data}/val-000000.tar",
                "--set", $"training.run_dir={run}", "--set", "training.epochs=2", "--set", "training.checkpoint_every_steps=100");
            Assert.True(train.Code == 0, train.Out + train.Err);

            // The trainer draws curves.png at each evaluation.
            using (VizFixtures.AssertPng(Path.Combine(run, "curves.png"), 3 * TrainingCurves.PanelWidth, TrainingCurves.PanelHeight)) { }

            // Curves from the trainer's metrics.csv.
            var metrics = RunMetrics.Read(run);
            Assert.Equal(2, metrics.Rows);
            Assert.True(metrics.Has("val_top1_err") && metrics.Has("val_loss") && metrics.Has("train_loss"));
            Assert.InRange(metrics["val_top1_err"][1], 0, 1);
            var curves = Kiln("viz", "curves", run, run, "--out", Path.Combine(root, "curves.png"), "--x-axis", "images");
            Assert.True(curves.Code == 0, curves.Err);
            using (VizFixtures.AssertPng(Path.Combine(root, "curves.png"), 3 * TrainingCurves.PanelWidth, TrainingCurves.PanelHeight)) { }

            var filters = Kiln("viz", "filters", "--checkpoint", run, "--layer", "stem.conv", "--out", Path.Combine(root, "filters.png"));
            Assert.True(filters.Code == 0, filters.Err);
            using (VizFixtures.AssertPng(Path.Combine(root, "filters.png"), 2 + 3 * (42 + 2), 2 + 3 * (42 + 2))) { } // 8 filters 3x3, cells 42

            var deconv = Kiln("viz", "deconv", "--checkpoint", run, "--layer", "stem.conv", "--maps", "1,3", "--top", "4",
                "--images", $"{data}/val-000000.tar", "--out", Path.Combine(root, "deconv"));
            Assert.True(deconv.Code == 0, deconv.Err);
            Assert.Contains("(output of stem.relu_0)", deconv.Out);
            // 4 activations: 2x2 cells of the 3x3 receptive field enlarged to 66 pixels, two blocks and a divider.
            int block = 2 * (66 + 2) + 2;
            using (VizFixtures.AssertPng(Path.Combine(root, "deconv", "stem.conv-map0003.png"), 2 * block + 3 * 2 + 4, block)) { }

            var occlusion = Kiln("viz", "occlusion", "--checkpoint", run, "--image", $"{data}/val-000000.tar", "--patch", "4", "--stride", "2",
                "--out", Path.Combine(root, "occ.png"));
            Assert.True(occlusion.Code == 0, occlusion.Err);
            Assert.Contains($"class {FirstLabel($"{data}/val-000000.tar")}:", occlusion.Out); // the true class by default
            using (VizFixtures.AssertPng(Path.Combine(root, "occ.png"), 2 * 16 * 14 + 4, 16 * 14)) { }
            using (VizFixtures.AssertPng(Path.Combine(root, "occ-classes.png"), 2 * 16 * 14 + 4, 16 * 14)) { }

            var stats = Kiln("viz", "stats", "--checkpoint", run, "--images", $"{data}/val-000000.tar", "--limit", "16");
            Assert.True(stats.Code == 0, stats.Err);
            Assert.Contains("stem.conv", stats.Out);
            Assert.Contains("dead %", stats.Out);
            Assert.Contains("gradients of the cross-entropy loss", stats.Out);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }
}
