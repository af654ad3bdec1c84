using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

/// <summary>
/// Batch norm through cuDNN's spatial mode (statistics per channel over N, H, W), except the evaluation
/// backward, which cuDNN lacks (Kernels/batchnorm.cu). Conventions checked against the CPU backend:
/// cuDNN's exponentialAverageFactor is our momentum (running = (1 - f) running + f batch); its running
/// variance is the unbiased one (N H W / (N H W - 1) times the batch variance), as PyTorch relies on and as
/// CpuBackend does; resultSaveInvVariance is 1 / sqrt(var + eps) with the biased variance, our saveInvStd.
/// A null weight or bias is passed as ones or zeros (cuDNN needs both); outputs not asked for go to scratch.
/// </summary>
public sealed unsafe partial class CudaBackend
{
    private const cudnnBatchNormMode_t BnMode = cudnnBatchNormMode_t.CUDNN_BATCHNORM_SPATIAL;

    /// <summary>The (1, C, 1, 1) descriptor cuDNN derives from x's for the per-channel tensors.</summary>
    private static CudnnTensorDescriptorHandle DescribeBnParams(CudnnTensorDescriptorHandle xd, string detail)
    {
        Cudnn.Check(Cudnn.cudnnCreateTensorDescriptor(out var bd));
        var status = Cudnn.cudnnDeriveBNTensorDescriptor(bd.Value, xd.Value, BnMode);
        if (status != cudnnStatus_t.CUDNN_STATUS_SUCCESS)
        {
            bd.Dispose();
            throw Cudnn.Error(status, "cudnnDeriveBNTensorDescriptor", detail);
        }
        return bd;
    }

    private void CheckBn(string op, Tensor x, params Tensor?[] channelTensors)
    {
        if (x.Rank != 4 || !x.IsContiguous) throw new ArgumentException($"CUDA {op}: needs contiguous (N, C, H, W), got {x}");
        foreach (var t in channelTensors)
            if (t is not null && (t.NumElements != x.Size(1) || t.DType != x.DType || !t.IsContiguous))
                throw new ArgumentException($"CUDA {op}: per-channel tensor {t} must be ({x.Size(1)}) {x.DType.Name()} contiguous for x {x.ShapeString()}");
    }

    /// <summary><paramref name="t"/> itself, or a fresh (C) tensor filled with <paramref name="value"/> that the caller disposes.</summary>
    private Tensor OrFilled(Tensor? t, Tensor x, double value, out Tensor? owned)
    {
        owned = null;
        if (t is not null) return t;
        owned = Tensor.Full([x.Size(1)], value, x.DType, Device);
        return owned;
    }

    public void BatchNorm2dForwardTraining(Tensor x, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd)
    {
        const string op = "batch_norm2d";
        CheckBn(op, x, weight, bias, runningMean, runningVar, saveMean, saveInvStd);
        if (!y.SameShape(x)) throw new ArgumentException($"CUDA {op}: y {y} does not match x {x}");
        string detail = $"{op} training x {x.ShapeString()} {x.DType.Name()} momentum {momentum} eps {eps}";
        var handle = CudnnHandle;
        MakeCurrent();
        using var xd = DescribeTensor(x);
        using var bd = DescribeBnParams(xd, detail);
        var scale = OrFilled(weight, x, 1, out var ownedScale);
        var shift = OrFilled(bias, x, 0, out var ownedShift);
        try
        {
            bool updateRunning = runningMean is not null && runningVar is not null;   // as the CPU: both or neither
            ConvScalars(x, out var s);
            CheckCudnn(Cudnn.cudnnBatchNormalizationForwardTraining(handle.Value, BnMode, s.One, s.Zero, xd.Value, (nint)Ptr(x), xd.Value, (nint)ContiguousPtr(y, op),
                bd.Value, (nint)Ptr(scale), (nint)Ptr(shift), momentum,
                updateRunning ? (nint)Ptr(runningMean!) : 0, updateRunning ? (nint)Ptr(runningVar!) : 0, eps,
                (nint)Ptr(saveMean), (nint)Ptr(saveInvStd)), "cudnnBatchNormalizationForwardTraining", detail);
        }
        finally
        {
            ownedScale?.Dispose();
            ownedShift?.Dispose();
        }
        GC.KeepAlive(handle);
    }

    public void BatchNorm2dForwardInference(Tensor x, Tensor? weight, Tensor? bias, Tensor mean, Tensor variance, double eps, Tensor y)
    {
        const string op = "batch_norm2d";
        CheckBn(op, x, weight, bias, mean, variance);
        if (!y.SameShape(x)) throw new ArgumentException($"CUDA {op}: y {y} does not match x {x}");
        string detail = $"{op} inference x {x.ShapeString()} {x.DType.Name()} eps {eps}";
        var handle = CudnnHandle;
        MakeCurrent();
        using var xd = DescribeTensor(x);
        using var bd = DescribeBnParams(xd, detail);
        var scale = OrFilled(weight, x, 1, out var ownedScale);
        var shift = OrFilled(bias, x, 0, out var ownedShift);
        try
        {
            ConvScalars(x, out var s);
            CheckCudnn(Cudnn.cudnnBatchNormalizationForwardInference(handle.Value, BnMode, s.One, s.Zero, xd.Value, (nint)Ptr(x), xd.Value, (nint)ContiguousPtr(y, op),
                bd.Value, (nint)Ptr(scale), (nint)Ptr(shift), (nint)Ptr(mean), (nint)Ptr(variance), eps), "cudnnBatchNormalizationForwardInference", detail);
        }
        finally
        {
            ownedScale?.Dispose();
            ownedShift?.Dispose();
        }
        GC.KeepAlive(handle);
    }

    /// <summary>
    /// Passed to cudnnBatchNormalizationBackward, whose contract wants the forward's epsilon; with saved mean and
    /// inverse variance given (always, here) cuDNN uses those and not epsilon. Our contract does not carry eps.
    /// TODO(#6): confirm on a GPU that a different eps in forward and backward changes nothing.
    /// </summary>
    private const double BnBackwardEpsilon = 1e-5;

    public void BatchNorm2dBackward(Tensor x, Tensor dy, Tensor? weight, Tensor saveMean, Tensor saveInvStd, Tensor? dx, Tensor? dweight, Tensor? dbias)
    {
        const string op = "batch_norm2d backward";
        CheckBn(op, x, weight, saveMean, saveInvStd, dweight, dbias);
        if (!dy.SameShape(x) || (dx is not null && !dx.SameShape(x))) throw new ArgumentException($"CUDA {op}: dy {dy} / dx {dx} do not match x {x}");
        string detail = $"{op} x {x.ShapeString()} {x.DType.Name()}";
        var handle = CudnnHandle;
        MakeCurrent();
        using var xd = DescribeTensor(x);
        using var bd = DescribeBnParams(xd, detail);
        var scale = OrFilled(weight, x, 1, out var ownedScale);
        Tensor? ownedDx = dx is null ? Tensor.Empty(x.Shape, x.DType, Device) : null;
        Tensor? ownedDw = dweight is null ? Tensor.Empty([x.Size(1)], x.DType, Device) : null;
        Tensor? ownedDb = dbias is null ? Tensor.Empty([x.Size(1)], x.DType, Device) : null;
        try
        {
            ConvScalars(x, out var s);
            CheckCudnn(Cudnn.cudnnBatchNormalizationBackward(handle.Value, BnMode, s.One, s.Zero, s.One, s.Zero,
                xd.Value, (nint)Ptr(x), xd.Value, (nint)ContiguousPtr(dy, op), xd.Value, (nint)Ptr(dx ?? ownedDx!),
                bd.Value, (nint)Ptr(scale), (nint)Ptr(dweight ?? ownedDw!), (nint)Ptr(dbias ?? ownedDb!), BnBackwardEpsilon,
                (nint)Ptr(saveMean), (nint)Ptr(saveInvStd)), "cudnnBatchNormalizationBackward", detail);
        }
        finally
        {
            ownedScale?.Dispose();
            ownedDx?.Dispose();
            ownedDw?.Dispose();
            ownedDb?.Dispose();
        }
        GC.KeepAlive(handle);
    }

    public void BatchNorm2dBackwardInference(Tensor x, Tensor dy, Tensor? weight, Tensor mean, Tensor variance, double eps, Tensor? dx, Tensor? dweight, Tensor? dbias)
    {
        const string op = "batch_norm2d backward (eval)";
        CheckBn(op, x, weight, mean, variance, dweight, dbias);
        if (!dy.SameShape(x) || (dx is not null && !dx.SameShape(x))) throw new ArgumentException($"CUDA {op}: dy {dy} / dx {dx} do not match x {x}");
        string suffix = FloatSuffix(op, x);
        int n = x.Size(0), c = x.Size(1);
        long hw = (long)x.Size(2) * x.Size(3), total = x.NumElements;
        ulong px = Ptr(x), pdy = ContiguousPtr(dy, op), pm = Ptr(mean), pv = Ptr(variance);
        if (dweight is not null || dbias is not null)
        {
            ulong pdw = dweight is null ? 0 : Ptr(dweight), pdb = dbias is null ? 0 : Ptr(dbias);
            void** args = stackalloc void*[10];
            args[0] = &px;
            args[1] = &pdy;
            args[2] = &pm;
            args[3] = &pv;
            args[4] = &eps;
            args[5] = &pdw;
            args[6] = &pdb;
            args[7] = &n;
            args[8] = &c;
            args[9] = &hw;
            string name = $"batchnorm2d_backward_eval_params_{suffix}";
            Launch(Function("batchnorm.cu", name), name, (uint)c, 1, BlockSize, args);
        }
        if (dx is not null)
        {
            ulong pw = weight is null ? 0 : Ptr(weight), pdx = ContiguousPtr(dx, op);
            void** args = stackalloc void*[8];
            args[0] = &pdy;
            args[1] = &pw;
            args[2] = &pv;
            args[3] = &eps;
            args[4] = &pdx;
            args[5] = &c;
            args[6] = &hw;
            args[7] = &total;
            Launch1D("batchnorm.cu", $"batchnorm2d_backward_eval_data_{suffix}", total, args);
        }
    }
}
