using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kiln.Backends.Cuda.Interop;

/// <summary>
/// cuDNN 9 legacy ("imperative") API through the shim <c>libcudnn.so.9</c> (which dlopens its
/// sub-libraries; <see cref="NativeLibraries"/> preloads them), from ../shared/cuda/cudnn.md.
/// Handles and descriptors are <c>nint</c> on compute calls (owned by SafeHandles created through the
/// <c>out</c> parameters of the Create functions); data pointers are device pointers as <c>nint</c>;
/// <c>alpha</c>/<c>beta</c> point at host floats (doubles for double tensors).
/// <see cref="cudnnStatus_t"/> uses the cuDNN 9 numbering (8.x numbered differently; only 9 is loaded).
/// </summary>
internal static unsafe partial class Cudnn
{
    private const string Lib = NativeLibraries.Cudnn;

    // ---------------------------------------------------------------- version, errors, handle
    [LibraryImport(Lib)] internal static partial nuint cudnnGetVersion();
    [LibraryImport(Lib)] internal static partial nuint cudnnGetCudartVersion();
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnGetProperty(libraryPropertyType type, out int value);
    [LibraryImport(Lib)] internal static partial nint cudnnGetErrorString(cudnnStatus_t status);
    [LibraryImport(Lib)] internal static partial void cudnnGetLastErrorString(byte* message, nuint max_size);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnCreate(out CudnnHandle handle);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnDestroy(nint handle);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnSetStream(CudnnHandle handle, nint streamId);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnGetStream(CudnnHandle handle, out nint streamId);

    // ---------------------------------------------------------------- tensors
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnCreateTensorDescriptor(out CudnnTensorDescriptorHandle tensorDesc);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnDestroyTensorDescriptor(nint tensorDesc);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnSetTensor4dDescriptor(nint tensorDesc, cudnnTensorFormat_t format, cudnnDataType_t dataType,
        int n, int c, int h, int w);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnSetTensor4dDescriptorEx(nint tensorDesc, cudnnDataType_t dataType, int n, int c, int h, int w,
        int nStride, int cStride, int hStride, int wStride);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnSetTensorNdDescriptor(nint tensorDesc, cudnnDataType_t dataType, int nbDims, int* dimA, int* strideA);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnAddTensor(nint handle, void* alpha, nint aDesc, nint A, void* beta, nint cDesc, nint C);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnSetTensor(nint handle, nint yDesc, nint y, void* valuePtr);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnScaleTensor(nint handle, nint yDesc, nint y, void* alpha);

    // ---------------------------------------------------------------- filters (dataType before format!)
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnCreateFilterDescriptor(out CudnnFilterDescriptorHandle filterDesc);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnDestroyFilterDescriptor(nint filterDesc);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnSetFilter4dDescriptor(nint filterDesc, cudnnDataType_t dataType, cudnnTensorFormat_t format,
        int k, int c, int h, int w);

    // ---------------------------------------------------------------- convolution descriptor
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnCreateConvolutionDescriptor(out CudnnConvolutionDescriptorHandle convDesc);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnDestroyConvolutionDescriptor(nint convDesc);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnSetConvolution2dDescriptor(nint convDesc, int pad_h, int pad_w, int u, int v,
        int dilation_h, int dilation_w, cudnnConvolutionMode_t mode, cudnnDataType_t computeType);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnSetConvolutionGroupCount(nint convDesc, int groupCount);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnSetConvolutionMathType(nint convDesc, cudnnMathType_t mathType);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(nint convDesc, nint inputTensorDesc, nint filterDesc,
        out int n, out int c, out int h, out int w);

    // ---------------------------------------------------------------- convolution forward
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnGetConvolutionForwardAlgorithmMaxCount(nint handle, out int count);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(nint handle, nint srcDesc, nint filterDesc, nint convDesc,
        nint destDesc, int requestedAlgoCount, out int returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t* perfResults);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(nint handle, nint xDesc, nint x, nint wDesc, nint w,
        nint convDesc, nint yDesc, nint y, int requestedAlgoCount, out int returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t* perfResults,
        nint workSpace, nuint workSpaceSizeInBytes);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(nint handle, nint xDesc, nint wDesc, nint convDesc,
        nint yDesc, cudnnConvolutionFwdAlgo_t algo, out nuint sizeInBytes);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnConvolutionForward(nint handle, void* alpha, nint xDesc, nint x, nint wDesc, nint w,
        nint convDesc, cudnnConvolutionFwdAlgo_t algo, nint workSpace, nuint workSpaceSizeInBytes, void* beta, nint yDesc, nint y);

    // ---------------------------------------------------------------- convolution backward data
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithmMaxCount(nint handle, out int count);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(nint handle, nint filterDesc, nint diffDesc,
        nint convDesc, nint gradDesc, int requestedAlgoCount, out int returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t* perfResults);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(nint handle, nint wDesc, nint w, nint dyDesc, nint dy,
        nint convDesc, nint dxDesc, nint dx, int requestedAlgoCount, out int returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t* perfResults,
        nint workSpace, nuint workSpaceSizeInBytes);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(nint handle, nint wDesc, nint dyDesc, nint convDesc,
        nint dxDesc, cudnnConvolutionBwdDataAlgo_t algo, out nuint sizeInBytes);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnConvolutionBackwardData(nint handle, void* alpha, nint wDesc, nint w, nint dyDesc, nint dy,
        nint convDesc, cudnnConvolutionBwdDataAlgo_t algo, nint workSpace, nuint workSpaceSizeInBytes, void* beta, nint dxDesc, nint dx);

    // ---------------------------------------------------------------- convolution backward filter and bias
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(nint handle, out int count);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(nint handle, nint srcDesc, nint diffDesc,
        nint convDesc, nint gradDesc, int requestedAlgoCount, out int returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t* perfResults);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(nint handle, nint xDesc, nint x, nint dyDesc, nint y,
        nint convDesc, nint dwDesc, nint dw, int requestedAlgoCount, out int returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t* perfResults,
        nint workSpace, nuint workSpaceSizeInBytes);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(nint handle, nint xDesc, nint dyDesc, nint convDesc,
        nint gradDesc, cudnnConvolutionBwdFilterAlgo_t algo, out nuint sizeInBytes);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnConvolutionBackwardFilter(nint handle, void* alpha, nint xDesc, nint x, nint dyDesc, nint dy,
        nint convDesc, cudnnConvolutionBwdFilterAlgo_t algo, nint workSpace, nuint workSpaceSizeInBytes, void* beta, nint dwDesc, nint dw);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnConvolutionBackwardBias(nint handle, void* alpha, nint dyDesc, nint dy, void* beta, nint dbDesc, nint db);

    // ---------------------------------------------------------------- pooling
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnCreatePoolingDescriptor(out CudnnPoolingDescriptorHandle poolingDesc);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnDestroyPoolingDescriptor(nint poolingDesc);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnSetPooling2dDescriptor(nint poolingDesc, cudnnPoolingMode_t mode, cudnnNanPropagation_t maxpoolingNanOpt,
        int windowHeight, int windowWidth, int verticalPadding, int horizontalPadding, int verticalStride, int horizontalStride);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnGetPooling2dForwardOutputDim(nint poolingDesc, nint inputTensorDesc, out int n, out int c, out int h, out int w);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnPoolingForward(nint handle, nint poolingDesc, void* alpha, nint xDesc, nint x, void* beta, nint yDesc, nint y);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnPoolingBackward(nint handle, nint poolingDesc, void* alpha, nint yDesc, nint y, nint dyDesc, nint dy,
        nint xDesc, nint x, void* beta, nint dxDesc, nint dx);

    // ---------------------------------------------------------------- LRN
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnCreateLRNDescriptor(out CudnnLRNDescriptorHandle normDesc);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnDestroyLRNDescriptor(nint lrnDesc);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnSetLRNDescriptor(nint normDesc, uint lrnN, double lrnAlpha, double lrnBeta, double lrnK);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnLRNCrossChannelForward(nint handle, nint normDesc, cudnnLRNMode_t lrnMode, void* alpha, nint xDesc, nint x,
        void* beta, nint yDesc, nint y);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnLRNCrossChannelBackward(nint handle, nint normDesc, cudnnLRNMode_t lrnMode, void* alpha, nint yDesc, nint y,
        nint dyDesc, nint dy, nint xDesc, nint x, void* beta, nint dxDesc, nint dx);

    // ---------------------------------------------------------------- activation and softmax
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnCreateActivationDescriptor(out CudnnActivationDescriptorHandle activationDesc);
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnDestroyActivationDescriptor(nint activationDesc);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnSetActivationDescriptor(nint activationDesc, cudnnActivationMode_t mode, cudnnNanPropagation_t reluNanOpt, double coef);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnActivationForward(nint handle, nint activationDesc, void* alpha, nint xDesc, nint x, void* beta, nint yDesc, nint y);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnActivationBackward(nint handle, nint activationDesc, void* alpha, nint yDesc, nint y, nint dyDesc, nint dy,
        nint xDesc, nint x, void* beta, nint dxDesc, nint dx);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnSoftmaxForward(nint handle, cudnnSoftmaxAlgorithm_t algo, cudnnSoftmaxMode_t mode, void* alpha,
        nint xDesc, nint x, void* beta, nint yDesc, nint y);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnSoftmaxBackward(nint handle, cudnnSoftmaxAlgorithm_t algo, cudnnSoftmaxMode_t mode, void* alpha,
        nint yDesc, nint y, nint dyDesc, nint dy, void* beta, nint dxDesc, nint dx);

    // ---------------------------------------------------------------- batch normalization
    [LibraryImport(Lib)] internal static partial cudnnStatus_t cudnnDeriveBNTensorDescriptor(nint derivedBnDesc, nint xDesc, cudnnBatchNormMode_t mode);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnBatchNormalizationForwardTraining(nint handle, cudnnBatchNormMode_t mode, void* alpha, void* beta,
        nint xDesc, nint x, nint yDesc, nint y, nint bnScaleBiasMeanVarDesc, nint bnScale, nint bnBias, double exponentialAverageFactor,
        nint resultRunningMean, nint resultRunningVariance, double epsilon, nint resultSaveMean, nint resultSaveInvVariance);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnBatchNormalizationForwardInference(nint handle, cudnnBatchNormMode_t mode, void* alpha, void* beta,
        nint xDesc, nint x, nint yDesc, nint y, nint bnScaleBiasMeanVarDesc, nint bnScale, nint bnBias, nint estimatedMean, nint estimatedVariance,
        double epsilon);
    [LibraryImport(Lib)]
    internal static partial cudnnStatus_t cudnnBatchNormalizationBackward(nint handle, cudnnBatchNormMode_t mode, void* alphaDataDiff, void* betaDataDiff,
        void* alphaParamDiff, void* betaParamDiff, nint xDesc, nint x, nint dyDesc, nint dy, nint dxDesc, nint dx, nint dBnScaleBiasDesc,
        nint bnScale, nint dBnScaleResult, nint dBnBiasResult, double epsilon, nint savedMean, nint savedInvVariance);

    /// <summary>Throws <see cref="CudnnException"/> unless <paramref name="status"/> is CUDNN_STATUS_SUCCESS.</summary>
    internal static void Check(cudnnStatus_t status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != cudnnStatus_t.CUDNN_STATUS_SUCCESS) throw Error(status, call);
    }

    /// <summary>The exception for a failed call: cuDNN's status text plus, on 9.x, its last detailed error message.</summary>
    internal static CudnnException Error(cudnnStatus_t status, string call, string? detail = null)
    {
        nint p = cudnnGetErrorString(status);
        string text = p == 0 ? "unknown cuDNN status" : Marshal.PtrToStringUTF8(p)!;
        byte* buffer = stackalloc byte[512];
        buffer[0] = 0;
        cudnnGetLastErrorString(buffer, 512);
        string last = Marshal.PtrToStringUTF8((nint)buffer) ?? "";
        if (last.Length > 0) detail = detail is null ? last : $"{detail}; {last}";
        return new CudnnException((int)status, status.ToString(), text, call, detail);
    }
}

/// <summary>
/// <c>cudnnConvolutionFwdAlgoPerf_t</c> (cudnn.md §4.1): 48 bytes, <c>memory</c> at offset 16 (C pads
/// after <c>time</c>). The BwdData/BwdFilter structs have the identical layout.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct cudnnConvolutionFwdAlgoPerf_t
{
    public cudnnConvolutionFwdAlgo_t algo;
    public cudnnStatus_t status;
    public float time;
    public nuint memory;
    public cudnnDeterminism_t determinism;
    public cudnnMathType_t mathType;
    public fixed int reserved[3];
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct cudnnConvolutionBwdDataAlgoPerf_t
{
    public cudnnConvolutionBwdDataAlgo_t algo;
    public cudnnStatus_t status;
    public float time;
    public nuint memory;
    public cudnnDeterminism_t determinism;
    public cudnnMathType_t mathType;
    public fixed int reserved[3];
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct cudnnConvolutionBwdFilterAlgoPerf_t
{
    public cudnnConvolutionBwdFilterAlgo_t algo;
    public cudnnStatus_t status;
    public float time;
    public nuint memory;
    public cudnnDeterminism_t determinism;
    public cudnnMathType_t mathType;
    public fixed int reserved[3];
}

/// <summary><c>cudnnStatus_t</c>, cuDNN 9 numbering (cudnn.md §5.1): category = value / 1000.</summary>
internal enum cudnnStatus_t
{
    CUDNN_STATUS_SUCCESS = 0,
    CUDNN_STATUS_NOT_INITIALIZED = 1001,
    CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH = 1002,
    CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH = 1003,
    CUDNN_STATUS_DEPRECATED = 1004,
    CUDNN_STATUS_LICENSE_ERROR = 1005,
    CUDNN_STATUS_RUNTIME_IN_PROGRESS = 1006,
    CUDNN_STATUS_RUNTIME_FP_OVERFLOW = 1007,
    CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED = 1008,
    CUDNN_STATUS_BAD_PARAM = 2000,
    CUDNN_STATUS_INVALID_VALUE = 2001,
    CUDNN_STATUS_BAD_PARAM_NULL_POINTER = 2002,
    CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER = 2003,
    CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED = 2004,
    CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND = 2005,
    CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT = 2006,
    CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH = 2007,
    CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH = 2008,
    CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES = 2009,
    CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE = 2010,
    CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH = 2011,
    CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE = 2012,
    CUDNN_STATUS_NOT_SUPPORTED = 3000,
    CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN = 3001,
    CUDNN_STATUS_NOT_SUPPORTED_SHAPE = 3002,
    CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE = 3003,
    CUDNN_STATUS_NOT_SUPPORTED_LAYOUT = 3004,
    CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER = 3005,
    CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART = 3006,
    CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH = 3007,
    CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING = 3008,
    CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE = 3009,
    CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT = 3010,
    CUDNN_STATUS_NOT_SUPPORTED_PADDING = 3011,
    CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM = 3012,
    CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API = 3013,
    CUDNN_STATUS_INTERNAL_ERROR = 4000,
    CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED = 4001,
    CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE = 4002,
    CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED = 4003,
    CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED = 4004,
    CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM = 4005,
    CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED = 4006,
    CUDNN_STATUS_EXECUTION_FAILED = 5000,
    CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER = 5001,
    CUDNN_STATUS_EXECUTION_FAILED_CUBLAS = 5002,
    CUDNN_STATUS_EXECUTION_FAILED_CUDART = 5003,
    CUDNN_STATUS_EXECUTION_FAILED_CURAND = 5004,
}

internal enum cudnnDataType_t
{
    CUDNN_DATA_FLOAT = 0,
    CUDNN_DATA_DOUBLE = 1,
    CUDNN_DATA_HALF = 2,
    CUDNN_DATA_INT8 = 3,
    CUDNN_DATA_INT32 = 4,
    CUDNN_DATA_UINT8 = 6,
    CUDNN_DATA_BFLOAT16 = 9,
    CUDNN_DATA_INT64 = 10,
    CUDNN_DATA_BOOLEAN = 11,
    CUDNN_DATA_FP8_E4M3 = 12,
    CUDNN_DATA_FP8_E5M2 = 13,
}

internal enum cudnnTensorFormat_t
{
    CUDNN_TENSOR_NCHW = 0,
    CUDNN_TENSOR_NHWC = 1,
    CUDNN_TENSOR_NCHW_VECT_C = 2,
}

internal enum cudnnMathType_t
{
    CUDNN_DEFAULT_MATH = 0,
    CUDNN_TENSOR_OP_MATH = 1,
    CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION = 2,
    CUDNN_FMA_MATH = 3,
}

internal enum cudnnNanPropagation_t
{
    CUDNN_NOT_PROPAGATE_NAN = 0,
    CUDNN_PROPAGATE_NAN = 1,
}

internal enum cudnnDeterminism_t
{
    CUDNN_NON_DETERMINISTIC = 0,
    CUDNN_DETERMINISTIC = 1,
}

internal enum cudnnConvolutionMode_t
{
    CUDNN_CONVOLUTION = 0,
    CUDNN_CROSS_CORRELATION = 1,
}

internal enum cudnnConvolutionFwdAlgo_t
{
    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM = 0,
    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM = 1,
    CUDNN_CONVOLUTION_FWD_ALGO_GEMM = 2,
    CUDNN_CONVOLUTION_FWD_ALGO_DIRECT = 3,
    CUDNN_CONVOLUTION_FWD_ALGO_FFT = 4,
    CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING = 5,
    CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD = 6,
    CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED = 7,
    CUDNN_CONVOLUTION_FWD_ALGO_COUNT = 8,
}

internal enum cudnnConvolutionBwdDataAlgo_t
{
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 = 0,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_1 = 1,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT = 2,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING = 3,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD = 4,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED = 5,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT = 6,
}

internal enum cudnnConvolutionBwdFilterAlgo_t
{
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 = 0,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 = 1,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT = 2,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3 = 3,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD = 4,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED = 5,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING = 6,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT = 7,
}

internal enum cudnnPoolingMode_t
{
    CUDNN_POOLING_MAX = 0,
    CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING = 1,
    CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING = 2,
    CUDNN_POOLING_MAX_DETERMINISTIC = 3,
}

internal enum cudnnActivationMode_t
{
    CUDNN_ACTIVATION_SIGMOID = 0,
    CUDNN_ACTIVATION_RELU = 1,
    CUDNN_ACTIVATION_TANH = 2,
    CUDNN_ACTIVATION_CLIPPED_RELU = 3,
    CUDNN_ACTIVATION_ELU = 4,
    CUDNN_ACTIVATION_IDENTITY = 5,
    CUDNN_ACTIVATION_SWISH = 6,
}

internal enum cudnnSoftmaxAlgorithm_t
{
    CUDNN_SOFTMAX_FAST = 0,
    CUDNN_SOFTMAX_ACCURATE = 1,
    CUDNN_SOFTMAX_LOG = 2,
}

internal enum cudnnSoftmaxMode_t
{
    CUDNN_SOFTMAX_MODE_INSTANCE = 0,
    CUDNN_SOFTMAX_MODE_CHANNEL = 1,
}

internal enum cudnnBatchNormMode_t
{
    CUDNN_BATCHNORM_PER_ACTIVATION = 0,
    CUDNN_BATCHNORM_SPATIAL = 1,
    CUDNN_BATCHNORM_SPATIAL_PERSISTENT = 2,
}

internal enum cudnnLRNMode_t
{
    CUDNN_LRN_CROSS_CHANNEL_DIM1 = 0,
}
