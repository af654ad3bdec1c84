using CommandLine;
using Kiln.Backends.Cuda;

namespace Kiln.Cli.Commands;

[Verb("devices", HelpText = "List CUDA GPUs and the CUDA libraries found, or say why none is usable.")]
public sealed class DevicesOptions : CommonOptions
{
}

/// <summary>
/// <c>kiln devices</c>: the driver, NVRTC, cuBLAS and cuDNN as found, then each GPU. Having no GPU is a
/// normal answer (exit code 0); the reason is printed, in full with --verbose.
/// </summary>
public static class DevicesCommand
{
    public static int Run(DevicesOptions o, TextWriter output)
    {
        o.Apply();
        foreach (var lib in (CudaLibraryStatus[])[CudaEnvironment.Driver(), CudaEnvironment.Nvrtc(), CudaEnvironment.Cublas(), CudaEnvironment.Cudnn()])
            output.WriteLine(Describe(lib, o.Verbose));

        var devices = CudaEnvironment.Devices();
        if (devices.Count == 0)
        {
            output.WriteLine($"No usable CUDA GPU: {Reason(CudaDevice.WhyNoDevice ?? "no devices", o.Verbose)}");
            output.WriteLine("Kiln runs on the CPU (device: cpu).");
            return 0;
        }
        output.WriteLine($"{devices.Count} CUDA GPU{(devices.Count == 1 ? "" : "s")}:");
        foreach (var d in devices)
            output.WriteLine($"  cuda:{d.Index}  {d.Name}  compute {d.ComputeCapability}  {d.TotalMemoryBytes / (1024.0 * 1024 * 1024):F1} GiB  " +
                             $"{d.MultiprocessorCount} SMs  kernels: {CudaEnvironment.KernelTarget(d)}");
        return 0;
    }

    private static string Describe(CudaLibraryStatus lib, bool verbose)
    {
        string name = $"{lib.Name}:".PadRight(13);
        if (lib.Version is not null)
            return $"{name}{lib.Version} ({lib.LoadedFrom})" + (lib.WhyNot is null ? "" : $" — unusable: {Reason(lib.WhyNot, verbose)}");
        return $"{name}not available: {Reason(lib.WhyNot ?? "unknown", verbose)}";
    }

    /// <summary>The first line of a reason; all of it (every place tried) with --verbose.</summary>
    private static string Reason(string why, bool verbose)
    {
        var lines = why.Split('\n');
        if (verbose || lines.Length == 1) return why.Replace("\n", "\n    ", StringComparison.Ordinal);
        string first = lines[0].TrimEnd();
        if (first.EndsWith("; tried:", StringComparison.Ordinal)) first = first[..^"; tried:".Length];
        return $"{first} ({lines.Length - 1} places tried; --verbose lists them)";
    }
}
