using Kiln.Backends.Cuda;
using Kiln.Models;
using Kiln.Nn;
using Kiln.Training;

namespace Kiln.Tests.Backends.Cuda;

/// <summary>
/// The per-layer cuDNN algorithm log (Note [Per-layer algorithm log]): the layer → shape join on the CPU with a fake
/// algorithm cache, and on a GPU the real cache after one training step.
/// </summary>
[Collection(MemoryCollection.Name)]   // the GPU test changes the shared backend's policy
public sealed class ConvLayerAlgorithmsTests
{
    private static readonly CudnnConvOptions Options = new();

    private static IEnumerable<(string, int[], int[], Conv2dParams)> Tuples(IEnumerable<ConvLayer> layers) =>
        layers.Select(l => (l.Name, l.Input, l.Weight, l.Geometry));

    /// <summary>
    /// A cache as one training step would fill it: every distinct shape gets an algorithm per pass, derived from the shape
    /// so different shapes get different numbers, except backward data of layers whose input is the image.
    /// </summary>
    private static Dictionary<ConvAlgoKey, ConvAlgoChoice> FakeCache(IReadOnlyList<ConvLayer> layers, int[] imageInput)
    {
        var cache = new Dictionary<ConvAlgoKey, ConvAlgoChoice>();
        foreach (var l in layers)
            foreach (var pass in Enum.GetValues<ConvPass>())
            {
                if (pass == ConvPass.BackwardData && l.Input.AsSpan(1).SequenceEqual(imageInput)) continue;
                var key = ConvAlgoKey.Of(pass, DType.Float32, l.Input, l.Weight, l.Geometry, Options, allowTf32: false);
                int algo = (l.Input[1] + l.Weight[0] + l.Weight[2] + l.Geometry.StrideH) % (pass == ConvPass.BackwardData ? 6 : 7);
                cache[key] = new ConvAlgoChoice(algo, CudnnPlans.FmaMath, 1024L * algo, Measured: true);
            }
        return cache;
    }

    [Fact]
    public void Network_ConvLayers_ListEveryConvolutionWithTheShapeAForwardPassGivesIt()
    {
        RandomGenerator.Global.ManualSeed(5);
        using var net = ModelZoo.Create("tiny");   // branches, concat, residual blocks, an auxiliary head
        var layers = net.ConvLayers(3);
        Assert.Equal(net.Modules().OfType<Conv2d>().Count(), layers.Count);
        Assert.Equal(layers.Count, layers.Select(l => l.Name).Distinct().Count());

        // The shapes a real training-mode forward gives each convolution's input and output.
        var outputs = new Dictionary<int, int[]>();
        using var scope = TensorScope.Begin();
        var x = Tensor.Zeros([3, .. net.Plan.InputShape]);   // (3, 3, 16, 16)
        net.Train();
        net.AfterLayer = (i, y) => outputs[i] = y.Shape.ToArray();
        net.ForwardHeads(x);
        net.AfterLayer = null;
        foreach (var l in layers)
        {
            int i = net.Plan.Layers.ToList().FindIndex(p => p.Name == l.Name);
            Assert.True(i >= 0, $"{l.Name} is not a layer of the plan");
            int input = net.Plan.Layers[i].InputIds[0];
            Assert.Equal(input < 0 ? x.Shape.ToArray() : outputs[input], l.Input);
            Assert.Equal(outputs[i], l.Geometry.OutputShape(l.Input, l.Weight));
        }
        var stem = Assert.Single(layers, l => l.Name == "stem.conv");
        Assert.Equal([3, 3, 16, 16], stem.Input);
        Assert.Equal([8, 3, 3, 3], stem.Weight);
    }

    [Fact]
    public void Build_JoinsEachLayerToTheCachedAlgorithmsOfItsShape()
    {
        using var net = ModelZoo.Create("resnet18");
        var layers = net.ConvLayers(8);
        var cache = FakeCache(layers, net.Plan.InputShape);
        var rows = ConvLayerAlgorithms.Build(Tuples(layers), DType.Float32, Options, allowTf32: false, k => cache.TryGetValue(k, out var c) ? c : null);

        Assert.Equal(layers.Select(l => l.Name), rows.Select(r => r.Layer));
        var down = Assert.Single(rows, r => r.Layer == "layer2.0.conv1");
        Assert.Equal([8, 64, 56, 56], down.Input);
        Assert.Equal([128, 64, 3, 3], down.Weight);
        Assert.Equal(2, down.Geometry.StrideH);
        var key = ConvAlgoKey.Of(ConvPass.BackwardFilter, DType.Float32, down.Input, down.Weight, down.Geometry, Options, false);
        Assert.Equal(ConvLayerAlgorithms.AlgoName(ConvPass.BackwardFilter, cache[key].Algo), down.BackwardFilter!.Algorithm);
        Assert.Equal("CUDNN_FMA_MATH", down.BackwardFilter.MathType);
        Assert.Equal(cache[key].WorkspaceBytes, down.BackwardFilter.WorkspaceBytes);
        Assert.StartsWith("CUDNN_CONVOLUTION_FWD_ALGO_", down.Forward!.Algorithm);
        Assert.StartsWith("CUDNN_CONVOLUTION_BWD_DATA_ALGO_", down.BackwardData!.Algorithm);

        // The stem reads the image: its backward data never ran, and says so.
        var stem = rows[0];
        Assert.Equal("conv1", stem.Layer);
        Assert.Null(stem.BackwardData);
        Assert.NotNull(stem.Forward);
        Assert.Contains("backward data (not run)", stem.ToString());
        // Layers of one shape share one cache entry, hence one algorithm per pass.
        var a = rows.Single(r => r.Layer == "layer1.0.conv1");
        var b = rows.Single(r => r.Layer == "layer1.1.conv2");
        Assert.Equal((a.Forward, a.BackwardData, a.BackwardFilter), (b.Forward, b.BackwardData, b.BackwardFilter));
        // Every other layer found all three passes.
        Assert.All(rows.Skip(1), r => Assert.True(r.Forward is not null && r.BackwardData is not null && r.BackwardFilter is not null, r.ToString()));
    }

    [Fact]
    public void Build_UsesThePolicyInTheKey_AndAnotherBatchSizeFindsNothing()
    {
        using var net = ModelZoo.Create("tiny");
        var layers = net.ConvLayers(16);
        var cache = FakeCache(layers, net.Plan.InputShape);
        ConvAlgoChoice? Lookup(ConvAlgoKey k) => cache.TryGetValue(k, out var c) ? c : null;
        Assert.All(ConvLayerAlgorithms.Build(Tuples(layers), DType.Float32, Options, allowTf32: true, Lookup), r => Assert.Null(r.Forward));
        Assert.All(ConvLayerAlgorithms.Build(Tuples(layers), DType.Float32, new CudnnConvOptions { Deterministic = true }, false, Lookup), r => Assert.Null(r.Forward));
        Assert.All(ConvLayerAlgorithms.Build(Tuples(net.ConvLayers(15)), DType.Float32, Options, false, Lookup), r => Assert.Null(r.Forward));
        Assert.All(ConvLayerAlgorithms.Build(Tuples(layers), DType.Float32, Options, false, Lookup), r => Assert.NotNull(r.Forward));
    }

    [Fact]
    public void FormatTable_OneTabSeparatedRowPerLayer_DashWherePassDidNotRun()
    {
        using var net = ModelZoo.Create("tiny");
        var layers = net.ConvLayers(16);
        var cache = FakeCache(layers, net.Plan.InputShape);
        var rows = ConvLayerAlgorithms.Build(Tuples(layers), DType.Float32, Options, false, k => cache.TryGetValue(k, out var c) ? c : null);
        string[] lines = ConvLayerAlgorithms.FormatTable("NVIDIA H200 sm_90 cudnn 91900", rows).TrimEnd('\n').Split('\n');
        Assert.Equal(2 + layers.Count, lines.Length);
        Assert.Equal("# kiln cuDNN algorithms per convolution layer | NVIDIA H200 sm_90 cudnn 91900", lines[0]);
        string[] header = lines[1].Split('\t');
        Assert.Equal(13, header.Length);
        Assert.All(lines.Skip(2), l => Assert.Equal(13, l.Split('\t').Length));
        string[] stem = lines[2].Split('\t');
        Assert.Equal(["stem.conv", "(16, 3, 16, 16)", "(8, 3, 3, 3)"], stem[..3]);
        Assert.Equal(["-", "-", "-"], stem[7..10]);   // backward data of the layer that reads the image
        Assert.StartsWith("CUDNN_CONVOLUTION_FWD_ALGO_", stem[4]);
        Assert.StartsWith("CUDNN_CONVOLUTION_BWD_FILTER_ALGO_", stem[10]);
    }

    [Fact]
    public void ConvAlgoKey_FromShapes_EqualsTheKeyOfTheOpsTensors()
    {
        using var x = Tensor.Zeros([2, 4, 9, 9]);
        using var w = Tensor.Zeros([6, 2, 3, 3]);
        var p = new Conv2dParams(2, 1, 1, 2);
        foreach (var pass in Enum.GetValues<ConvPass>())
            Assert.Equal(ConvAlgoKey.Of(pass, x, w, p, Options, true), ConvAlgoKey.Of(pass, DType.Float32, [2, 4, 9, 9], [6, 2, 3, 3], p, Options, true));
        Assert.Throws<ArgumentException>(() => ConvAlgoKey.Of(ConvPass.Forward, DType.Float32, [4, 9, 9], [6, 2, 3, 3], p, Options, true));
    }

    [Fact]
    public void AfterOneTrainingStepOnCuda_EveryLayerHasItsAlgorithms_ExceptBackwardDataOfTheStem()
    {
        CudaTestEnvironment.RequireKernels();
        CudaTestEnvironment.RequireCublas();
        CudaTestEnvironment.RequireCudnn();
        var gpu = (CudaBackend)Backend.For(Device.Cuda(0));
        bool tf32 = gpu.AllowTf32;
        gpu.AllowTf32 = false;
        try
        {
            RandomGenerator.Global.ManualSeed(7);
            using var net = ModelZoo.Create("tiny");
            net.To(Device.Cuda(0));
            using var scope = TensorScope.Begin();
            const int n = 5;   // a batch size no other test uses, so this step searches its own algorithms
            var data = new float[n * 3 * 16 * 16];
            new RandomGenerator(8).Normal<float>(data);
            var x = Tensor.FromArray(data, [n, 3, 16, 16], Device.Cuda(0));
            var labels = Tensor.FromArray(Enumerable.Range(0, n).Select(i => i % 4).ToArray(), [n], Device.Cuda(0));
            net.Loss(net.ForwardHeads(x), labels).Backward();
            gpu.Synchronize();
            var layers = net.ConvLayers(n);
            var rows = gpu.ConvAlgorithmsByLayer(Tuples(layers), DType.Float32);
            Assert.Equal(layers.Count, rows.Count);
            foreach (var r in rows)
            {
                Assert.True(r.Forward is not null && r.BackwardFilter is not null, $"missing forward or backward filter: {r}");
                bool readsImage = r.Input.AsSpan(1).SequenceEqual(net.Plan.InputShape);
                Assert.True(readsImage == (r.BackwardData is null), $"backward data {(readsImage ? "ran for the layer that reads the image" : "missing")}: {r}");
                Assert.Equal("CUDNN_FMA_MATH", r.Forward!.MathType);
            }
        }
        finally { gpu.AllowTf32 = tf32; }
    }
}
