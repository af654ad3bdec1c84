namespace Kiln.Backends.Cpu;

/// <summary>Host memory from <see cref="CpuAllocator"/>, 64-byte aligned.</summary>
internal sealed class CpuStorage : Storage
{
    private nint _pointer;
    private readonly long _rounded;

    public CpuStorage(long sizeBytes) : base(Device.Cpu, sizeBytes)
    {
        _pointer = CpuAllocator.Rent(sizeBytes, out _rounded);
    }

    public override nint Pointer => _pointer != 0 ? _pointer : throw new ObjectDisposedException(nameof(CpuStorage));

    protected override void Free()
    {
        var p = _pointer;
        _pointer = 0;
        if (p != 0) CpuAllocator.Return(p, _rounded);
    }
}
