using System.Runtime.CompilerServices;
using System.Diagnostics;
using Kiln.Core.Ops;

namespace Kiln.Backends.Cpu;

/// <summary>
/// The reference backend: every op in float32 (SIMD, multi-threaded) and float64 (for gradient
/// checks). Kernels are generic over the float type; each op's kernels live in CpuBackend.X.cs.
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    public static readonly CpuBackend Instance = new();

    private CpuBackend() { }

#pragma warning disable CA2255 // a module initializer is how backends register with Core
    [ModuleInitializer]
    internal static void Register() => Backend.Register(DeviceType.Cpu, _ => Instance);
#pragma warning restore CA2255

    public Device Device => Device.Cpu;

    public Storage Allocate(long sizeBytes) => new CpuStorage(sizeBytes);

    public void Synchronize() { }

    // ------------------------------------------------------------ element access

    /// <summary>The elements of a contiguous CPU tensor as a span.</summary>
    internal static Span<T> Data<T>(Tensor t) where T : unmanaged
    {
        Debug.Assert(t.Device.Type == DeviceType.Cpu, "CPU kernel got a non-CPU tensor");
        if (!t.IsContiguous) throw new InvalidOperationException($"CPU kernel needs a contiguous tensor, got strides ({string.Join(", ", t.Strides.ToArray())}) for {t.ShapeString()}");
        if (t.NumElements > int.MaxValue) throw new NotSupportedException($"CPU tensors are limited to 2^31 elements, {t.ShapeString()} has {t.NumElements}");
        return new Span<T>((void*)(t.Storage.Pointer + (nint)(t.Offset * sizeof(T))), (int)t.NumElements);
    }

    internal static bool IsF32(Tensor t) => t.DType == DType.Float32;

    internal static InvalidOperationException Unsupported(string op, Tensor t) =>
        new($"{op} on the CPU supports float32 and float64, got {t.DType.Name()} {t.ShapeString()}");

    // ------------------------------------------------------------ memory

    public void CopyFromHost(ReadOnlySpan<byte> src, Tensor dst)
    {
        if (!dst.IsContiguous) throw new InvalidOperationException($"CopyFromHost needs a contiguous tensor, got {dst}");
        var d = new Span<byte>((void*)(dst.Storage.Pointer + (nint)(dst.Offset * dst.DType.Size())), checked((int)(dst.NumElements * dst.DType.Size())));
        if (src.Length != d.Length) throw new ArgumentException($"copy of {src.Length} bytes into {dst} of {d.Length} bytes");
        src.CopyTo(d);
    }

    public void CopyToHost(Tensor src, Span<byte> dst)
    {
        if (!src.IsContiguous) throw new InvalidOperationException($"CopyToHost needs a contiguous tensor, got {src}");
        var s = new ReadOnlySpan<byte>((void*)(src.Storage.Pointer + (nint)(src.Offset * src.DType.Size())), checked((int)(src.NumElements * src.DType.Size())));
        if (s.Length != dst.Length) throw new ArgumentException($"copy of {src} ({s.Length} bytes) into {dst.Length} bytes");
        s.CopyTo(dst);
    }

    public void Copy(Tensor src, Tensor dst)
    {
        if (!src.SameShape(dst)) throw new ArgumentException($"copy {src.ShapeString()} into {dst.ShapeString()}: shapes differ");
        if (!dst.IsContiguous) throw new ArgumentException($"copy needs a contiguous destination, got {dst}");
        if (src.DType == dst.DType && src.IsContiguous)
        {
            long bytes = src.NumElements * src.DType.Size();
            Buffer.MemoryCopy((void*)(src.Storage.Pointer + (nint)(src.Offset * src.DType.Size())),
                              (void*)(dst.Storage.Pointer + (nint)(dst.Offset * dst.DType.Size())), bytes, bytes);
            return;
        }
        // General path: strided gather with conversion through double (transposes, casts; not hot).
        int rank = src.Rank;
        Span<int> index = stackalloc int[Math.Max(rank, 1)];
        index.Clear();
        var shape = src.Shape;
        var strides = src.Strides;
        long n = src.NumElements;
        for (long i = 0; i < n; i++)
        {
            long off = src.Offset;
            for (int d = 0; d < rank; d++) off += index[d] * strides[d];
            Write(dst, dst.Offset + i, Read(src, off));
            for (int d = rank - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) break;
                index[d] = 0;
            }
        }
    }

    private static double Read(Tensor t, long i)
    {
        nint p = t.Storage.Pointer;
        return t.DType switch
        {
            DType.Float32 => ((float*)p)[i],
            DType.Float64 => ((double*)p)[i],
            DType.Int32 => ((int*)p)[i],
            DType.Int64 => ((long*)p)[i],
            DType.UInt8 => ((byte*)p)[i],
            DType.Float16 => (double)((Half*)p)[i],
            _ => throw new NotSupportedException($"CPU copy from {t.DType.Name()}"),
        };
    }

    private static void Write(Tensor t, long i, double v)
    {
        nint p = t.Storage.Pointer;
        switch (t.DType)
        {
            case DType.Float32: ((float*)p)[i] = (float)v; break;
            case DType.Float64: ((double*)p)[i] = v; break;
            case DType.Int32: ((int*)p)[i] = (int)v; break;
            case DType.Int64: ((long*)p)[i] = (long)v; break;
            case DType.UInt8: ((byte*)p)[i] = (byte)v; break;
            case DType.Float16: ((Half*)p)[i] = (Half)v; break;
            default: throw new NotSupportedException($"CPU copy to {t.DType.Name()}");
        }
    }

    public void Fill(Tensor t, double value)
    {
        switch (t.DType)
        {
            case DType.Float32: Data<float>(t).Fill((float)value); break;
            case DType.Float64: Data<double>(t).Fill(value); break;
            case DType.Int32: Data<int>(t).Fill((int)value); break;
            case DType.Int64: Data<long>(t).Fill((long)value); break;
            case DType.UInt8: Data<byte>(t).Fill((byte)value); break;
            default: throw new NotSupportedException($"CPU fill of {t.DType.Name()}");
        }
    }
}
