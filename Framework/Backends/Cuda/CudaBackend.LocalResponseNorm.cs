using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

/// <summary>
/// Cross-channel LRN: cuDNN for odd windows within its limits, Kernels/lrn.cu otherwise (Note [cuDNN LRN
/// conventions] in CudnnPlans.cs). Forward and backward make the same choice from the same arguments; on the
/// cuDNN path the scale tensor is not written (cuDNN's backward recomputes it from x), so it is only
/// meaningful to the kernel path's backward.
/// </summary>
public sealed unsafe partial class CudaBackend
{
    private static void CheckLrnShapes(string op, Tensor x, params Tensor[] others)
    {
        if (x.Rank != 4) throw new ArgumentException($"CUDA {op}: needs (N, C, H, W), got {x}");
        foreach (var t in others)
            if (!t.SameShape(x) || t.DType != x.DType) throw new ArgumentException($"CUDA {op}: {t} does not match x {x}");
    }

    public void LocalResponseNormForward(Tensor x, Tensor y, Tensor scale, int size, double alpha, double beta, double k)
    {
        CheckLrnShapes("local_response_norm", x, y, scale);
        if (CudnnPlans.ChooseLrn(size, beta, k, x.DType) == LrnEngine.Cudnn)
        {
            var handle = CudnnHandle;
            MakeCurrent();
            string detail = $"x {x.ShapeString()} {x.DType.Name()} size {size} alpha {alpha} (cuDNN {CudnnPlans.CudnnLrnAlpha(alpha, size)}) beta {beta} k {k}";
            using var ld = DescribeLrn(size, alpha, beta, k, detail);
            using var xd = DescribeTensor(x);
            ConvScalars(x, out var s);
            CheckCudnn(Cudnn.cudnnLRNCrossChannelForward(handle.Value, ld.Value, cudnnLRNMode_t.CUDNN_LRN_CROSS_CHANNEL_DIM1, s.One, xd.Value,
                (nint)ContiguousPtr(x, "local_response_norm"), s.Zero, xd.Value, (nint)ContiguousPtr(y, "local_response_norm")), "cudnnLRNCrossChannelForward", detail);
            GC.KeepAlive(handle);
            return;
        }
        string suffix = FloatSuffix("local_response_norm", x);
        ulong px = ContiguousPtr(x, "local_response_norm"), py = ContiguousPtr(y, "local_response_norm"), ps = ContiguousPtr(scale, "local_response_norm");
        int n = x.Size(0), c = x.Size(1);
        long hw = (long)x.Size(2) * x.Size(3);
        void** args = stackalloc void*[10];
        args[0] = &px;
        args[1] = &py;
        args[2] = &ps;
        args[3] = &n;
        args[4] = &c;
        args[5] = &hw;
        args[6] = &size;
        args[7] = &alpha;
        args[8] = &beta;
        args[9] = &k;
        Launch1D("lrn.cu", $"lrn_forward_{suffix}", x.NumElements, args);
    }

    public void LocalResponseNormBackward(Tensor x, Tensor y, Tensor scale, Tensor dy, Tensor dx, int size, double alpha, double beta, double k)
    {
        CheckLrnShapes("local_response_norm backward", x, y, scale, dy, dx);
        if (CudnnPlans.ChooseLrn(size, beta, k, x.DType) == LrnEngine.Cudnn)
        {
            var handle = CudnnHandle;
            MakeCurrent();
            string detail = $"backward x {x.ShapeString()} {x.DType.Name()} size {size} alpha {alpha} beta {beta} k {k}";
            using var ld = DescribeLrn(size, alpha, beta, k, detail);
            using var xd = DescribeTensor(x);
            ConvScalars(x, out var s);
            const string op = "local_response_norm backward";
            CheckCudnn(Cudnn.cudnnLRNCrossChannelBackward(handle.Value, ld.Value, cudnnLRNMode_t.CUDNN_LRN_CROSS_CHANNEL_DIM1, s.One,
                xd.Value, (nint)ContiguousPtr(y, op), xd.Value, (nint)ContiguousPtr(dy, op), xd.Value, (nint)ContiguousPtr(x, op),
                s.Zero, xd.Value, (nint)ContiguousPtr(dx, op)), "cudnnLRNCrossChannelBackward", detail);
            GC.KeepAlive(handle);
            return;
        }
        string suffix = FloatSuffix("local_response_norm backward", x);
        const string name = "local_response_norm backward";
        ulong px = ContiguousPtr(x, name), py = ContiguousPtr(y, name), ps = ContiguousPtr(scale, name), pdy = ContiguousPtr(dy, name), pdx = ContiguousPtr(dx, name);
        int n = x.Size(0), c = x.Size(1);
        long hw = (long)x.Size(2) * x.Size(3);
        void** args = stackalloc void*[11];
        args[0] = &px;
        args[1] = &py;
        args[2] = &ps;
        args[3] = &pdy;
        args[4] = &pdx;
        args[5] = &n;
        args[6] = &c;
        args[7] = &hw;
        args[8] = &size;
        args[9] = &alpha;
        args[10] = &beta;
        Launch1D("lrn.cu", $"lrn_backward_{suffix}", x.NumElements, args);
    }

    /// <summary>An LRN descriptor for our per-term <paramref name="alpha"/>: cuDNN's lrnAlpha is alpha * size.</summary>
    private static CudnnLRNDescriptorHandle DescribeLrn(int size, double alpha, double beta, double k, string detail)
    {
        Cudnn.Check(Cudnn.cudnnCreateLRNDescriptor(out var ld));
        var status = Cudnn.cudnnSetLRNDescriptor(ld.Value, (uint)size, CudnnPlans.CudnnLrnAlpha(alpha, size), beta, k);
        if (status != cudnnStatus_t.CUDNN_STATUS_SUCCESS)
        {
            ld.Dispose();
            throw Cudnn.Error(status, "cudnnSetLRNDescriptor", detail);
        }
        return ld;
    }
}
