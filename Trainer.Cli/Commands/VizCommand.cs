using System.Globalization;
using CommandLine;
using Kiln.Core;
using Kiln.Nn;
using Kiln.Visualization;

namespace Kiln.Cli.Commands;

[Verb("viz", HelpText = "Seeing inside a network: kiln viz filters|deconv|occlusion|curves|stats (see --help).")]
public sealed class VizOptions : CommonOptions
{
    [Value(0, MetaName = "what", Required = true, HelpText = "filters, deconv, occlusion, curves or stats.")]
    public string What { get; set; } = "";

    [Value(1, MetaName = "run-dirs", HelpText = "curves: run directories, metrics.csv files, or sweep directories (every run below).")]
    public IEnumerable<string> RunDirs { get; set; } = [];

    [Option("checkpoint", HelpText = "Checkpoint directory (model.safetensors + state.json) or run directory (its best checkpoint).")]
    public string? Checkpoint { get; set; }

    [Option("model", HelpText = "Without --checkpoint: zoo network name or network file.")]
    public string? Model { get; set; }

    [Option("weights", HelpText = "With --model: a .safetensors file of the network's weights.")]
    public string? Weights { get; set; }

    [Option("param", HelpText = "With --model: a network parameter NAME=VALUE (e.g. classes=10); repeatable.")]
    public IEnumerable<string> Params { get; set; } = [];

    [Option("image-size", HelpText = "With --model: input height and width (default: the network's).")]
    public int? ImageSize { get; set; }

    [Option("mean", Default = "0.485,0.456,0.406", HelpText = "With --model: normalisation mean per channel, on [0, 1] pixels.")]
    public string Mean { get; set; } = "0.485,0.456,0.406";

    [Option("std", Default = "0.229,0.224,0.225", HelpText = "With --model: normalisation std per channel.")]
    public string Std { get; set; } = "0.229,0.224,0.225";

    [Option("layer", HelpText = "filters/deconv: layer name (e.g. conv1, features.0); deconv of a conv uses its ReLU's output.")]
    public string? Layer { get; set; }

    [Option("out", HelpText = "Output PNG (filters, occlusion, curves) or directory (deconv).")]
    public string? Out { get; set; }

    [Option("mode", Default = "auto", HelpText = "filters: auto, rgb, mean or per-channel.")]
    public string Mode { get; set; } = "auto";

    [Option("maps", HelpText = "deconv: feature maps to show, e.g. 0,5,17.")]
    public string? Maps { get; set; }

    [Option("top-maps", Default = 16, HelpText = "deconv without --maps: the maps with the strongest activations.")]
    public int TopMaps { get; set; } = 16;

    [Option("images", HelpText = "deconv/stats: shard spec, class-folder tree or folder of images.")]
    public string? Images { get; set; }

    [Option("limit", Default = 200, HelpText = "deconv/stats: at most this many images.")]
    public int Limit { get; set; } = 200;

    [Option("top", Default = 9, HelpText = "deconv: strongest activations (images) per map.")]
    public int Top { get; set; } = 9;

    [Option("image", HelpText = "occlusion: the image file (or a shard spec or folder: its first image).")]
    public string? Image { get; set; }

    [Option("class", HelpText = "occlusion: class whose probability is mapped (default: the image's label if it comes from shards or a class folder, else the top class).")]
    public int? Class { get; set; }

    [Option("patch", Default = 32, HelpText = "occlusion: grey square side, in input pixels.")]
    public int Patch { get; set; } = 32;

    [Option("stride", Default = 8, HelpText = "occlusion: step between square positions.")]
    public int Stride { get; set; } = 8;

    [Option("x-axis", Default = "epochs", HelpText = "curves: x axis, epochs, images or steps.")]
    public string X { get; set; } = "epochs";
}

/// <summary><c>kiln viz</c>: filter grids, deconvnet projections, occlusion maps, training curves, layer statistics.</summary>
public static class VizCommand
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Run(VizOptions o, TextWriter stdout)
    {
        o.Apply();
        switch (o.What.ToLowerInvariant())
        {
            case "curves": return Curves(o, stdout);
            case "filters": return Filters(o, stdout);
            case "deconv": return Deconv(o, stdout);
            case "occlusion": return Occlusion(o, stdout);
            case "stats": return Stats(o, stdout);
            default: throw new ArgumentException($"kiln viz '{o.What}': expected filters, deconv, occlusion, curves or stats");
        }
    }

    private static int Curves(VizOptions o, TextWriter stdout)
    {
        var dirs = o.RunDirs.ToList();
        if (dirs.Count == 0) throw new ArgumentException("kiln viz curves: give one or more run directories");
        var axis = o.X.ToLowerInvariant() switch
        {
            "epochs" or "epoch" => CurveAxis.Epochs,
            "images" => CurveAxis.Images,
            "steps" or "step" => CurveAxis.Steps,
            _ => throw new ArgumentException($"--x-axis '{o.X}': expected epochs, images or steps"),
        };
        var runs = dirs.SelectMany(RunMetrics.ReadRuns).ToList();
        string outPath = o.Out ?? (dirs.Count == 1 && Directory.Exists(dirs[0]) ? Path.Combine(dirs[0], "curves.png") : "curves.png"); // a sweep's beside its runs
        TrainingCurves.Save(runs, outPath, axis);
        stdout.WriteLine($"wrote {outPath} ({string.Join(", ", runs.Select(r => $"{r.Name}: {r.Rows} rows"))})");
        return 0;
    }

    private static int Filters(VizOptions o, TextWriter stdout)
    {
        using var model = VizInputs.LoadModel(o);
        string layer = o.Layer ?? FeatureStack.From(model.Net).Layers.First(l => l.Kind == FeatureLayerKind.Conv).Name;
        if (FeatureStack.FindModule(model.Net, layer) is not Nn.Conv2d conv)
            throw new ArgumentException($"--layer '{layer}' is not a convolution");
        var mode = o.Mode.Replace("-", "").ToLowerInvariant() switch
        {
            "auto" => FilterGridMode.Auto,
            "rgb" => FilterGridMode.Rgb,
            "mean" => FilterGridMode.Mean,
            "perchannel" => FilterGridMode.PerChannel,
            _ => throw new ArgumentException($"--mode '{o.Mode}': expected auto, rgb, mean or per-channel"),
        };
        string outPath = o.Out ?? $"filters-{layer}.png";
        var image = FilterGrid.Save(conv.Weight.Value, outPath, new FilterGridOptions { Mode = mode, InputOrder = model.Transform.Normalization.Order });
        stdout.WriteLine($"wrote {outPath} ({image.Width}x{image.Height}): {conv.Weight.Value.ShapeString()} filters of {layer} from {model.Source}");
        return 0;
    }

    private static int Deconv(VizOptions o, TextWriter stdout)
    {
        using var model = VizInputs.LoadModel(o);
        var stack = FeatureStack.From(model.Net);
        string layerName = o.Layer ?? throw new ArgumentException("kiln viz deconv: --layer is required (e.g. conv5)");
        int layer = stack.OutputIndexOf(layerName);
        var images = VizInputs.LoadImages(o.Images ?? throw new ArgumentException("kiln viz deconv: --images is required"), model.Transform, o.Limit);
        var chw = model.InputShape;
        int maps;
        using (TensorScope.Begin()) maps = stack.Forward(VizInputs.Batch(images, 0, 1, chw), layer).Size(1);
        var requested = o.Maps is { } m ? m.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, Inv)).ToList() : null;
        var candidates = requested ?? Enumerable.Range(0, maps).ToList();
        var best = new Dictionary<int, List<Activation>>();
        const int batchSize = 16;
        for (int first = 0; first < images.Count; first += batchSize)
        {
            using var scope = TensorScope.Begin();
            int n = Math.Min(batchSize, images.Count - first);
            var act = stack.Forward(VizInputs.Batch(images, first, n, chw), layer);
            Deconvnet.CollectTop(act, candidates, o.Top, first, best);
        }
        var chosen = requested ?? best.OrderByDescending(kv => kv.Value[0].Value).Take(o.TopMaps).Select(kv => kv.Key).Order().ToList();
        string dir = o.Out ?? $"deconv-{layerName}";
        Directory.CreateDirectory(dir);
        stdout.WriteLine($"{layerName} (output of {stack.Layers[layer].Name}): {maps} maps, {images.Count} images; projecting {chosen.Count} maps x {o.Top} activations");
        foreach (int map in chosen)
        {
            var items = new List<DeconvFigure.Item>();
            foreach (var a in best[map])
            {
                using var scope = TensorScope.Begin();
                var img = VizInputs.Batch(images, a.Image, 1, chw);
                var projection = Deconvnet.Project(stack, layer, img, map, a.Y, a.X).ToArray<float>();
                var box = Deconvnet.ReceptiveField(stack, layer, a.Y, a.X, chw[1], chw[2]);
                var field = Deconvnet.ReceptiveField(stack, layer, a.Y, a.X, chw[1], chw[2], clip: false);
                items.Add(new DeconvFigure.Item(projection, images[a.Image].Pixels, chw[0], chw[1], chw[2], box, field));
            }
            string path = Path.Combine(dir, $"{layerName}-map{map:D4}.png");
            DeconvFigure.Render(items, model.Transform.Normalization).SavePng(path);
            stdout.WriteLine(string.Create(Inv, $"  map {map}: {path}; strongest {string.Join(" ", best[map].Select(a => $"{a.Value:G3}@{images[a.Image].Name}({a.Y},{a.X})"))}"));
        }
        return 0;
    }

    private static int Occlusion(VizOptions o, TextWriter stdout)
    {
        using var model = VizInputs.LoadModel(o);
        var image = VizInputs.LoadImages(o.Image ?? throw new ArgumentException("kiln viz occlusion: --image is required"), model.Transform, 1)[0];
        var chw = model.InputShape;
        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(image.Pixels, chw);
        // Default class: the image's label when it has one (an image from shards or a class folder), else the top class.
        var map = OcclusionMap.Compute(model.Net, x, o.Patch, o.Stride, o.Class ?? (image.Label >= 0 ? image.Label : null));
        string heatPath = o.Out ?? "occlusion.png";
        string classPath = Path.Combine(Path.GetDirectoryName(heatPath) ?? "", Path.GetFileNameWithoutExtension(heatPath) + "-classes.png");
        int scale = Math.Max(1, 224 / chw[1]);
        map.RenderHeatMap(image.Pixels, chw[0], chw[1], chw[2], model.Transform.Normalization, scale).SavePng(heatPath);
        map.RenderClassMap(image.Pixels, chw[0], chw[1], chw[2], model.Transform.Normalization, scale).SavePng(classPath);
        int argmin = Array.IndexOf(map.Probability, map.Probability.Min());
        var classes = map.TopClass.GroupBy(c => c).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} ({100.0 * g.Count() / map.TopClass.Length:F0}%)");
        stdout.WriteLine(string.Create(Inv, $"class {map.TargetClass}: p = {map.BaseProbability:F4} unoccluded, lowest {map.Probability[argmin]:F4} with the square at ({map.RowOffsets[argmin / map.Cols]}, {map.ColOffsets[argmin % map.Cols]}); {map.Rows}x{map.Cols} positions"));
        stdout.WriteLine($"most probable class per position: {string.Join(", ", classes.Take(8))}");
        stdout.WriteLine($"wrote {heatPath} and {classPath}");
        return 0;
    }

    private static int Stats(VizOptions o, TextWriter stdout)
    {
        using var model = VizInputs.LoadModel(o);
        var stack = FeatureStack.From(model.Net);
        var images = VizInputs.LoadImages(o.Images ?? throw new ArgumentException("kiln viz stats: --images is required"), model.Transform, o.Limit);
        var chw = model.InputShape;
        using var scope = TensorScope.Begin(); // owns the batches made below
        const int batchSize = 16;
        var batches = new List<(int First, int Count)>();
        for (int first = 0; first < images.Count; first += batchSize) batches.Add((first, Math.Min(batchSize, images.Count - first)));
        bool labelled = images.All(i => i.Label >= 0);
        if (labelled)
            LayerStats.AccumulateGradients(model.Net, batches.Select(b => (VizInputs.Batch(images, b.First, b.Count, chw),
                Tensor.FromArray(images.Skip(b.First).Take(b.Count).Select(i => i.Label).ToArray(), [b.Count]))));
        var rows = LayerStats.Compute(stack, batches.Select(b => VizInputs.Batch(images, b.First, b.Count, chw)));
        var extra = LayerStats.ParameterRows(model.Net, stack);
        stdout.WriteLine($"{model.Source}: {images.Count} images{(labelled ? ", gradients of the cross-entropy loss" : ", no labels: no gradients")}");
        stdout.Write(LayerStats.FormatTable(rows.Concat(extra)));
        model.Net.ZeroGrad();
        return 0;
    }
}
