using Kiln.Core.Autograd;
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
    private readonly Module?[] _modules;
    private readonly int[][] _mapShape;
    /// <summary>How many running layers read layer i's output (an input listed twice counts twice), plus one when a head
    /// returns it: [0] in training (every head), [1] in evaluation (main head only). See Note [In-place ReLU and add].</summary>
    private readonly int[][] _uses;
    private readonly bool[] _isHead;
    /// <summary>Per mode ([0] training, [1] evaluation): layer i is a batch norm whose one reader, a ReLU, runs inside it
    /// (Note [Batch norm with ReLU]); that ReLU layer then hands the fused output on.</summary>
    private readonly bool[][] _bnWithRelu, _reluInBn;

    internal Network(NetworkPlan plan)
    {
        Plan = plan;
        var layers = plan.Layers;
        _run = new Func<Tensor[], bool, Tensor>[layers.Count];
        _inEval = layers.Select(l => l.InEvaluation).ToArray();
        _needed = new bool[layers.Count];
        _modules = new Module?[layers.Count];
        _mapShape = new int[layers.Count][];
        foreach (var h in plan.Heads) Mark(h.LayerIndex);
        _isHead = new bool[layers.Count];
        foreach (var h in plan.Heads) _isHead[h.LayerIndex] = true;
        _uses = [new int[layers.Count], new int[layers.Count]];
        for (int mode = 0; mode < 2; mode++)
        {
            for (int k = 0; k < layers.Count; k++)
                if (_needed[k] && (mode == 0 || _inEval[k]))
                    foreach (int j in layers[k].InputIds) if (j >= 0) _uses[mode][j]++;
            foreach (var h in mode == 0 ? plan.Heads : plan.Heads.Take(1)) _uses[mode][h.LayerIndex]++;
        }
        var groups = new Dictionary<string, ModuleGroup>();
        for (int i = 0; i < layers.Count; i++)
        {
            var module = layers[i].CreateModule?.Invoke();
            if (module is not null) Place(layers[i].Name, module, groups);
            _modules[i] = module;
            _run[i] = layers[i].Bind(module);
            // What the layer's output is in ForwardDense, as planned: a map (C, H, W); a vector (F) stays a map (F, 1, 1),
            // except that flatten, relu and dropout keep the map they read (so a linear after a flatten sees its shape).
            int[] input = layers[i].InputIds is [int first, ..] && first >= 0 ? _mapShape[first] : plan.InputShape;
            var output = layers[i].OutputShape;
            _mapShape[i] = layers[i].Type is "flatten" or "relu" or "dropout" ? input : output.Length == 3 ? output : [output[0], 1, 1];
        }
        _bnWithRelu = [new bool[layers.Count], new bool[layers.Count]];
        _reluInBn = [new bool[layers.Count], new bool[layers.Count]];
        for (int mode = 0; mode < 2; mode++)
            for (int j = 0; j < layers.Count; j++)
            {
                if (!_needed[j] || (mode == 1 && !_inEval[j]) || layers[j].Type != "relu" || layers[j].InputIds is not [int i] || i < 0) continue;
                if (_modules[i] is Nn.BatchNorm2d && _uses[mode][i] == 1)
                    (_bnWithRelu[mode][i], _reluInBn[mode][j]) = (true, true);
            }

        void Mark(int i)
        {
            if (i < 0 || _needed[i]) return;
            _needed[i] = true;
            foreach (int j in layers[i].InputIds) Mark(j);
        }
    }

    public NetworkPlan Plan { get; }

    /// <summary>
    /// Optional per-layer observer, called after each layer runs with its index and output (benchmarks, debugging). A later
    /// ReLU or add may overwrite that output in place (<see cref="InPlace"/>): copy it to keep its values.
    /// </summary>
    public Action<int, Tensor>? AfterLayer { get; set; }

    // Note [Activations released in backward]
    // Every tensor of a training step lives in the step's TensorScope until the step ends, so without help the
    // activations of the whole forward pass stay allocated through the backward, while the gradients of the
    // early (large) layers are allocated on top: the step's peak. PyTorch frees each saved tensor once the
    // backward that read it has run. Here the network does the same for its layer outputs: a value is read in
    // backward only by the nodes of the layers that consumed it and by the node that made it (ReLU and max-pool
    // read their output), and the engine runs nodes newest first, so once the node that made the value has run
    // backward every reader has too. Network.Run hands each value to that node (Node.ReleaseAfterBackward),
    // which disposes it when the engine frees the node: not with retainGraph, and not for a head's output,
    // which the caller reads after backward (the trainer's top-1). A value still shared (a view, an in-place
    // alias) keeps its storage until its last tensor goes. Tied to InPlace: off keeps every output intact.

    /// <summary>
    /// ReLU and add layers write over an input that nothing reads afterwards, as torchvision's inplace=True and
    /// <c>out += identity</c> do (Note [In-place ReLU and add]). The same values and gradients, fewer live
    /// activations; a batch norm whose one reader is a ReLU runs it inside (Note [Batch norm with ReLU]; its output, as
    /// <see cref="AfterLayer"/> sees it, is then after the ReLU); and a training step's backward releases each layer's
    /// output once nothing reads it any more (Note [Activations released in backward]). On by default; off runs every
    /// layer as written and keeps its output intact until the step ends.
    /// </summary>
    public bool InPlace { get; set; } = true;

    /// <summary>The main head's output: logits (N, classes). Auxiliary heads do not run.</summary>
    public override Tensor Forward(Tensor x) => Run(x, allHeads: false)[0];

    /// <summary>
    /// Dense evaluation (VGG's dense evaluation, ResNet's fully convolutional form): the main head run on images
    /// (N, C, H, W) of any size that the layers accept (the planned size or larger), with every fully connected layer
    /// applied as a convolution: the first with the kernel of the map it reads at the planned size (VGG: 7x7 over
    /// 512 maps; after a global average pool: 1x1), the rest 1x1. The head then gives a class score map
    /// (N, classes, h, w), which is averaged over space: logits (N, classes). At the planned input size this equals
    /// <see cref="Forward"/>. Once the map has become a vector in the plan, only linear, relu, dropout and flatten may
    /// follow; any other layer there is refused with its name. Runs in evaluation mode only.
    /// </summary>
    public Tensor ForwardDense(Tensor x)
    {
        var expected = Plan.InputShape;
        if (x.Rank != 4 || expected.Length != 3 || x.Size(1) != expected[0])
            throw new ArgumentException($"{Plan.Name}: dense evaluation needs images (N, {expected[0]}, H, W), got {x.ShapeString()}");
        if (IsTraining) throw new InvalidOperationException($"{Plan.Name}: dense evaluation runs in evaluation mode; call Eval() first");
        var values = new Tensor[_run.Length];
        var layers = Plan.Layers;
        for (int i = 0; i < _run.Length; i++)
        {
            if (!_needed[i] || !_inEval[i]) continue;
            var layer = layers[i];
            var ids = layer.InputIds;
            var inputs = new Tensor[ids.Length];
            for (int j = 0; j < ids.Length; j++) inputs[j] = ids[j] < 0 ? x : values[ids[j]];
            values[i] = layer.Type switch
            {
                "linear" => LinearAsConv(i, inputs[0]),
                "flatten" => inputs[0],                          // keep the map; the next linear reads it as a convolution
                "relu" or "dropout" => _run[i](inputs, false),   // elementwise: on maps as on vectors
                _ when layer.InputShapes.Any(s => s.Length != 3) => throw new NotSupportedException(
                    $"{Plan.Name}: dense evaluation cannot run layer '{layer.Name}' ({layer.Type}) on a score map: only linear, relu, dropout and flatten may follow the convolutional part"),
                _ => _run[i](inputs, false),
            };
            AfterLayer?.Invoke(i, values[i]);
        }
        var scores = values[Plan.Heads[0].LayerIndex];        // (N, classes, h, w)
        if (scores.Rank != 4)
            throw new InvalidOperationException($"{Plan.Name}: dense evaluation expected a score map (N, classes, h, w), got {scores.ShapeString()}");
        return Op.Flatten(Op.GlobalAvgPool2d(scores));       // (N, classes)
    }

    /// <summary>
    /// A linear layer with weight (K, C·kh·kw) as a convolution with weight (K, C, kh, kw), where (C, kh, kw) is the
    /// map it reads at the planned input size (flatten order is channel, row, column: a convolution's weight layout).
    /// </summary>
    private Tensor LinearAsConv(int i, Tensor x)
    {
        var layer = Plan.Layers[i];
        var linear = (Linear)_modules[i]!;
        int id = layer.InputIds[0];
        int[] k = id < 0 ? Plan.InputShape : _mapShape[id];     // (C, kh, kw)
        if (x.Rank != 4 || x.Size(1) != k[0] || x.Size(2) < k[1] || x.Size(3) < k[2])
            throw new ArgumentException($"{Plan.Name}: dense evaluation: layer '{layer.Name}' reads a ({string.Join(", ", k)}) map at the planned input size " +
                $"and runs as a {k[1]}x{k[2]} convolution, but got {x.ShapeString()}; the image is too small");
        var w = linear.Weight.Value;                             // (K, C·kh·kw)
        var kernel = Op.Reshape(w, w.Size(0), k[0], k[1], k[2]); // (K, C, kh, kw)
        return Op.Conv2d(x, kernel, linear.Bias?.Value, new Conv2dParams(1, 0, 1, 1)); // (N, K, H − kh + 1, W − kw + 1)
    }

    /// <summary>
    /// Every convolution layer a training step runs (<see cref="ForwardHeads"/> in training mode), in layer order, with
    /// the input it gets from a batch of <paramref name="batch"/> images at the planned size: (batch, C, H, W) from the
    /// plan, the weight's shape and the geometry from the module. No tensor is touched; for per-layer reports such as
    /// the trainer's cuDNN algorithm log (Note [Per-layer algorithm log] in CUDA's ConvLayerAlgorithms).
    /// </summary>
    public IReadOnlyList<ConvLayer> ConvLayers(int batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        var result = new List<ConvLayer>();
        for (int i = 0; i < _run.Length; i++)
        {
            if (!_needed[i] || _modules[i] is not Conv2d conv) continue;
            var layer = Plan.Layers[i];
            int[] chw = layer.InputShapes[0];   // (C, H, W)
            result.Add(new ConvLayer(layer.Name, [batch, .. chw], conv.Weight.Value.Shape.ToArray(), conv.Geometry));
        }
        return result;
    }

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
        int mode = allHeads ? 0 : 1;   // [0] training with every head, [1] evaluation
        var uses = _uses[mode];
        // Reads of each value, by object (a layer may hand on its input itself, a one-input concat): still to come, and in
        // all. The caller's input is never written over.
        var pending = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance) { [x] = int.MaxValue / 2 };
        var reads = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance) { [x] = int.MaxValue / 2 };
        for (int i = 0; i < _run.Length; i++)
        {
            if (!_needed[i] || (!allHeads && !_inEval[i])) continue;
            var ids = layers[i].InputIds;
            var inputs = new Tensor[ids.Length];
            for (int j = 0; j < ids.Length; j++) inputs[j] = ids[j] < 0 ? x : values[ids[j]];
            foreach (var t in inputs) pending[t]--;
            long before = Node.LastSequence;
            values[i] = !InPlace ? _run[i](inputs, training)
                : _bnWithRelu[mode][i] ? ((Nn.BatchNorm2d)_modules[i]!).Forward(inputs[0], relu: true)
                : _reluInBn[mode][i] ? inputs[0]
                : RunInPlace(i, inputs, pending, reads) ?? _run[i](inputs, training);
            pending[values[i]] = pending.GetValueOrDefault(values[i]) + uses[i];
            reads[values[i]] = reads.GetValueOrDefault(values[i]) + uses[i];
            AfterLayer?.Invoke(i, values[i]);
            // Note [Activations released in backward]: a value that no head returns goes once the backward of the node
            // that made it has run. Layers that hand on an input unchanged made no node of their own.
            if (InPlace && !_isHead[i] && values[i].GradFn is { } made && made.Sequence > before)
                made.ReleaseAfterBackward(values[i]);
        }
        return allHeads ? Plan.Heads.Select(h => values[h.LayerIndex]).ToArray() : [values[Plan.Heads[0].LayerIndex]];
    }

    /// <summary>
    /// A ReLU or two-input add layer written over an input that no later layer or head reads (its count in
    /// <paramref name="pending"/>, this layer's reads already taken off, is 0), that no earlier layer read either when a
    /// graph is recorded (that layer's backward may read it: a convolution or batch norm reads its input), and that
    /// autograd lets be overwritten (Op.CanOverwrite); null when the layer is of another type or no input qualifies.
    /// Note [In-place ReLU and add].
    /// </summary>
    private Tensor? RunInPlace(int i, Tensor[] inputs, Dictionary<Tensor, int> pending, Dictionary<Tensor, int> reads)
    {
        bool Free(Tensor t) => pending[t] == 0 && (t.GradFn is null || reads[t] == 1) && Op.CanOverwrite(t);
        switch (Plan.Layers[i].Type)
        {
            case "relu" when Free(inputs[0]):
                return Op.ReluInPlace(inputs[0]);
            case "add" when inputs.Length == 2 && !ReferenceEquals(inputs[0], inputs[1]):
                if (Free(inputs[0])) return Op.AddInPlace(inputs[0], inputs[1]);
                if (Free(inputs[1])) return Op.AddInPlace(inputs[1], inputs[0]);
                return null;
            default:
                return null;
        }
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
