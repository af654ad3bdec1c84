namespace Kiln.Backends.Cuda;

/// <summary>A failed cuBLAS call.</summary>
public sealed class CublasException(int status, string statusName, string libraryMessage, string call, string? detail = null)
    : CudaLibraryException("cuBLAS", status, statusName, libraryMessage, call, detail);
