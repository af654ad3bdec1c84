namespace Kiln.Backends.Cuda;

/// <summary>A failed cuDNN call (status: cudnnStatus_t, cuDNN 9 numbering).</summary>
public sealed class CudnnException(int status, string statusName, string libraryMessage, string call, string? detail = null)
    : CudaLibraryException("cuDNN", status, statusName, libraryMessage, call, detail);
