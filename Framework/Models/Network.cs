using Kiln.Nn;

namespace Kiln.Models;

/// <summary>
/// A network built from a <see cref="NetworkPlan"/>: runs its layers in order, each on the outputs of
/// the layers it names, and keeps the heads. Modules sit in a tree under their dotted names, so
/// <see cref="Module.StateDict"/> gives torchvision's keys (<c>layer1.0.conv1.weight</c>).
/// In training, <see cref="ForwardHeads"/> returns every head (GoogLeNet: main and two auxiliary
/// logits); in evaluation only the main head, and layers that feed only auxiliary heads do not run.
/// </summary>
public sealed class Network : Module
{
    private readonly Func<Tensor[], bool, Tensor>[] _run;
    private readonly bool[] _inEval;
    private readonly bool[] _needed;

    internal Network(NetworkPlan plan)
    {
        Plan = plan;
        var layers = plan.Layers;
        _run = new Func<Tensor[], bool, Tensor>[layers.Count];
        _inEval = layers.Select(l => l.InEvaluation).ToArray();
        _needed = new bool[layers.Count];
        foreach (var h in plan.Heads) Mark(h.LayerIndex);
        var groups = new Dictionary<string, ModuleGroup>();
        for (int i = 0; i < layers.Count; i++)
        {
            var module = layers[i].CreateModule?.Invoke();
            if (module is not null) Place(layers[i].Name, module, groups);
            _run[i] = layers[i].Bind(module);
        }

        void Mark(int i)
        {
            if (i < 0 || _needed[i]) return;
            _needed[i] = true;
            foreach (int j in layers[i].InputIds) Mark(j);
        }
    }

    public NetworkPlan Plan { get; }

    /// <summary>Optional per-layer observer, called after each layer runs with its index and output (benchmarks, debugging).</summary>
    public Action<int, Tensor>? AfterLayer { get; set; }

    /// <summary>The main head's output: logits (N, classes). Auxiliary heads do not run.</summary>
    public override Tensor Forward(Tensor x) => Run(x, allHeads: false)[0];

    /// <summary>Every head in training mode (main first), the main head alone in evaluation.</summary>
    public IReadOnlyList<Tensor> ForwardHeads(Tensor x) => Run(x, allHeads: IsTraining);

    private Tensor[] Run(Tensor x, bool allHeads)
    {
        var expected = Plan.InputShape;
        if (x.Rank != expected.Length + 1 || !x.Shape[1..].SequenceEqual(expected))
            throw new ArgumentException($"{Plan.Name}: needs input (N, {string.Join(", ", expected)}), got {x.ShapeString()}");
        bool training = IsTraining;
        var values = new Tensor[_run.Length];
        var layers = Plan.Layers;
        for (int i = 0; i < _run.Length; i++)
        {
            if (!_needed[i] || (!allHeads && !_inEval[i])) continue;
            var ids = layers[i].InputIds;
            var inputs = new Tensor[ids.Length];
            for (int j = 0; j < ids.Length; j++) inputs[j] = ids[j] < 0 ? x : values[ids[j]];
            values[i] = _run[i](inputs, training);
            AfterLayer?.Invoke(i, values[i]);
        }
        return allHeads ? Plan.Heads.Select(h => values[h.LayerIndex]).ToArray() : [values[Plan.Heads[0].LayerIndex]];
    }

    /// <summary>
    /// Training loss: Σ weight·cross-entropy over the heads that <see cref="ForwardHeads"/> returns
    /// (GoogLeNet: main + 0.3·aux1 + 0.3·aux2 in training, main alone in evaluation).
    /// </summary>
    public Tensor Loss(IReadOnlyList<Tensor> heads, Tensor labels)
    {
        Tensor? total = null;
        for (int i = 0; i < heads.Count; i++)
        {
            var term = Op.CrossEntropy(heads[i], labels);
            double w = Plan.Heads[i].LossWeight;
            if (w != 1) term = Op.Scale(term, w);
            total = total is null ? term : Op.Add(total, term);
        }
        return total ?? throw new InvalidOperationException("no heads");
    }

    private void Place(string dottedName, Module module, Dictionary<string, ModuleGroup> groups)
    {
        var parts = dottedName.Split('.');
        ModuleGroup? parent = null;
        string path = "";
        for (int i = 0; i < parts.Length - 1; i++)
        {
            path = i == 0 ? parts[0] : path + "." + parts[i];
            if (!groups.TryGetValue(path, out var g))
            {
                g = new ModuleGroup();
                if (parent is null) RegisterModule(parts[i], g);
                else parent.Add(parts[i], g);
                groups[path] = g;
            }
            parent = g;
        }
        if (parent is null) RegisterModule(parts[^1], module);
        else parent.Add(parts[^1], module);
    }
}
