namespace Kiln.Backends.Cpu;

/// <summary>Concat, narrow: byte copies of (outer, dim·inner) blocks, so any dtype works.</summary>
public sealed unsafe partial class CpuBackend
{
    public void Concat(Tensor[] inputs, int dim, Tensor y)
    {
        long outer = OuterCount(y, dim);
        long rowBytesOut = RowBytes(y, dim);
        nint dst = y.Storage.Pointer + (nint)(y.Offset * y.DType.Size());
        var src = new nint[inputs.Length];
        var rowBytesIn = new long[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            src[i] = inputs[i].Storage.Pointer + (nint)(inputs[i].Offset * inputs[i].DType.Size());
            rowBytesIn[i] = RowBytes(inputs[i], dim);
        }
        // Outer rows in parallel ranges: ResNet-20's padded shortcuts and GoogLeNet's inception outputs copy megabytes.
        CpuParallel.ForRanges(outer, CopyChunks(outer, rowBytesOut), (_, first, count) =>
        {
            for (long o = first; o < first + count; o++)
            {
                long offset = 0;
                for (int i = 0; i < src.Length; i++)
                {
                    Buffer.MemoryCopy((byte*)src[i] + o * rowBytesIn[i], (byte*)dst + o * rowBytesOut + offset, rowBytesIn[i], rowBytesIn[i]);
                    offset += rowBytesIn[i];
                }
            }
        });
    }

    public void Narrow(Tensor src, int dim, int start, Tensor dst)
    {
        long outer = OuterCount(src, dim);
        long rowBytesIn = RowBytes(src, dim), rowBytesOut = RowBytes(dst, dim);
        long startBytes = rowBytesIn / Math.Max(1, src.Size(dim)) * start;
        nint s = src.Storage.Pointer + (nint)(src.Offset * src.DType.Size());
        nint d = dst.Storage.Pointer + (nint)(dst.Offset * dst.DType.Size());
        CpuParallel.ForRanges(outer, CopyChunks(outer, rowBytesOut), (_, first, count) =>
        {
            for (long o = first; o < first + count; o++)
                Buffer.MemoryCopy((byte*)s + o * rowBytesIn + startBytes, (byte*)d + o * rowBytesOut, rowBytesOut, rowBytesOut);
        });
    }

    /// <summary>Parallel ranges for copying <paramref name="outer"/> rows of <paramref name="rowBytes"/>: one below 256 KiB in all.</summary>
    private static int CopyChunks(long outer, long rowBytes) =>
        (int)Math.Max(1, Math.Min(outer, CpuParallel.ChunkCount(outer * rowBytes, 1 << 18)));

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
