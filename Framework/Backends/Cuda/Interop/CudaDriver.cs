using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kiln.Backends.Cuda.Interop;

/// <summary>
/// CUDA driver API (<c>libcuda.so.1</c>), bound by the exact exported names of ../shared/cuda/driver.md.
/// Mind the <c>_v2</c> trap: the unsuffixed names (<c>cuMemAlloc</c>, <c>cuMemcpyHtoD</c>, ...) are also
/// exported, with the old 32-bit ABI; a test asserts none of them is bound here.
/// <c>CUdevice</c> is <c>int</c>; <c>CUdeviceptr</c> is <c>ulong</c>; contexts, streams, events, modules and
/// functions are <c>nint</c> (or a SafeHandle where ownership is created).
/// </summary>
internal static unsafe partial class CudaDriver
{
    private const string Lib = NativeLibraries.Cuda;

    // ---------------------------------------------------------------- init, version, devices
    [LibraryImport(Lib)] internal static partial CUresult cuInit(uint Flags);
    [LibraryImport(Lib)] internal static partial CUresult cuDriverGetVersion(out int driverVersion);
    [LibraryImport(Lib)] internal static partial CUresult cuDeviceGetCount(out int count);
    [LibraryImport(Lib)] internal static partial CUresult cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Lib)] internal static partial CUresult cuDeviceGetName(byte* name, int len, int dev);
    [LibraryImport(Lib)] internal static partial CUresult cuDeviceGetAttribute(out int pi, CUdevice_attribute attrib, int dev);
    [LibraryImport(Lib)] internal static partial CUresult cuDeviceTotalMem_v2(out nuint bytes, int dev);

    // ---------------------------------------------------------------- primary context
    [LibraryImport(Lib)] internal static partial CUresult cuDevicePrimaryCtxRetain(out nint pctx, int dev);
    [LibraryImport(Lib)] internal static partial CUresult cuDevicePrimaryCtxRelease_v2(int dev);
    [LibraryImport(Lib)] internal static partial CUresult cuCtxSetCurrent(nint ctx);
    [LibraryImport(Lib)] internal static partial CUresult cuCtxGetCurrent(out nint pctx);
    [LibraryImport(Lib)] internal static partial CUresult cuCtxSynchronize();

    // ---------------------------------------------------------------- memory
    [LibraryImport(Lib)] internal static partial CUresult cuMemGetInfo_v2(out nuint free, out nuint total);
    [LibraryImport(Lib)] internal static partial CUresult cuMemAlloc_v2(out ulong dptr, nuint bytesize);
    [LibraryImport(Lib)] internal static partial CUresult cuMemFree_v2(ulong dptr);
    [LibraryImport(Lib)] internal static partial CUresult cuMemAllocHost_v2(out nint pp, nuint bytesize);
    [LibraryImport(Lib)] internal static partial CUresult cuMemHostAlloc(out nint pp, nuint bytesize, uint Flags);
    [LibraryImport(Lib)] internal static partial CUresult cuMemFreeHost(nint p);
    [LibraryImport(Lib)] internal static partial CUresult cuMemHostRegister_v2(nint p, nuint bytesize, uint Flags);
    [LibraryImport(Lib)] internal static partial CUresult cuMemHostUnregister(nint p);

    // ---------------------------------------------------------------- copies and memset
    [LibraryImport(Lib)] internal static partial CUresult cuMemcpyHtoD_v2(ulong dstDevice, void* srcHost, nuint ByteCount);
    [LibraryImport(Lib)] internal static partial CUresult cuMemcpyDtoH_v2(void* dstHost, ulong srcDevice, nuint ByteCount);
    [LibraryImport(Lib)] internal static partial CUresult cuMemcpyDtoD_v2(ulong dstDevice, ulong srcDevice, nuint ByteCount);
    [LibraryImport(Lib)] internal static partial CUresult cuMemcpyHtoDAsync_v2(ulong dstDevice, void* srcHost, nuint ByteCount, nint hStream);
    [LibraryImport(Lib)] internal static partial CUresult cuMemcpyDtoHAsync_v2(void* dstHost, ulong srcDevice, nuint ByteCount, nint hStream);
    [LibraryImport(Lib)] internal static partial CUresult cuMemcpyDtoDAsync_v2(ulong dstDevice, ulong srcDevice, nuint ByteCount, nint hStream);
    [LibraryImport(Lib)] internal static partial CUresult cuMemsetD8_v2(ulong dstDevice, byte uc, nuint N);
    [LibraryImport(Lib)] internal static partial CUresult cuMemsetD32_v2(ulong dstDevice, uint ui, nuint N);
    [LibraryImport(Lib)] internal static partial CUresult cuMemsetD8Async(ulong dstDevice, byte uc, nuint N, nint hStream);
    [LibraryImport(Lib)] internal static partial CUresult cuMemsetD32Async(ulong dstDevice, uint ui, nuint N, nint hStream);

    // ---------------------------------------------------------------- streams and events
    [LibraryImport(Lib)] internal static partial CUresult cuStreamCreate(out CudaStreamHandle phStream, uint Flags);
    [LibraryImport(Lib)] internal static partial CUresult cuStreamDestroy_v2(nint hStream);
    [LibraryImport(Lib)] internal static partial CUresult cuStreamSynchronize(nint hStream);
    [LibraryImport(Lib)] internal static partial CUresult cuStreamQuery(nint hStream);
    [LibraryImport(Lib)] internal static partial CUresult cuStreamWaitEvent(nint hStream, nint hEvent, uint Flags);
    [LibraryImport(Lib)] internal static partial CUresult cuEventCreate(out CudaEventHandle phEvent, uint Flags);
    [LibraryImport(Lib)] internal static partial CUresult cuEventRecord(nint hEvent, nint hStream);
    [LibraryImport(Lib)] internal static partial CUresult cuEventQuery(nint hEvent);
    [LibraryImport(Lib)] internal static partial CUresult cuEventSynchronize(nint hEvent);
    [LibraryImport(Lib)] internal static partial CUresult cuEventElapsedTime(out float pMilliseconds, nint hStart, nint hEnd);
    [LibraryImport(Lib)] internal static partial CUresult cuEventDestroy_v2(nint hEvent);

    // ---------------------------------------------------------------- modules, kernels, launch
    [LibraryImport(Lib)] internal static partial CUresult cuModuleLoadData(out CudaModuleHandle module, void* image);
    [LibraryImport(Lib)] internal static partial CUresult cuModuleLoadDataEx(out CudaModuleHandle module, void* image, uint numOptions, CUjit_option* options, void** optionValues);
    [LibraryImport(Lib)] internal static partial CUresult cuModuleGetFunction(out nint hfunc, CudaModuleHandle hmod, byte* name);
    [LibraryImport(Lib)] internal static partial CUresult cuModuleUnload(nint hmod);
    [LibraryImport(Lib)] internal static partial CUresult cuFuncGetAttribute(out int pi, CUfunction_attribute attrib, nint hfunc);
    [LibraryImport(Lib)] internal static partial CUresult cuFuncSetAttribute(nint hfunc, CUfunction_attribute attrib, int value);
    [LibraryImport(Lib)]
    internal static partial CUresult cuLaunchKernel(nint f, uint gridDimX, uint gridDimY, uint gridDimZ,
        uint blockDimX, uint blockDimY, uint blockDimZ, uint sharedMemBytes, nint hStream, void** kernelParams, void** extra);

    // ---------------------------------------------------------------- errors
    [LibraryImport(Lib)] internal static partial CUresult cuGetErrorName(CUresult error, out nint pStr);
    [LibraryImport(Lib)] internal static partial CUresult cuGetErrorString(CUresult error, out nint pStr);

    /// <summary>Throws <see cref="CudaException"/> unless <paramref name="status"/> is CUDA_SUCCESS.</summary>
    internal static void Check(CUresult status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != CUresult.CUDA_SUCCESS) throw Error(status, call);
    }

    internal static CudaException Error(CUresult status, string call, string? detail = null) =>
        new((int)status, ErrorName(status), ErrorString(status), call, detail);

    /// <summary>The enum name, from the driver when it knows the code, else from our enum.</summary>
    internal static string ErrorName(CUresult status) =>
        cuGetErrorName(status, out nint p) == CUresult.CUDA_SUCCESS && p != 0 ? Marshal.PtrToStringUTF8(p)! : status.ToString();

    /// <summary>The driver's description (a borrowed static string: never freed).</summary>
    internal static string ErrorString(CUresult status) =>
        cuGetErrorString(status, out nint p) == CUresult.CUDA_SUCCESS && p != 0 ? Marshal.PtrToStringUTF8(p)! : "unknown CUDA error";
}

/// <summary><c>CUresult</c> as of CUDA 13.0 (values from driver.md §3.1; newer toolkits only append).</summary>
internal enum CUresult
{
    CUDA_SUCCESS = 0,
    CUDA_ERROR_INVALID_VALUE = 1,
    CUDA_ERROR_OUT_OF_MEMORY = 2,
    CUDA_ERROR_NOT_INITIALIZED = 3,
    CUDA_ERROR_DEINITIALIZED = 4,
    CUDA_ERROR_PROFILER_DISABLED = 5,
    CUDA_ERROR_PROFILER_NOT_INITIALIZED = 6,
    CUDA_ERROR_PROFILER_ALREADY_STARTED = 7,
    CUDA_ERROR_PROFILER_ALREADY_STOPPED = 8,
    CUDA_ERROR_STUB_LIBRARY = 34,
    CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER = 36,
    CUDA_ERROR_DEVICE_UNAVAILABLE = 46,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_DEVICE_NOT_LICENSED = 102,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_CONTEXT_ALREADY_CURRENT = 202,
    CUDA_ERROR_MAP_FAILED = 205,
    CUDA_ERROR_UNMAP_FAILED = 206,
    CUDA_ERROR_ARRAY_IS_MAPPED = 207,
    CUDA_ERROR_ALREADY_MAPPED = 208,
    CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
    CUDA_ERROR_ALREADY_ACQUIRED = 210,
    CUDA_ERROR_NOT_MAPPED = 211,
    CUDA_ERROR_NOT_MAPPED_AS_ARRAY = 212,
    CUDA_ERROR_NOT_MAPPED_AS_POINTER = 213,
    CUDA_ERROR_ECC_UNCORRECTABLE = 214,
    CUDA_ERROR_UNSUPPORTED_LIMIT = 215,
    CUDA_ERROR_CONTEXT_ALREADY_IN_USE = 216,
    CUDA_ERROR_PEER_ACCESS_UNSUPPORTED = 217,
    CUDA_ERROR_INVALID_PTX = 218,
    CUDA_ERROR_INVALID_GRAPHICS_CONTEXT = 219,
    CUDA_ERROR_NVLINK_UNCORRECTABLE = 220,
    CUDA_ERROR_JIT_COMPILER_NOT_FOUND = 221,
    CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
    CUDA_ERROR_JIT_COMPILATION_DISABLED = 223,
    CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY = 224,
    CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC = 225,
    CUDA_ERROR_CONTAINED = 226,
    CUDA_ERROR_INVALID_SOURCE = 300,
    CUDA_ERROR_FILE_NOT_FOUND = 301,
    CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND = 302,
    CUDA_ERROR_SHARED_OBJECT_INIT_FAILED = 303,
    CUDA_ERROR_OPERATING_SYSTEM = 304,
    CUDA_ERROR_INVALID_HANDLE = 400,
    CUDA_ERROR_ILLEGAL_STATE = 401,
    CUDA_ERROR_LOSSY_QUERY = 402,
    CUDA_ERROR_NOT_FOUND = 500,
    CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700,
    CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    CUDA_ERROR_LAUNCH_TIMEOUT = 702,
    CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING = 703,
    CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED = 704,
    CUDA_ERROR_PEER_ACCESS_NOT_ENABLED = 705,
    CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE = 708,
    CUDA_ERROR_CONTEXT_IS_DESTROYED = 709,
    CUDA_ERROR_ASSERT = 710,
    CUDA_ERROR_TOO_MANY_PEERS = 711,
    CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED = 712,
    CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED = 713,
    CUDA_ERROR_HARDWARE_STACK_ERROR = 714,
    CUDA_ERROR_ILLEGAL_INSTRUCTION = 715,
    CUDA_ERROR_MISALIGNED_ADDRESS = 716,
    CUDA_ERROR_INVALID_ADDRESS_SPACE = 717,
    CUDA_ERROR_INVALID_PC = 718,
    CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE = 720,
    CUDA_ERROR_TENSOR_MEMORY_LEAK = 721,
    CUDA_ERROR_NOT_PERMITTED = 800,
    CUDA_ERROR_NOT_SUPPORTED = 801,
    CUDA_ERROR_SYSTEM_NOT_READY = 802,
    CUDA_ERROR_SYSTEM_DRIVER_MISMATCH = 803,
    CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE = 804,
    CUDA_ERROR_MPS_CONNECTION_FAILED = 805,
    CUDA_ERROR_MPS_RPC_FAILURE = 806,
    CUDA_ERROR_MPS_SERVER_NOT_READY = 807,
    CUDA_ERROR_MPS_MAX_CLIENTS_REACHED = 808,
    CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED = 809,
    CUDA_ERROR_MPS_CLIENT_TERMINATED = 810,
    CUDA_ERROR_CDP_NOT_SUPPORTED = 811,
    CUDA_ERROR_CDP_VERSION_MISMATCH = 812,
    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900,
    CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
    CUDA_ERROR_STREAM_CAPTURE_MERGE = 902,
    CUDA_ERROR_STREAM_CAPTURE_UNMATCHED = 903,
    CUDA_ERROR_STREAM_CAPTURE_UNJOINED = 904,
    CUDA_ERROR_STREAM_CAPTURE_ISOLATION = 905,
    CUDA_ERROR_STREAM_CAPTURE_IMPLICIT = 906,
    CUDA_ERROR_CAPTURED_EVENT = 907,
    CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD = 908,
    CUDA_ERROR_TIMEOUT = 909,
    CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE = 910,
    CUDA_ERROR_EXTERNAL_DEVICE = 911,
    CUDA_ERROR_INVALID_CLUSTER_SIZE = 912,
    CUDA_ERROR_FUNCTION_NOT_LOADED = 913,
    CUDA_ERROR_INVALID_RESOURCE_TYPE = 914,
    CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION = 915,
    CUDA_ERROR_KEY_ROTATION = 916,
    CUDA_ERROR_UNKNOWN = 999,
}

/// <summary><c>CUdevice_attribute</c>, the values Kiln queries (driver.md §3.2; same in 11.8, 12.6, 13.0).</summary>
internal enum CUdevice_attribute
{
    CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
    CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X = 2,
    CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X = 5,
    CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y = 6,
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
    CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10,
    CU_DEVICE_ATTRIBUTE_CLOCK_RATE = 13,
    CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
    CU_DEVICE_ATTRIBUTE_INTEGRATED = 18,
    CU_DEVICE_ATTRIBUTE_COMPUTE_MODE = 20,
    CU_DEVICE_ATTRIBUTE_ECC_ENABLED = 32,
    CU_DEVICE_ATTRIBUTE_PCI_BUS_ID = 33,
    CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID = 34,
    CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36,
    CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37,
    CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE = 38,
    CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR = 39,
    CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT = 40,
    CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING = 41,
    CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID = 50,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR = 81,
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
    CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED = 99,
    CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED = 115,
}

/// <summary><c>CUfunction_attribute</c> (driver.md §3.3).</summary>
internal enum CUfunction_attribute
{
    CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0,
    CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1,
    CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES = 2,
    CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES = 3,
    CU_FUNC_ATTRIBUTE_NUM_REGS = 4,
    CU_FUNC_ATTRIBUTE_PTX_VERSION = 5,
    CU_FUNC_ATTRIBUTE_BINARY_VERSION = 6,
    CU_FUNC_ATTRIBUTE_CACHE_MODE_CA = 7,
    CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
    CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT = 9,
}

/// <summary><c>CUjit_option</c> (driver.md §3.5), the ones used with <c>cuModuleLoadDataEx</c>.</summary>
internal enum CUjit_option
{
    CU_JIT_MAX_REGISTERS = 0,
    CU_JIT_THREADS_PER_BLOCK = 1,
    CU_JIT_WALL_TIME = 2,
    CU_JIT_INFO_LOG_BUFFER = 3,
    CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
    CU_JIT_ERROR_LOG_BUFFER = 5,
    CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
    CU_JIT_OPTIMIZATION_LEVEL = 7,
    CU_JIT_TARGET_FROM_CUCONTEXT = 8,
    CU_JIT_TARGET = 9,
    CU_JIT_FALLBACK_STRATEGY = 10,
    CU_JIT_GENERATE_DEBUG_INFO = 11,
    CU_JIT_LOG_VERBOSE = 12,
    CU_JIT_GENERATE_LINE_INFO = 13,
    CU_JIT_CACHE_MODE = 14,
}

/// <summary>Flag constants (driver.md §3.4, §3.7).</summary>
internal static class CudaFlags
{
    internal const uint CU_STREAM_DEFAULT = 0;
    internal const uint CU_STREAM_NON_BLOCKING = 1;
    internal const uint CU_EVENT_DEFAULT = 0;
    internal const uint CU_EVENT_BLOCKING_SYNC = 1;
    internal const uint CU_EVENT_DISABLE_TIMING = 2;
    internal const uint CU_MEMHOSTALLOC_PORTABLE = 0x01;
    internal const uint CU_MEMHOSTALLOC_DEVICEMAP = 0x02;
    internal const uint CU_MEMHOSTALLOC_WRITECOMBINED = 0x04;
    internal const uint CU_MEMHOSTREGISTER_PORTABLE = 0x01;
    internal const uint CU_MEMHOSTREGISTER_DEVICEMAP = 0x02;
    internal const uint CU_CTX_SCHED_BLOCKING_SYNC = 4;
}
