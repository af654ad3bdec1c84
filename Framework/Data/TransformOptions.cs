namespace Kiln.Data;

/// <summary>
/// Everything that turns a decoded image into network input: the crop recipe, flip, colour
/// lighting and normalisation. Defaults are the ResNet/torchvision training recipe at 224.
/// </summary>
public sealed record TransformOptions
{
    public CropMode Mode { get; init; } = CropMode.RandomResizedCrop;
    /// <summary>Output height and width.</summary>
    public int OutputSize { get; init; } = 224;
    /// <summary>Output channels: 3 (colour) or 1 (luma, e.g. MNIST).</summary>
    public int Channels { get; init; } = 3;
    public double AreaMin { get; init; } = 0.08;
    public double AreaMax { get; init; } = 1.0;
    public double AspectMin { get; init; } = 3.0 / 4.0;
    public double AspectMax { get; init; } = 4.0 / 3.0;
    /// <summary>Scale jitter's range for the shorter side (VGG 256–512, ResNet 256–480).</summary>
    public int ShorterMin { get; init; } = 256;
    public int ShorterMax { get; init; } = 480;
    /// <summary>The resize of the AlexNet warp and of evaluation's shorter side.</summary>
    public int Resize { get; init; } = 256;
    /// <summary>Multi-scale and dense evaluation: the shorter sides Q the image is resized to (VGG: 256, 384, 512).</summary>
    public int[] Scales { get; init; } = [256];
    /// <summary>Zero padding on each side for <see cref="CropMode.PadRandomCrop"/>, in output pixels.</summary>
    public int Pad { get; init; } = 4;
    /// <summary>Dense evaluation: the largest aspect ratio kept; a longer image loses the ends of its longer side.</summary>
    public double DenseMaxAspect { get; init; } = 2.0;
    /// <summary>Random horizontal flip with probability 1/2.</summary>
    public bool Flip { get; init; } = true;
    /// <summary>Colour jitter strengths (fb.resnet.torch uses 0.4 each); 0 turns an operation off. See <see cref="ColorJitter"/>.</summary>
    public double Brightness { get; init; }
    public double Contrast { get; init; }
    public double Saturation { get; init; }
    /// <summary>Whether any colour jitter is on.</summary>
    public bool HasColorJitter => Brightness > 0 || Contrast > 0 || Saturation > 0;
    /// <summary>σ of AlexNet's PCA lighting (0.1 in the paper); 0 turns it off.</summary>
    public double LightingStd { get; init; }
    public Normalization Normalization { get; init; } = Normalization.ImageNetRgb;

    /// <summary>Views per sample: 10 for <see cref="CropMode.TenCrop"/>, 2 per scale for multi-scale and dense, else 1.</summary>
    public int Views => Mode switch
    {
        CropMode.TenCrop => 10,
        CropMode.MultiScale or CropMode.Dense => 2 * Scales.Length,
        _ => 1,
    };

    /// <summary>
    /// Floats per sample in a batch: views × channels × size × size; for dense evaluation the room for the
    /// largest views, 2 × channels × Q × ⌊DenseMaxAspect·Q⌋ per scale (see <see cref="Geometry.DenseView"/>).
    /// </summary>
    public int SampleElements => Mode == CropMode.Dense
        ? Scales.Sum(q => 2 * Channels * q * (int)(q * DenseMaxAspect))
        : Views * Channels * OutputSize * OutputSize;

    /// <summary>Whether any random draw is involved.</summary>
    public bool IsRandom => Mode is CropMode.RandomResizedCrop or CropMode.ScaleJitter or CropMode.ResizeRandomCrop or CropMode.PadRandomCrop || Flip || LightingStd > 0 || HasColorJitter;

    /// <summary>Training defaults: random-resized-crop 224 + flip, ImageNet RGB normalisation.</summary>
    public static TransformOptions Train { get; } = new();

    /// <summary>Evaluation defaults: shorter side 256, centre 224, no flip.</summary>
    public static TransformOptions Eval { get; } = new() { Mode = CropMode.CenterCrop, Flip = false };

    /// <summary>Throws listing every problem at once.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (OutputSize is < 1 or > 4096) problems.Add($"output size must be in [1, 4096], got {OutputSize}");
        if (Channels is not (1 or 3)) problems.Add($"channels must be 1 or 3, got {Channels}");
        if (!(AreaMin > 0 && AreaMin <= AreaMax && AreaMax <= 1)) problems.Add($"area range must satisfy 0 < min <= max <= 1, got [{AreaMin}, {AreaMax}]");
        if (!(AspectMin > 0 && AspectMin <= AspectMax)) problems.Add($"aspect range must satisfy 0 < min <= max, got [{AspectMin}, {AspectMax}]");
        if (Mode == CropMode.ScaleJitter && !(ShorterMin >= OutputSize && ShorterMin <= ShorterMax))
            problems.Add($"scale jitter needs output size {OutputSize} <= shorter-side min <= max, got [{ShorterMin}, {ShorterMax}]");
        if (Mode is CropMode.ResizeRandomCrop or CropMode.CenterCrop or CropMode.TenCrop or CropMode.ResizeCenterCrop && Resize < OutputSize)
            problems.Add($"{Mode} needs resize {Resize} >= output size {OutputSize}");
        if (Mode is CropMode.MultiScale or CropMode.Dense)
        {
            if (Scales.Length is < 1 or > 8) problems.Add($"{Mode} needs 1 to 8 scales, got {Scales.Length}");
            if (Scales.Any(q => q < OutputSize || q > 4096)) problems.Add($"{Mode} scales must be in [output size {OutputSize}, 4096], got [{string.Join(", ", Scales)}]");
            if (!(DenseMaxAspect is >= 1 and <= 4)) problems.Add($"dense max aspect must be in [1, 4], got {DenseMaxAspect}");
        }
        if (Mode == CropMode.PadRandomCrop && Pad is < 0 or > 4096) problems.Add($"pad must be in [0, 4096], got {Pad}");
        if (LightingStd < 0) problems.Add($"lighting std must be >= 0, got {LightingStd}");
        if (Brightness is < 0 or > 1 || Contrast is < 0 or > 1 || Saturation is < 0 or > 1)
            problems.Add($"colour jitter strengths must be in [0, 1], got brightness {Brightness}, contrast {Contrast}, saturation {Saturation}");
        if (LightingStd > 0 && Channels != 3) problems.Add("PCA lighting needs 3 channels");
        try { Normalization.Validate(Channels); } catch (ArgumentException e) { problems.Add(e.Message); }
        if (problems.Count > 0) throw new ArgumentException("transform: " + string.Join("; ", problems));
    }
}
