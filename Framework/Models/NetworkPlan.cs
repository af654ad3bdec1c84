using Kiln.Config;

namespace Kiln.Models;

/// <summary>
/// A network resolved from its file: every layer in order with shapes, parameter shapes and
/// multiply-adds, found without allocating a tensor. <see cref="Build"/> makes the <see cref="Network"/>.
/// </summary>
public sealed class NetworkPlan
{
    internal NetworkPlan(NetworkSpec spec, int[] inputShape, IReadOnlyList<LayerPlan> layers, IReadOnlyList<NetworkHead> heads)
    {
        Name = spec.Name ?? Path.GetFileNameWithoutExtension(spec.File);
        Description = spec.Description;
        Source = spec.Source;
        InputShape = inputShape;
        Layers = layers;
        Heads = heads;
    }

    public string Name { get; }
    public string? Description { get; }
    public string? Source { get; }
    /// <summary>(C, H, W) of one input image.</summary>
    public int[] InputShape { get; }
    public IReadOnlyList<LayerPlan> Layers { get; }
    public IReadOnlyList<NetworkHead> Heads { get; }

    /// <summary>Output shape of the main head for one image, e.g. (1000).</summary>
    public int[] OutputShape => Layers[Heads[0].LayerIndex].OutputShape;

    /// <summary>All learnable values, auxiliary heads included.</summary>
    public long ParameterCount => Layers.Sum(l => l.ParameterCount);

    /// <summary>Learnable values used in evaluation (auxiliary heads excluded): torchvision's count.</summary>
    public long InferenceParameterCount => Layers.Where(l => l.InEvaluation).Sum(l => l.ParameterCount);

    /// <summary>Multiply-adds per image in evaluation (the papers' count).</summary>
    public long MultiplyAdds => Layers.Where(l => l.InEvaluation).Sum(l => l.MultiplyAdds);

    /// <summary>Every parameter's dotted name and shape, in state-dict order.</summary>
    public IEnumerable<(string Name, int[] Shape)> ParameterShapes =>
        Layers.SelectMany(l => l.Parameters.Select(p => (l.Name + "." + p.Name, p.Shape)));

    /// <summary>Allocates and initialises the network (from <see cref="RandomGenerator.Global"/>).</summary>
    public Network Build() => new(this);
}
