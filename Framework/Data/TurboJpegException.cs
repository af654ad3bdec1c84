namespace Kiln.Data;

/// <summary>A TurboJPEG call failed in a way that is not the image's fault (e.g. no decompressor could be created).</summary>
public sealed class TurboJpegException : Exception
{
    public TurboJpegException(int errorCode, string libraryMessage, string call)
        : base($"TurboJPEG {call} failed ({(errorCode == 0 ? "warning" : "fatal")}): {libraryMessage}")
    {
        ErrorCode = errorCode;
        LibraryMessage = libraryMessage;
        Call = call;
    }

    /// <summary>tjGetErrorCode: 0 = TJERR_WARNING, 1 = TJERR_FATAL.</summary>
    public int ErrorCode { get; }
    /// <summary>tjGetErrorStr2's text.</summary>
    public string LibraryMessage { get; }
    /// <summary>The call that failed, as written in the source.</summary>
    public string Call { get; }
}
