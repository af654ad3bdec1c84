using System.Globalization;
using System.Text;
using CommandLine;
using Kiln.Backends.Cuda;
using Kiln.Cli.Training;
using Kiln.Config;
using Kiln.Core;
using Kiln.Data;
using Kiln.Models;
using Kiln.Serialization;
using Kiln.Training;

namespace Kiln.Cli.Commands;

[Verb("eval", HelpText = "Top-1/top-5 error of a checkpoint (or an ensemble) on validation shards: kiln eval --checkpoint CKPT --data VAL [--protocol center|ten-crop|multi-scale|dense] [--scales 256,384,512] [--ensemble CKPT2 ...].")]
public sealed class EvalOptions : CommonOptions
{
    [Option("checkpoint", Required = true, HelpText = "A checkpoint directory, or a run directory (its best checkpoint, else the newest valid one).")]
    public string Checkpoint { get; set; } = "";

    [Option("data", Required = true, HelpText = "Validation shard spec.")]
    public string Data { get; set; } = "";

    [Option("protocol", Default = "center", HelpText = "center (one crop); ten-crop (4 corners + centre, and their mirror images); multi-scale (at each scale Q the centre crop and its mirror image); " +
        "dense (the whole image at each scale Q and its mirror image, fully connected layers run as convolutions, score map averaged). Softmax outputs are averaged over views.")]
    public string Protocol { get; set; } = "center";

    [Option("scales", HelpText = "Shorter sides Q for multi-scale and dense, comma-separated, e.g. 256,384,512 (default: the run's training.eval_scales, else VGG's choice from its training scale).")]
    public string? Scales { get; set; }

    [Option("ensemble", HelpText = "More checkpoints; members' softmax outputs are averaged.")]
    public IEnumerable<string> Ensemble { get; set; } = [];

    [Option("batch-size", HelpText = "Images per batch (default: the run's data.batch_size). Any size counts every image exactly once.")]
    public int? BatchSize { get; set; }

    [Option("workers", HelpText = "Decode threads (default: the run's data.workers).")]
    public int? Workers { get; set; }

    [Option("device", HelpText = "cpu or cuda[:N] (default: the run's training.device).")]
    public string? Device { get; set; }

    [Option("json", HelpText = "Write the result as JSON to this file ('-' for standard output).")]
    public string? Json { get; set; }

    [Option("details", HelpText = "Also per-class accuracy and the most confused pairs.")]
    public bool Details { get; set; }
}

/// <summary><c>kiln eval</c>: the papers' table (model, protocol, top-1, top-5) for one checkpoint or an ensemble.</summary>
public static class EvalCommand
{
    public static int Run(EvalOptions o, TextWriter stdout)
    {
        o.Apply();
        var protocol = o.Protocol.Replace("-", "_").ToLowerInvariant() switch
        {
            "center" or "centre" or "1crop" => EvalProtocol.Center,
            "ten_crop" or "tencrop" or "10crop" => EvalProtocol.TenCrop,
            "multi_scale" or "multiscale" => EvalProtocol.MultiScale,
            "dense" => EvalProtocol.Dense,
            _ => throw new RunStopException(ExitCodes.ConfigError, $"--protocol '{o.Protocol}': expected center, ten-crop, multi-scale or dense"),
        };
        int[]? scales = o.Scales is null ? null : ParseScales(o.Scales, protocol);
        var paths = new[] { o.Checkpoint }.Concat(o.Ensemble).Select(ResolveCheckpoint).ToList();
        var members = new List<(string Path, RunConfig Config, Network Net)>();
        try
        {
            foreach (var path in paths)
            {
                var state = CheckpointStore.Verify(path);
                if (!state.IsValid) throw new RunStopException(ExitCodes.CheckpointError, $"checkpoint '{path}' failed verification: {state.Problem}");
                var config = RunConfigLoader.Parse(state.State!.Config, Path.Combine(path, CheckpointStore.StateFile));
                var net = RunBuilder.BuildModel(config);
                ModelWeights.Load(net, Path.Combine(path, "model.safetensors"), strict: true);
                net.Eval();
                members.Add((path, config, net));
            }
            var first = members[0].Config;
            foreach (var m in members.Skip(1))
                if (m.Config.Data.ImageSize != first.Data.ImageSize || m.Config.Model.NumClasses != first.Model.NumClasses
                    || !m.Config.Data.Normalize.Mean.SequenceEqual(first.Data.Normalize.Mean) || !m.Config.Data.Normalize.Std.SequenceEqual(first.Data.Normalize.Std))
                    throw new ArgumentException($"ensemble member '{m.Path}' differs from '{members[0].Path}' in image size, classes or normalisation; members must share an input pipeline");
            var config0 = o.Workers is int w ? first with { Data = first.Data with { Workers = w } } : first;
            if (scales is not null && scales.Min() < first.Data.ImageSize)
                throw new RunStopException(ExitCodes.ConfigError, $"--scales: {scales.Min()} is smaller than the network's input size {first.Data.ImageSize} (data.image_size); each scale must be at least that");
            var device = Kiln.Core.Device.Parse(o.Device ?? first.Training.Device);
            var loader = new DataLoader(RunBuilder.EvalLoader(config0, o.Data, members[0].Net.Plan.InputShape[0], protocol, o.BatchSize, scales: scales, device: device));
            var evaluator = new Evaluator(first.Model.NumClasses);
            if (!device.Equals(Kiln.Core.Device.Cpu))
                foreach (var m in members) m.Net.To(device);
            var cuda = Backend.For(device) as CudaBackend;
            int knownAlgorithms = cuda is null ? 0 : ReuseConvAlgorithms(cuda, first.Training.Cuda, paths, Console.Error);
            var models = members.Select(m => protocol == EvalProtocol.Dense ? (Func<Tensor, Tensor>)m.Net.ForwardDense : m.Net.Forward).ToList();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            foreach (var batch in loader.ReadEpoch(0))
                using (batch) evaluator.Add(batch, models, device);
            var r = evaluator.Result();
            if (cuda is not null)
                Console.Error.WriteLine($"kiln eval: cuDNN: {cuda.DescribeConvAlgorithms().Count - knownAlgorithms} convolution algorithm(s) searched during evaluation");
            string name = members.Count == 1
                ? $"{members[0].Net.Plan.Name} ({Path.GetFileName(members[0].Path)})"
                : $"ensemble of {members.Count} ({string.Join(", ", members.Select(m => m.Net.Plan.Name))})";
            string protocolName = protocol switch
            {
                EvalProtocol.TenCrop => "10crop",
                EvalProtocol.MultiScale => $"multi-scale Q={string.Join(",", loader.Options.Transform.Scales)}",
                EvalProtocol.Dense => $"dense Q={string.Join(",", loader.Options.Transform.Scales)}",
                _ => "1crop",
            };
            stdout.WriteLine("| model | protocol | images | top-1 err (%) | top-5 err (%) |");
            stdout.WriteLine("|---|---|---:|---:|---:|");
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {protocolName} | {r.Count} | {100 * r.Top1Error:F2} | {100 * r.Top5Error:F2} |"));
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"({r.Top1Correct} top-1 and {r.Top5Correct} top-5 correct of {r.Count}; {clock.Elapsed.TotalSeconds:F1} s)"));
            if (o.Details) WriteDetails(stdout, r);
            if (o.Json is { } json)
            {
                string text = Json(name, protocolName, paths, r);
                if (json == "-") stdout.WriteLine(text);
                else AtomicFile.Write(json, s => s.Write(Encoding.UTF8.GetBytes(text)));
            }
            return 0;
        }
        finally
        {
            foreach (var m in members) m.Net.Dispose();
        }
    }

    /// <summary>
    /// On CUDA, as <c>kiln train</c> does: the run's training.cuda policy (the first member's; it is part of every algorithm
    /// key, and it is the numerics the run was validated with), then the algorithm choices each member's run saved
    /// (<c>cudnn-algorithms.txt</c> beside <c>checkpoints/</c>), so shapes the run met are not searched again. A checkpoint
    /// outside a run directory, or a run without the file, is no error: those algorithms are searched. Returns how many
    /// choices the backend holds before evaluating.
    /// </summary>
    internal static int ReuseConvAlgorithms(CudaBackend cuda, CudaConfig policy, IEnumerable<string> checkpoints, TextWriter log)
    {
        CudaRunFiles.Configure(cuda, policy);
        foreach (string file in CudaRunFiles.AlgorithmFilesFor(checkpoints))
        {
            try
            {
                int reused = cuda.LoadConvAlgorithms(file);
                log.WriteLine($"kiln eval: cuDNN: reused {reused} algorithm choice(s) from {file}");
            }
            catch (FormatException e)
            {
                log.WriteLine($"kiln eval: ignoring {file}: {e.Message}; the algorithms will be searched");
            }
        }
        return cuda.DescribeConvAlgorithms().Count;
    }

    /// <summary>--scales: comma-separated shorter sides, for multi-scale and dense only.</summary>
    internal static int[] ParseScales(string text, EvalProtocol protocol)
    {
        if (protocol is not (EvalProtocol.MultiScale or EvalProtocol.Dense))
            throw new RunStopException(ExitCodes.ConfigError, $"--scales applies to --protocol multi-scale or dense, not {protocol}");
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var scales = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out scales[i]) || scales[i] is < 1 or > 4096)
                throw new RunStopException(ExitCodes.ConfigError, $"--scales '{text}': '{parts[i]}' is not a shorter side in pixels (1 to 4096); expected e.g. 256,384,512");
        if (scales.Length > 8) throw new RunStopException(ExitCodes.ConfigError, $"--scales '{text}': at most 8 scales, got {scales.Length}");
        if (scales.Distinct().Count() != scales.Length) throw new RunStopException(ExitCodes.ConfigError, $"--scales '{text}': a scale repeats");
        return scales;
    }

    /// <summary>A checkpoint directory as given, or for a run directory its best checkpoint, else its newest valid one.</summary>
    public static string ResolveCheckpoint(string path)
    {
        string full = Path.GetFullPath(path);
        if (File.Exists(Path.Combine(full, CheckpointStore.StateFile))) return full;
        var store = new CheckpointStore(Path.Combine(full, "checkpoints"));
        if (store.Best is { } best && CheckpointStore.Verify(best).IsValid) return best;
        return store.VerifyAll().FirstOrDefault(c => c.IsValid)?.Path
            ?? throw new RunStopException(ExitCodes.CheckpointError, $"'{path}' is neither a checkpoint directory nor a run directory with a valid checkpoint");
    }

    private static void WriteDetails(TextWriter w, EvalResult r)
    {
        w.WriteLine();
        w.WriteLine("| class | images | top-1 acc (%) |");
        w.WriteLine("|---:|---:|---:|");
        for (int c = 0; c < r.PerClassTotal.Length; c++)
            if (r.PerClassTotal[c] > 0)
                w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {c} | {r.PerClassTotal[c]} | {100.0 * r.PerClassCorrect[c] / r.PerClassTotal[c]:F2} |"));
        w.WriteLine();
        w.WriteLine("| true | predicted | count |");
        w.WriteLine("|---:|---:|---:|");
        foreach (var (t, p, n) in r.MostConfused(10)) w.WriteLine($"| {t} | {p} | {n} |");
    }

    private static string Json(string name, string protocol, List<string> paths, EvalResult r)
    {
        var obj = new Dictionary<string, object?>
        {
            ["model"] = name,
            ["protocol"] = protocol,
            ["checkpoints"] = paths,
            ["images"] = r.Count,
            ["top1_correct"] = r.Top1Correct,
            ["top5_correct"] = r.Top5Correct,
            ["top1_error"] = r.Top1Error,
            ["top5_error"] = r.Top5Error,
            ["loss"] = r.Loss,
            ["per_class_total"] = r.PerClassTotal,
            ["per_class_correct"] = r.PerClassCorrect,
        };
        return System.Text.Json.JsonSerializer.Serialize(obj, new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }
}
