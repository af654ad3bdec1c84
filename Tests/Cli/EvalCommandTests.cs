using System.Text.Json;
using Kiln.Tests.Visualization;
using Kiln.Visualization;

namespace Kiln.Tests.Cli;

/// <summary>
/// <c>kiln eval --protocol multi-scale|dense</c> end to end: generated shapes packed into shards, one epoch of the
/// zoo's tiny network (global average pooling, then fc) validated with the dense protocol, then <c>kiln eval</c>.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class EvalCommandTests
{
    private static (int Code, string Out, string Err) Kiln(params string[] args) => KilnCli.Run(args);

    private static string ConfigPath([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "configs", "tiny-shapes-cpu.yaml"));

    private static JsonElement Eval(string run, string val, string json, params string[] extra)
    {
        var r = Kiln(["eval", "--checkpoint", run, "--data", val, "--json", json, .. extra]);
        Assert.True(r.Code == 0, r.Out + r.Err);
        var result = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.Equal(32, result.GetProperty("images").GetInt64());
        Assert.Equal(32, result.GetProperty("per_class_total").EnumerateArray().Sum(e => e.GetInt64()));
        Assert.Contains($"| {result.GetProperty("protocol").GetString()} | 32 |", r.Out);
        return result;
    }

    [Fact]
    public void Eval_MultiScaleAndDense_OnATinyRun()
    {
        string root = VizFixtures.TempDir();
        try
        {
            string data = Path.Combine(root, "data");
            Assert.Equal(0, Kiln("pack", "shapes", "--out", data, "--count", "64", "--shard-size", "64", "--prefix", "train").Code);
            Assert.Equal(0, Kiln("pack", "shapes", "--out", data, "--count", "32", "--first", "1000000", "--prefix", "val").Code);
            string val = $"{data}/val-000000.tar", run = Path.Combine(root, "run");
            var train = Kiln("train", ConfigPath(), "--set", $"data.train={data}/train-000000.tar", "--set", $"data.val={val}",
                "--set", $"training.run_dir={run}", "--set", "training.epochs=1", "--set", "training.checkpoint_every_steps=100",
                "--set", "training.eval_protocol=dense", "--set", "training.eval_scales=[16, 24]");
            Assert.True(train.Code == 0, train.Out + train.Err);
            var metrics = RunMetrics.Read(run);
            Assert.Equal(1, metrics.Rows);

            // The run's own validation (dense, Q = 16 and 24 from its config) and kiln eval on its checkpoint agree.
            var dense = Eval(run, val, Path.Combine(root, "dense.json"), "--protocol", "dense", "--batch-size", "5");
            Assert.Equal("dense Q=16,24", dense.GetProperty("protocol").GetString());
            Assert.Equal(metrics["val_top1_err"][0], dense.GetProperty("top1_error").GetDouble(), 1e-4);

            // On these 16x16 images at Q = 16 both protocols see the same two views, the whole image and its mirror
            // image: multi-scale through the linear head, dense through it as a 1x1 convolution.
            var multi16 = Eval(run, val, Path.Combine(root, "multi16.json"), "--protocol", "multi-scale", "--scales", "16");
            var dense16 = Eval(run, val, Path.Combine(root, "dense16.json"), "--protocol", "dense", "--scales", "16");
            Assert.Equal("multi-scale Q=16", multi16.GetProperty("protocol").GetString());
            Assert.Equal(multi16.GetProperty("top1_correct").GetInt64(), dense16.GetProperty("top1_correct").GetInt64());
            Assert.Equal(multi16.GetProperty("top5_correct").GetInt64(), dense16.GetProperty("top5_correct").GetInt64());
            Assert.Equal(multi16.GetProperty("loss").GetDouble(), dense16.GetProperty("loss").GetDouble(), 1e-4);
            // ... and not the centre crop alone: the mirror images count.
            var center = Eval(run, val, Path.Combine(root, "center.json"));
            Assert.NotEqual(center.GetProperty("loss").GetDouble(), multi16.GetProperty("loss").GetDouble(), 1e-6);

            var multi = Eval(run, val, Path.Combine(root, "multi.json"), "--protocol", "multi-scale", "--scales", "16,20,28");
            Assert.Equal("multi-scale Q=16,20,28", multi.GetProperty("protocol").GetString());
            Assert.NotEqual(multi16.GetProperty("loss").GetDouble(), multi.GetProperty("loss").GetDouble(), 1e-6);

            var small = Kiln("eval", "--checkpoint", run, "--data", val, "--protocol", "dense", "--scales", "12,16");
            Assert.Equal(2, small.Code);
            Assert.Contains("--scales: 12 is smaller than the network's input size 16", small.Err);
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    [Theory]
    [InlineData("fancy", null, "--protocol 'fancy': expected center, ten-crop, multi-scale or dense")]
    [InlineData("dense", "16,x", "--scales '16,x': 'x' is not a shorter side in pixels (1 to 4096)")]
    [InlineData("multi-scale", "0", "--scales '0': '0' is not a shorter side in pixels")]
    [InlineData("multi-scale", "256,256", "--scales '256,256': a scale repeats")]
    [InlineData("center", "256", "--scales applies to --protocol multi-scale or dense, not Center")]
    public void Eval_BadProtocolOrScales_ExitTwoNamingTheOption(string protocol, string? scales, string message)
    {
        string[] args = ["eval", "--checkpoint", "no-such-run", "--data", "no-such-shards", "--protocol", protocol];
        var r = Kiln(scales is null ? args : [.. args, "--scales", scales]);
        Assert.Equal(2, r.Code);
        Assert.Contains(message, r.Err);
    }
}
