namespace Kiln.Backends.Cuda;

public sealed unsafe partial class CudaBackend
{
    /// <summary>Inverted dropout with the CPU's Philox stream: the same (seed, offset) gives the same mask (Kernels/dropout.cu).</summary>
    public void DropoutForward(Tensor x, Tensor y, Tensor mask, double p, ulong seed, ulong offset)
    {
        const string op = "dropout";
        if (!(p >= 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), $"dropout rate must be in [0, 1), got {p}");
        if (!y.SameShape(x) || !mask.SameShape(x) || y.DType != x.DType || mask.DType != x.DType)
            throw new ArgumentException($"CUDA {op}: y {y} and mask {mask} must match x {x}");
        string suffix = FloatSuffix(op, x);
        ulong px = ContiguousPtr(x, op), py = ContiguousPtr(y, op), pm = ContiguousPtr(mask, op);
        long n = x.NumElements;
        float threshold = (float)p;            // as CpuBackend: uniform (float) >= (float)p keeps
        double keep = 1.0 / (1.0 - p);         // rounded to T in the kernel, as T.CreateTruncating on the CPU
        void** args = stackalloc void*[8];
        args[0] = &px;
        args[1] = &py;
        args[2] = &pm;
        args[3] = &n;
        args[4] = &threshold;
        args[5] = &keep;
        args[6] = &seed;
        args[7] = &offset;
        Launch1D("dropout.cu", $"dropout_forward_{suffix}", (n + 3) / 4, args);
    }
}
