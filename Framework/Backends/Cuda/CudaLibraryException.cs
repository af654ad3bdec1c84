namespace Kiln.Backends.Cuda;

/// <summary>
/// A failed call into a CUDA library: the numeric status, its name, the library's own description,
/// the call expression that failed, and what the caller knew (shapes, algorithm, sizes) when it added
/// detail. Each library has its own subclass so callers can catch one library's failures.
/// </summary>
public abstract class CudaLibraryException(string library, int status, string statusName, string libraryMessage, string call, string? detail)
    : Exception($"{library} error {statusName} ({status}): {libraryMessage}; in {call}" + (detail is null ? "" : $" [{detail}]"))
{
    /// <summary>The numeric status the library returned.</summary>
    public int Status { get; } = status;
    public string StatusName { get; } = statusName;
    /// <summary>The library's description of the status.</summary>
    public string LibraryMessage { get; } = libraryMessage;
    /// <summary>The C# expression of the call that failed.</summary>
    public string Call { get; } = call;
    /// <summary>Shapes, sizes or other context added by the caller; null if none.</summary>
    public string? Detail { get; } = detail;
}
