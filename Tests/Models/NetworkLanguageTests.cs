using Kiln.Config;
using Kiln.Models;

namespace Kiln.Tests.Models;

/// <summary>The network language: blocks, repeat, when, expressions, names; and its error messages, with file and line.</summary>
public sealed class NetworkLanguageTests
{
    private static NetworkPlan Plan(string yaml, int[]? input = null) =>
        NetworkPlanner.Plan(NetworkSpecReader.Read(yaml, "net.yaml"), input);

    private static NetworkDefinitionException Fails(string yaml) =>
        Assert.Throws<NetworkDefinitionException>(() => Plan(yaml));

    private const string Header = "name: t\ninput: [3, 8, 8]\n";

    [Fact]
    public void Blocks_RepeatAndWhen_GiveTorchvisionStyleNames()
    {
        var plan = Plan(Header + """
            blocks:
              unit:
                params: {out: null, stride: 1, project: false}
                layers:
                  - {name: conv1, type: conv, out: $out, kernel: 3, stride: $stride, padding: 1, bias: false}
                  - {name: bn1, type: batchnorm}
                  - {name: downsample.0, type: conv, inputs: in, out: $out, kernel: 1, stride: $stride, when: $project}
                  - {type: add, inputs: [bn1, downsample.0]}
            layers:
              - {name: layer1, block: unit, repeat: 3, args: {out: 4, stride: "${index == 0 ? 2 : 1}", project: "${index == 0}"}}
              - {name: fc, type: linear, out: 5}
            """);
        var names = plan.ParameterShapes.Select(p => p.Name).ToArray();
        Assert.Equal(
        [
            "layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer1.0.downsample.0.weight", "layer1.0.downsample.0.bias",
            "layer1.1.conv1.weight", "layer1.1.bn1.weight", "layer1.1.bn1.bias",
            "layer1.2.conv1.weight", "layer1.2.bn1.weight", "layer1.2.bn1.bias",
            "fc.weight", "fc.bias",
        ], names);
        Assert.Equal([4, 4, 4], plan.Layers.Single(l => l.Name == "layer1.2.bn1").OutputShape);
        Assert.Equal([5, 64], plan.ParameterShapes.Single(p => p.Name == "fc.weight").Shape);
    }

    [Fact]
    public void Sequential_NumbersUnnamedLayersAcrossInlinedBlocks()
    {
        var plan = Plan(Header + """
            blocks:
              cr:
                params: [out]
                layers:
                  - {type: conv, out: $out, kernel: 3, padding: 1}
                  - {type: relu}
            layers:
              - name: features
                type: sequential
                layers:
                  - {block: cr, repeat: 2, args: {out: "${2 + 2 * index}"}}
                  - {type: maxpool, kernel: 2}
                  - {block: cr, args: {out: 6}}
            """);
        Assert.Equal(["features.0", "features.1", "features.2", "features.3", "features.4", "features.5", "features.6"], plan.Layers.Select(l => l.Name));
        Assert.Equal([6, 4, 3, 3], plan.ParameterShapes.Single(p => p.Name == "features.5.weight").Shape);
        Assert.Equal([4, 4, 4], plan.Layers[4].OutputShape);  // maxpool: kernel 2, stride defaults to the kernel
    }

    [Fact]
    public void Outputs_AuxiliaryHeadOnlyRunsInTraining()
    {
        var plan = Plan(Header + """
            layers:
              - {name: trunk, type: conv, out: 4, kernel: 3}
              - {name: main, type: linear, out: 3}
              - {name: aux, type: linear, inputs: trunk, out: 3}
            outputs:
              - main
              - {layer: aux, weight: 0.3}
            """);
        Assert.Equal(2, plan.Heads.Count);
        Assert.False(plan.Layers.Single(l => l.Name == "aux").InEvaluation);
        Assert.Equal(plan.ParameterCount - (3 * 144 + 3), plan.InferenceParameterCount);
    }

    [Fact]
    public void LoadsByPath()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kiln-net-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, Header + "layers:\n  - {name: fc, type: linear, out: 2}\n");
        try
        {
            Assert.Equal(386, ModelZoo.Plan(path).ParameterCount);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("7", "7")]
    [InlineData("${2 * (3 + 4) - 1}", "13")]
    [InlineData("${w / 4 % 3}", "1")]
    [InlineData("${w >= 16 && !flag}", "true")]
    [InlineData("${flag ? 1 : w}", "16")]
    [InlineData("$flag", "false")]
    [InlineData("conv${w - 15}", "conv1")]
    public void Expressions_IntegerArithmeticAndConditions(string text, string expected)
    {
        var env = new Dictionary<string, string> { ["w"] = "16", ["flag"] = "false" };
        Assert.Equal(expected, ParamExpression.Substitute(text, env.GetValueOrDefault));
    }

    [Fact]
    public void Error_UnknownLayerType_NamesFileLineAndLayer()
    {
        var e = Fails(Header + "layers:\n  - {name: c1, type: conv, out: 4, kernel: 3}\n  - {name: c2, type: convv, out: 4}\n");
        var p = Assert.Single(e.Problems);
        Assert.Equal(new SourceLocation("net.yaml", 5), p.Where);
        Assert.Equal("c2", p.Layer);
        Assert.Contains("unknown layer type 'convv'", e.Message);
        Assert.StartsWith("net.yaml:5: layer 'c2':", e.Message);
    }

    [Fact]
    public void Error_UnknownKey_ListsTheKnownOnes()
    {
        var e = Fails(Header + "layers:\n  - name: c1\n    type: conv\n    out: 4\n    kernel: 3\n    strid: 2\n");
        var p = Assert.Single(e.Problems);
        Assert.Equal(8, p.Where.Line);
        Assert.Contains("unknown key 'strid' for layer type 'conv'", p.Message);
        Assert.Contains("stride", p.Message);
    }

    [Fact]
    public void Error_DuplicateKey_IsReportedWithItsLine()
    {
        var e = Fails(Header + "layers:\n  - name: c1\n    type: conv\n    out: 4\n    out: 8\n    kernel: 3\n  - {name: c2, type: relu, name: c3}\n");
        Assert.Equal(2, e.Problems.Count);   // all of them, not just the first
        Assert.Equal("net.yaml:7: duplicate key 'out'", e.Problems[0].ToString());
        Assert.Equal("net.yaml:9: duplicate key 'name'", e.Problems[1].ToString());
    }

    [Fact]
    public void Error_WrongValueType()
    {
        var e = Fails(Header + "layers:\n  - {name: c1, type: conv, out: 4, kernel: three, bias: maybe}\n");
        Assert.Equal(2, e.Problems.Count);
        Assert.Contains(e.Problems, p => p.Message.Contains("'kernel' needs an integer or [h, w], got 'three'") && p.Where.Line == 4);
        Assert.Contains(e.Problems, p => p.Message.Contains("'bias' needs true or false, got 'maybe'"));
    }

    [Fact]
    public void Error_MissingInputName()
    {
        var e = Fails(Header + "layers:\n  - {name: a, type: relu}\n  - {name: b, type: add, inputs: [a, nope]}\n");
        var p = Assert.Single(e.Problems);
        Assert.Equal(5, p.Where.Line);
        Assert.Contains("input 'nope' does not exist", p.Message);
    }

    [Fact]
    public void Error_ShapeMismatch_AtTheLayer_WithBothShapes()
    {
        var e = Fails(Header + """
            layers:
              - {name: a, type: conv, out: 4, kernel: 3, padding: 1}
              - {name: b, type: conv, out: 8, kernel: 3, padding: 1}
              - {name: sum, type: add, inputs: [a, b]}
              - {name: fc, type: linear, out: 2}
            """);
        var p = Assert.Single(e.Problems);     // fc, after the broken add, is not reported again
        Assert.Equal("sum", p.Layer);
        Assert.Equal(6, p.Where.Line);
        Assert.Contains("'a' (4, 8, 8)", p.Message);
        Assert.Contains("'b' (8, 8, 8)", p.Message);
    }

    [Fact]
    public void Error_DeclaredInputSize_DoesNotMatch()
    {
        var e = Fails(Header + "layers:\n  - {name: fc, type: linear, in: 100, out: 2}\n");
        Assert.Contains("declared in: 100 features, but input 'input' is (3, 8, 8) (192 features)", Assert.Single(e.Problems).Message);
    }

    [Fact]
    public void Error_InsideABlock_NamesTheInstance()
    {
        var e = Fails(Header + """
            blocks:
              unit:
                params: [out]
                layers:
                  - {name: conv, type: conv, out: $out, kernel: 3, padd: 1}
            layers:
              - {name: stage, block: unit, repeat: 2, args: {out: 4}}
            """);
        var p = Assert.Single(e.Problems);  // stage.1 reads the broken stage.0 and is not reported again
        Assert.Equal(7, p.Where.Line);
        Assert.Equal("stage.0.conv", p.Layer);
        Assert.Contains("unknown key 'padd'", p.Message);
        Assert.Contains("in block 'unit' used at net.yaml:9 as 'stage.0'", p.Message);
    }

    [Fact]
    public void Error_AllProblemsAtOnce()
    {
        var e = Fails(Header + """
            blocks:
              unit:
                params: [out]
                layers:
                  - {type: conv, out: $width, kernel: 3}
            layers:
              - {name: a, type: pool, kernel: 2}
              - {name: b, block: unit}
              - {name: c, block: nothing}
              - {name: d, type: relu, inputs: e}
              - {name: d, type: relu}
              - {name: f, type: dropout, inputs: input, p: 1.5}
            outputs: [zzz]
            """);
        var messages = e.Problems.Select(p => $"{p.Where.Line} {p.Message}").ToArray();
        Assert.Contains(messages, m => m.StartsWith("9 ") && m.Contains("unknown layer type 'pool'"));
        Assert.Contains(messages, m => m.StartsWith("10 ") && m.Contains("needs argument 'out'"));
        Assert.Contains(messages, m => m.StartsWith("7 ") && m.Contains("unknown parameter 'width'"));
        Assert.Contains(messages, m => m.StartsWith("11 ") && m.Contains("unknown block 'nothing'"));
        Assert.Contains(messages, m => m.StartsWith("12 ") && m.Contains("input 'e' does not exist"));
        Assert.Contains(messages, m => m.StartsWith("13 ") && m.Contains("duplicate layer name (first at net.yaml:12)"));
        Assert.Contains(messages, m => m.StartsWith("14 ") && m.Contains("dropout rate p must be in [0, 1), got 1.5"));
        Assert.Contains(messages, m => m.StartsWith("15 ") && m.Contains("output 'zzz' names no layer"));
        Assert.StartsWith($"{e.Problems.Count} problems in the network definition:", e.Message);
    }

    [Fact]
    public void Error_StructureOfTheFile()
    {
        var e = Assert.Throws<NetworkDefinitionException>(() => NetworkSpecReader.Read(Header + """
            layer: []
            blocks:
              b:
                params: [x]
            """, "net.yaml"));
        var messages = e.Problems.Select(p => $"{p.Where.Line} {p.Message}").ToArray();
        Assert.Contains(messages, m => m.StartsWith("3 ") && m.Contains("unknown key 'layer'"));
        Assert.Contains(messages, m => m.StartsWith("5 ") && m.Contains("block 'b' has no 'layers'"));
        Assert.Contains(messages, m => m.Contains("the network has no 'layers'"));
    }

    [Fact]
    public void Error_YamlSyntax_HasALine()
    {
        var e = Assert.Throws<NetworkDefinitionException>(() => NetworkSpecReader.Read(Header + "layers:\n  - {name: a, type: relu\n", "net.yaml"));
        Assert.StartsWith("net.yaml:", e.Message);
        Assert.Contains("YAML", e.Message);
    }

    /// <summary>Writes <paramref name="yaml"/> to a temporary network file and plans it through the zoo, as `model.name: file.yaml` does.</summary>
    private static NetworkDefinitionException FailsFromFile(string yaml, out string path)
    {
        path = Path.Combine(Path.GetTempPath(), $"kiln-net-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml);
        try
        {
            string file = path;
            return Assert.Throws<NetworkDefinitionException>(() => ModelZoo.Plan(file));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Error_DeepNesting_IsRefusedNamingTheFileLineAndColumn()
    {
        // CF-5: 100,000 unclosed '[' must give an error, not a StackOverflow that kills the process.
        var e = FailsFromFile(Header + "layers: " + new string('[', 100_000) + "\n", out string path);
        var p = Assert.Single(e.Problems);
        Assert.Equal(path, p.Where.File);
        Assert.Equal(3, p.Where.Line);
        Assert.True(p.Where.Column > 0);
        Assert.Contains($"nesting deeper than {YamlTree.MaxDepth} levels is refused", p.Message);
        Assert.StartsWith($"{path}:3:{p.Where.Column}: ", e.Message);
    }

    [Fact]
    public void Error_AliasBomb_IsRefusedNamingTheFile()
    {
        // CF-6: 10 levels of 10 aliases each would expand to 10^10 scalars.
        var lines = new List<string> { "name: t", "input: [3, 8, 8]", "params:", "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]" };
        for (int i = 1; i < 10; i++)
            lines.Add($"  a{i}: &a{i} [" + string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10)) + "]");
        lines.Add("layers:\n  - {name: fc, type: linear, out: 2}");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var e = FailsFromFile(string.Join("\n", lines), out string path);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        var p = Assert.Single(e.Problems);
        Assert.Equal(path, p.Where.File);
        Assert.True(p.Where.Line is >= 5 and <= 13, $"line {p.Where.Line}");
        Assert.Contains("alias bomb", p.Message);
        Assert.StartsWith($"{path}:{p.Where.Line}:{p.Where.Column}: ", e.Message);
    }

    [Fact]
    public void Aliases_WithinLimits_StillWork()
    {
        var plan = Plan(Header + """
            layers:
              - name: c1
                type: conv
                out: &width 4
                kernel: 3
              - {name: c2, type: conv, kernel: 3, out: *width }
            """);
        Assert.Equal((4 * 3 * 9 + 4) + (4 * 4 * 9 + 4), plan.ParameterCount);
    }
}
