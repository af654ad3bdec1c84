using Kiln.Models;
using Kiln.Nn;
using Kiln.Training;

namespace Kiln.Tests.Models;

/// <summary>The zoo: every network plans with the right output, counts match torchvision, totals match the papers, small ones train.</summary>
public sealed class ModelZooTests
{
    public static TheoryData<string> ZooNames => [.. ModelZoo.Names];

    [Theory]
    [MemberData(nameof(ZooNames))]
    public void Zoo_EveryNetworkPlans_OutputIsOneScorePerClass(string name)
    {
        var plan = ModelZoo.Plan(name);
        int classes = name switch
        {
            "lenet5" => 10,
            "tiny" => 4,
            _ when name.StartsWith("resnet") && plan.InputShape[1] == 32 => 10,
            _ => 1000,
        };
        Assert.Equal([classes], plan.OutputShape);
        Assert.All(plan.Heads, h => Assert.Equal([classes], plan.Layers[h.LayerIndex].OutputShape));
    }

    [Fact]
    public void Zoo_ListsEveryNetworkOfIssue3()
    {
        string[] expected =
        [
            "lenet5", "alexnet", "alexnet-original", "zfnet", "zfnet-wide", "vgg11", "vgg13", "vgg16", "vgg19",
            "vgg11-bn", "vgg13-bn", "vgg16-bn", "vgg19-bn", "nin", "googlenet", "googlenet-paper",
            "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
            "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "tiny",
        ];
        Assert.Empty(expected.Except(ModelZoo.Names));
    }

    [Theory]
    [InlineData("alexnet", 61_100_840)]
    [InlineData("alexnet-original", 60_965_224)]
    [InlineData("vgg11", 132_863_336)]
    [InlineData("vgg13", 133_047_848)]
    [InlineData("vgg16", 138_357_544)]
    [InlineData("vgg19", 143_667_240)]
    [InlineData("vgg11-bn", 132_868_840)]
    [InlineData("vgg16-bn", 138_365_992)]
    [InlineData("vgg19-bn", 143_678_248)]
    [InlineData("googlenet", 6_624_904)]
    [InlineData("resnet18", 11_689_512)]
    [InlineData("resnet34", 21_797_672)]
    [InlineData("resnet50", 25_557_032)]
    [InlineData("resnet101", 44_549_160)]
    [InlineData("resnet152", 60_192_808)]
    [InlineData("resnet20", 269_722)]
    [InlineData("resnet110", 1_727_962)]
    [InlineData("lenet5", 61_706)]
    public void ParameterCount_WithoutAuxiliaryHeads_EqualsTorchvisionOrThePaper(string name, long expected)
    {
        Assert.Equal(expected, ModelZoo.Plan(name).InferenceParameterCount);
    }

    [Theory]
    [InlineData("resnet50", 4.09e9)]   // torchvision's table (v1.5 layout); the paper's 3.8 G puts the stride in the 1x1
    [InlineData("googlenet", 1.50e9)]  // torchvision's table; the paper says about 1.5 G
    [InlineData("vgg16", 15.5e9)]
    [InlineData("alexnet", 0.71e9)]    // torchvision's table for its single-tower AlexNet
    [InlineData("resnet18", 1.81e9)]
    public void MultiplyAdds_MatchThePublishedCountsWithin2Percent(string name, double published)
    {
        double macs = ModelZoo.Plan(name).MultiplyAdds;
        Assert.InRange(macs / published, 0.98, 1.02);
    }

    [Fact]
    public void ResNet50_V1StrideInTheFirst1x1_MatchesThePapers3Point8G()
    {
        var plan = ModelZoo.Plan("resnet50", parameters: new Dictionary<string, string> { ["stride_in_3x3"] = "false" });
        Assert.InRange(plan.MultiplyAdds / 3.8e9, 0.98, 1.02);
        Assert.Equal(25_557_032, plan.ParameterCount);
    }

    [Fact]
    public void VggAndAlexNet_ParameterNames_AreTorchvisionsSequentialIndices()
    {
        var names = ModelZoo.Plan("vgg16").ParameterShapes.Select(p => p.Name).ToArray();
        Assert.Equal(32, names.Length);
        Assert.Equal("features.0.weight", names[0]);
        Assert.Contains("features.28.bias", names);
        Assert.Equal(["classifier.0.weight", "classifier.0.bias", "classifier.3.weight", "classifier.3.bias", "classifier.6.weight", "classifier.6.bias"], names[^6..]);
        var alexnet = ModelZoo.Plan("alexnet").ParameterShapes.Where(p => p.Name.EndsWith(".weight")).Select(p => p.Name);
        Assert.Equal(["features.0.weight", "features.3.weight", "features.6.weight", "features.8.weight", "features.10.weight",
            "classifier.1.weight", "classifier.4.weight", "classifier.6.weight"], alexnet);
        var bn = ModelZoo.Plan("vgg16-bn").ParameterShapes.Select(p => p.Name).ToArray();
        Assert.Contains("features.1.weight", bn);   // the batch norm after features.0
        Assert.Contains("features.41.weight", bn);
    }

    [Fact]
    public void ResNet18_Built_StateDictHasTorchvisionsKeysAndCount()
    {
        RandomGenerator.Global.ManualSeed(1);
        using var net = ModelZoo.Create("resnet18");
        var keys = net.StateDict().Select(s => s.Name).ToArray();
        Assert.Equal(122, keys.Length);     // len(torchvision.models.resnet18().state_dict())
        Assert.Equal(62, net.NamedParameters().Count());
        Assert.Equal(11_689_512, net.ParameterCount);
        Assert.Equal(["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"], keys[..6]);
        Assert.Contains("layer1.0.conv1.weight", keys);
        Assert.Contains("layer2.0.downsample.0.weight", keys);
        Assert.Contains("layer4.1.bn2.running_var", keys);
        Assert.DoesNotContain(keys, k => k.StartsWith("layer1.0.downsample", StringComparison.Ordinal));
        Assert.Equal(["fc.weight", "fc.bias"], keys[^2..]);
        foreach (var (name, shape) in net.Plan.ParameterShapes)
            Assert.Equal(shape, net.NamedParameters().Single(p => p.Name == name).Parameter.Shape.ToArray());
    }

    [Fact]
    public void GoogLeNet_Plan_HasTorchvisionsNamesForBranchesAndAuxiliaryHeads()
    {
        var plan = ModelZoo.Plan("googlenet");
        var names = plan.ParameterShapes.ToDictionary(p => p.Name, p => p.Shape);
        Assert.Equal([96, 192, 1, 1], names["inception3a.branch2.0.conv.weight"]);
        Assert.Equal([128, 96, 3, 3], names["inception3a.branch2.1.conv.weight"]);
        Assert.Equal([32, 16, 3, 3], names["inception3a.branch3.1.conv.weight"]);
        Assert.Equal([1024, 2048], names["aux1.fc1.weight"]);
        Assert.Equal([128, 528, 1, 1], names["aux2.conv.conv.weight"]);
        Assert.Equal([1000, 1024], names["fc.weight"]);
        Assert.Equal(13_004_888, plan.ParameterCount);  // torchvision with aux_logits=True
        var paper = ModelZoo.Plan("googlenet-paper").ParameterShapes.ToDictionary(p => p.Name, p => p.Shape);
        Assert.Equal([32, 16, 5, 5], paper["inception3a.branch3.1.conv.weight"]);
    }

    [Theory]
    [InlineData("tiny", 2, 0)]
    [InlineData("lenet5", 2, 0)]
    [InlineData("resnet20", 2, 0)]
    [InlineData("alexnet-original", 1, 67)]   // groups, LRN as written; 67x67 keeps fc6 small (pool5 1x1)
    [InlineData("googlenet-paper", 1, 224)]
    public void ForwardBackward_OnTheCpu_GivesLogitsAndAGradientForEveryParameter(string name, int batch, int side)
    {
        RandomGenerator.Global.ManualSeed(3);
        using var net = ModelZoo.Create(name, side == 0 ? null : [3, side, side], new Dictionary<string, string> { ["classes"] = "10" });
        using var scope = TensorScope.Begin();
        var x = RandomInput(batch, net.Plan.InputShape, 5);
        int classes = net.Plan.OutputShape[0];
        var labels = Tensor.FromArray(Enumerable.Range(0, batch).Select(i => i % classes).ToArray(), [batch]);
        var heads = net.ForwardHeads(x);
        Assert.Equal(net.Plan.Heads.Count, heads.Count);
        Assert.All(heads, h => Assert.Equal([batch, classes], h.Shape.ToArray()));
        var loss = net.Loss(heads, labels);
        Assert.True(double.IsFinite(loss.Item()));
        loss.Backward();
        Assert.All(net.NamedParameters(), p => Assert.True(p.Parameter.Grad is not null, $"{p.Name} has no gradient"));
        net.ZeroGrad();
    }

    [Fact]
    public void ResNet18_SmallInput_ForwardBackwardRuns()
    {
        RandomGenerator.Global.ManualSeed(4);
        using var net = ModelZoo.Create("resnet18", input: [3, 64, 64]);
        using var scope = TensorScope.Begin();
        var y = net.Forward(RandomInput(1, [3, 64, 64], 6));
        Assert.Equal([1, 1000], y.Shape.ToArray());
        Op.Sum(y).Backward();
        Assert.NotNull(net.NamedParameters().First(p => p.Name == "layer1.0.conv1.weight").Parameter.Grad);
        net.ZeroGrad();
    }

    [Fact]
    public void GoogLeNet_ThreeLogitsInTraining_OneInEvaluation()
    {
        RandomGenerator.Global.ManualSeed(5);
        using var net = ModelZoo.Create("googlenet");
        using var scope = TensorScope.Begin();
        var x = RandomInput(1, [3, 224, 224], 7);
        net.Train();
        var train = net.ForwardHeads(x);
        Assert.Equal(3, train.Count);
        Assert.All(train, h => Assert.Equal([1, 1000], h.Shape.ToArray()));
        Assert.Equal([1.0, 0.3, 0.3], net.Plan.Heads.Select(h => h.LossWeight));
        net.Eval();
        var eval = net.ForwardHeads(x);
        Assert.Single(eval);
        Assert.Equal([1, 1000], eval[0].Shape.ToArray());
    }

    [Fact]
    public void Tiny_OverfitsAFixedBatch()
    {
        RandomGenerator.Global.ManualSeed(8);
        using var net = ModelZoo.Create("tiny");
        using var x = RandomInput(8, net.Plan.InputShape, 9).MoveOutOfScope();
        using var labels = Tensor.FromArray(Enumerable.Range(0, 8).Select(i => i % 4).ToArray(), [8]).MoveOutOfScope();
        using var sgd = new Sgd(net.Parameters(), new SgdOptions { LearningRate = 0.02, Momentum = 0.9 });
        double Step()
        {
            using var scope = TensorScope.Begin();
            var loss = net.Loss(net.ForwardHeads(x), labels);
            sgd.ZeroGrad();
            loss.Backward();
            sgd.Step();
            return loss.Item();
        }
        double first = Step();
        var losses = Enumerable.Range(0, 40).Select(_ => Step()).ToArray();
        double last = losses[^5..].Average();   // dropout makes single steps noisy
        Assert.True(last < 0.5 * first, $"loss went from {first:F4} to {string.Join(" ", losses.Select(a => a.ToString("F2")))}");
    }

    [Fact]
    public void Options_ReachTheParameters_MultipliersMaxNormAndInitialisers()
    {
        RandomGenerator.Global.ManualSeed(2);
        using var tiny = ModelZoo.Create("tiny");
        var fcBias = tiny.NamedParameters().Single(p => p.Name == "fc.bias").Parameter;
        Assert.Equal(2, fcBias.LrMultiplier);
        Assert.Equal(0, fcBias.DecayMultiplier);
        // alexnet-original's options on a small input: biases 1 on conv2, 0 on conv3, N(0, 0.01^2) weights, groups.
        using var alex = ModelZoo.Create("alexnet-original", [3, 67, 67], new Dictionary<string, string> { ["classes"] = "10" });
        var p = alex.NamedParameters().ToDictionary(q => q.Name, q => q.Parameter);
        Assert.All(p["conv2.bias"].Value.ToArray<float>(), v => Assert.Equal(1f, v));
        Assert.All(p["fc7.bias"].Value.ToArray<float>(), v => Assert.Equal(1f, v));
        Assert.All(p["conv3.bias"].Value.ToArray<float>(), v => Assert.Equal(0f, v));
        var w = p["conv3.weight"].Value.ToArray<float>();
        Assert.InRange(Math.Sqrt(w.Average(v => (double)v * v)), 0.0097, 0.0103);
        Assert.Equal([384, 192, 3, 3], p["conv4.weight"].Shape.ToArray());   // groups 2
        // The `bias` parameter (BVLC's 0.1) sets exactly the five biases that the paper starts at 1.
        using var bvlc = ModelZoo.Create("alexnet-original", [3, 67, 67], new Dictionary<string, string> { ["classes"] = "10", ["bias"] = "0.1" });
        var b = bvlc.NamedParameters().ToDictionary(q => q.Name, q => q.Parameter.Value.ToArray<float>());
        foreach (var name in (string[])["conv2.bias", "conv4.bias", "conv5.bias", "fc6.bias", "fc7.bias"])
            Assert.All(b[name], v => Assert.Equal(0.1f, v));
        foreach (var name in (string[])["conv1.bias", "conv3.bias", "fc8.bias"])
            Assert.All(b[name], v => Assert.Equal(0f, v));
        using var zf = ModelZoo.Create("zfnet", [3, 64, 64], new Dictionary<string, string> { ["classes"] = "10" });
        Assert.Equal(0.1, zf.NamedParameters().Single(q => q.Name == "conv1.weight").Parameter.MaxFilterRms);
        Assert.Null(zf.NamedParameters().Single(q => q.Name == "fc6.weight").Parameter.MaxFilterRms);
        using var zeroInit = ModelZoo.Create("resnet20", parameters: new Dictionary<string, string> { ["zero_init_residual"] = "true" });
        var r = zeroInit.NamedParameters().ToDictionary(q => q.Name, q => q.Parameter);
        Assert.All(r["layer2.1.bn2.weight"].Value.ToArray<float>(), v => Assert.Equal(0f, v));
        Assert.All(r["layer2.1.bn1.weight"].Value.ToArray<float>(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void ZfNet_Shapes_FollowFigure3()
    {
        var plan = ModelZoo.Plan("zfnet");
        int[] Out(string n) => plan.Layers.Single(l => l.Name == n).OutputShape;
        Assert.Equal([96, 110, 110], Out("conv1"));
        Assert.Equal([96, 55, 55], Out("pool1"));
        Assert.Equal([256, 26, 26], Out("conv2"));
        Assert.Equal([256, 13, 13], Out("pool2"));
        Assert.Equal([256, 6, 6], Out("pool5"));
    }

    [Fact]
    public void Summary_ListsLayersAndTotals()
    {
        var text = ModelSummary.Format(ModelZoo.Plan("resnet50"));
        Assert.Contains("layer1.0.conv2", text);
        Assert.Contains("25,557,032", text);
        Assert.Contains("4.09 G", text);
        Assert.Contains("7x7/2", text);
    }

    internal static Tensor RandomInput(int n, int[] chw, ulong seed)
    {
        var data = new float[n * chw.Aggregate(1, (a, d) => a * d)];
        new RandomGenerator(seed).Normal<float>(data);
        return Tensor.FromArray(data, [n, .. chw]);
    }
}
