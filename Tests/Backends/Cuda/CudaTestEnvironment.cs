using Kiln.Backends.Cuda;

namespace Kiln.Tests.Backends.Cuda;

/// <summary>Cached probes for CUDA tests: never throw, always give a reason.</summary>
internal static class CudaTestEnvironment
{
    private static readonly Lazy<string?> s_noDevice = new(() =>
        CudaDevice.TryCreate(0, out _, out string? whyNot) ? null : $"no CUDA: {whyNot}");

    private static readonly Lazy<string?> s_noNvrtc = new(() =>
        NvrtcCompiler.IsAvailable(out string? whyNot) ? null : $"NVRTC not loadable: {whyNot}");

    private static readonly Lazy<string?> s_noCublas = new(() =>
        Kiln.Backends.Cuda.Interop.NativeLibraries.TryLoad(Kiln.Backends.Cuda.Interop.NativeLibraries.Cublas, out _, out string? whyNot)
            ? null : $"cuBLAS not loadable: {whyNot}");

    private static readonly Lazy<string?> s_noCudnn = new(() =>
        Kiln.Backends.Cuda.Interop.NativeLibraries.TryLoad(Kiln.Backends.Cuda.Interop.NativeLibraries.Cudnn, out _, out string? whyNot)
            ? null : $"cuDNN 9 not loadable: {whyNot}");

    /// <summary>Null when cuda:0 is usable, else why not.</summary>
    public static string? NoDeviceReason => s_noDevice.Value;

    /// <summary>Null when NVRTC loads, else why not.</summary>
    public static string? NoNvrtcReason => s_noNvrtc.Value;

    /// <summary>Skips the running test, with the probe's reason, unless a GPU is usable.</summary>
    public static void RequireDevice()
    {
        if (NoDeviceReason is { } why) Assert.Skip(why);
    }

    /// <summary>Skips the running test, with the reason, unless a GPU is usable and its kernels can be compiled (NVRTC).</summary>
    public static void RequireKernels()
    {
        RequireDevice();
        RequireNvrtc();
    }

    /// <summary>Skips the running test, with the reason, unless a GPU and cuBLAS are usable.</summary>
    public static void RequireCublas()
    {
        RequireDevice();
        if (s_noCublas.Value is { } why) Assert.Skip(why);
    }

    /// <summary>Skips the running test, with the reason, unless a GPU and cuDNN 9 are usable.</summary>
    public static void RequireCudnn()
    {
        RequireDevice();
        if (s_noCudnn.Value is { } why) Assert.Skip(why);
    }

    /// <summary>Skips the running test, with the reason, unless NVRTC loads.</summary>
    public static void RequireNvrtc()
    {
        if (NoNvrtcReason is { } why) Assert.Skip(why);
    }
}

/// <summary>A fact that needs cuda:0; skipped with the probe's reason otherwise (never passes silently).</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute([System.Runtime.CompilerServices.CallerFilePath] string? sourceFilePath = null,
                             [System.Runtime.CompilerServices.CallerLineNumber] int sourceLineNumber = -1)
        : base(sourceFilePath, sourceLineNumber)
    {
        if (CudaTestEnvironment.NoDeviceReason is { } why) Skip = why;
    }
}
