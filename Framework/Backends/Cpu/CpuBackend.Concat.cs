namespace Kiln.Backends.Cpu;

/// <summary>Concat, narrow: byte copies of (outer, dim·inner) blocks, so any dtype works.</summary>
public sealed unsafe partial class CpuBackend
{
    public void Concat(Tensor[] inputs, int dim, Tensor y)
    {
        long outer = OuterCount(y, dim);
        long rowBytesOut = RowBytes(y, dim);
        long offset = 0;
        byte* dst = (byte*)(y.Storage.Pointer + (nint)(y.Offset * y.DType.Size()));
        foreach (var x in inputs)
        {
            long rowBytesIn = RowBytes(x, dim);
            byte* src = (byte*)(x.Storage.Pointer + (nint)(x.Offset * x.DType.Size()));
            for (long o = 0; o < outer; o++)
                Buffer.MemoryCopy(src + o * rowBytesIn, dst + o * rowBytesOut + offset, rowBytesIn, rowBytesIn);
            offset += rowBytesIn;
        }
    }

    public void Narrow(Tensor src, int dim, int start, Tensor dst)
    {
        long outer = OuterCount(src, dim);
        long rowBytesIn = RowBytes(src, dim), rowBytesOut = RowBytes(dst, dim);
        long startBytes = rowBytesIn / Math.Max(1, src.Size(dim)) * start;
        byte* s = (byte*)(src.Storage.Pointer + (nint)(src.Offset * src.DType.Size()));
        byte* d = (byte*)(dst.Storage.Pointer + (nint)(dst.Offset * dst.DType.Size()));
        for (long o = 0; o < outer; o++)
            Buffer.MemoryCopy(s + o * rowBytesIn + startBytes, d + o * rowBytesOut, rowBytesOut, rowBytesOut);
    }

    private static long OuterCount(Tensor t, int dim)
    {
        long n = 1;
        for (int i = 0; i < dim; i++) n *= t.Size(i);
        return n;
    }

    /// <summary>Bytes of one outer row: dims from <paramref name="dim"/> on.</summary>
    private static long RowBytes(Tensor t, int dim)
    {
        long n = t.DType.Size();
        for (int i = dim; i < t.Rank; i++) n *= t.Size(i);
        return n;
    }
}
