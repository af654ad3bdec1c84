using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

public sealed unsafe partial class CudaBackend
{
    private CudaStreamHandle? _copyStream;

    /// <summary>The copy stream: uploads run there so they overlap with compute.</summary>
    internal nint CopyStream
    {
        get
        {
            if (_copyStream is { } s) return s.Value;
            MakeCurrent();
            CudaDriver.Check(CudaDriver.cuStreamCreate(out var stream, CudaFlags.CU_STREAM_NON_BLOCKING));
            _copyStream = stream;
            return stream.Value;
        }
    }

    /// <summary>Page-locked host memory for staged uploads.</summary>
    public PinnedHostBuffer AllocatePinned(long sizeBytes) => new(this, sizeBytes);

    /// <summary>A new event on this device (timing events can measure elapsed time; others are cheaper).</summary>
    public CudaEvent CreateEvent(bool timing = false) => new(this, timing);

    /// <summary>
    /// Note [Staged uploads]: copies <paramref name="dst"/>'s bytes from <paramref name="src"/> (at
    /// <paramref name="srcOffsetBytes"/>) on the copy stream, so the upload of the next batch overlaps the
    /// current step. Ordering: the copy first waits for <paramref name="dstFree"/> (an event the caller
    /// recorded on the compute stream after the last kernel that reads the previous contents of
    /// <paramref name="dst"/>; null when dst is fresh), and, with <paramref name="computeWaits"/>, every kernel
    /// queued on the compute stream after this call waits for the copy. A prefetcher passes false, since the
    /// step queued next is the one before the batch's own, and calls <see cref="WaitForEvent"/> with the returned
    /// event when the batch's step begins. Returns the event that completes with the copy: the host must not
    /// overwrite <paramref name="src"/> before it completes. <paramref name="dst"/> must outlive the copy
    /// (keep the double buffer's two tensors for the whole run; do not dispose them while in flight).
    /// </summary>
    public CudaEvent UploadAsync(PinnedHostBuffer src, long srcOffsetBytes, Tensor dst, CudaEvent? dstFree = null, bool computeWaits = true)
    {
        ulong d = ContiguousPtr(dst, "upload");
        long bytes = dst.NumElements * dst.DType.Size();
        if (srcOffsetBytes < 0 || srcOffsetBytes + bytes > src.SizeBytes)
            throw new ArgumentException($"upload of {bytes} bytes at offset {srcOffsetBytes} overruns a {src.SizeBytes}-byte pinned buffer");
        nint copy = CopyStream;
        MakeCurrent();
        if (dstFree is not null) CudaDriver.Check(CudaDriver.cuStreamWaitEvent(copy, dstFree.Value, 0));
        if (bytes > 0) CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(d, (void*)(src.Pointer + (nint)srcOffsetBytes), (nuint)bytes, copy));
        var done = CreateEvent();
        done.RecordOn(copy);
        if (computeWaits) WaitForEvent(done);
        return done;
    }

    /// <summary>Every kernel queued on the compute stream after this call waits until <paramref name="e"/> (as last recorded) completes; the host does not wait.</summary>
    public void WaitForEvent(CudaEvent e)
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuStreamWaitEvent(Stream, e.Value, 0));
    }
}
