using CommandLine;

namespace Kiln.Cli.Commands;

/// <summary>Options every verb takes.</summary>
public abstract class CommonOptions
{
    [Option("verbose", HelpText = "Show full exception details on errors.")]
    public bool Verbose { get; set; }

    [Option("threads", HelpText = "CPU threads for kernels (default: all cores).")]
    public int? Threads { get; set; }

    /// <summary>Applies settings shared by every verb.</summary>
    public void Apply()
    {
        if (Threads is int t) Kiln.Backends.Cpu.CpuParallel.Threads = t;
    }
}
