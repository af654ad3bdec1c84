using CommandLine;

namespace Kiln.Cli.Commands;

[Verb("bench", HelpText = "Measure kernels and models: bench gemm | conv2d | model.")]
public sealed class BenchOptions : CommonOptions
{
    [Value(0, MetaName = "target", Required = true, HelpText = "What to measure: gemm, conv2d, data.")]
    public string Target { get; set; } = "";

    [Option("shards", HelpText = "data: shard spec to read.")]
    public string? Shards { get; set; }

    [Option("workers", HelpText = "data: decode threads (default: all cores).")]
    public int? Workers { get; set; }

    [Option("augment", HelpText = "data: train (random-resized-crop 224 + flip), eval (256 + centre 224) or tencrop.")]
    public string? Augment { get; set; }

    [Option("images", Default = 500, HelpText = "data: images to time per stage.")]
    public int Images { get; set; }
}

/// <summary><c>kiln bench</c>: warm-up, then the median of repeated runs.</summary>
public static class BenchCommand
{
    public static int Run(BenchOptions o)
    {
        o.Apply();
        if (o.Target == "data") return DataBenchCommand.Run(o);
        throw new ArgumentException($"unknown bench target '{o.Target}'; expected gemm or conv2d");
    }
}
