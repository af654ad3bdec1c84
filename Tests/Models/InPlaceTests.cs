using Kiln.Backends.Cpu;
using Kiln.Config;
using Kiln.Core.Autograd;
using Kiln.Core.Ops;
using Kiln.Models;

namespace Kiln.Tests.Models;

/// <summary>
/// Note [In-place ReLU and add] and Note [Activations released in backward]: the network writes ReLU and add over
/// dead inputs and releases layer outputs during backward. Same numbers as without, fewer live bytes, and never a
/// value that something still reads.
/// </summary>
[Collection(MemoryCollection.Name)]   // reads the allocator's peak
public sealed class InPlaceTests
{
    /// <summary>
    /// Every case of Network.RunInPlace: conv → relu, linear → relu, add over its second input (the first is a ReLU
    /// output, whose backward reads it), a value read twice (by a relu and an add, so neither may overwrite it), a
    /// one-input concat handing its input on, and a ReLU whose output is a head.
    /// </summary>
    private const string Net = """
        name: inplace
        input: [3, 8, 8]
        layers:
          - {name: c1, type: conv, out: 4, kernel: 3, padding: 1}
          - {name: r1, type: relu}
          - {name: c2, type: conv, out: 4, kernel: 3, padding: 1, bias: false}
          - {name: b2, type: batchnorm}
          - {name: twice, type: relu, inputs: b2}
          - {name: sum, type: add, inputs: [r1, b2]}
          - {name: pass, type: concat, inputs: [sum]}
          - {name: r2, type: relu}
          - {name: sum2, type: add, inputs: [r2, twice]}
          - {name: gap, type: global_avgpool}
          - {name: fc1, type: linear, out: 6}
          - {name: r3, type: relu}
          - {name: fc2, type: linear, out: 3}
        outputs:
          - fc2
          - {layer: r3, weight: 0.5}
        """;

    /// <summary>
    /// A value read first by a layer whose backward reads it (batch norm, convolution) and last by a ReLU or an add: the
    /// last reader must not write over it, or the first one's backward would read the result.
    /// </summary>
    private const string SharedInput = """
        name: shared
        input: [3, 8, 8]
        layers:
          - {name: c1, type: conv, out: 4, kernel: 3, padding: 1}
          - {name: b1, type: batchnorm, inputs: c1}
          - {name: r1, type: relu, inputs: c1}
          - {name: c2, type: conv, out: 4, kernel: 3, padding: 1, inputs: b1}
          - {name: s, type: add, inputs: [c2, b1]}
          - {name: gap, type: global_avgpool}
          - {name: fc, type: linear, out: 3}
          - {name: sum, type: add, inputs: [r1, r1]}
          - {name: gap2, type: global_avgpool}
          - {name: fc2, type: linear, out: 3}
        outputs:
          - fc
          - {layer: fc2, weight: 0.5}
        """;

    private static Network Build(string nameOrYaml, ulong seed)
    {
        RandomGenerator.Global.ManualSeed(seed);
        return nameOrYaml.Contains('\n')
            ? NetworkPlanner.Plan(NetworkSpecReader.Read(nameOrYaml, "inplace.yaml"), null).Build()
            : ModelZoo.Create(nameOrYaml);
    }

    /// <summary>The loss, every parameter's gradient and every head's values of one training step.</summary>
    private static (double Loss, Dictionary<string, double[]> Grads, double[][] Heads) Step(Network net, int batch, int classes, ulong seed)
    {
        var shape = net.Plan.InputShape;
        var x = Tensor.FromArray(Normal(batch * shape.Aggregate(1, (a, d) => a * d), seed), [batch, .. shape]);   // x: (N, C, H, W)
        var labels = Tensor.FromArray(Enumerable.Range(0, batch).Select(i => i % classes).ToArray(), [batch]);
        using var scope = TensorScope.Begin();
        RandomGenerator.Global.ManualSeed(seed);   // dropout's masks
        net.Train();
        foreach (var p in net.Parameters()) p.ZeroGrad();
        var heads = net.ForwardHeads(x);
        var loss = net.Loss(heads, labels);
        loss.Backward();
        var grads = net.NamedParameters().ToDictionary(p => p.Name, p => D(p.Parameter.Grad!));
        return (D(loss)[0], grads, heads.Select(D).ToArray());
    }

    private static float[] Normal(int n, ulong seed)
    {
        var v = new float[n];
        new RandomGenerator(seed).Normal<float>(v);
        return v;
    }

    private static double[] D(Tensor t) => t.ToArray<float>().Select(v => (double)v).ToArray();

    [Theory]
    [InlineData("inline", 3)]
    [InlineData("shared", 3)]
    [InlineData("tiny", 4)]
    [InlineData("resnet20", 10)]
    public void InPlace_GivesBitForBitTheSameStep_AsOutOfPlace(string name, int classes)
    {
        string source = name switch { "inline" => Net, "shared" => SharedInput, _ => name };
        using var on = Build(source, 7);
        using var off = Build(source, 7);
        off.InPlace = false;
        var a = Step(on, 3, classes, 11);
        var b = Step(off, 3, classes, 11);
        Assert.Equal(b.Loss, a.Loss);
        Assert.Equal(b.Heads.Length, a.Heads.Length);
        for (int i = 0; i < a.Heads.Length; i++) Assert.Equal(b.Heads[i], a.Heads[i]);
        Assert.Equal(b.Grads.Keys, a.Grads.Keys);
        foreach (var (k, g) in b.Grads) Assert.True(g.SequenceEqual(a.Grads[k]), $"gradient of {k} differs with InPlace");
    }

    [Fact]
    public void InPlace_WritesOnlyOverDeadValues_AndReleasesNonHeadsAfterBackward()
    {
        using var net = Build(Net, 3);
        var layers = net.Plan.Layers.Select(l => l.Name).ToList();
        int Id(string n) => layers.IndexOf(n);
        var seen = new Tensor[layers.Count];
        var copies = new float[layers.Count][];
        net.AfterLayer = (i, y) => { seen[i] = y; copies[i] = y.ToArray<float>(); };
        using var scope = TensorScope.Begin();
        net.Train();
        var x = Tensor.FromArray(Normal(2 * 3 * 8 * 8, 5), [2, 3, 8, 8]);
        var heads = net.ForwardHeads(x);
        net.AfterLayer = null;

        bool SameStorage(string a, string b) => ReferenceEquals(seen[Id(a)].Storage, seen[Id(b)].Storage);
        Assert.True(SameStorage("r1", "c1"));                 // conv → relu: overwritten
        Assert.True(SameStorage("r3", "fc1"));                // linear → relu: overwritten
        Assert.False(SameStorage("twice", "b2"));             // b2 is still to be read by `sum`
        Assert.False(SameStorage("sum", "b2"));               // `sum` reads b2 last, but `twice` read it too: only a sole reader writes over
        Assert.False(SameStorage("sum", "r1"));               // r1 made by relu, whose backward reads it
        Assert.Same(seen[Id("sum")], seen[Id("pass")]);      // one-input concat hands its input on
        Assert.False(SameStorage("r2", "sum"));               // handed on, the object has two reads (`pass`, r2): kept
        Assert.False(SameStorage("sum2", "r2") || SameStorage("sum2", "twice"));   // both are ReLU outputs
        Assert.Equal(copies[Id("c2")], seen[Id("c2")].ToArray<float>());            // batch norm reads it, never overwrites it
        Assert.Equal(copies[Id("r1")], seen[Id("r1")].ToArray<float>());            // read by `sum`, not overwritten
        var (b2, r1, sum) = (copies[Id("b2")], copies[Id("r1")], copies[Id("sum")]);
        for (int i = 0; i < b2.Length; i++)
        {
            Assert.Equal(Math.Max(b2[i], 0), copies[Id("twice")][i]);   // `twice` read b2 before `sum` wrote over it
            Assert.Equal(r1[i] + b2[i], sum[i]);
        }

        var loss = net.Loss(heads, Tensor.FromArray(new[] { 0, 2 }, [2]));
        loss.Backward();
        foreach (var name in new[] { "c1", "r1", "c2", "b2", "twice", "sum", "r2", "sum2", "gap", "fc1" })
            Assert.True(seen[Id(name)].IsDisposed, $"{name} should be released by backward");
        Assert.False(heads[0].IsDisposed);
        Assert.False(heads[1].IsDisposed);   // r3, the side head, is read after backward
        Assert.Equal(copies[Id("r3")], heads[1].ToArray<float>());
        Assert.False(x.IsDisposed);
    }

    [Fact]
    public void ABatchNormWhoseOneReaderIsARelu_RunsItInside_AndNoOtherDoes()
    {
        using var net = Build("resnet20", 3);
        var layers = net.Plan.Layers.Select(l => l.Name).ToList();
        var seen = new Tensor[layers.Count];
        var copies = new float[layers.Count][];
        net.AfterLayer = (i, y) => (seen[i], copies[i]) = (y, y.ToArray<float>());   // later layers may write over y
        using var scope = TensorScope.Begin();
        net.Train();
        net.ForwardHeads(Tensor.FromArray(Normal(2 * 3 * 32 * 32, 4), [2, 3, 32, 32]));
        net.AfterLayer = null;
        int bn1 = layers.IndexOf("layer1.0.bn1"), relu = bn1 + 1, bn2 = layers.IndexOf("layer1.0.bn2");
        Assert.Equal("relu", net.Plan.Layers[relu].Type);
        Assert.Same(seen[bn1], seen[relu]);                       // the ReLU layer hands on the fused output
        Assert.Equal("BatchNorm2dRelu", seen[bn1].GradFn!.Name);
        Assert.DoesNotContain(copies[bn1], v => v < 0);
        Assert.Equal("BatchNorm2d", seen[bn2].GradFn!.Name);      // read by the add: no ReLU of its own
        Assert.Contains(copies[bn2], v => v < 0);
    }

    [Fact]
    public void WithoutAGraph_TheLastReaderWritesOverAValueReadBefore()
    {
        using var net = Build(SharedInput, 3);
        var layers = net.Plan.Layers.Select(l => l.Name).ToList();
        var seen = new Tensor[layers.Count];
        net.AfterLayer = (i, y) => seen[i] = y;
        using var scope = TensorScope.Begin();
        using (GradMode.NoGrad())
        {
            net.Train();   // every head, so r1's branch runs
            net.ForwardHeads(Tensor.FromArray(Normal(2 * 3 * 8 * 8, 5), [2, 3, 8, 8]));
        }
        net.AfterLayer = null;
        // No backward will read c1, so r1, its last reader after b1, writes over it; with a graph it may not (the
        // "shared" case of InPlace_GivesBitForBitTheSameStep_AsOutOfPlace).
        Assert.Same(seen[layers.IndexOf("c1")].Storage, seen[layers.IndexOf("r1")].Storage);
    }

    [Fact]
    public void RetainGraph_KeepsEveryValue_SoASecondBackwardGivesTwiceTheGradient()
    {
        using var net = Build(Net, 3);
        using var scope = TensorScope.Begin();
        net.Train();
        var x = Tensor.FromArray(Normal(2 * 3 * 8 * 8, 5), [2, 3, 8, 8]);
        var loss = net.Loss(net.ForwardHeads(x), Tensor.FromArray(new[] { 1, 2 }, [2]));
        loss.Backward(retainGraph: true);
        var first = net.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad!.ToArray<float>());
        loss.Backward();
        foreach (var (name, p) in net.NamedParameters())
        {
            var twice = p.Grad!.ToArray<float>();
            for (int i = 0; i < twice.Length; i++) Assert.Equal(2 * first[name][i], twice[i], 1e-5f * (1 + Math.Abs(twice[i])));
        }
    }

    [Fact]
    public void InPlace_LowersThePeakOfATrainingStep()
    {
        long Peak(bool inPlace)
        {
            using var net = Build("resnet20", 1);
            net.InPlace = inPlace;
            Step(net, 16, 10, 2);   // first step: parameters' gradients and the allocator's free lists
            long before = CpuAllocator.LiveBytes;
            CpuAllocator.ResetPeak();
            Step(net, 16, 10, 2);
            return CpuAllocator.PeakLiveBytes - before;
        }
        long off = Peak(false), on = Peak(true);
        // resnet20's 19 ReLUs and 9 adds each kept a copy of an activation; half the step's peak goes.
        Assert.True(on < 0.7 * off, $"peak of a step: {on} B in place, {off} B without");
    }

    [Fact]
    public void CanOverwrite_OnlyOutputsWhoseBackwardDoesNotReadThem()
    {
        using var scope = TensorScope.Begin();
        var w = Tensor.FromArray(Normal(4 * 3 * 9, 1), [4, 3, 3, 3]);
        w.RequiresGrad = true;
        var x = Tensor.FromArray(Normal(2 * 3 * 5 * 5, 2), [2, 3, 5, 5]);
        var y = Op.Conv2d(x, w, null, new Conv2dParams(1, 1, 1, 1));
        Assert.True(Op.CanOverwrite(y));
        Assert.False(Op.CanOverwrite(w));                      // a parameter
        var r = Op.Relu(y);
        Assert.False(Op.CanOverwrite(r));                      // relu's backward reads its output
        var e = Assert.Throws<InvalidOperationException>(() => Op.ReluInPlace(r));
        Assert.Contains("made by Relu", e.Message);
        var view = y.Alias();
        Assert.False(Op.CanOverwrite(y));                      // another tensor shares its storage
        view.Dispose();
        Assert.True(Op.CanOverwrite(y));
        Assert.True(Op.CanOverwrite(Tensor.Zeros([3])));       // no graph at all
    }

    [Fact]
    public void AddInPlace_AndReluInPlace_MatchTheirOps_ValuesAndGradients()
    {
        double[] Grad(bool inPlace, out double[] value)
        {
            using var scope = TensorScope.Begin();
            var w = Tensor.FromArray(Normal(4 * 3 * 9, 1), [4, 3, 3, 3]);
            w.RequiresGrad = true;
            var x = Tensor.FromArray(Normal(2 * 3 * 5 * 5, 2), [2, 3, 5, 5]);
            var a = Op.Conv2d(x, w, null, new Conv2dParams(1, 1, 1, 1));
            var b = Op.Conv2d(x, Op.Scale(w, -0.5), null, new Conv2dParams(1, 1, 1, 1));
            var s = inPlace ? Op.AddInPlace(a, b) : Op.Add(a, b);
            var y = inPlace ? Op.ReluInPlace(s) : Op.Relu(s);
            value = D(y);
            Op.Sum(Op.Mul(y, y)).Backward();
            return D(w.Grad!);
        }
        var g1 = Grad(true, out var v1);
        var g0 = Grad(false, out var v0);
        Assert.Equal(v0, v1);
        Assert.Equal(g0, g1);
        Assert.Contains(v1, v => v == 0);   // some outputs were clipped, so the mask mattered
    }
}
