using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

/// <summary>
/// Softmax and log-softmax through cuDNN: x viewed as (outer, C, inner) is described as the 4-d tensor
/// (N = outer, C, H = inner, W = 1), and CUDNN_SOFTMAX_MODE_CHANNEL normalises over C for each (n, h, w),
/// which is exactly our middle axis. ACCURATE subtracts the maximum (as the CPU does); LOG gives log-softmax,
/// and its backward takes the log-softmax output y, as ours does.
/// </summary>
public sealed unsafe partial class CudaBackend
{
    private static CudnnTensorDescriptorHandle DescribeRows(Tensor t, int outer, int channels, int inner, string op)
    {
        if (!t.IsContiguous || (long)outer * channels * inner != t.NumElements)
            throw new ArgumentException($"CUDA {op}: {t} is not a contiguous ({outer}, {channels}, {inner}) view");
        Cudnn.Check(Cudnn.cudnnCreateTensorDescriptor(out var d));
        var status = Cudnn.cudnnSetTensor4dDescriptor(d.Value, cudnnTensorFormat_t.CUDNN_TENSOR_NCHW, CudnnType(t), outer, channels, inner, 1);
        if (status != cudnnStatus_t.CUDNN_STATUS_SUCCESS)
        {
            d.Dispose();
            throw Cudnn.Error(status, "cudnnSetTensor4dDescriptor", $"{op}: ({outer}, {channels}, {inner}, 1) {t.DType.Name()}");
        }
        return d;
    }

    public void SoftmaxForward(Tensor x, Tensor y, int outer, int channels, int inner, bool log)
    {
        string op = log ? "log_softmax" : "softmax";
        var handle = CudnnHandle;
        MakeCurrent();
        using var xd = DescribeRows(x, outer, channels, inner, op);
        using var yd = DescribeRows(y, outer, channels, inner, op);
        ConvScalars(x, out var s);
        CheckCudnn(Cudnn.cudnnSoftmaxForward(handle.Value, log ? cudnnSoftmaxAlgorithm_t.CUDNN_SOFTMAX_LOG : cudnnSoftmaxAlgorithm_t.CUDNN_SOFTMAX_ACCURATE,
            cudnnSoftmaxMode_t.CUDNN_SOFTMAX_MODE_CHANNEL, s.One, xd.Value, (nint)Ptr(x), s.Zero, yd.Value, (nint)Ptr(y)),
            "cudnnSoftmaxForward", $"{op} x {x.ShapeString()} as ({outer}, {channels}, {inner}) {x.DType.Name()}");
        GC.KeepAlive(handle);
    }

    public void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, int outer, int channels, int inner, bool log)
    {
        string op = log ? "log_softmax backward" : "softmax backward";
        var handle = CudnnHandle;
        MakeCurrent();
        using var yd = DescribeRows(y, outer, channels, inner, op);
        using var dyd = DescribeRows(dy, outer, channels, inner, op);
        using var dxd = DescribeRows(dx, outer, channels, inner, op);
        ConvScalars(y, out var s);
        CheckCudnn(Cudnn.cudnnSoftmaxBackward(handle.Value, log ? cudnnSoftmaxAlgorithm_t.CUDNN_SOFTMAX_LOG : cudnnSoftmaxAlgorithm_t.CUDNN_SOFTMAX_ACCURATE,
            cudnnSoftmaxMode_t.CUDNN_SOFTMAX_MODE_CHANNEL, s.One, yd.Value, (nint)Ptr(y), dyd.Value, (nint)Ptr(dy), s.Zero, dxd.Value, (nint)Ptr(dx)),
            "cudnnSoftmaxBackward", $"{op} y {y.ShapeString()} as ({outer}, {channels}, {inner}) {y.DType.Name()}");
        GC.KeepAlive(handle);
    }
}
