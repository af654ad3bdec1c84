using System.Runtime.InteropServices;

namespace Kiln.Backends.Cuda.Interop;

// Note [Native handle ownership]: every stream, event, module, program, library handle and
// descriptor is owned by one SafeHandle subclass, created through the `out` parameter of the
// native Create call so that a throw right after creation still frees it. ReleaseHandle never
// throws; at process exit the driver may already be shutting down (CUDA_ERROR_DEINITIALIZED),
// which is tolerated. Device memory is not here: it is owned by DeviceBuffer, never by a finalizer.

/// <summary>Base for handles that are plain non-null pointers.</summary>
internal abstract class NativeHandle : SafeHandle
{
    protected NativeHandle() : base(0, ownsHandle: true) { }
    public override bool IsInvalid => handle == 0;
    /// <summary>The raw value for hot calls; the owner keeps this SafeHandle alive for the duration.</summary>
    public nint Value => handle;

    protected static bool Released(CUresult status) => status is CUresult.CUDA_SUCCESS or CUresult.CUDA_ERROR_DEINITIALIZED;
}

internal sealed class CudaStreamHandle : NativeHandle
{
    protected override bool ReleaseHandle() => Released(CudaDriver.cuStreamDestroy_v2(handle));
}

internal sealed class CudaEventHandle : NativeHandle
{
    protected override bool ReleaseHandle() => Released(CudaDriver.cuEventDestroy_v2(handle));
}

internal sealed class CudaModuleHandle : NativeHandle
{
    protected override bool ReleaseHandle() => Released(CudaDriver.cuModuleUnload(handle));
}

/// <summary>One reference on a device's primary context; released with cuDevicePrimaryCtxRelease_v2.</summary>
internal sealed class PrimaryContextHandle : NativeHandle
{
    private readonly int _device;

    private PrimaryContextHandle(int device) => _device = device;

    /// <summary>Retains the primary context of <paramref name="device"/>.</summary>
    internal static PrimaryContextHandle Retain(int device)
    {
        var h = new PrimaryContextHandle(device);
        CudaDriver.Check(CudaDriver.cuDevicePrimaryCtxRetain(out nint ctx, device));
        h.SetHandle(ctx);
        return h;
    }

    protected override bool ReleaseHandle() => Released(CudaDriver.cuDevicePrimaryCtxRelease_v2(_device));
}

internal sealed class NvrtcProgramHandle : NativeHandle
{
    protected override bool ReleaseHandle()
    {
        nint p = handle;
        return Nvrtc.nvrtcDestroyProgram(ref p) == nvrtcResult.NVRTC_SUCCESS;
    }
}

internal sealed class CublasHandle : NativeHandle
{
    protected override bool ReleaseHandle() => Cublas.cublasDestroy_v2(handle) == cublasStatus_t.CUBLAS_STATUS_SUCCESS;
}

internal sealed class CudnnHandle : NativeHandle
{
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroy(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}

internal sealed class CudnnTensorDescriptorHandle : NativeHandle
{
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyTensorDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}

internal sealed class CudnnFilterDescriptorHandle : NativeHandle
{
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyFilterDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}

internal sealed class CudnnConvolutionDescriptorHandle : NativeHandle
{
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyConvolutionDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}

internal sealed class CudnnPoolingDescriptorHandle : NativeHandle
{
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyPoolingDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}

internal sealed class CudnnActivationDescriptorHandle : NativeHandle
{
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyActivationDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}

internal sealed class CudnnLRNDescriptorHandle : NativeHandle
{
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyLRNDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}
