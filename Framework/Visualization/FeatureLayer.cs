namespace Kiln.Visualization;

/// <summary>One layer of a <see cref="FeatureStack"/>: its name, kind, geometry and how to run it forward.</summary>
public sealed class FeatureLayer
{
    public FeatureLayer(string name, FeatureLayerKind kind, Func<Tensor, Tensor> forward,
        Tensor? weight = null, Conv2dParams? conv = null, Pool2dParams? pool = null)
    {
        if (kind == FeatureLayerKind.Conv && (weight is null || conv is null))
            throw new ArgumentException($"feature layer '{name}': a convolution needs its weight and geometry");
        if (kind == FeatureLayerKind.MaxPool && pool is null)
            throw new ArgumentException($"feature layer '{name}': max pooling needs its geometry");
        Name = name;
        Kind = kind;
        Forward = forward;
        Weight = weight;
        Conv = conv;
        Pool = pool;
    }

    /// <summary>Dotted name: the module's state-dict prefix (<c>features.0</c>) or the network layer's name (<c>conv1</c>).</summary>
    public string Name { get; }
    public FeatureLayerKind Kind { get; }
    /// <summary>Runs the layer on (N, C, H, W).</summary>
    public Func<Tensor, Tensor> Forward { get; }
    /// <summary>Filters (K, C/groups, R, S) of a convolution (owned by the model).</summary>
    public Tensor? Weight { get; }
    public Conv2dParams? Conv { get; }
    public Pool2dParams? Pool { get; }

    /// <summary>(kernel, stride, padding, dilation) along height and width, for receptive fields; identity for shape-keeping layers.</summary>
    internal (int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW) Window => Kind switch
    {
        FeatureLayerKind.Conv => (Weight!.Size(2), Weight.Size(3), Conv!.StrideH, Conv.StrideW, Conv.PadH, Conv.PadW, Conv.DilationH, Conv.DilationW),
        FeatureLayerKind.MaxPool => (Pool!.Value.KernelH, Pool.Value.KernelW, Pool.Value.StrideH, Pool.Value.StrideW, Pool.Value.PadH, Pool.Value.PadW, 1, 1),
        _ => (1, 1, 1, 1, 0, 0, 1, 1),
    };

    public override string ToString() => $"{Name} ({Kind})";
}
