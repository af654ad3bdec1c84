using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

/// <summary>
/// One CUDA GPU as the driver reports it. <see cref="TryCreate"/> is how callers ask whether CUDA is
/// usable: it never throws, its probe runs once per process, and a false answer carries the reason
/// ("libcuda.so.1 … not found (tried: …)", "no CUDA device: cuInit returned CUDA_ERROR_NO_DEVICE", …).
/// </summary>
public sealed unsafe class CudaDevice
{
    private static readonly Lazy<DriverProbe> s_probe = new(ProbeDriver);
    private static readonly ConcurrentDictionary<int, CudaDevice> s_devices = new();

    private CudaDevice(int index) => Index = index;

    /// <summary>Ordinal, as in <c>cuda:N</c>.</summary>
    public int Index { get; }
    public string Name { get; private init; } = "";
    public int ComputeCapabilityMajor { get; private init; }
    public int ComputeCapabilityMinor { get; private init; }
    public long TotalMemoryBytes { get; private init; }
    public int MultiprocessorCount { get; private init; }
    public int MaxThreadsPerBlock { get; private init; }
    public int MaxGridDimX { get; private init; }
    /// <summary>The highest CUDA version the driver supports, as 1000*major + 10*minor (12020 = 12.2).</summary>
    public int DriverVersion { get; private init; }

    public string ComputeCapability => $"{ComputeCapabilityMajor}.{ComputeCapabilityMinor}";

    internal static string FormatDriverVersion(int v) => $"{v / 1000}.{v % 1000 / 10}";

    private sealed record DriverProbe(bool Ok, int DriverVersion, int DeviceCount, string? WhyNot);

    /// <summary>Number of usable CUDA devices (0 when the driver or a GPU is missing; see <see cref="WhyNoDevice"/>).</summary>
    public static int DeviceCount => s_probe.Value.Ok ? s_probe.Value.DeviceCount : 0;

    /// <summary>Why no CUDA device is usable, or null when at least one is.</summary>
    public static string? WhyNoDevice => s_probe.Value.Ok ? null : s_probe.Value.WhyNot;

    /// <summary>The driver's CUDA version (e.g. 12020), or 0 when libcuda is not loadable.</summary>
    public static int InstalledDriverVersion => s_probe.Value.DriverVersion;

    /// <summary>Describes device <paramref name="index"/>, or says why it cannot be used. Never throws.</summary>
    public static bool TryCreate(int index, out CudaDevice? device, out string? whyNot)
    {
        device = null;
        var probe = s_probe.Value;
        if (!probe.Ok)
        {
            whyNot = probe.WhyNot;
            return false;
        }
        if (index < 0 || index >= probe.DeviceCount)
        {
            whyNot = $"cuda:{index} does not exist: {probe.DeviceCount} CUDA device{(probe.DeviceCount == 1 ? "" : "s")} found (cuda:0 … cuda:{probe.DeviceCount - 1})";
            return false;
        }
        try
        {
            device = s_devices.GetOrAdd(index, Query);
            whyNot = null;
            return true;
        }
        catch (CudaException e)
        {
            whyNot = $"cuda:{index} could not be queried: {e.Message}";
            return false;
        }
    }

    private static DriverProbe ProbeDriver()
    {
        if (!NativeLibraries.TryLoad(NativeLibraries.Cuda, out _, out string? whyNot))
            return new DriverProbe(false, 0, 0, whyNot);
        var status = CudaDriver.cuDriverGetVersion(out int version);
        if (status == CUresult.CUDA_ERROR_STUB_LIBRARY)
            return new DriverProbe(false, 0, 0,
                $"the libcuda.so.1 loaded from {NativeLibraries.LoadedFrom(NativeLibraries.Cuda)} is the CUDA toolkit's link-time stub, not the NVIDIA driver (CUDA_ERROR_STUB_LIBRARY); install the driver or remove the stubs folder from the library path");
        if (status != CUresult.CUDA_SUCCESS)
            return new DriverProbe(false, 0, 0, $"cuDriverGetVersion failed: {CudaDriver.ErrorName(status)} ({(int)status}): {CudaDriver.ErrorString(status)}");
        string driver = $"driver supports CUDA {FormatDriverVersion(version)}, libcuda from {NativeLibraries.LoadedFrom(NativeLibraries.Cuda)}";
        status = CudaDriver.cuInit(0);
        if (status == CUresult.CUDA_ERROR_NO_DEVICE)
            return new DriverProbe(false, version, 0, $"no CUDA device: cuInit returned CUDA_ERROR_NO_DEVICE (100) ({driver})");
        if (status != CUresult.CUDA_SUCCESS)
            return new DriverProbe(false, version, 0, $"CUDA driver unusable: cuInit returned {CudaDriver.ErrorName(status)} ({(int)status}): {CudaDriver.ErrorString(status)} ({driver})");
        status = CudaDriver.cuDeviceGetCount(out int count);
        if (status != CUresult.CUDA_SUCCESS)
            return new DriverProbe(false, version, 0, $"cuDeviceGetCount failed: {CudaDriver.ErrorName(status)} ({(int)status}) ({driver})");
        if (count == 0)
            return new DriverProbe(false, version, 0, $"no CUDA device: the driver reports 0 devices (check CUDA_VISIBLE_DEVICES) ({driver})");
        return new DriverProbe(true, version, count, null);
    }

    private static CudaDevice Query(int index)
    {
        CudaDriver.Check(CudaDriver.cuDeviceGet(out int dev, index));
        byte* name = stackalloc byte[256];
        CudaDriver.Check(CudaDriver.cuDeviceGetName(name, 256, dev));
        CudaDriver.Check(CudaDriver.cuDeviceTotalMem_v2(out nuint total, dev));
        int Attr(CUdevice_attribute a)
        {
            CudaDriver.Check(CudaDriver.cuDeviceGetAttribute(out int v, a, dev), $"cuDeviceGetAttribute({a}, cuda:{index})");
            return v;
        }
        return new CudaDevice(index)
        {
            Name = Marshal.PtrToStringUTF8((nint)name) ?? "",
            TotalMemoryBytes = (long)total,
            ComputeCapabilityMajor = Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
            ComputeCapabilityMinor = Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
            MultiprocessorCount = Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
            MaxThreadsPerBlock = Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK),
            MaxGridDimX = Attr(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X),
            DriverVersion = s_probe.Value.DriverVersion,
        };
    }

    public override string ToString() =>
        $"cuda:{Index} {Name} (compute {ComputeCapability}, {TotalMemoryBytes / (1024.0 * 1024 * 1024):F1} GiB, {MultiprocessorCount} SMs)";
}
