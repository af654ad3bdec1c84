using Kiln.Models;
using Kiln.Nn;

namespace Kiln.Visualization;

/// <summary>
/// The convolutional part of a network as a chain of layers (conv, ReLU, max pooling, LRN, dropout,
/// batch norm), in order, up to the first layer that is none of those (flatten, linear, global
/// pooling): the part a deconvnet can invert. Built from nested <see cref="Sequential"/> modules
/// (torchvision's <c>features</c>) or from a zoo network.
/// </summary>
public sealed class FeatureStack
{
    public FeatureStack(IReadOnlyList<FeatureLayer> layers)
    {
        if (layers.Count == 0) throw new ArgumentException("feature stack: no convolutional layers at the start of the network");
        Layers = layers;
    }

    public IReadOnlyList<FeatureLayer> Layers { get; }

    /// <summary>Index of the layer called <paramref name="name"/>; throws listing the names.</summary>
    public int IndexOf(string name)
    {
        for (int i = 0; i < Layers.Count; i++)
            if (Layers[i].Name == name) return i;
        throw new ArgumentException($"no layer '{name}' in the convolutional part of the network; layers: {string.Join(", ", Layers.Select(l => l.Name))}");
    }

    /// <summary>
    /// The index whose output a user means by naming layer <paramref name="name"/>: the layer itself,
    /// or for a convolution followed by a ReLU (possibly after batch norm or dropout), the ReLU: rectified
    /// maps, as Zeiler &amp; Fergus show them.
    /// </summary>
    public int OutputIndexOf(string name)
    {
        int i = IndexOf(name);
        if (Layers[i].Kind != FeatureLayerKind.Conv) return i;
        int j = i + 1;
        while (j < Layers.Count && Layers[j].Kind == FeatureLayerKind.PassThrough) j++;
        return j < Layers.Count && Layers[j].Kind == FeatureLayerKind.Relu ? j : i;
    }

    /// <summary>Runs layers 0..<paramref name="last"/> (inclusive) on x (N, C, H, W) without recording gradients.</summary>
    public Tensor Forward(Tensor x, int last)
    {
        CheckIndex(last);
        using var _ = Kiln.Core.Autograd.GradMode.NoGrad();
        for (int i = 0; i <= last; i++) x = Layers[i].Forward(x);
        return x;
    }

    /// <summary>
    /// The stack of <paramref name="model"/>: a <see cref="Sequential"/> (nested ones are flattened, names
    /// are dotted state-dict prefixes), a zoo <c>Network</c> whose layers form a chain, or a module with a
    /// <see cref="Sequential"/> child named <c>features</c>.
    /// </summary>
    public static FeatureStack From(Module model)
    {
        if (model is Network network) return FromNetwork(network);
        var layers = new List<FeatureLayer>();
        if (model is Sequential)
            Collect(model, "", layers);
        else if (model.NamedChildren().FirstOrDefault(c => c.Name == "features").Module is Sequential features)
            Collect(features, "features.", layers);
        else
            throw new ArgumentException($"feature stack: {model.GetType().Name} is neither a Sequential, a zoo network, nor has a Sequential 'features' child");
        return new FeatureStack(layers);
    }

    /// <summary>Returns false when the walk must stop (a non-convolutional layer).</summary>
    private static bool Collect(Module m, string prefix, List<FeatureLayer> layers)
    {
        foreach (var (name, child) in m.NamedChildren())
        {
            string full = prefix + name;
            if (child is Sequential)
            {
                if (!Collect(child, full + ".", layers)) return false;
                continue;
            }
            var layer = Wrap(full, child);
            if (layer is null) return false;
            layers.Add(layer);
        }
        return true;
    }

    internal static FeatureLayer? Wrap(string name, Module m) => m switch
    {
        Nn.Conv2d c => new FeatureLayer(name, FeatureLayerKind.Conv, c.Forward, c.Weight.Value, c.Geometry),
        ReLU r => new FeatureLayer(name, FeatureLayerKind.Relu, r.Forward),
        Nn.MaxPool2d p => new FeatureLayer(name, FeatureLayerKind.MaxPool, p.Forward, pool: p.Geometry),
        Nn.LocalResponseNorm n => new FeatureLayer(name, FeatureLayerKind.Lrn, n.Forward),
        Nn.Dropout or Nn.BatchNorm2d => new FeatureLayer(name, FeatureLayerKind.PassThrough, m.Forward),
        _ => null,
    };

    /// <summary>
    /// The layers of a zoo network from its input while they form a chain (each reads the previous one)
    /// of conv, relu, maxpool, lrn, dropout and batchnorm layers. A residual network stops at its first
    /// addition; GoogLeNet at its first inception branch.
    /// </summary>
    private static FeatureStack FromNetwork(Network network)
    {
        var layers = new List<FeatureLayer>();
        var plans = network.Plan.Layers;
        for (int i = 0; i < plans.Count; i++)
        {
            var p = plans[i];
            if (p.InputIds.Length != 1 || p.InputIds[0] != i - 1) break;
            var bound = p.Bind(p.CreateModule is null ? null : FindModule(network, p.Name));
            Tensor Run(Tensor x) => bound([x], false);
            FeatureLayer? layer = p.Type switch
            {
                "conv" => FindModule(network, p.Name) is Nn.Conv2d c ? new FeatureLayer(p.Name, FeatureLayerKind.Conv, c.Forward, c.Weight.Value, c.Geometry) : null,
                "relu" => new FeatureLayer(p.Name, FeatureLayerKind.Relu, Run),
                "maxpool" => new FeatureLayer(p.Name, FeatureLayerKind.MaxPool, Run, pool: p.PoolGeometry),
                "lrn" => new FeatureLayer(p.Name, FeatureLayerKind.Lrn, Run),
                "dropout" or "batchnorm" => new FeatureLayer(p.Name, FeatureLayerKind.PassThrough, Run),
                _ => null,
            };
            if (layer is null) break;
            layers.Add(layer);
        }
        return new FeatureStack(layers);
    }

    /// <summary>The module at a dotted path below <paramref name="root"/>.</summary>
    internal static Module FindModule(Module root, string dotted)
    {
        var m = root;
        foreach (var part in dotted.Split('.'))
            m = m.NamedChildren().FirstOrDefault(c => c.Name == part).Module
                ?? throw new ArgumentException($"no module '{dotted}' in {root.GetType().Name} (stopped at '{part}')");
        return m;
    }

    private void CheckIndex(int last)
    {
        if (last < 0 || last >= Layers.Count)
            throw new ArgumentOutOfRangeException(nameof(last), $"layer index {last} is outside the stack of {Layers.Count} layers");
    }
}
