using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

/// <summary>A CUDA event on one device: marks a point in a stream, for cross-stream ordering, host waits and timing.</summary>
public sealed class CudaEvent : IDisposable
{
    private readonly CudaBackend _backend;
    private readonly CudaEventHandle _handle;

    internal CudaEvent(CudaBackend backend, bool timing)
    {
        _backend = backend;
        backend.MakeCurrent();
        CudaDriver.Check(CudaDriver.cuEventCreate(out _handle, timing ? CudaFlags.CU_EVENT_DEFAULT : CudaFlags.CU_EVENT_DISABLE_TIMING));
    }

    internal nint Value => _handle.Value;

    /// <summary>Records the event on the backend's compute stream (after all work queued so far).</summary>
    public void Record() => RecordOn(_backend.Stream);

    internal void RecordOn(nint stream)
    {
        _backend.MakeCurrent();
        CudaDriver.Check(CudaDriver.cuEventRecord(_handle.Value, stream));
    }

    /// <summary>Blocks the host until the recorded work has finished.</summary>
    public void Synchronize()
    {
        _backend.MakeCurrent();
        CudaDriver.Check(CudaDriver.cuEventSynchronize(_handle.Value));
    }

    /// <summary>Whether the recorded work has finished (never blocks).</summary>
    public bool IsComplete
    {
        get
        {
            _backend.MakeCurrent();
            var status = CudaDriver.cuEventQuery(_handle.Value);
            if (status == CUresult.CUDA_ERROR_NOT_READY) return false;
            CudaDriver.Check(status);
            return true;
        }
    }

    /// <summary>Milliseconds from <paramref name="start"/> to this event; both must be timing events and complete.</summary>
    public float ElapsedMsSince(CudaEvent start)
    {
        _backend.MakeCurrent();
        CudaDriver.Check(CudaDriver.cuEventElapsedTime(out float ms, start._handle.Value, _handle.Value));
        return ms;
    }

    public void Dispose() => _handle.Dispose();
}
