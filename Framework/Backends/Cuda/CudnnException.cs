namespace Kiln.Backends.Cuda;

/// <summary>
/// A failed cuDNN call: the status (cudnnStatus_t (cuDNN 9 numbering)), its name, the library's own description and the call
/// expression that failed, plus what the caller knew (shapes, algorithm, sizes) when it added detail.
/// </summary>
public sealed class CudnnException : Exception
{
    public CudnnException(int status, string statusName, string libraryMessage, string call, string? detail = null)
        : base(Format(status, statusName, libraryMessage, call, detail))
    {
        Status = status;
        StatusName = statusName;
        LibraryMessage = libraryMessage;
        Call = call;
        Detail = detail;
    }

    /// <summary>The numeric status the library returned.</summary>
    public int Status { get; }
    public string StatusName { get; }
    /// <summary>The library's description of the status.</summary>
    public string LibraryMessage { get; }
    /// <summary>The C# expression of the call that failed.</summary>
    public string Call { get; }
    /// <summary>Shapes, sizes or other context added by the caller; null if none.</summary>
    public string? Detail { get; }

    private static string Format(int status, string statusName, string libraryMessage, string call, string? detail) =>
        $"cuDNN error {statusName} ({status}): {libraryMessage}; in {call}" + (detail is null ? "" : $" [{detail}]");
}
