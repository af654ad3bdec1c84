namespace Kiln.Config;

/// <summary>
/// A training run, as written in a run config YAML (one section per record below). Every setting has
/// exactly one place here; defaults are PyTorch's or the papers' where they agree.
/// </summary>
public sealed record RunConfig : IValidatable
{
    public ModelConfig Model { get; init; } = new();
    public DataConfig Data { get; init; } = new();
    public OptimizerConfig Optimizer { get; init; } = new();
    public ScheduleConfig Schedule { get; init; } = new();
    public TrainingConfig Training { get; init; } = new();
    public LoggingConfig Logging { get; init; } = new();

    public IEnumerable<(string Key, string Message)> Validate()
    {
        if (Training.Epochs is null && Training.Iterations is null)
            yield return ("training", "set training.epochs or training.iterations");
        if (Training.Epochs is not null && Training.Iterations is not null)
            yield return ("training", "set only one of training.epochs and training.iterations");
        if (Training.EvalScales.Any(q => q < Data.ImageSize))
            yield return ("training.eval_scales", $"every scale must be ≥ data.image_size ({Data.ImageSize}): the network's input is cut from the resized image, got [{string.Join(", ", Training.EvalScales)}]");
    }

    /// <summary>
    /// The shorter sides Q of multi-scale and dense evaluation: training.eval_scales, or when empty VGG's choice
    /// (Simonyan &amp; Zisserman, section 4.2): with scale jitter S ∈ [min, max], Q = {min, (min + max)/2, max};
    /// otherwise Q = {S − 32, S, S + 32} around S = data.resize_size, leaving out values below data.image_size.
    /// </summary>
    public int[] EvalScales()
    {
        if (Training.EvalScales.Count > 0) return [.. Training.EvalScales];
        var a = Data.Augment;
        if (a.Preset == AugmentPreset.ScaleJitter) return new[] { a.ScaleMin, (a.ScaleMin + a.ScaleMax) / 2, a.ScaleMax }.Distinct().ToArray();
        int s = Data.ResizeSize;
        return new[] { s - 32, s, s + 32 }.Where(q => q >= Data.ImageSize).ToArray();
    }
}

/// <summary>The network: a zoo name or a network YAML path, with overrides.</summary>
public sealed record ModelConfig : IValidatable
{
    /// <summary>Zoo name (resnet50, googlenet, ...) or path to a network YAML file.</summary>
    public string Name { get; init; } = "";
    public int NumClasses { get; init; } = 1000;
    /// <summary>Overrides the network's dropout rates when set.</summary>
    public double? Dropout { get; init; }
    /// <summary>Arguments of the network file's top-level params (e.g. zero_init_residual: 1).</summary>
    public Dictionary<string, string> Params { get; init; } = [];
    /// <summary>Weights to start from (safetensors), loaded strictly unless <see cref="NonStrict"/>.</summary>
    public string? Weights { get; init; }
    public bool NonStrict { get; init; }

    public IEnumerable<(string Key, string Message)> Validate()
    {
        if (string.IsNullOrWhiteSpace(Name)) yield return ("name", "required: a zoo name or a network YAML path");
        if (NumClasses < 1) yield return ("num_classes", $"must be at least 1, got {NumClasses}");
        if (Dropout is < 0 or >= 1) yield return ("dropout", $"must be in [0, 1), got {Dropout}");
    }
}

public enum ColorOrder { Rgb, Bgr }

public enum AugmentPreset { None, Inception, ScaleJitter, Alexnet, PadCrop }

public enum EvalProtocol { Center, TenCrop, MultiScale, Dense }

/// <summary>Input pipeline.</summary>
public sealed record DataConfig : IValidatable
{
    /// <summary>Training shards: brace range, glob or list file.</summary>
    public string Train { get; init; } = "";
    public string? Val { get; init; }
    public int BatchSize { get; init; } = 256;
    public int Workers { get; init; } = 4;
    public int ImageSize { get; init; } = 224;
    /// <summary>Shorter side before the centre crop in evaluation.</summary>
    public int ResizeSize { get; init; } = 256;
    public AugmentConfig Augment { get; init; } = new();
    public NormalizeConfig Normalize { get; init; } = new();
    /// <summary>Skip and count bad samples until this fraction of those read, then stop.</summary>
    public double MaxBadFraction { get; init; } = 0.001;
    /// <summary>Samples in the training shuffle buffer (0 or 1: off).</summary>
    public int ShuffleBuffer { get; init; } = 2000;
    /// <summary>
    /// On a GPU (training.device cuda), deliver batches as uint8 NHWC and normalise them on the GPU: a quarter of the
    /// bytes to copy and no normalisation on the CPU. False keeps float32 NCHW made on the CPU. Ignored on the CPU,
    /// which always takes float32. See Note [Uint8 batches] in Kiln.Data.BatchFormat.
    /// </summary>
    public bool GpuNormalize { get; init; } = true;

    public IEnumerable<(string Key, string Message)> Validate()
    {
        if (string.IsNullOrWhiteSpace(Train)) yield return ("train", "required: the training shards");
        if (BatchSize < 1) yield return ("batch_size", $"must be at least 1, got {BatchSize}");
        if (Workers < 0) yield return ("workers", $"must be ≥ 0, got {Workers}");
        if (ImageSize < 8) yield return ("image_size", $"must be at least 8, got {ImageSize}");
        if (ResizeSize < ImageSize) yield return ("resize_size", $"must be ≥ image_size ({ImageSize}), got {ResizeSize}");
        if (ShuffleBuffer < 0) yield return ("shuffle_buffer", $"must be ≥ 0, got {ShuffleBuffer}");
        if (MaxBadFraction is < 0 or > 1) yield return ("max_bad_fraction", $"must be in [0, 1], got {MaxBadFraction}");
    }
}

public sealed record AugmentConfig : IValidatable
{
    public AugmentPreset Preset { get; init; } = AugmentPreset.Inception;
    public double MinArea { get; init; } = 0.08;
    public double MaxArea { get; init; } = 1.0;
    public double MinAspect { get; init; } = 3.0 / 4;
    public double MaxAspect { get; init; } = 4.0 / 3;
    /// <summary>Shorter side range of scale jittering (VGG, ResNet).</summary>
    public int ScaleMin { get; init; } = 256;
    public int ScaleMax { get; init; } = 480;
    public bool Flip { get; init; } = true;
    /// <summary>pad_crop (CIFAR): zero padding on each side before the random crop, in output pixels.</summary>
    public int Pad { get; init; } = 4;
    /// <summary>Standard deviation of AlexNet's PCA lighting noise (0: off; the paper uses 0.1).</summary>
    public double Lighting { get; init; }
    public double ColorJitter { get; init; }

    public IEnumerable<(string Key, string Message)> Validate()
    {
        if (!(MinArea > 0 && MinArea <= MaxArea && MaxArea <= 1)) yield return ("min_area", $"needs 0 < min_area ≤ max_area ≤ 1, got {MinArea} and {MaxArea}");
        if (!(MinAspect > 0 && MinAspect <= MaxAspect)) yield return ("min_aspect", $"needs 0 < min_aspect ≤ max_aspect, got {MinAspect} and {MaxAspect}");
        if (ScaleMin < 1 || ScaleMin > ScaleMax) yield return ("scale_min", $"needs 1 ≤ scale_min ≤ scale_max, got {ScaleMin} and {ScaleMax}");
        if (Lighting < 0) yield return ("lighting", $"must be ≥ 0, got {Lighting}");
        if (Pad is < 0 or > 4096) yield return ("pad", $"must be in [0, 4096], got {Pad}");
        if (ColorJitter < 0) yield return ("color_jitter", $"must be ≥ 0, got {ColorJitter}");
    }
}

public sealed record NormalizeConfig : IValidatable
{
    public ColorOrder Order { get; init; } = ColorOrder.Rgb;
    /// <summary>Per-channel mean in [0, 1] units, in <see cref="Order"/>.</summary>
    public double[] Mean { get; init; } = [0.485, 0.456, 0.406];
    public double[] Std { get; init; } = [0.229, 0.224, 0.225];

    public IEnumerable<(string Key, string Message)> Validate()
    {
        if (Mean.Length != 3) yield return ("mean", $"needs 3 values, got {Mean.Length}");
        if (Std.Length != 3) yield return ("std", $"needs 3 values, got {Std.Length}");
        else if (Std.Any(s => s <= 0)) yield return ("std", "values must be > 0");
    }
}

/// <summary>A rule that gives matching parameters their own multipliers (Caffe's lr_mult and decay_mult).</summary>
public sealed record ParamGroupConfig : IValidatable
{
    /// <summary>Glob over parameter names, e.g. "*.bias" or "features.*".</summary>
    public string Match { get; init; } = "";
    public double LrMult { get; init; } = 1;
    public double DecayMult { get; init; } = 1;

    public IEnumerable<(string Key, string Message)> Validate()
    {
        if (string.IsNullOrWhiteSpace(Match)) yield return ("match", "required: a glob over parameter names");
        if (LrMult < 0) yield return ("lr_mult", $"must be ≥ 0, got {LrMult}");
        if (DecayMult < 0) yield return ("decay_mult", $"must be ≥ 0, got {DecayMult}");
    }
}

public enum OptimizerKind { Sgd }

public enum MomentumFormName { Pytorch, Caffe }

public sealed record OptimizerConfig : IValidatable
{
    public OptimizerKind Name { get; init; } = OptimizerKind.Sgd;
    public double Lr { get; init; } = 0.1;
    public double Momentum { get; init; } = 0.9;
    /// <summary>Stated explicitly in every shipped config: the forms differ when the rate changes.</summary>
    public MomentumFormName MomentumForm { get; init; } = MomentumFormName.Pytorch;
    public bool Nesterov { get; init; }
    public double WeightDecay { get; init; } = 1e-4;
    public List<ParamGroupConfig> ParamGroups { get; init; } = [];
    /// <summary>Clip the global gradient L2 norm to this value (off when null).</summary>
    public double? GradClip { get; init; }
    /// <summary>Batches accumulated per update (Caffe's iter_size), for large effective batches.</summary>
    public int IterSize { get; init; } = 1;

    public IEnumerable<(string Key, string Message)> Validate()
    {
        if (!(Lr > 0)) yield return ("lr", $"must be > 0, got {Lr}");
        if (Momentum is < 0 or >= 1) yield return ("momentum", $"must be in [0, 1), got {Momentum}");
        if (Nesterov && Momentum == 0) yield return ("nesterov", "needs momentum > 0");
        if (WeightDecay < 0) yield return ("weight_decay", $"must be ≥ 0, got {WeightDecay}");
        if (GradClip is <= 0) yield return ("grad_clip", $"must be > 0 when set, got {GradClip}");
        if (IterSize < 1) yield return ("iter_size", $"must be at least 1, got {IterSize}");
    }
}

public enum ScheduleKind { Fixed, Step, Multistep, Exponential, Poly, Cosine, Plateau }

public enum ScheduleUnit { Epoch, Iteration }

public enum PlateauMode { Min, Max }

/// <summary>Learning-rate schedule; see Kiln.Training.LrSchedule for the exact formulas.</summary>
public sealed record ScheduleConfig : IValidatable
{
    public ScheduleKind Kind { get; init; } = ScheduleKind.Fixed;
    /// <summary>What step_size, milestones, the warm-up length and the poly/cosine horizon count.</summary>
    public ScheduleUnit Unit { get; init; } = ScheduleUnit.Epoch;
    public double Gamma { get; init; } = 0.1;
    public int StepSize { get; init; } = 30;
    public List<int> Milestones { get; init; } = [];
    public double Power { get; init; } = 1.0;
    public double MinLr { get; init; }
    /// <summary>Plateau: metric to watch (val_top1_error, val_loss, ...), direction, patience, threshold, cooldown.</summary>
    public string Metric { get; init; } = "val_top1_error";
    public PlateauMode Mode { get; init; } = PlateauMode.Min;
    public int Patience { get; init; } = 5;
    public double Threshold { get; init; } = 1e-4;
    public int Cooldown { get; init; }
    /// <summary>Plateau: stop reducing after this many reductions (AlexNet and VGG: 3); null for no limit.</summary>
    public int? MaxReductions { get; init; }
    public int WarmupLength { get; init; }
    public double WarmupStartFactor { get; init; } = 0.1;

    public IEnumerable<(string Key, string Message)> Validate()
    {
        if (!(Gamma > 0)) yield return ("gamma", $"must be > 0, got {Gamma}");
        if (Kind == ScheduleKind.Step && StepSize < 1) yield return ("step_size", $"must be at least 1, got {StepSize}");
        if (Kind == ScheduleKind.Multistep && (Milestones.Count == 0 || Milestones.Zip(Milestones.Skip(1)).Any(p => p.First >= p.Second)))
            yield return ("milestones", "multistep needs increasing milestones");
        if (Kind == ScheduleKind.Plateau && Gamma >= 1) yield return ("gamma", $"plateau reduces the rate: gamma must be < 1, got {Gamma}");
        if (Patience < 0) yield return ("patience", $"must be ≥ 0, got {Patience}");
        if (MinLr < 0) yield return ("min_lr", $"must be ≥ 0, got {MinLr}");
        if (WarmupLength < 0) yield return ("warmup_length", $"must be ≥ 0, got {WarmupLength}");
        if (WarmupStartFactor is <= 0 or > 1) yield return ("warmup_start_factor", $"must be in (0, 1], got {WarmupStartFactor}");
        if (Power < 0) yield return ("power", $"must be ≥ 0, got {Power}");
    }
}

public enum NanAction { Stop, Skip }

public sealed record TrainingConfig : IValidatable
{
    public int? Epochs { get; init; }
    public long? Iterations { get; init; }
    public string Device { get; init; } = "cpu";
    public ulong Seed { get; init; }
    /// <summary>CPU threads for kernels; null for all cores.</summary>
    public int? Threads { get; init; }
    /// <summary>Loss weight of each auxiliary head, in the network's output order (GoogLeNet: 0.3, 0.3).</summary>
    public List<double> AuxLossWeights { get; init; } = [];
    public double LabelSmoothing { get; init; }
    /// <summary>Exponential moving average of the weights for evaluation (Polyak averaging; GoogLeNet). Null: off.</summary>
    public double? EmaDecay { get; init; }
    /// <summary>Evaluate every this many epochs (or iterations when training by iterations).</summary>
    public int EvalEvery { get; init; } = 1;
    public EvalProtocol EvalProtocol { get; init; } = EvalProtocol.Center;
    /// <summary>Shorter sides Q for eval_protocol multi_scale and dense (VGG: [256, 384, 512]); empty: derived, see RunConfig.EvalScales.</summary>
    public List<int> EvalScales { get; init; } = [];
    public int CheckpointEvery { get; init; } = 1;
    /// <summary>Also checkpoint every this many optimizer steps (mid-epoch); null: only at checkpoint_every.</summary>
    public int? CheckpointEverySteps { get; init; }
    public int KeepCheckpoints { get; init; } = 3;
    public NanAction OnNan { get; init; } = NanAction.Stop;
    /// <summary>With on_nan: skip, stop after this many non-finite steps in a row (the loss is probably exploding).</summary>
    public int MaxConsecutiveSkips { get; init; } = 10;
    public string RunDir { get; init; } = "runs";
    /// <summary>After the last step, re-estimate batch-norm statistics as the plain average over this many
    /// training batches (He et al.'s released ResNets); null: keep the moving averages.</summary>
    public int? BnRecomputeBatches { get; init; }
    /// <summary>GPU policy (ignored on the CPU).</summary>
    public CudaConfig Cuda { get; init; } = new();

    public IEnumerable<(string Key, string Message)> Validate()
    {
        if (Epochs is < 1) yield return ("epochs", $"must be at least 1, got {Epochs}");
        if (Iterations is < 1) yield return ("iterations", $"must be at least 1, got {Iterations}");
        string? deviceError = null;
        try { Core.Device.Parse(Device); } catch (ArgumentException e) { deviceError = e.Message; }
        if (deviceError is not null) yield return ("device", deviceError);
        if (Threads is < 1) yield return ("threads", $"must be at least 1, got {Threads}");
        if (AuxLossWeights.Any(w => w < 0)) yield return ("aux_loss_weights", "weights must be ≥ 0");
        if (LabelSmoothing is < 0 or >= 1) yield return ("label_smoothing", $"must be in [0, 1), got {LabelSmoothing}");
        if (EmaDecay is <= 0 or >= 1) yield return ("ema_decay", $"must be in (0, 1), got {EmaDecay}");
        if (BnRecomputeBatches is < 1) yield return ("bn_recompute_batches", $"must be at least 1, got {BnRecomputeBatches}");
        if (BnRecomputeBatches is not null && EmaDecay is not null)
            yield return ("bn_recompute_batches", "cannot be combined with ema_decay (the statistics would belong to the live weights, not the averaged ones evaluation uses)");
        if (EvalEvery < 1) yield return ("eval_every", $"must be at least 1, got {EvalEvery}");
        if (EvalScales.Count > 8) yield return ("eval_scales", $"at most 8 scales, got {EvalScales.Count}");
        if (EvalScales.Any(q => q is < 1 or > 4096)) yield return ("eval_scales", $"scales are shorter sides in pixels, each in [1, 4096], got [{string.Join(", ", EvalScales)}]");
        if (EvalScales.Distinct().Count() != EvalScales.Count) yield return ("eval_scales", $"scales must not repeat, got [{string.Join(", ", EvalScales)}]");
        if (CheckpointEvery < 1) yield return ("checkpoint_every", $"must be at least 1, got {CheckpointEvery}");
        if (CheckpointEverySteps is < 1) yield return ("checkpoint_every_steps", $"must be at least 1, got {CheckpointEverySteps}");
        if (MaxConsecutiveSkips < 1) yield return ("max_consecutive_skips", $"must be at least 1, got {MaxConsecutiveSkips}");
        if (KeepCheckpoints < 1) yield return ("keep_checkpoints", $"must be at least 1, got {KeepCheckpoints}");
    }
}

/// <summary>How cuDNN and cuBLAS may compute on a CUDA device (<c>training.cuda</c>).</summary>
public sealed record CudaConfig : IValidatable
{
    /// <summary>TensorFloat-32 tensor cores for convolutions and GEMMs (PyTorch's default for convolutions); false: strict FP32.</summary>
    public bool Tf32 { get; init; } = true;
    /// <summary>Only deterministic cuDNN algorithms, chosen by cuDNN's heuristic rather than timing (bitwise repeatable runs; can be slower).</summary>
    public bool Deterministic { get; init; }
    /// <summary>Time every cuDNN algorithm once per convolution shape (cudnnFind*Ex) rather than trust the heuristic.</summary>
    public bool Benchmark { get; init; } = true;
    /// <summary>Largest cuDNN workspace one convolution may take, in MiB.</summary>
    public int WorkspaceMib { get; init; } = 512;
    /// <summary>Upload the next training batch on a copy stream while the current step computes (double buffering); false: each batch is uploaded when its step begins.</summary>
    public bool Prefetch { get; init; } = true;

    public IEnumerable<(string Key, string Message)> Validate()
    {
        if (WorkspaceMib < 0) yield return ("workspace_mib", $"must be ≥ 0, got {WorkspaceMib}");
    }
}

public sealed record LoggingConfig : IValidatable
{
    /// <summary>Console line every this many iterations when the output is not a terminal.</summary>
    public int Interval { get; init; } = 50;
    public bool JsonLog { get; init; } = true;
    public string Level { get; init; } = "information";

    public IEnumerable<(string Key, string Message)> Validate()
    {
        if (Interval < 1) yield return ("interval", $"must be at least 1, got {Interval}");
        string[] levels = ["verbose", "debug", "information", "warning", "error"];
        if (!levels.Contains(Level)) yield return ("level", $"'{Level}' is not one of {string.Join(", ", levels)}");
    }
}
