using Kiln.Cli.Training;
using Kiln.Config;
using Kiln.Core;
using Kiln.Data;
using Kiln.Models;
using Kiln.Nn;
using Kiln.Serialization;
using Kiln.Training;

namespace Kiln.Cli.Commands;

/// <summary>A model ready for <c>kiln viz</c>: the network in evaluation mode and how its inputs are made.</summary>
internal sealed class VizModel(Network net, TransformOptions transform, string source) : IDisposable
{
    public Network Net { get; } = net;
    public TransformOptions Transform { get; } = transform;
    public string Source { get; } = source;
    public int[] InputShape => Net.Plan.InputShape;
    public void Dispose() => Net.Dispose();
}

/// <summary>Loading models and images for <c>kiln viz</c>.</summary>
internal static class VizInputs
{
    /// <summary>
    /// From a checkpoint (directory with model.safetensors and state.json, or a run directory: its best
    /// checkpoint, else the newest valid one), or from <c>--model NAME --weights FILE</c>.
    /// </summary>
    public static VizModel LoadModel(VizOptions o)
    {
        if (o.Checkpoint is { } ckpt)
        {
            string path = EvalCommand.ResolveCheckpoint(ckpt);
            var info = CheckpointStore.Verify(path);
            if (!info.IsValid) throw new RunStopException(ExitCodes.CheckpointError, $"checkpoint '{path}' failed verification: {info.Problem}");
            var config = RunConfigLoader.Parse(info.State!.Config, Path.Combine(path, CheckpointStore.StateFile));
            var net = RunBuilder.BuildModel(config);
            try
            {
                ModelWeights.Load(net, Path.Combine(path, "model.safetensors"), strict: true);
                net.Eval();
                return new VizModel(net, RunBuilder.EvalTransform(config, net.Plan.InputShape[0], EvalProtocol.Center), path);
            }
            catch
            {
                net.Dispose();
                throw;
            }
        }
        if (o.Model is null) throw new ArgumentException("give --checkpoint CKPT, or --model NAME (zoo name or network file) with --weights FILE.safetensors");
        var parameters = o.Params.Select(ParseParam).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var plan = ModelZoo.Plan(o.Model, null, parameters);
        if (o.ImageSize is int size && size != plan.InputShape[1]) plan = ModelZoo.Plan(o.Model, [plan.InputShape[0], size, size], parameters);
        var network = plan.Build();
        try
        {
            if (o.Weights is { } w) ModelWeights.Load(network, w, strict: true);
            network.Eval();
            int s = network.Plan.InputShape[1];
            var norm = new Normalization(Floats(o.Mean, "--mean"), Floats(o.Std, "--std"), ChannelOrder.Rgb, 1f);
            var transform = new TransformOptions
            {
                Mode = CropMode.CenterCrop,
                OutputSize = s,
                Resize = Math.Max(s, s * 256 / 224),
                Channels = network.Plan.InputShape[0],
                Flip = false,
                Normalization = norm,
            };
            return new VizModel(network, transform, o.Weights ?? $"{o.Model} (initial weights)");
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>One decoded, transformed image (C, H, W) and its label (−1 when unknown).</summary>
    public sealed record Image(string Name, float[] Pixels, int Label);

    /// <summary>
    /// Up to <paramref name="limit"/> images from a shard spec, a class-folder tree, a folder of image
    /// files, or one image file; undecodable ones are skipped with a note on stderr.
    /// </summary>
    public static List<Image> LoadImages(string spec, TransformOptions t, int limit)
    {
        var decoder = new ImageDecoder();
        var result = new List<Image>();
        int skipped = 0;
        foreach (var (name, bytes, label) in RawImages(spec))
        {
            if (result.Count >= limit) break;
            var pixels = new float[t.SampleElements];
            var random = new SampleRandom(0, 0, result.Count);
            var r = decoder.Decode(bytes, t, ref random, pixels);
            if (!r.Success) { skipped++; continue; }
            result.Add(new Image(name, pixels, label));
        }
        if (skipped > 0) Console.Error.WriteLine($"kiln viz: skipped {skipped} undecodable image(s) in '{spec}'");
        if (result.Count == 0) throw new ArgumentException($"no decodable images in '{spec}'");
        return result;
    }

    private static IEnumerable<(string Name, byte[] Bytes, int Label)> RawImages(string spec)
    {
        if (File.Exists(spec) && !spec.EndsWith(".tar", StringComparison.OrdinalIgnoreCase))
        {
            yield return (Path.GetFileName(spec), File.ReadAllBytes(spec), -1);
            yield break;
        }
        if (Directory.Exists(spec))
        {
            var files = Directory.GetFiles(spec).Where(f => ShardReader.ImageExtensions.Contains(Path.GetExtension(f).TrimStart('.').ToLowerInvariant()))
                .Order(StringComparer.Ordinal).ToList();
            if (files.Count > 0)
            {
                foreach (var f in files) yield return (Path.GetFileName(f), File.ReadAllBytes(f), -1);
                yield break;
            }
            var folder = new ImageFolderSource(spec);
            for (int s = 0; s < folder.ShardNames.Count; s++)
                foreach (var sample in folder.Read(s, folder.Classes.Count))
                    if (sample.Image is not null) yield return (sample.Key, sample.ImageSpan.ToArray(), sample.Label);
            yield break;
        }
        foreach (var shard in ShardList.Resolve(spec))
            foreach (var sample in new ShardReader(shard).ReadSamples())
                if (sample.Image is not null && sample.Fault is null)
                {
                    var bytes = sample.ImageSpan.ToArray();
                    sample.Release();
                    yield return (sample.Key, bytes, sample.Label);
                }
    }

    /// <summary>Stacks images into one (N, C, H, W) tensor.</summary>
    public static Tensor Batch(IReadOnlyList<Image> images, int first, int count, int[] chw)
    {
        int per = chw[0] * chw[1] * chw[2];
        var data = new float[count * per];
        for (int i = 0; i < count; i++) images[first + i].Pixels.AsSpan(0, per).CopyTo(data.AsSpan(i * per));
        return Tensor.FromArray(data, [count, chw[0], chw[1], chw[2]]);
    }

    private static KeyValuePair<string, string> ParseParam(string s)
    {
        int eq = s.IndexOf('=');
        if (eq <= 0) throw new ArgumentException($"--param '{s}': expected NAME=VALUE (e.g. classes=10)");
        return new(s[..eq].Trim(), s[(eq + 1)..].Trim());
    }

    private static float[] Floats(string text, string option)
    {
        try
        {
            return text.Split(',').Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        }
        catch (FormatException)
        {
            throw new ArgumentException($"{option} '{text}': expected comma-separated numbers such as 0.485,0.456,0.406");
        }
    }
}
