using Kiln.Models;
using Kiln.Nn;
using Kiln.Visualization;

namespace Kiln.Tests.Visualization;

public sealed class FeatureStackTests
{
    [Fact]
    public void From_ZooNetwork_ChainOfConvPoolLayers_MatchesTheNetworksOwnOutputs()
    {
        RandomGenerator.Global.ManualSeed(4);
        using var net = ModelZoo.Create("lenet5");
        net.Eval();
        var stack = FeatureStack.From(net);
        Assert.Equal(["conv1", "relu_0", "maxpool_0", "conv2", "relu_1", "maxpool_1"], stack.Layers.Select(l => l.Name));
        Assert.Equal([FeatureLayerKind.Conv, FeatureLayerKind.Relu, FeatureLayerKind.MaxPool, FeatureLayerKind.Conv, FeatureLayerKind.Relu, FeatureLayerKind.MaxPool],
            stack.Layers.Select(l => l.Kind));
        Assert.Equal((2, 2, 0, false), (stack.Layers[2].Pool!.Value.KernelH, stack.Layers[2].Pool!.Value.StrideH, stack.Layers[2].Pool!.Value.PadH, stack.Layers[2].Pool!.Value.CeilMode));
        Assert.Equal(4, stack.OutputIndexOf("conv2"));

        using var scope = TensorScope.Begin();
        var x = Tensor.FromArray(VizFixtures.Random(2 * 28 * 28, 5), [2, 1, 28, 28]);
        var outputs = new Dictionary<int, float[]>();
        net.AfterLayer = (i, y) => outputs[i] = y.ToArray<float>();
        using (Kiln.Core.Autograd.GradMode.NoGrad()) net.Forward(x);
        net.AfterLayer = null;
        var mine = stack.Forward(x, 5).ToArray<float>();
        Assert.Equal(outputs[5], mine);
    }

    [Fact]
    public void From_SequentialWithFeaturesChild_StopsAtTheFirstNonConvolutionalLayer()
    {
        using var net = VizFixtures.SmallNet();
        var stack = FeatureStack.From(net);
        Assert.Equal(7, stack.Layers.Count); // the nested Sequential; Flatten stops the walk
        Assert.Throws<ArgumentException>(() => stack.IndexOf("conv9"));
        Assert.Throws<ArgumentException>(() => FeatureStack.From(new Linear(3, 4)));
    }
}
