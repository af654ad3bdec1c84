using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

/// <summary>Where a <see cref="CudaAllocator"/> gets device memory from: the driver, or a fake in tests.</summary>
internal interface IDeviceMemory
{
    CUresult Allocate(out ulong pointer, long sizeBytes);
    void Free(ulong pointer);
    (long FreeBytes, long TotalBytes) Info();
}

/// <summary>
/// Note [Caching allocator]: cuMemAlloc/cuMemFree are slow (cuMemFree synchronises the device), and a
/// training step asks for the same sizes every step. Freed blocks are therefore kept in bins keyed by
/// size class and handed out again. All kernels run on one compute stream, so a block freed by the host
/// while kernels that use it are still queued can be handed to the next op at once: the next op's work
/// is queued behind them on the same stream (PyTorch's reasoning for its per-stream pools). Work on any
/// other stream must synchronise before returning its blocks.
/// Size classes: multiples of 512 bytes up to 1 MiB, then 1/8 of the enclosing power of two (at most
/// 12.5% waste). On out-of-memory the cache is emptied and the allocation retried once; a second
/// failure throws a <see cref="CudaException"/> naming the request, free and total memory.
/// Device memory is never freed by a finalizer: <see cref="DeviceBuffer"/> must be disposed.
/// </summary>
public sealed class CudaAllocator
{
    private const long SmallGranularity = 512;
    private const long SmallLimit = 1 << 20;

    private readonly IDeviceMemory _memory;
    private readonly string _deviceName;
    private readonly Lock _lock = new();
    private readonly Dictionary<long, Stack<ulong>> _bins = [];
    private long _allocated, _reserved, _peak, _liveBuffers, _cacheHits, _driverAllocations;

    internal CudaAllocator(IDeviceMemory memory, string deviceName)
    {
        _memory = memory;
        _deviceName = deviceName;
    }

    /// <summary>Bytes in live buffers (rounded to size classes).</summary>
    public long AllocatedBytes { get { lock (_lock) return _allocated; } }
    /// <summary>Bytes obtained from the driver: live plus cached.</summary>
    public long ReservedBytes { get { lock (_lock) return _reserved; } }
    /// <summary>Highest <see cref="AllocatedBytes"/> since creation or <see cref="ResetPeak"/>.</summary>
    public long PeakAllocatedBytes { get { lock (_lock) return _peak; } }
    /// <summary>Buffers handed out and not yet disposed (lets tests assert a step leaks nothing).</summary>
    public long LiveBuffers { get { lock (_lock) return _liveBuffers; } }
    /// <summary>Allocations served from the cache.</summary>
    public long CacheHits { get { lock (_lock) return _cacheHits; } }
    /// <summary>Successful cuMemAlloc calls.</summary>
    public long DriverAllocations { get { lock (_lock) return _driverAllocations; } }

    public void ResetPeak()
    {
        lock (_lock) _peak = _allocated;
    }

    internal static long RoundSize(long bytes)
    {
        if (bytes <= 0) return SmallGranularity;
        if (bytes <= SmallLimit) return (bytes + SmallGranularity - 1) / SmallGranularity * SmallGranularity;
        long pow = 1L << (63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)bytes));
        long step = pow / 8;
        return (bytes + step - 1) / step * step;
    }

    /// <summary>A buffer of at least <paramref name="sizeBytes"/> bytes; uninitialised.</summary>
    public DeviceBuffer Allocate(long sizeBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sizeBytes);
        long rounded = RoundSize(sizeBytes);
        lock (_lock)
        {
            if (_bins.TryGetValue(rounded, out var bin) && bin.Count > 0)
            {
                _cacheHits++;
                return Handout(bin.Pop(), sizeBytes, rounded);
            }
            var status = _memory.Allocate(out ulong p, rounded);
            if (status == CUresult.CUDA_ERROR_OUT_OF_MEMORY)
            {
                EmptyCacheLocked();
                status = _memory.Allocate(out p, rounded);
            }
            if (status == CUresult.CUDA_ERROR_OUT_OF_MEMORY) throw OutOfMemory(sizeBytes, rounded);
            if (status != CUresult.CUDA_SUCCESS)
                throw new CudaException((int)status, status.ToString(), "device allocation failed", $"cuMemAlloc_v2({rounded} bytes)", _deviceName);
            _driverAllocations++;
            _reserved += rounded;
            return Handout(p, sizeBytes, rounded);
        }
    }

    private DeviceBuffer Handout(ulong pointer, long sizeBytes, long rounded)
    {
        _allocated += rounded;
        _liveBuffers++;
        if (_allocated > _peak) _peak = _allocated;
        return new DeviceBuffer(this, pointer, sizeBytes, rounded);
    }

    internal void Return(DeviceBuffer buffer)
    {
        lock (_lock)
        {
            _allocated -= buffer.RoundedBytes;
            _liveBuffers--;
            if (!_bins.TryGetValue(buffer.RoundedBytes, out var bin)) _bins[buffer.RoundedBytes] = bin = new Stack<ulong>();
            bin.Push(buffer.Pointer);
        }
    }

    /// <summary>Frees every cached block back to the driver (live buffers are untouched).</summary>
    public void EmptyCache()
    {
        lock (_lock) EmptyCacheLocked();
    }

    private void EmptyCacheLocked()
    {
        foreach (var (size, bin) in _bins)
            while (bin.Count > 0)
            {
                _memory.Free(bin.Pop());
                _reserved -= size;
            }
        _bins.Clear();
    }

    private CudaException OutOfMemory(long requested, long rounded)
    {
        var (free, total) = _memory.Info();
        string detail = $"{_deviceName}: tried to allocate {FormatBytes(requested)} ({rounded} bytes with rounding); " +
                        $"{FormatBytes(free)} free of {FormatBytes(total)} total; Kiln holds {FormatBytes(_allocated)} in live tensors " +
                        $"(its cache was emptied and the allocation retried once). Try a smaller batch size.";
        return new CudaException((int)CUresult.CUDA_ERROR_OUT_OF_MEMORY, nameof(CUresult.CUDA_ERROR_OUT_OF_MEMORY), "out of memory",
                                 $"cuMemAlloc_v2({rounded} bytes)", detail);
    }

    internal static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} bytes",
    };
}

/// <summary>
/// Device memory from a <see cref="CudaAllocator"/>. Dispose returns it to the allocator's cache.
/// Deliberately no finalizer (Note [Caching allocator]): a leaked buffer stays leaked and shows in
/// <see cref="CudaAllocator.LiveBuffers"/>.
/// </summary>
public sealed class DeviceBuffer : IDisposable
{
    private CudaAllocator? _owner;

    internal DeviceBuffer(CudaAllocator owner, ulong pointer, long sizeBytes, long roundedBytes)
    {
        _owner = owner;
        Pointer = pointer;
        SizeBytes = sizeBytes;
        RoundedBytes = roundedBytes;
    }

    /// <summary>The device address (<c>CUdeviceptr</c>).</summary>
    public ulong Pointer { get; }
    /// <summary>Bytes requested.</summary>
    public long SizeBytes { get; }
    /// <summary>Bytes reserved (the size class).</summary>
    public long RoundedBytes { get; }
    public bool IsDisposed => _owner is null;

    public void Dispose() => Interlocked.Exchange(ref _owner, null)?.Return(this);
}

/// <summary>Device memory straight from the driver, in one primary context.</summary>
internal sealed class DriverMemory(CudaBackend backend) : IDeviceMemory
{
    public CUresult Allocate(out ulong pointer, long sizeBytes)
    {
        backend.MakeCurrent();
        return CudaDriver.cuMemAlloc_v2(out pointer, (nuint)sizeBytes);
    }

    public void Free(ulong pointer)
    {
        backend.MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemFree_v2(pointer));
    }

    public (long FreeBytes, long TotalBytes) Info()
    {
        backend.MakeCurrent();
        CudaDriver.Check(CudaDriver.cuMemGetInfo_v2(out nuint free, out nuint total));
        return ((long)free, (long)total);
    }
}

/// <summary>Storage of a CUDA tensor: one <see cref="DeviceBuffer"/>.</summary>
internal sealed class CudaStorage(Device device, DeviceBuffer buffer) : Storage(device, buffer.SizeBytes)
{
    public DeviceBuffer Buffer { get; } = buffer;

    public override nint Pointer => Buffer.IsDisposed ? throw new ObjectDisposedException(nameof(CudaStorage)) : (nint)Buffer.Pointer;

    protected override void Free() => Buffer.Dispose();
}
