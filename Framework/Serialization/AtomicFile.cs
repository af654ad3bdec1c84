using Kiln.Serialization.Interop;

namespace Kiln.Serialization;

/// <summary>
/// Note [Atomic file writes]. A file is written to a temporary file in the target's directory (same
/// filesystem, so no EXDEV), flushed to disk with <c>FileStream.Flush(true)</c>, renamed over the
/// target with <c>File.Move(overwrite: true)</c> (an atomic rename on POSIX), and then the directory
/// is fsynced (Linux/macOS) so the rename itself is durable. A crash at any point leaves either the
/// old file or the new one, never a mix. If the writer throws, the temporary file is deleted and the
/// target is untouched. Temporary names are <c>.NAME.PID.RANDOM.tmp</c>: hidden, recognisable by
/// <see cref="IsTemporaryName"/>, so a later run can clean up after a killed one.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> atomically with what <paramref name="write"/> puts into the stream.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no directory", nameof(path));
        if (Directory.Exists(full)) throw new IOException($"cannot write '{full}': it is a directory");
        string tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        bool committed = false;
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
            committed = true;
        }
        finally
        {
            if (!committed) DeleteQuietly(tmp);
        }
        Posix.FsyncDirectory(dir);
    }

    /// <summary>Whether a file name is one of this class's temporary files (for cleanup after a crash).</summary>
    public static bool IsTemporaryName(string fileName) =>
        fileName.StartsWith('.') && fileName.EndsWith(".tmp", StringComparison.Ordinal);

    private static void DeleteQuietly(string path)
    {
        // The writer's exception is what the caller needs; a failed cleanup must not replace it.
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
