namespace Kiln.Core.Ops;

/// <summary>
/// What a device must provide. This part holds memory and copies; each op file in
/// <c>Core/Ops</c> adds the kernels it needs to this partial interface, and each backend
/// implements them in its own partial file (<c>CpuBackend.Relu.cs</c>, ...).
/// Kernels receive tensors whose shapes were checked by the op; outputs are preallocated.
/// </summary>
public partial interface IBackend
{
    Device Device { get; }

    /// <summary>Allocates uninitialised memory, 64-byte aligned on the host.</summary>
    Storage Allocate(long sizeBytes);

    /// <summary>Copies host bytes into a contiguous tensor.</summary>
    void CopyFromHost(ReadOnlySpan<byte> src, Tensor dst);

    /// <summary>Copies a contiguous tensor's bytes to the host.</summary>
    void CopyToHost(Tensor src, Span<byte> dst);

    /// <summary>Copies <paramref name="src"/> (any strides) into contiguous <paramref name="dst"/> of the same shape, converting dtype.</summary>
    void Copy(Tensor src, Tensor dst);

    /// <summary>Sets every element of a contiguous tensor.</summary>
    void Fill(Tensor t, double value);

    /// <summary>Waits until queued work on this device has finished.</summary>
    void Synchronize();
}

public partial interface IBackend
{
    /// <summary>y = a + b, all contiguous, same shape.</summary>
    void Add(Tensor a, Tensor b, Tensor y);

    /// <summary>acc += x (gradient accumulation).</summary>
    void AddInPlace(Tensor acc, Tensor x);

    /// <summary>y = alpha * x.</summary>
    void Scale(Tensor x, double alpha, Tensor y);
}
