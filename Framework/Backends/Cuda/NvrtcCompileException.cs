namespace Kiln.Backends.Cuda;

/// <summary>
/// A kernel source that NVRTC refused (NVRTC_ERROR_COMPILATION, or an option/arch it does not accept).
/// The message carries the file, the architecture, the options and NVRTC's full program log.
/// </summary>
public sealed class NvrtcCompileException : NvrtcException
{
    public NvrtcCompileException(int status, string statusName, string libraryMessage, string call,
                                 string fileName, string arch, IReadOnlyList<string> options, string log)
        : base(status, statusName, libraryMessage, call,
               $"compiling {fileName} for {arch} with {string.Join(' ', options)}; NVRTC log:\n{log}")
    {
        FileName = fileName;
        Arch = arch;
        Options = options;
        Log = log;
    }

    public string FileName { get; }
    public string Arch { get; }
    public IReadOnlyList<string> Options { get; }
    /// <summary>NVRTC's complete program log.</summary>
    public string Log { get; }
}
