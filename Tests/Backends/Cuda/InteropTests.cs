using System.Reflection;
using System.Runtime.InteropServices;
using Kiln.Backends.Cuda;
using Kiln.Backends.Cuda.Interop;

namespace Kiln.Tests.Backends.Cuda;

/// <summary>Binding facts checked against ../shared/cuda (enum values, struct layouts, exported names).</summary>
public sealed class InteropTests
{
    [Fact]
    public void CUresult_Values_MatchDriverHeader()
    {
        // driver.md §3.1: the values that matter, plus the special ones.
        Assert.Equal(0, (int)CUresult.CUDA_SUCCESS);
        Assert.Equal(1, (int)CUresult.CUDA_ERROR_INVALID_VALUE);
        Assert.Equal(2, (int)CUresult.CUDA_ERROR_OUT_OF_MEMORY);
        Assert.Equal(3, (int)CUresult.CUDA_ERROR_NOT_INITIALIZED);
        Assert.Equal(4, (int)CUresult.CUDA_ERROR_DEINITIALIZED);
        Assert.Equal(34, (int)CUresult.CUDA_ERROR_STUB_LIBRARY);
        Assert.Equal(100, (int)CUresult.CUDA_ERROR_NO_DEVICE);
        Assert.Equal(101, (int)CUresult.CUDA_ERROR_INVALID_DEVICE);
        Assert.Equal(200, (int)CUresult.CUDA_ERROR_INVALID_IMAGE);
        Assert.Equal(201, (int)CUresult.CUDA_ERROR_INVALID_CONTEXT);
        Assert.Equal(209, (int)CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU);
        Assert.Equal(218, (int)CUresult.CUDA_ERROR_INVALID_PTX);
        Assert.Equal(222, (int)CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION);
        Assert.Equal(300, (int)CUresult.CUDA_ERROR_INVALID_SOURCE);
        Assert.Equal(301, (int)CUresult.CUDA_ERROR_FILE_NOT_FOUND);
        Assert.Equal(400, (int)CUresult.CUDA_ERROR_INVALID_HANDLE);
        Assert.Equal(500, (int)CUresult.CUDA_ERROR_NOT_FOUND);
        Assert.Equal(600, (int)CUresult.CUDA_ERROR_NOT_READY);
        Assert.Equal(700, (int)CUresult.CUDA_ERROR_ILLEGAL_ADDRESS);
        Assert.Equal(701, (int)CUresult.CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);
        Assert.Equal(710, (int)CUresult.CUDA_ERROR_ASSERT);
        Assert.Equal(719, (int)CUresult.CUDA_ERROR_LAUNCH_FAILED);
        Assert.Equal(916, (int)CUresult.CUDA_ERROR_KEY_ROTATION);
        Assert.Equal(999, (int)CUresult.CUDA_ERROR_UNKNOWN);
        Assert.Equal(sizeof(int), Marshal.SizeOf(Enum.GetUnderlyingType(typeof(CUresult))));
    }

    [Fact]
    public void DriverAttributesAndFlags_MatchDriverHeader()
    {
        Assert.Equal(1, (int)CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
        Assert.Equal(5, (int)CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X);
        Assert.Equal(16, (int)CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        Assert.Equal(75, (int)CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        Assert.Equal(76, (int)CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        Assert.Equal(97, (int)CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        Assert.Equal(115, (int)CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED);
        Assert.Equal(8, (int)CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
        Assert.Equal(5, (int)CUjit_option.CU_JIT_ERROR_LOG_BUFFER);
        Assert.Equal(6, (int)CUjit_option.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
        Assert.Equal(1u, CudaFlags.CU_STREAM_NON_BLOCKING);
        Assert.Equal(2u, CudaFlags.CU_EVENT_DISABLE_TIMING);
    }

    [Fact]
    public void NvrtcResult_Values_MatchHeader()
    {
        Assert.Equal(0, (int)nvrtcResult.NVRTC_SUCCESS);
        Assert.Equal(5, (int)nvrtcResult.NVRTC_ERROR_INVALID_OPTION);
        Assert.Equal(6, (int)nvrtcResult.NVRTC_ERROR_COMPILATION);
        Assert.Equal(7, (int)nvrtcResult.NVRTC_ERROR_BUILTIN_OPERATION_FAILURE);
        Assert.Equal(11, (int)nvrtcResult.NVRTC_ERROR_INTERNAL_ERROR);
        Assert.Equal(17, (int)nvrtcResult.NVRTC_ERROR_TIME_TRACE_FILE_WRITE_FAILED);
    }

    [Fact]
    public void CublasEnums_MatchHeader()
    {
        Assert.Equal([0, 1, 3, 7, 8, 11, 13, 14, 15, 16], Enum.GetValues<cublasStatus_t>().Select(v => (int)v).Order());
        Assert.Equal(0, (int)cublasOperation_t.CUBLAS_OP_N);
        Assert.Equal(1, (int)cublasOperation_t.CUBLAS_OP_T);
        Assert.Equal(2, (int)cublasOperation_t.CUBLAS_OP_C);
        Assert.Equal(0, (int)cublasMath_t.CUBLAS_DEFAULT_MATH);
        Assert.Equal(2, (int)cublasMath_t.CUBLAS_PEDANTIC_MATH);
        Assert.Equal(3, (int)cublasMath_t.CUBLAS_TF32_TENSOR_OP_MATH);
        Assert.Equal(16, (int)cublasMath_t.CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
        Assert.Equal(68, (int)cublasComputeType_t.CUBLAS_COMPUTE_32F);
        Assert.Equal(77, (int)cublasComputeType_t.CUBLAS_COMPUTE_32F_FAST_TF32);
        Assert.Equal(0, (int)cudaDataType.CUDA_R_32F);
        Assert.Equal(2, (int)cudaDataType.CUDA_R_16F);
        Assert.Equal(14, (int)cudaDataType.CUDA_R_16BF);
        Assert.Equal(-1, (int)cublasGemmAlgo_t.CUBLAS_GEMM_DEFAULT);
        Assert.Equal(99, (int)cublasGemmAlgo_t.CUBLAS_GEMM_DEFAULT_TENSOR_OP);
        Assert.Equal(0, (int)cublasPointerMode_t.CUBLAS_POINTER_MODE_HOST);
    }

    [Fact]
    public void CudnnEnums_UseCudnn9Numbering()
    {
        Assert.Equal(0, (int)cudnnStatus_t.CUDNN_STATUS_SUCCESS);
        Assert.Equal(1001, (int)cudnnStatus_t.CUDNN_STATUS_NOT_INITIALIZED);
        Assert.Equal(1002, (int)cudnnStatus_t.CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH);
        Assert.Equal(1008, (int)cudnnStatus_t.CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED);
        Assert.Equal(2000, (int)cudnnStatus_t.CUDNN_STATUS_BAD_PARAM);
        Assert.Equal(2006, (int)cudnnStatus_t.CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT);
        Assert.Equal(3000, (int)cudnnStatus_t.CUDNN_STATUS_NOT_SUPPORTED);
        Assert.Equal(3008, (int)cudnnStatus_t.CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING);
        Assert.Equal(4000, (int)cudnnStatus_t.CUDNN_STATUS_INTERNAL_ERROR);
        Assert.Equal(5000, (int)cudnnStatus_t.CUDNN_STATUS_EXECUTION_FAILED);
        Assert.Equal(5004, (int)cudnnStatus_t.CUDNN_STATUS_EXECUTION_FAILED_CURAND);
        Assert.Equal(0, (int)cudnnDataType_t.CUDNN_DATA_FLOAT);
        Assert.Equal(9, (int)cudnnDataType_t.CUDNN_DATA_BFLOAT16);
        Assert.Equal(1, (int)cudnnTensorFormat_t.CUDNN_TENSOR_NHWC);
        Assert.Equal(3, (int)cudnnMathType_t.CUDNN_FMA_MATH);
        Assert.Equal(1, (int)cudnnConvolutionMode_t.CUDNN_CROSS_CORRELATION);
        Assert.Equal(7, (int)cudnnConvolutionFwdAlgo_t.CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED);
        Assert.Equal(8, (int)cudnnConvolutionFwdAlgo_t.CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
        Assert.Equal(6, (int)cudnnConvolutionBwdDataAlgo_t.CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
        Assert.Equal(3, (int)cudnnConvolutionBwdFilterAlgo_t.CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3);
        Assert.Equal(7, (int)cudnnConvolutionBwdFilterAlgo_t.CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
        Assert.Equal(3, (int)cudnnPoolingMode_t.CUDNN_POOLING_MAX_DETERMINISTIC);
        Assert.Equal(1, (int)cudnnActivationMode_t.CUDNN_ACTIVATION_RELU);
        Assert.Equal(1, (int)cudnnSoftmaxAlgorithm_t.CUDNN_SOFTMAX_ACCURATE);
        Assert.Equal(1, (int)cudnnSoftmaxMode_t.CUDNN_SOFTMAX_MODE_CHANNEL);
        Assert.Equal(1, (int)cudnnBatchNormMode_t.CUDNN_BATCHNORM_SPATIAL);
        Assert.Equal(0, (int)cudnnLRNMode_t.CUDNN_LRN_CROSS_CHANNEL_DIM1);
    }

    [Fact]
    public unsafe void CudnnAlgoPerfStructs_Are48Bytes_WithMemoryAtOffset16()
    {
        // cudnn.md §4.1, measured with offsetof/sizeof against the 8.9.1 and 9.6.0 headers.
        foreach (var t in (Type[])[typeof(cudnnConvolutionFwdAlgoPerf_t), typeof(cudnnConvolutionBwdDataAlgoPerf_t), typeof(cudnnConvolutionBwdFilterAlgoPerf_t)])
        {
            Assert.Equal(48, Marshal.SizeOf(t));
            Assert.Equal(0, (int)Marshal.OffsetOf(t, "algo"));
            Assert.Equal(4, (int)Marshal.OffsetOf(t, "status"));
            Assert.Equal(8, (int)Marshal.OffsetOf(t, "time"));
            Assert.Equal(16, (int)Marshal.OffsetOf(t, "memory"));
            Assert.Equal(24, (int)Marshal.OffsetOf(t, "determinism"));
            Assert.Equal(28, (int)Marshal.OffsetOf(t, "mathType"));
            Assert.Equal(32, (int)Marshal.OffsetOf(t, "reserved"));
        }
        Assert.Equal(48, sizeof(cudnnConvolutionFwdAlgoPerf_t));   // the unmanaged size, as P/Invoke passes arrays of them
    }

    [Fact]
    public unsafe void KernelArgumentStructs_MatchCudaLayouts()
    {
        Assert.Equal(40, sizeof(CudaBackend.SgdSlot));                 // struct SgdSlot in sgd.cu
        Assert.Equal(16, (int)Marshal.OffsetOf<CudaBackend.SgdSlot>("V"));
        Assert.Equal(24, (int)Marshal.OffsetOf<CudaBackend.SgdSlot>("N"));
        Assert.Equal(32, (int)Marshal.OffsetOf<CudaBackend.SgdSlot>("Lr"));
        Assert.Equal(64, sizeof(CudaBackend.Shape8));                  // struct Shape8 in elementwise.cu
    }

    /// <summary>Entry points of every [LibraryImport] method of a binding class.</summary>
    private static IEnumerable<string> EntryPoints(Type binding) =>
        binding.GetMethods(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
            .Select(m => (m, a: m.GetCustomAttribute<LibraryImportAttribute>()))
            .Where(x => x.a is not null)
            .Select(x => x.a!.EntryPoint ?? x.m.Name);

    [Fact]
    public void DriverBinding_AvoidsLegacyUnsuffixedSymbols()
    {
        var names = EntryPoints(typeof(CudaDriver)).ToHashSet();
        Assert.True(names.Count > 40, $"only {names.Count} driver entry points found");
        string[] legacy = ["cuMemAlloc", "cuMemFree", "cuMemGetInfo", "cuMemAllocHost", "cuMemHostRegister", "cuDeviceTotalMem",
                           "cuDevicePrimaryCtxRelease", "cuMemcpyHtoD", "cuMemcpyDtoH", "cuMemcpyDtoD", "cuMemcpyHtoDAsync",
                           "cuMemcpyDtoHAsync", "cuMemcpyDtoDAsync", "cuMemsetD8", "cuMemsetD32", "cuStreamDestroy", "cuEventDestroy",
                           "cuCtxCreate", "cuCtxDestroy", "cuGraphInstantiate", "cuStreamBeginCapture"];
        foreach (var name in legacy) Assert.DoesNotContain(name, names);
        foreach (var name in (string[])["cuMemAlloc_v2", "cuMemFree_v2", "cuMemGetInfo_v2", "cuDeviceTotalMem_v2", "cuDevicePrimaryCtxRelease_v2",
                                        "cuMemcpyHtoDAsync_v2", "cuStreamDestroy_v2", "cuEventDestroy_v2", "cuMemsetD32Async", "cuLaunchKernel"])
            Assert.Contains(name, names);
    }

    [Fact]
    public void CublasBinding_UsesV2Names()
    {
        var names = EntryPoints(typeof(Cublas)).ToHashSet();
        foreach (var name in (string[])["cublasCreate", "cublasDestroy", "cublasSetStream", "cublasGetStream", "cublasSetWorkspace",
                                        "cublasSetPointerMode", "cublasGetVersion", "cublasSgemm", "cublasSaxpy", "cublasSscal", "cublasSdot"])
            Assert.DoesNotContain(name, names);
        foreach (var name in (string[])["cublasCreate_v2", "cublasDestroy_v2", "cublasSetStream_v2", "cublasSgemm_v2", "cublasSetMathMode",
                                        "cublasGemmEx", "cublasSgemmStridedBatched", "cublasGetStatusString"])
            Assert.Contains(name, names);
    }

    [Fact]
    public void NvrtcBinding_EveryEntryPointIsExportedByTheLoadedLibrary()
    {
        CudaTestEnvironment.RequireNvrtc();
        nint lib = NativeLibraries.Load(NativeLibraries.Nvrtc);
        var missing = EntryPoints(typeof(Nvrtc)).Where(n => !NativeLibrary.TryGetExport(lib, n, out _)).ToArray();
        Assert.True(missing.Length == 0, $"not exported by {NativeLibraries.LoadedFrom(NativeLibraries.Nvrtc)}: {string.Join(", ", missing)}");
    }

    [Fact]
    public void BorrowedStrings_AreReturnedAsPointers_NotMarshalledStrings()
    {
        // A `string` return would make the marshaller free a static string: heap corruption.
        foreach (var t in (Type[])[typeof(CudaDriver), typeof(Nvrtc), typeof(Cublas), typeof(Cudnn)])
            foreach (var m in t.GetMethods(BindingFlags.Static | BindingFlags.NonPublic).Where(m => m.GetCustomAttribute<LibraryImportAttribute>() is not null))
            {
                Assert.NotEqual(typeof(string), m.ReturnType);
                Assert.DoesNotContain(m.GetParameters(), p => p.ParameterType == typeof(string) || p.ParameterType == typeof(string).MakeByRefType());
            }
    }

    [Fact]
    public void Exceptions_CarryStatusLibraryMessageAndCall()
    {
        var e = new CudnnException(2000, "CUDNN_STATUS_BAD_PARAM", "CUDNN_STATUS_BAD_PARAM", "cudnnConvolutionForward(...)", "x (8, 3, 227, 227), w (96, 3, 11, 11)");
        Assert.Contains("2000", e.Message);
        Assert.Contains("cudnnConvolutionForward", e.Message);
        Assert.Contains("(96, 3, 11, 11)", e.Message);
        var c = new CublasException(7, "CUBLAS_STATUS_INVALID_VALUE", "an invalid value was used as an argument", "cublasSgemm_v2");
        Assert.Equal(7, c.Status);
        Assert.Contains("an invalid value", c.Message);
        Assert.IsAssignableFrom<NvrtcException>(new NvrtcCompileException(6, "NVRTC_ERROR_COMPILATION", "compilation error", "nvrtcCompileProgram", "x.cu", "sm_90", [], "log text"));
    }
}
