namespace Kiln.Core;

/// <summary>
/// A block of device or host memory shared by a tensor and its views. Reference counted: each
/// <see cref="Tensor"/> that uses it holds one reference, and the block goes back to its backend's
/// allocator when the last one is released. Never freed by a finalizer (see Note [Ownership]).
/// </summary>
public abstract class Storage
{
    private int _refs = 1;

    protected Storage(Device device, long sizeBytes)
    {
        Device = device;
        SizeBytes = sizeBytes;
    }

    public Device Device { get; }
    public long SizeBytes { get; }

    /// <summary>Address of the first byte: a host pointer for the CPU, a device pointer for CUDA.</summary>
    public abstract nint Pointer { get; }

    public bool IsReleased => Volatile.Read(ref _refs) <= 0;

    /// <summary>How many tensors share this storage.</summary>
    internal int RefCount => Volatile.Read(ref _refs);

    /// <summary>How many of the tensors sharing this storage an in-place op has written over (dead to their readers,
    /// kept for the graph's shapes and links): Op.CanOverwrite does not count them as sharers.</summary>
    internal int OverwrittenRefs;

    internal void AddRef()
    {
        if (Interlocked.Increment(ref _refs) <= 1)
            throw new ObjectDisposedException(nameof(Storage), "storage was already released");
    }

    internal void Release()
    {
        int r = Interlocked.Decrement(ref _refs);
        if (r == 0) Free();
        else if (r < 0) throw new InvalidOperationException("storage released more times than referenced");
    }

    /// <summary>Returns the memory to its allocator. Called exactly once.</summary>
    protected abstract void Free();
}
