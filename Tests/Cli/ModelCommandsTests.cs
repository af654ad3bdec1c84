using Kiln.Cli;

namespace Kiln.Tests.Cli;

/// <summary><c>kiln summary</c> and <c>kiln bench model</c> end to end through <see cref="Program.Main"/>.</summary>
[Collection(ConsoleCollection.Name)]
public sealed class ModelCommandsTests
{
    private static (int Code, string Out, string Err) Kiln(params string[] args) => KilnCli.Run(args);

    [Fact]
    public void Summary_ZooName_PrintsTableAndTotals()
    {
        var (code, output, _) = Kiln("summary", "resnet50");
        Assert.Equal(0, code);
        Assert.Contains("layer4.2.conv3", output);
        Assert.Contains("parameters: 25,557,032", output);
        Assert.Contains("multiply-adds: 4.09 G", output);
    }

    [Fact]
    public void Summary_InputAndSettings_ChangeTheShapes()
    {
        var (code, output, _) = Kiln("summary", "resnet18", "--input", "3x64x64", "--set", "classes=7");
        Assert.Equal(0, code);
        Assert.Contains("512x2x2", output);
        Assert.Contains("heads: fc 7 (main)", output);
    }

    [Fact]
    public void Summary_MissingFile_OneLineErrorAndExitCode1()
    {
        var (code, _, err) = Kiln("summary", "no-such-net.yaml");
        Assert.Equal(1, code);
        Assert.Contains("network file 'no-such-net.yaml' does not exist", err);
    }

    [Fact]
    public void BenchModel_Tiny_PrintsImagesPerSecondAndLayerTable()
    {
        var (code, output, err) = Kiln("bench", "model", "tiny", "--batch", "2", "--repeat", "1", "--warmup", "0");
        Assert.True(code == 0, err);
        Assert.Contains("images/s", output);
        Assert.Contains("stage.0.conv2", output);
        Assert.Contains("(sgd update)", output);
        Assert.Contains("(outside layers)", output);
        // Each convolution's CPU path per pass; stage.0.conv2 is a 3x3 stride-1 convolution.
        Assert.Contains("convolution paths on the CPU (forward / backward data / backward weights):", output);
        string conv2 = output.Split('\n').Last(line => line.TrimStart().StartsWith("stage.0.conv2", StringComparison.Ordinal));
        Assert.Matches(System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "winograd / winograd / (winograd|direct)$" : "im2col / im2col / im2col$", conv2.TrimEnd());
    }
}
