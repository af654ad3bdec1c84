using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kiln.Backends.Cuda.Interop;

/// <summary>
/// NVRTC (<c>libnvrtc.so.13/.12/.11.2</c>), names and prototypes from ../shared/cuda/nvrtc.md. NVRTC needs
/// neither libcuda nor a GPU, so everything here is exercised by the tests on GPU-less machines.
/// Strings go in as NUL-terminated UTF-8 <c>byte*</c>; returned strings are borrowed <c>nint</c>s.
/// </summary>
internal static unsafe partial class Nvrtc
{
    private const string Lib = NativeLibraries.Nvrtc;

    [LibraryImport(Lib)] internal static partial nvrtcResult nvrtcVersion(out int major, out int minor);
    [LibraryImport(Lib)] internal static partial nvrtcResult nvrtcGetNumSupportedArchs(out int numArchs);
    [LibraryImport(Lib)] internal static partial nvrtcResult nvrtcGetSupportedArchs(int* supportedArchs);
    [LibraryImport(Lib)]
    internal static partial nvrtcResult nvrtcCreateProgram(out NvrtcProgramHandle prog, byte* src, byte* name,
        int numHeaders, byte** headers, byte** includeNames);
    [LibraryImport(Lib)] internal static partial nvrtcResult nvrtcDestroyProgram(ref nint prog);
    [LibraryImport(Lib)] internal static partial nvrtcResult nvrtcCompileProgram(NvrtcProgramHandle prog, int numOptions, byte** options);
    [LibraryImport(Lib)] internal static partial nvrtcResult nvrtcGetProgramLogSize(NvrtcProgramHandle prog, out nuint logSizeRet);
    [LibraryImport(Lib)] internal static partial nvrtcResult nvrtcGetProgramLog(NvrtcProgramHandle prog, byte* log);
    [LibraryImport(Lib)] internal static partial nvrtcResult nvrtcGetPTXSize(NvrtcProgramHandle prog, out nuint ptxSizeRet);
    [LibraryImport(Lib)] internal static partial nvrtcResult nvrtcGetPTX(NvrtcProgramHandle prog, byte* ptx);
    [LibraryImport(Lib)] internal static partial nvrtcResult nvrtcGetCUBINSize(NvrtcProgramHandle prog, out nuint cubinSizeRet);
    [LibraryImport(Lib)] internal static partial nvrtcResult nvrtcGetCUBIN(NvrtcProgramHandle prog, byte* cubin);
    [LibraryImport(Lib)] internal static partial nint nvrtcGetErrorString(nvrtcResult result);
    [LibraryImport(Lib)] internal static partial nvrtcResult nvrtcAddNameExpression(NvrtcProgramHandle prog, byte* name_expression);
    [LibraryImport(Lib)] internal static partial nvrtcResult nvrtcGetLoweredName(NvrtcProgramHandle prog, byte* name_expression, out nint lowered_name);

    /// <summary>Throws <see cref="NvrtcException"/> unless <paramref name="status"/> is NVRTC_SUCCESS.</summary>
    internal static void Check(nvrtcResult status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != nvrtcResult.NVRTC_SUCCESS) throw new NvrtcException((int)status, status.ToString(), ErrorString(status), call);
    }

    internal static string ErrorString(nvrtcResult status)
    {
        nint p = nvrtcGetErrorString(status);
        return p == 0 ? "unknown NVRTC error" : Marshal.PtrToStringUTF8(p)!;
    }
}

/// <summary><c>nvrtcResult</c> (nvrtc.md §2; 11.8 ends at 11, later versions append).</summary>
internal enum nvrtcResult
{
    NVRTC_SUCCESS = 0,
    NVRTC_ERROR_OUT_OF_MEMORY = 1,
    NVRTC_ERROR_PROGRAM_CREATION_FAILURE = 2,
    NVRTC_ERROR_INVALID_INPUT = 3,
    NVRTC_ERROR_INVALID_PROGRAM = 4,
    NVRTC_ERROR_INVALID_OPTION = 5,
    NVRTC_ERROR_COMPILATION = 6,
    NVRTC_ERROR_BUILTIN_OPERATION_FAILURE = 7,
    NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION = 8,
    NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION = 9,
    NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID = 10,
    NVRTC_ERROR_INTERNAL_ERROR = 11,
    NVRTC_ERROR_TIME_FILE_WRITE_FAILED = 12,
    NVRTC_ERROR_NO_PCH_CREATE_ATTEMPTED = 13,
    NVRTC_ERROR_PCH_CREATE_HEAP_EXHAUSTED = 14,
    NVRTC_ERROR_PCH_CREATE = 15,
    NVRTC_ERROR_CANCELLED = 16,
    NVRTC_ERROR_TIME_TRACE_FILE_WRITE_FAILED = 17,
}
