using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

public sealed unsafe partial class CudaBackend
{
    private CudnnHandle? _cudnn;

    /// <summary>The cuDNN handle, created on first use in this context and bound to the compute stream.</summary>
    internal CudnnHandle CudnnHandle
    {
        get
        {
            if (_cudnn is { } h) return h;
            MakeCurrent();
            NativeLibraries.Load(NativeLibraries.Cudnn);   // a clear "not found (tried: ...)" before any entry point
            Cudnn.Check(Cudnn.cudnnCreate(out var handle));
            Cudnn.Check(Cudnn.cudnnSetStream(handle, Stream));
            return _cudnn = handle;
        }
    }

    internal static cudnnDataType_t CudnnType(Tensor t) => t.DType switch
    {
        DType.Float32 => cudnnDataType_t.CUDNN_DATA_FLOAT,
        DType.Float64 => cudnnDataType_t.CUDNN_DATA_DOUBLE,
        DType.Float16 => cudnnDataType_t.CUDNN_DATA_HALF,
        DType.BFloat16 => cudnnDataType_t.CUDNN_DATA_BFLOAT16,
        _ => throw new InvalidOperationException($"cuDNN has no type for {t.DType.Name()} ({t.ShapeString()})"),
    };

    /// <summary>
    /// A 4-d cuDNN tensor descriptor for <paramref name="t"/> with its own strides: rank 4 as (N, C, H, W),
    /// rank 2 as (N, C, 1, 1), rank 1 as (1, C, 1, 1). Dispose it (<c>using var</c>).
    /// </summary>
    internal static CudnnTensorDescriptorHandle DescribeTensor(Tensor t)
    {
        Span<int> dims = stackalloc int[4];
        Span<long> strides = stackalloc long[4];
        switch (t.Rank)
        {
            case 4:
                for (int i = 0; i < 4; i++) { dims[i] = t.Shape[i]; strides[i] = t.Strides[i]; }
                break;
            case 2:
                dims[0] = t.Shape[0]; dims[1] = t.Shape[1]; dims[2] = dims[3] = 1;
                strides[0] = t.Strides[0]; strides[1] = t.Strides[1]; strides[2] = strides[3] = 1;
                break;
            case 1:
                dims[0] = 1; dims[1] = t.Shape[0]; dims[2] = dims[3] = 1;
                strides[0] = t.Shape[0]; strides[1] = t.Strides[0]; strides[2] = strides[3] = 1;
                break;
            default:
                throw new InvalidOperationException($"cuDNN descriptor for rank {t.Rank} tensor {t.ShapeString()} is not supported (use 1, 2 or 4)");
        }
        foreach (long s in strides)
            if (s > int.MaxValue) throw new InvalidOperationException($"cuDNN strides are 32-bit; {t.ShapeString()} has a stride of {s}");
        Cudnn.Check(Cudnn.cudnnCreateTensorDescriptor(out var desc));
        var status = Cudnn.cudnnSetTensor4dDescriptorEx(desc.Value, CudnnType(t), dims[0], dims[1], dims[2], dims[3],
                                                        (int)strides[0], (int)strides[1], (int)strides[2], (int)strides[3]);
        if (status != cudnnStatus_t.CUDNN_STATUS_SUCCESS)
        {
            desc.Dispose();
            throw Cudnn.Error(status, "cudnnSetTensor4dDescriptorEx", $"tensor {t.ShapeString()} strides ({string.Join(", ", t.Strides.ToArray())}) {t.DType.Name()}");
        }
        return desc;
    }

    /// <summary>ReLU forward through cuDNN (a binding check against our relu kernel; y may alias x).</summary>
    internal void CudnnReluForward(Tensor x, Tensor y)
    {
        var handle = CudnnHandle;
        using var xd = DescribeTensor(x);
        using var yd = DescribeTensor(y);
        Cudnn.Check(Cudnn.cudnnCreateActivationDescriptor(out var act));
        using (act)
        {
            Cudnn.Check(Cudnn.cudnnSetActivationDescriptor(act.Value, cudnnActivationMode_t.CUDNN_ACTIVATION_RELU, cudnnNanPropagation_t.CUDNN_PROPAGATE_NAN, 0));
            float alpha32 = 1, beta32 = 0;
            double alpha64 = 1, beta64 = 0;
            bool f64 = x.DType == DType.Float64;
            MakeCurrent();
            var status = Cudnn.cudnnActivationForward(handle.Value, act.Value, f64 ? &alpha64 : &alpha32, xd.Value, (nint)Ptr(x),
                                                      f64 ? &beta64 : &beta32, yd.Value, (nint)Ptr(y));
            if (status != cudnnStatus_t.CUDNN_STATUS_SUCCESS)
                throw Cudnn.Error(status, "cudnnActivationForward", $"relu, x {x.ShapeString()} {x.DType.Name()}");
        }
        GC.KeepAlive(handle);
    }
}
