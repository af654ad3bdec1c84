namespace Kiln.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>
    /// The raw bytes of a contiguous CPU tensor of any dtype, for serialisation: files are read
    /// straight into a tensor's storage and written straight from it, with no staging copy.
    /// </summary>
    internal static Span<byte> Bytes(Tensor t)
    {
        if (t.Device.Type != DeviceType.Cpu) throw new InvalidOperationException($"Bytes needs a CPU tensor, got {t}");
        if (!t.IsContiguous) throw new InvalidOperationException($"Bytes needs a contiguous tensor, got strides ({string.Join(", ", t.Strides.ToArray())}) for {t.ShapeString()}");
        int length = checked((int)(t.NumElements * t.DType.Size()));
        return new Span<byte>((void*)(t.Storage.Pointer + (nint)(t.Offset * t.DType.Size())), length);
    }
}
