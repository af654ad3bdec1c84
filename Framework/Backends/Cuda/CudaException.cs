namespace Kiln.Backends.Cuda;

/// <summary>A failed CUDA driver call (status: the driver's CUresult).</summary>
public sealed class CudaException(int status, string statusName, string libraryMessage, string call, string? detail = null)
    : CudaLibraryException("CUDA driver", status, statusName, libraryMessage, call, detail);
