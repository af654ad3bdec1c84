using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

/// <summary>
/// Page-locked host memory (<c>cuMemHostAlloc</c>, portable), the staging area for truly asynchronous
/// uploads (pinned for the GC is not page-locked for the driver). Owned: dispose it; no finalizer, like
/// device memory. Do not write to it while an upload from it is in flight (wait for the upload's event).
/// </summary>
public sealed unsafe class PinnedHostBuffer : IDisposable
{
    private nint _pointer;

    internal PinnedHostBuffer(CudaBackend backend, long sizeBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sizeBytes);
        backend.MakeCurrent();
        var status = CudaDriver.cuMemHostAlloc(out _pointer, (nuint)sizeBytes, CudaFlags.CU_MEMHOSTALLOC_PORTABLE);
        if (status != CUresult.CUDA_SUCCESS)
            throw CudaDriver.Error(status, "cuMemHostAlloc", $"{CudaAllocator.FormatBytes(sizeBytes)} of page-locked host memory");
        SizeBytes = sizeBytes;
    }

    public long SizeBytes { get; }

    public nint Pointer => _pointer != 0 ? _pointer : throw new ObjectDisposedException(nameof(PinnedHostBuffer));

    /// <summary>The memory as bytes (at most 2^31 - 1 of them).</summary>
    public Span<byte> Bytes => new((void*)Pointer, checked((int)SizeBytes));

    /// <summary>The memory as elements of <typeparamref name="T"/>.</summary>
    public Span<T> AsSpan<T>() where T : unmanaged => new((void*)Pointer, checked((int)(SizeBytes / sizeof(T))));

    public void Dispose()
    {
        nint p = Interlocked.Exchange(ref _pointer, 0);
        if (p != 0) CudaDriver.Check(CudaDriver.cuMemFreeHost(p));
    }
}
