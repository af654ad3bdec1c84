namespace Kiln.Backends.Cuda;

/// <summary>Concat and narrow as row-block copies (Kernels/concat.cu), any dtype by element size.</summary>
public sealed unsafe partial class CudaBackend
{
    private static string BlockCopyKernel(string op, Tensor t) => t.DType.Size() switch
    {
        1 => "blockcopy_forward_b8",
        2 => "blockcopy_forward_b16",
        4 => "blockcopy_forward_b32",
        8 => "blockcopy_forward_b64",
        _ => throw new InvalidOperationException($"CUDA {op} does not support {t.DType.Name()} {t.ShapeString()}"),
    };

    private static long Outer(Tensor t, int dim)
    {
        long n = 1;
        for (int i = 0; i < dim; i++) n *= t.Size(i);
        return n;
    }

    /// <summary>Elements of one outer row: dims from <paramref name="dim"/> on.</summary>
    private static long Row(Tensor t, int dim)
    {
        long n = 1;
        for (int i = dim; i < t.Rank; i++) n *= t.Size(i);
        return n;
    }

    private void BlockCopy(string op, Tensor src, long srcRow, long srcOffset, Tensor dst, long dstRow, long dstOffset, long outer, long len)
    {
        if (outer == 0 || len == 0) return;
        string kernel = BlockCopyKernel(op, dst);
        ulong ps = ContiguousPtr(src, op), pd = ContiguousPtr(dst, op);
        void** args = stackalloc void*[8];
        args[0] = &ps;
        args[1] = &srcRow;
        args[2] = &srcOffset;
        args[3] = &pd;
        args[4] = &dstRow;
        args[5] = &dstOffset;
        args[6] = &outer;
        args[7] = &len;
        Launch1D("concat.cu", kernel, outer * len, args);
    }

    public void Concat(Tensor[] inputs, int dim, Tensor y)
    {
        long outer = Outer(y, dim), rowOut = Row(y, dim), offset = 0;
        foreach (var x in inputs)
        {
            if (x.DType != y.DType || x.Rank != y.Rank || Outer(x, dim) != outer)
                throw new ArgumentException($"CUDA concat along {dim}: input {x} does not fit output {y}");
            long rowIn = Row(x, dim);
            BlockCopy("concat", x, rowIn, 0, y, rowOut, offset, outer, rowIn);
            offset += rowIn;
        }
        if (offset != rowOut) throw new ArgumentException($"CUDA concat along {dim}: inputs fill {offset} of {rowOut} elements per row of {y}");
    }

    public void Narrow(Tensor src, int dim, int start, Tensor dst)
    {
        long outer = Outer(src, dim), rowIn = Row(src, dim), rowOut = Row(dst, dim);
        long inner = rowIn / Math.Max(1, src.Size(dim));
        if (dst.DType != src.DType || Outer(dst, dim) != outer || start < 0 || start * inner + rowOut > rowIn)
            throw new ArgumentException($"CUDA narrow along {dim} from {start}: {dst} does not fit in {src}");
        BlockCopy("narrow", src, rowIn, start * inner, dst, rowOut, 0, outer, rowOut);
    }
}
