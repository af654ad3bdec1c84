namespace Kiln.Backends.Cuda;

public sealed unsafe partial class CudaBackend
{
    /// <summary>Most partial sums of the first reduction stage. Fixed, so the summation order depends on n only.</summary>
    internal const int MaxReduceBlocks = 1024;

    /// <summary>Blocks of <c>sum_partial_*</c> for n elements: a function of n alone (determinism across GPUs).</summary>
    internal static int ReduceBlocks(long n) => (int)Math.Clamp((n + BlockSize - 1) / BlockSize, 1, MaxReduceBlocks);

    public void Sum(Tensor x, Tensor y)
    {
        string suffix = FloatSuffix("sum", x);
        if (y.DType != x.DType || y.NumElements != 1) throw new ArgumentException($"sum: output must be one {x.DType.Name()} element, got {y}");
        ulong px = ContiguousPtr(x, "sum"), py = Ptr(y);
        long n = x.NumElements;
        int blocks = ReduceBlocks(n);
        // Returned to the cache right after queuing: the next user is ordered behind us on the stream.
        using var partial = Allocator.Allocate(blocks * sizeof(double));
        ulong pp = partial.Pointer;
        void** args = stackalloc void*[3];
        args[0] = &px;
        args[1] = &pp;
        args[2] = &n;
        string stage1 = $"sum_partial_{suffix}";
        Launch(Function("reduce.cu", stage1), stage1, (uint)blocks, 1, BlockSize, args);
        args[0] = &pp;
        args[1] = &blocks;
        args[2] = &py;
        string stage2 = $"sum_final_{suffix}";
        Launch(Function("reduce.cu", stage2), stage2, 1, 1, BlockSize, args);
    }

    public void FillFromScalar(Tensor scalar, double alpha, Tensor dst)
    {
        string suffix = FloatSuffix("sum backward", dst);
        ulong ps = Ptr(scalar), pd = ContiguousPtr(dst, "sum backward");
        long n = dst.NumElements;
        void** args = stackalloc void*[4];
        args[0] = &ps;
        args[1] = &alpha;
        args[2] = &pd;
        args[3] = &n;
        Launch1D("reduce.cu", $"sum_backward_{suffix}", n, args);
    }
}
