using Kiln.Config;

namespace Kiln.Tests.Config;

public sealed class RunConfigTests
{
    private const string Good = """
        model:
          name: resnet50
        data:
          train: data/train-{000000..000009}.tar
          batch_size: 32
        optimizer:
          lr: 0.1
          momentum_form: caffe
          param_groups:
            - match: "*.bias"
              lr_mult: 2
              decay_mult: 0
        schedule:
          kind: multistep
          milestones: [30, 60]
        training:
          epochs: 90
          aux_loss_weights: [0.3, 0.3]
        """;

    [Fact]
    public void Parse_BindsEverySection()
    {
        var c = RunConfigLoader.Parse(Good, "good.yaml");
        Assert.Equal("resnet50", c.Model.Name);
        Assert.Equal(32, c.Data.BatchSize);
        Assert.Equal(MomentumFormName.Caffe, c.Optimizer.MomentumForm);
        Assert.Equal(2, c.Optimizer.ParamGroups[0].LrMult);
        Assert.Equal([30, 60], c.Schedule.Milestones);
        Assert.Equal([0.3, 0.3], c.Training.AuxLossWeights);
        Assert.Equal(224, c.Data.ImageSize); // default kept
    }

    [Fact]
    public void UnknownKey_GivesLineColumnPathAndSuggestion()
    {
        var yaml = Good.Replace("  lr: 0.1", "  lr: 0.1\n  momentun: 0.8");
        var e = Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(yaml, "run.yaml"));
        var p = Assert.Single(e.Problems);
        Assert.Equal("run.yaml", p.File);
        Assert.Equal(8, p.Line);
        Assert.Equal(3, p.Column);
        Assert.Equal("optimizer.momentun", p.KeyPath);
        Assert.Contains("did you mean 'momentum'", p.Message);
    }

    [Fact]
    public void EveryProblem_IsReportedAtOnce()
    {
        var yaml = """
            model:
              name: alexnet
              num_clases: 10
            data:
              train: x.tar
              batch_size: big
            optimizer:
              lr: -1
              lr: 0.2
              momentum_form: cafe
            training:
              epochs: 0
            """;
        var e = Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(yaml, "bad.yaml"));
        var text = string.Join("\n", e.Problems);
        Assert.Contains("bad.yaml:3:3: model.num_clases: unknown key; did you mean 'num_classes'?", text);
        Assert.Contains("bad.yaml:6:15: data.batch_size: expected an integer, got 'big'", text);
        Assert.Contains("optimizer.lr: duplicate key", text);
        Assert.Contains("optimizer.momentum_form: 'cafe' is not one of pytorch, caffe; did you mean 'caffe'?", text);
        Assert.Contains("training.epochs: must be at least 1, got 0", text);
        Assert.True(e.Problems.Count >= 5, text);
    }

    [Fact]
    public void MissingRequiredSection_IsReported()
    {
        var e = Assert.Throws<ConfigException>(() => RunConfigLoader.Parse("model:\n  name: lenet5\ntraining:\n  epochs: 1\n", "min.yaml"));
        Assert.Contains(e.Problems, p => p.KeyPath == "data.train" && p.Message.Contains("required"));
    }

    [Fact]
    public void Overrides_SetNestedKeys_AndTheirErrorsNameTheOverride()
    {
        var c = RunConfigLoader.Parse(Good, "good.yaml", ["optimizer.lr=0.01", "schedule.milestones=[10, 20, 30]", "training.device=cpu"]);
        Assert.Equal(0.01, c.Optimizer.Lr);
        Assert.Equal([10, 20, 30], c.Schedule.Milestones);
        var e = Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(Good, "good.yaml", ["optimizer.lrr=0.01"]));
        Assert.Equal("--set optimizer.lrr=0.01", e.Problems[0].File);
        Assert.Contains("did you mean 'lr'", e.Problems[0].Message);
        Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(Good, "good.yaml", ["optimizer.lr.x=1"]));
        Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(Good, "good.yaml", ["novalue"]));
    }

    [Fact]
    public void CudaSection_DefaultsToTf32AndTimedSearch_AndChecksTheWorkspace()
    {
        var c = RunConfigLoader.Parse(Good, "good.yaml");
        Assert.True(c.Training.Cuda.Tf32);
        Assert.True(c.Training.Cuda.Benchmark);
        Assert.False(c.Training.Cuda.Deterministic);
        Assert.Equal(512, c.Training.Cuda.WorkspaceMib);
        var strict = RunConfigLoader.Parse(Good, "good.yaml", ["training.cuda.tf32=false", "training.cuda.workspace_mib=64"]);
        Assert.False(strict.Training.Cuda.Tf32);
        Assert.Equal(64, strict.Training.Cuda.WorkspaceMib);
        var e = Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(Good, "good.yaml", ["training.cuda.workspace_mib=-1"]));
        Assert.Contains(e.Problems, p => p.Message.Contains("must be ≥ 0") && p.KeyPath.Contains("workspace_mib"));
        e = Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(Good, "good.yaml", ["training.cuda.tf33=true"]));
        Assert.Contains("did you mean 'tf32'", e.Problems[0].Message);
    }

    [Fact]
    public void CudaPrefetch_OnByDefault_AndTurningItOffIsAHarmlessResumeChange()
    {
        var c = RunConfigLoader.Parse(Good, "good.yaml");
        Assert.True(c.Training.Cuda.Prefetch);
        var off = RunConfigLoader.Parse(Good, "good.yaml", ["training.cuda.prefetch=false"]);
        Assert.False(off.Training.Cuda.Prefetch);
        var diffs = Kiln.Cli.Training.ConfigDiff.Compare(ConfigWriter.ToYaml(c), ConfigWriter.ToYaml(off));
        var d = Assert.Single(diffs);
        Assert.Equal("training.cuda.prefetch", d.Key);
        Assert.True(Kiln.Cli.Training.ConfigDiff.IsHarmless(d.Key));
    }

    [Fact]
    public void PadCropPreset_Binds_AndChecksThePad()
    {
        var c = RunConfigLoader.Parse(Good, "good.yaml", ["data.augment.preset=pad_crop", "data.augment.pad=2"]);
        Assert.Equal(AugmentPreset.PadCrop, c.Data.Augment.Preset);
        Assert.Equal(2, c.Data.Augment.Pad);
        var e = Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(Good, "good.yaml", ["data.augment.pad=-1"]));
        Assert.Contains(e.Problems, p => p.KeyPath.EndsWith("pad") && p.Message.Contains("[0, 4096]"));
    }

    [Fact]
    public void ResolvedYaml_ReadsBackToAnEqualConfig_AndHashesStably()
    {
        var c = RunConfigLoader.Parse(Good, "good.yaml");
        string yaml = ConfigWriter.ToYaml(c);
        var again = RunConfigLoader.Parse(yaml, "resolved.yaml");
        Assert.Equal(yaml, ConfigWriter.ToYaml(again));
        Assert.Equal(RunConfigLoader.Hash(c), RunConfigLoader.Hash(again));
        Assert.NotEqual(RunConfigLoader.Hash(c), RunConfigLoader.Hash(c with { Optimizer = c.Optimizer with { Lr = 0.2 } }));
    }

    [Fact]
    public void DeepNesting_IsRefusedWithAClearError()
    {
        string deep = "a: " + new string('[', 5000) + new string(']', 5000);
        var e = Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(deep, "deep.yaml"));
        Assert.Contains("nesting deeper than", e.Message);
    }

    [Fact]
    public void AliasBomb_IsRefusedWithAClearError()
    {
        var lines = new List<string> { "a0: &a0 [x, x, x, x, x, x, x, x, x, x]" };
        for (int i = 1; i < 10; i++)
            lines.Add($"a{i}: &a{i} [" + string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10)) + "]");
        var e = Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(string.Join("\n", lines), "bomb.yaml"));
        Assert.Contains("alias bomb", e.Message);
    }

    [Fact]
    public void MissingFile_NamesThePath()
    {
        var e = Assert.Throws<ConfigException>(() => RunConfigLoader.Load("/no/such/run.yaml"));
        Assert.Contains("/no/such/run.yaml", e.Message);
    }

    [Theory]
    [InlineData("LearningRate", "learning_rate")]
    [InlineData("BatchSize", "batch_size")]
    [InlineData("Lr", "lr")]
    [InlineData("EmaDecay", "ema_decay")]
    public void SnakeCase_Names(string name, string key) => Assert.Equal(key, ConfigNames.SnakeCase(name));

    [Fact]
    public void EvalScales_BindAndDefaultToVggsChoice()
    {
        var c = RunConfigLoader.Parse(Good, "good.yaml", ["training.eval_protocol=dense", "training.eval_scales=[256, 384, 512]"]);
        Assert.Equal(EvalProtocol.Dense, c.Training.EvalProtocol);
        Assert.Equal([256, 384, 512], c.EvalScales());
        var multi = RunConfigLoader.Parse(Good, "good.yaml", ["training.eval_protocol=multi_scale"]);
        Assert.Equal(EvalProtocol.MultiScale, multi.Training.EvalProtocol);
        Assert.Equal([224, 256, 288], multi.EvalScales());                  // S = resize_size 256: {S − 32, S, S + 32}
        var jitter = RunConfigLoader.Parse(Good, "good.yaml", ["data.augment.preset=scale_jitter", "data.augment.scale_max=512"]);
        Assert.Equal([256, 384, 512], jitter.EvalScales());                 // S ∈ [256, 512]: {256, 384, 512}
        var small = RunConfigLoader.Parse(Good, "good.yaml", ["data.image_size=240", "data.resize_size=256"]);
        Assert.Equal([256, 288], small.EvalScales());                       // 224 < image_size is left out
    }

    [Theory]
    [InlineData("[200, 256]", "training.eval_scales: every scale must be ≥ data.image_size (224)")]
    [InlineData("[256, 256]", "training.eval_scales: scales must not repeat, got [256, 256]")]
    [InlineData("[256, 9000]", "training.eval_scales: scales are shorter sides in pixels, each in [1, 4096], got [256, 9000]")]
    [InlineData("[224, 240, 256, 288, 320, 352, 384, 416, 448]", "training.eval_scales: at most 8 scales, got 9")]
    public void EvalScales_BadValues_NameTheKey(string scales, string message)
    {
        var e = Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(Good, "good.yaml", [$"training.eval_scales={scales}"]));
        Assert.Contains(e.Problems, p => p.ToString().Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void GpuNormalize_DefaultsOn_BindsAndRefusesNonBooleans()
    {
        Assert.True(RunConfigLoader.Parse(Good, "good.yaml").Data.GpuNormalize);
        Assert.False(RunConfigLoader.Parse(Good, "good.yaml", ["data.gpu_normalize=false"]).Data.GpuNormalize);
        var e = Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(Good, "good.yaml", ["data.gpu_normalize=sometimes"]));
        Assert.Contains(e.Problems, p => p.KeyPath == "data.gpu_normalize" && p.Message.Contains("true or false"));
        e = Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(Good, "good.yaml", ["data.gpu_normalise=false"]));
        Assert.Contains("did you mean 'gpu_normalize'", e.Problems[0].Message);
    }

    [Fact]
    public void EvalProtocol_UnknownName_IsAnError()
    {
        var e = Assert.Throws<ConfigException>(() => RunConfigLoader.Parse(Good, "good.yaml", ["training.eval_protocol=multicrop"]));
        Assert.Contains(e.Problems, p => p.KeyPath == "training.eval_protocol");
    }
}
