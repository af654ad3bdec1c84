using Kiln.Config;
using Kiln.Nn;

namespace Kiln.Models;

/// <summary>
/// One layer of a planned network: its dotted name, type, inputs and their shapes, output shape,
/// parameter shapes and multiply-adds, all found without tensors. Shapes exclude the batch
/// dimension: (C, H, W) for images, (F) for features.
/// </summary>
public sealed class LayerPlan
{
    internal LayerPlan(string name, string type, SourceLocation where) => (Name, Type, Where) = (name, type, where);

    /// <summary>Dotted name; parameters are named <c>Name.weight</c>, <c>Name.bias</c> (torchvision's keys).</summary>
    public string Name { get; }
    public string Type { get; }
    public SourceLocation Where { get; }
    public IReadOnlyList<string> Inputs { get; internal set; } = [];
    public IReadOnlyList<int[]> InputShapes { get; internal set; } = [];
    public int[] OutputShape { get; internal set; } = [];
    /// <summary>Learnable tensors, by suffix: ("weight", (K, C, R, S)), ("bias", (K)).</summary>
    public IReadOnlyList<(string Name, int[] Shape)> Parameters { get; internal set; } = [];
    public long ParameterCount => Parameters.Sum(p => p.Shape.Aggregate(1L, (a, d) => a * d));
    /// <summary>Multiply-adds per image (convolutions and fully connected layers; the papers' count).</summary>
    public long MultiplyAdds { get; internal set; }
    /// <summary>Window and stride as the papers print them ("11x11/4"), or empty.</summary>
    public string Kernel { get; internal set; } = "";
    /// <summary>True when the main head depends on this layer (false for auxiliary heads), i.e. it runs in evaluation.</summary>
    public bool InEvaluation { get; internal set; }

    internal int[] InputIds { get; set; } = [];
    /// <summary>Window of a max or average pooling layer (for the deconvnet's switches), else null.</summary>
    internal Pool2dParams? PoolGeometry { get; set; }
    /// <summary>Creates the layer's module (with parameters or buffers), or null for a stateless layer.</summary>
    internal Func<Module>? CreateModule { get; set; }
    /// <summary>Gives the function that computes the layer from its inputs and the training flag.</summary>
    internal Func<Module?, Func<Tensor[], bool, Tensor>> Bind { get; set; } = _ => throw new InvalidOperationException("layer has no implementation");
}
