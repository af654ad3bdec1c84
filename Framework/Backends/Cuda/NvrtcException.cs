namespace Kiln.Backends.Cuda;

/// <summary>A failed NVRTC call.</summary>
public class NvrtcException(int status, string statusName, string libraryMessage, string call, string? detail = null)
    : CudaLibraryException("NVRTC", status, statusName, libraryMessage, call, detail);
