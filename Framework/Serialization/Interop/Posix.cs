using System.Runtime.InteropServices;

namespace Kiln.Serialization.Interop;

/// <summary>The POSIX calls .NET has no API for: fsync of a directory (see Note [Atomic file writes]).</summary>
internal static partial class Posix
{
    private const int O_RDONLY = 0;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int close(int fd);

    /// <summary>Makes a rename in <paramref name="directory"/> durable. No-op where directories cannot be fsynced (Windows).</summary>
    internal static void FsyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD()) return;
        int fd = open(directory, O_RDONLY);
        if (fd < 0) throw new IOException($"open('{directory}') for fsync failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            if (fsync(fd) != 0)
                throw new IOException($"fsync of directory '{directory}' failed: errno {Marshal.GetLastPInvokeError()}");
        }
        finally
        {
            close(fd);
        }
    }
}
