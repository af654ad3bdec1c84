using Kiln.Backends.Cpu;
using Kiln.Cli;
using Kiln.Cli.Commands;

namespace Kiln.Tests.Cli;

/// <summary><c>kiln bench</c>: argument errors name the bad value; tiny runs succeed.</summary>
public sealed class BenchCommandTests
{
    [Theory]
    [InlineData("16x3x2a7x227", "'2a7'")]
    [InlineData("16x3x227", "expected four sizes NxCxHxW")]
    [InlineData("16x0x227x227", "'0'")]
    public void Conv2d_BadInputShape_NamesTheValue(string input, string expected)
    {
        var ex = Assert.Throws<ArgumentException>(() => BenchCommand.Run(new BenchOptions { Target = "conv2d", Input = input }));
        Assert.Contains(expected, ex.Message);
        Assert.Contains(input, ex.Message);
    }

    [Fact]
    public void Conv2d_BadStride_NamesTheValue()
    {
        var ex = Assert.Throws<ArgumentException>(() => BenchCommand.Run(new BenchOptions { Target = "conv2d", Stride = "2xq" }));
        Assert.Contains("--stride '2xq'", ex.Message);
    }

    [Fact]
    public void Bench_UnknownTarget_ListsTargets()
    {
        var ex = Assert.Throws<ArgumentException>(() => BenchCommand.Run(new BenchOptions { Target = "gemmm" }));
        Assert.Contains("'gemmm'", ex.Message);
        Assert.Contains("conv2d", ex.Message);
    }

    [Fact]
    public void Main_TinyGemmAndConv_ExitZero()
    {
        Assert.Equal(0, Program.Main(["bench", "gemm", "--m", "8", "--n", "9", "--k", "10", "--transb", "--repeat", "1", "--warmup", "0"]));
        Assert.Equal(0, Program.Main(["bench", "conv2d", "--input", "1x2x5x5", "--filter", "4x1x3x3", "--groups", "2", "--pad", "1", "--repeat", "1", "--warmup", "0"]));
        Assert.Equal(1, Program.Main(["bench", "gemm", "--m", "0"]));
        var ex = Assert.Throws<ArgumentException>(() => BenchCommand.Run(new BenchOptions { Target = "gemm", K = "12q" }));
        Assert.Equal("--k '12q' is not a positive integer", ex.Message);
    }

    [Fact]
    public void ConvPath_NamesThePathEachPassTakes()
    {
        bool avx512 = System.Runtime.Intrinsics.X86.Avx512F.IsSupported;
        var same = new Conv2dParams(1, 1);
        // 16 channels, 3x3 stride 1, where AVX-512 exists: row Winograd forward (and backward data), the direct
        // weight gradient, also with 16 channels (Note [Row Winograd], Note [Flat direct convolution]); 5x5 needs 3
        // filter rows for Winograd.
        Assert.Equal(avx512 ? "winograd" : "im2col", CpuBackend.ConvPath([8, 16, 32, 32], [16, 16, 3, 3], same));
        Assert.Equal(avx512 ? "direct" : "im2col", CpuBackend.ConvPath([8, 16, 32, 32], [16, 16, 5, 5], new Conv2dParams(1, 2)));
        Assert.Equal(avx512 ? "direct" : "im2col", CpuBackend.ConvPath([8, 16, 32, 32], [16, 16, 3, 3], same, weights: true));
        Assert.Equal(avx512 ? "direct" : "im2col", CpuBackend.ConvPath([8, 32, 16, 16], [32, 32, 3, 3], same, weights: true));
        // 512 channels on a 7x7 map: the weight gradient stays on the GEMM.
        Assert.Equal(avx512 ? "winograd" : "im2col", CpuBackend.ConvPath([2, 512, 7, 7], [512, 512, 3, 3], same));
        Assert.Equal("im2col", CpuBackend.ConvPath([2, 512, 7, 7], [512, 512, 3, 3], same, weights: true));
        // Stems: split into stride-1 phases (Note [Phase-split stem convolution]); their backward data stays on im2col.
        Assert.Equal(avx512 ? "phases+winograd" : "im2col", CpuBackend.ConvPath([1, 3, 19, 19], [2, 3, 11, 11], new Conv2dParams(4, 2)));
        Assert.Equal(avx512 ? "phases+direct" : "im2col", CpuBackend.ConvPath([2, 3, 32, 32], [64, 3, 7, 7], new Conv2dParams(2, 3)));
        Assert.Equal("im2col", CpuBackend.ConvPath([2, 3, 32, 32], [64, 3, 7, 7], new Conv2dParams(2, 3), backwardData: true));
        Assert.Equal("im2col", CpuBackend.ConvPath([2, 16, 32, 32], [32, 16, 3, 3], new Conv2dParams(2, 1)));
        Assert.Equal("gemm", CpuBackend.ConvPath([1, 8, 5, 5], [4, 8, 1, 1], new Conv2dParams()));
        Assert.Equal("im2col", CpuBackend.ConvPath([1, 4, 5, 5], [4, 2, 3, 3], new Conv2dParams(1, 1, 1, groups: 2)));
    }

    [Fact]
    public void PeakResidentMiB_OnLinux_IsTheProcessesHighWaterMark()
    {
        if (!OperatingSystem.IsLinux()) return;
        double? peak = BenchCommand.PeakResidentMiB();
        Assert.NotNull(peak);
        Assert.InRange(peak.Value, 1, 1 << 20);
    }
}
