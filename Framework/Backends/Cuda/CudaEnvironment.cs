using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

/// <summary>One native library as found on this machine: its version and where it came from, or why it is missing.</summary>
public sealed record CudaLibraryStatus(string Name, string? Version, string? LoadedFrom, string? WhyNot)
{
    public bool IsAvailable => WhyNot is null;
}

/// <summary>
/// What CUDA pieces this machine has, for <c>kiln devices</c> and bug reports. Every query loads (or
/// fails to load) its library through <see cref="NativeLibraries"/> and never throws for a missing one.
/// </summary>
public static class CudaEnvironment
{
    public static CudaLibraryStatus Driver()
    {
        if (!NativeLibraries.TryLoad(NativeLibraries.Cuda, out _, out string? whyNot))
            return new CudaLibraryStatus("CUDA driver", null, null, whyNot);
        int v = CudaDevice.InstalledDriverVersion;
        return new CudaLibraryStatus("CUDA driver", v > 0 ? $"CUDA {CudaDevice.FormatDriverVersion(v)}" : null,
                                     NativeLibraries.LoadedFrom(NativeLibraries.Cuda), v > 0 ? null : CudaDevice.WhyNoDevice);
    }

    public static CudaLibraryStatus Nvrtc()
    {
        if (!NvrtcCompiler.IsAvailable(out string? whyNot)) return new CudaLibraryStatus("NVRTC", null, null, whyNot);
        var (major, minor) = NvrtcCompiler.Version;
        var archs = NvrtcCompiler.SupportedArchs;
        string targets = archs.Length == 0 ? "" : $", targets sm_{archs[0]} … sm_{archs[^1]}";
        return new CudaLibraryStatus("NVRTC", $"{major}.{minor}{targets}", NativeLibraries.LoadedFrom(NativeLibraries.Nvrtc), null);
    }

    public static CudaLibraryStatus Cublas()
    {
        if (!NativeLibraries.TryLoad(NativeLibraries.Cublas, out _, out string? whyNot)) return new CudaLibraryStatus("cuBLAS", null, null, whyNot);
        try
        {
            Interop.Cublas.Check(Interop.Cublas.cublasGetProperty(libraryPropertyType.MAJOR_VERSION, out int major));
            Interop.Cublas.Check(Interop.Cublas.cublasGetProperty(libraryPropertyType.MINOR_VERSION, out int minor));
            Interop.Cublas.Check(Interop.Cublas.cublasGetProperty(libraryPropertyType.PATCH_LEVEL, out int patch));
            return new CudaLibraryStatus("cuBLAS", $"{major}.{minor}.{patch}", NativeLibraries.LoadedFrom(NativeLibraries.Cublas), null);
        }
        catch (Exception e) when (e is CublasException or EntryPointNotFoundException)
        {
            return new CudaLibraryStatus("cuBLAS", null, NativeLibraries.LoadedFrom(NativeLibraries.Cublas), e.Message);
        }
    }

    public static CudaLibraryStatus Cudnn()
    {
        if (!NativeLibraries.TryLoad(NativeLibraries.Cudnn, out _, out string? whyNot)) return new CudaLibraryStatus("cuDNN", null, null, whyNot);
        try
        {
            long v = (long)Interop.Cudnn.cudnnGetVersion();      // 9.x: major*10000 + minor*100 + patch
            long cudart = (long)Interop.Cudnn.cudnnGetCudartVersion();
            string version = $"{v / 10000}.{v % 10000 / 100}.{v % 100} (built for CUDA {cudart / 1000}.{cudart % 1000 / 10})";
            int major = NativeLibraries.CudaMajor;
            string? mismatch = major != 0 && cudart / 1000 != major
                ? $"cuDNN was built for CUDA {cudart / 1000} but NVRTC/cuBLAS are CUDA {major}: install the cuDNN build for CUDA {major}"
                : null;
            return new CudaLibraryStatus("cuDNN", version, NativeLibraries.LoadedFrom(NativeLibraries.Cudnn), mismatch);
        }
        catch (EntryPointNotFoundException e)
        {
            return new CudaLibraryStatus("cuDNN", null, NativeLibraries.LoadedFrom(NativeLibraries.Cudnn), e.Message);
        }
    }

    /// <summary>Every usable device (empty when none; see <see cref="CudaDevice.WhyNoDevice"/>).</summary>
    public static IReadOnlyList<CudaDevice> Devices()
    {
        var list = new List<CudaDevice>();
        for (int i = 0; i < CudaDevice.DeviceCount; i++)
            if (CudaDevice.TryCreate(i, out var d, out _)) list.Add(d!);
        return list;
    }

    /// <summary>The NVRTC target Kiln would compile for on <paramref name="device"/>, or why it cannot.</summary>
    public static string KernelTarget(CudaDevice device)
    {
        if (!NvrtcCompiler.IsAvailable(out _)) return "none (NVRTC missing)";
        return NvrtcCompiler.ChooseArch(device.ComputeCapabilityMajor, device.ComputeCapabilityMinor, NvrtcCompiler.SupportedArchs, out string? why)
            ?? $"none ({why})";
    }
}
