using CommandLine;

namespace Kiln.Cli.Commands;

[Verb("bench", HelpText = "Measure kernels and models: bench gemm | conv2d | model.")]
public sealed class BenchOptions : CommonOptions
{
    [Value(0, MetaName = "target", Required = true, HelpText = "What to measure: gemm, conv2d.")]
    public string Target { get; set; } = "";
}

/// <summary><c>kiln bench</c>: warm-up, then the median of repeated runs.</summary>
public static class BenchCommand
{
    public static int Run(BenchOptions o)
    {
        o.Apply();
        throw new ArgumentException($"unknown bench target '{o.Target}'; expected gemm or conv2d");
    }
}
