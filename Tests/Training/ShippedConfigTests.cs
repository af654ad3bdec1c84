using Kiln.Cli.Training;
using Kiln.Config;
using Kiln.Models;

namespace Kiln.Tests.Training;

/// <summary>Every shipped run config parses, validates, names a zoo network whose classes match, and builds its transforms.</summary>
public sealed class ShippedConfigTests
{
    public static TheoryData<string> Configs()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(Path.Combine(TrainerHarness.RepoRoot, "configs"), "*.yaml").Order()) data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void ShippedConfig_ParsesValidatesAndPlans(string file)
    {
        string path = Path.Combine(TrainerHarness.RepoRoot, "configs", file);
        var config = RunConfigLoader.Load(path);
        Assert.StartsWith("#", File.ReadAllText(path)); // each is commented with its source
        var plan = ModelZoo.Plan(config.Model.Name, null, config.Model.Params.Append(new("classes", config.Model.NumClasses.ToString())).ToDictionary());
        Assert.Equal(config.Model.NumClasses, plan.OutputShape[^1]);
        Assert.Equal(config.Data.ImageSize, plan.InputShape[1]);
        RunBuilder.TrainTransform(config, plan.InputShape[0]).Validate();
        RunBuilder.EvalTransform(config, plan.InputShape[0], config.Training.EvalProtocol).Validate();
        if (config.Training.AuxLossWeights.Count > 0) Assert.Equal(plan.Heads.Count - 1, config.Training.AuxLossWeights.Count);
    }

    [Fact]
    public void ShippedConfigs_AllRecipesPresent()
    {
        string[] expected = ["alexnet-caffe", "alexnet-paper", "zfnet-paper", "vgg16-step", "googlenet-caffe-quick", "resnet50-step90",
            "resnet50-paper", "nin-caffe", "resnet20-cifar", "quickstart-mnist", "tiny-shapes-cpu"];
        foreach (var name in expected) Assert.True(File.Exists(Path.Combine(TrainerHarness.RepoRoot, "configs", name + ".yaml")), name);
    }
}
