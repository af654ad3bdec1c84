using System.Text.RegularExpressions;
using Kiln.Config;
using Kiln.Core;
using Kiln.Data;
using Kiln.Models;
using Kiln.Nn;
using Kiln.Training;

namespace Kiln.Cli.Training;

/// <summary>Turns run-config records into objects: the network, the loaders' options, the SGD parameter groups.</summary>
public static class RunBuilder
{
    /// <summary>The network of model.name (zoo name or file) at data.image_size, with classes and dropout from the config.</summary>
    public static Network BuildModel(RunConfig config)
    {
        var spec = ModelZoo.Spec(config.Model.Name);
        var declared = spec.Params.Select(p => p.Key).ToHashSet(StringComparer.Ordinal);
        var parameters = new Dictionary<string, string>(config.Model.Params, StringComparer.Ordinal);
        var problems = new List<string>();
        if (declared.Contains("classes")) parameters.TryAdd("classes", config.Model.NumClasses.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (config.Model.Dropout is double d)
        {
            if (declared.Contains("dropout")) parameters["dropout"] = d.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            else problems.Add($"model.dropout is set but network '{config.Model.Name}' has no 'dropout' parameter (it declares: {string.Join(", ", declared)})");
        }
        var plan0 = ModelZoo.Plan(config.Model.Name, null, parameters);
        int[] input = [plan0.InputShape[0], config.Data.ImageSize, config.Data.ImageSize];
        var plan = plan0.InputShape.SequenceEqual(input) ? plan0 : ModelZoo.Plan(config.Model.Name, input, parameters);
        int classes = plan.OutputShape[^1];
        if (classes != config.Model.NumClasses)
            problems.Add($"model.num_classes is {config.Model.NumClasses} but network '{config.Model.Name}' outputs {classes} classes (no 'classes' parameter to set)");
        int aux = plan.Heads.Count - 1;
        if (config.Training.AuxLossWeights.Count > 0 && config.Training.AuxLossWeights.Count != aux)
            problems.Add($"training.aux_loss_weights has {config.Training.AuxLossWeights.Count} weights but network '{config.Model.Name}' has {aux} auxiliary heads");
        if (problems.Count > 0) throw new RunStopException(ExitCodes.ConfigError, string.Join("; ", problems));
        return plan.Build();
    }

    /// <summary>Loss weight of each head: 1 for the main head, then training.aux_loss_weights or the network's own.</summary>
    public static double[] HeadWeights(Network net, RunConfig config) =>
        net.Plan.Heads.Select((h, i) => i == 0 ? 1.0 : config.Training.AuxLossWeights.Count > 0 ? config.Training.AuxLossWeights[i - 1] : h.LossWeight).ToArray();

    private static Normalization Normalization(NormalizeConfig n) =>
        new(n.Mean.Select(v => (float)v).ToArray(), n.Std.Select(v => (float)v).ToArray(), n.Order == ColorOrder.Bgr ? ChannelOrder.Bgr : ChannelOrder.Rgb, 1f);

    public static TransformOptions TrainTransform(RunConfig config, int channels)
    {
        var d = config.Data;
        var a = d.Augment;
        return new TransformOptions
        {
            Mode = a.Preset switch
            {
                AugmentPreset.None => CropMode.Full,
                AugmentPreset.Inception => CropMode.RandomResizedCrop,
                AugmentPreset.ScaleJitter => CropMode.ScaleJitter,
                AugmentPreset.Alexnet => CropMode.ResizeRandomCrop,
                AugmentPreset.PadCrop => CropMode.PadRandomCrop,
                _ => throw new ArgumentException($"unknown augment preset {a.Preset}"),
            },
            OutputSize = d.ImageSize,
            Channels = channels,
            AreaMin = a.MinArea,
            AreaMax = a.MaxArea,
            AspectMin = a.MinAspect,
            AspectMax = a.MaxAspect,
            ShorterMin = a.ScaleMin,
            ShorterMax = a.ScaleMax,
            Resize = d.ResizeSize,
            Pad = a.Pad,
            Flip = a.Flip,
            Brightness = a.ColorJitter,
            Contrast = a.ColorJitter,
            Saturation = a.ColorJitter,
            LightingStd = a.Lighting,
            Normalization = Normalization(d.Normalize),
        };
    }

    /// <summary>The evaluation transform of a protocol; multi-scale and dense use <paramref name="scales"/>, else the config's (<see cref="RunConfig.EvalScales"/>).</summary>
    public static TransformOptions EvalTransform(RunConfig config, int channels, EvalProtocol protocol, int[]? scales = null)
    {
        var d = config.Data;
        var mode = protocol switch
        {
            EvalProtocol.Center => d.Augment.Preset switch
            {
                AugmentPreset.None => CropMode.Full,
                AugmentPreset.Alexnet => CropMode.ResizeCenterCrop,
                _ => CropMode.CenterCrop,
            },
            EvalProtocol.TenCrop => CropMode.TenCrop,
            EvalProtocol.MultiScale => CropMode.MultiScale,
            EvalProtocol.Dense => CropMode.Dense,
            _ => throw new ArgumentOutOfRangeException(nameof(protocol), $"unknown evaluation protocol {protocol}"),
        };
        return new TransformOptions
        {
            Mode = mode,
            OutputSize = d.ImageSize,
            Channels = channels,
            Resize = d.ResizeSize,
            Scales = scales ?? config.EvalScales(),
            Flip = false,
            Normalization = Normalization(d.Normalize),
        };
    }

    /// <summary>Dense evaluation forwards one image at a time; its loader batches at most this many (each sample's buffer holds every scale).</summary>
    public const int DenseBatchLimit = 8;

    /// <summary>
    /// The loaders' batch format on <paramref name="device"/>: uint8 NHWC, normalised on the GPU, when the device is a GPU
    /// and data.gpu_normalize is on (the default); float32 NCHW otherwise, the CPU's fast path. See Note [Uint8 batches].
    /// </summary>
    public static BatchFormat BatchFormatFor(RunConfig config, Device device) =>
        config.Data.GpuNormalize && device.Type != DeviceType.Cpu ? BatchFormat.UInt8Nhwc : BatchFormat.Float32Nchw;

    /// <summary>The training loader; batches in <see cref="BatchFormatFor"/> training.device's format.</summary>
    public static LoaderOptions TrainLoader(RunConfig config, int channels, string? quarantine, Action<DataEvent>? onEvent) => new()
    {
        Shards = config.Data.Train,
        Mode = LoaderMode.Train,
        BatchSize = config.Data.BatchSize,
        NumClasses = config.Model.NumClasses,
        Seed = config.Training.Seed,
        Workers = Math.Max(1, config.Data.Workers),
        ShuffleBuffer = config.Data.ShuffleBuffer,
        Transform = TrainTransform(config, channels),
        Format = BatchFormatFor(config, Device.Parse(config.Training.Device)),
        MaxBadFraction = config.Data.MaxBadFraction,
        QuarantinePath = quarantine,
        OnEvent = onEvent,
    };

    /// <summary>An evaluation loader; batches in the format for <paramref name="device"/> (default training.device), see <see cref="BatchFormatFor"/>.</summary>
    public static LoaderOptions EvalLoader(RunConfig config, string shards, int channels, EvalProtocol protocol, int? batchSize = null,
        Action<DataEvent>? onEvent = null, int[]? scales = null, Device? device = null)
    {
        int batch = batchSize ?? config.Data.BatchSize;
        return new()
        {
            Shards = shards,
            Mode = LoaderMode.Eval,
            BatchSize = protocol == EvalProtocol.Dense ? Math.Min(DenseBatchLimit, batch) : batch,
            NumClasses = config.Model.NumClasses,
            Seed = config.Training.Seed,
            Workers = Math.Max(1, config.Data.Workers),
            DropLast = false,
            Transform = EvalTransform(config, channels, protocol, scales),
            Format = BatchFormatFor(config, device ?? Device.Parse(config.Training.Device)),
            MaxBadFraction = config.Data.MaxBadFraction,
            OnEvent = onEvent,
        };
    }

    /// <summary>
    /// SGD parameter groups from optimizer.param_groups: each parameter joins the first group whose
    /// glob (<c>*</c> any run of characters, dots included; <c>?</c> one character) matches its name;
    /// the rest form the default group. Multipliers stack with the network's per-layer ones.
    /// </summary>
    public static List<ParameterGroup> Groups(Module net, OptimizerConfig config)
    {
        var rules = config.ParamGroups.Select(g => (Rule: g, Regex: new Regex("^" + Regex.Escape(g.Match).Replace("\\*", ".*").Replace("\\?", ".") + "$"))).ToList();
        var members = rules.Select(_ => new List<Parameter>()).ToList();
        var rest = new List<Parameter>();
        foreach (var (name, p) in net.NamedParameters())
        {
            int i = rules.FindIndex(r => r.Regex.IsMatch(name));
            (i >= 0 ? members[i] : rest).Add(p);
        }
        var groups = new List<ParameterGroup>();
        for (int i = 0; i < rules.Count; i++)
            groups.Add(new ParameterGroup(members[i]) { LrMultiplier = rules[i].Rule.LrMult, DecayMultiplier = rules[i].Rule.DecayMult, Name = rules[i].Rule.Match });
        groups.Add(new ParameterGroup(rest) { Name = "default" });
        return groups;
    }

    public static SgdOptions SgdOptions(OptimizerConfig o) => new()
    {
        LearningRate = o.Lr,
        Momentum = o.Momentum,
        WeightDecay = o.WeightDecay,
        Nesterov = o.Nesterov,
        Form = o.MomentumForm == MomentumFormName.Caffe ? Kiln.Core.Ops.MomentumForm.Caffe : Kiln.Core.Ops.MomentumForm.PyTorch,
    };
}
