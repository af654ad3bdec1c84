using System.Security.Cryptography;
using System.Text.Json;
using Kiln.Serialization;

namespace Kiln.Training;

/// <summary>
/// Note [Checkpoint commit]. A checkpoint is a directory <c>step-NNNNNNNNN</c> under the store's folder,
/// holding the tensor files and <c>state.json</c> (with a SHA-256 of each file). It is written into a
/// hidden temporary directory beside its final name: every file is flushed to disk, the directory is
/// fsynced, renamed to its final name (atomic on one filesystem: the temporary is always a sibling, so
/// no EXDEV), and the parent is fsynced. Only then is the <c>latest</c> pointer rewritten (atomically,
/// see Note [Atomic file writes]), and only after that are old checkpoints deleted. A kill at any moment
/// leaves the previous checkpoint intact; leftover temporaries are removed by the next run.
/// Resuming does not trust the pointer alone: it takes the newest directory that verifies.
/// </summary>
public sealed class CheckpointStore
{
    public const string StateFile = "state.json";
    public const string LatestPointer = "latest";
    public const string BestPointer = "best";
    private const string TempPrefix = ".tmp-";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public CheckpointStore(string directory)
    {
        Directory = System.IO.Path.GetFullPath(directory);
    }

    /// <summary>The folder holding the checkpoint directories and pointers.</summary>
    public string Directory { get; }

    /// <summary>Wraps every file stream while saving (fault-injection tests count bytes with it).</summary>
    public Func<Stream, Stream>? WrapStream { get; set; }

    /// <summary>Receives each durability step as it happens ("flush FILE", "fsync DIR", "rename", "pointer latest"); tests check the order.</summary>
    internal Action<string>? OnOperation { get; set; }

    /// <summary>Name of the checkpoint directory for an optimizer step.</summary>
    public static string NameFor(long step) => $"step-{step:D9}";

    /// <summary>Writes and commits a checkpoint; returns its directory. Throws (leaving nothing at the final name) if any write fails.</summary>
    public string Save(long step, IReadOnlyList<CheckpointFile> files, CheckpointState state)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string name = NameFor(step);
        string final = System.IO.Path.Combine(Directory, name);
        string tmp = System.IO.Path.Combine(Directory, $"{TempPrefix}{name}.{Environment.ProcessId}.{Guid.NewGuid():N}");
        bool committed = false;
        try
        {
            System.IO.Directory.CreateDirectory(tmp);
            var hashes = new Dictionary<string, string>();
            foreach (var f in files)
            {
                string path = System.IO.Path.Combine(tmp, f.Name);
                WriteFile(path, f.Write);
                hashes[f.Name] = HashFile(path);
            }
            var withFiles = state with { Files = hashes, SavedUtc = DateTime.UtcNow };
            WriteFile(System.IO.Path.Combine(tmp, StateFile), s => JsonSerializer.Serialize(s, withFiles, Json));
            FsyncDirectory(tmp);
            OnOperation?.Invoke("fsync checkpoint directory");
            string? displaced = null;
            if (System.IO.Directory.Exists(final))
            {
                // The same step saved again (a resumed run): move the old one aside, delete it after the commit.
                displaced = System.IO.Path.Combine(Directory, $"{TempPrefix}old-{name}.{Guid.NewGuid():N}");
                System.IO.Directory.Move(final, displaced);
            }
            System.IO.Directory.Move(tmp, final);
            committed = true;
            OnOperation?.Invoke("rename");
            FsyncDirectory(Directory);
            OnOperation?.Invoke("fsync parent directory");
            AtomicFile.Write(System.IO.Path.Combine(Directory, LatestPointer), s => WriteText(s, name));
            OnOperation?.Invoke("pointer latest");
            if (displaced is not null) DeleteQuietly(displaced);
            return final;
        }
        finally
        {
            if (!committed) DeleteQuietly(tmp);
        }
    }

    /// <summary>Points <c>best</c> at a committed checkpoint (atomically).</summary>
    public void MarkBest(string checkpointDir) =>
        AtomicFile.Write(System.IO.Path.Combine(Directory, BestPointer), s => WriteText(s, System.IO.Path.GetFileName(checkpointDir)));

    /// <summary>The checkpoint the <c>best</c> pointer names, if any.</summary>
    public string? Best => ReadPointer(BestPointer);

    /// <summary>The checkpoint the <c>latest</c> pointer names, if any.</summary>
    public string? Latest => ReadPointer(LatestPointer);

    private string? ReadPointer(string pointer)
    {
        string p = System.IO.Path.Combine(Directory, pointer);
        if (!File.Exists(p)) return null;
        string name = File.ReadAllText(p).Trim();
        return name.Length == 0 ? null : System.IO.Path.Combine(Directory, name);
    }

    /// <summary>Committed checkpoint directories, newest first (not verified).</summary>
    public IReadOnlyList<(string Path, long Step)> List()
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        var result = new List<(string, long)>();
        foreach (var d in System.IO.Directory.GetDirectories(Directory))
        {
            string n = System.IO.Path.GetFileName(d);
            if (n.StartsWith("step-", StringComparison.Ordinal) && long.TryParse(n.AsSpan(5), out long step)) result.Add((d, step));
        }
        return result.OrderByDescending(r => r.Item2).ToList();
    }

    /// <summary>Removes temporaries left by a killed save; returns how many.</summary>
    public int CleanTemporaries()
    {
        if (!System.IO.Directory.Exists(Directory)) return 0;
        int n = 0;
        foreach (var d in System.IO.Directory.GetDirectories(Directory))
            if (System.IO.Path.GetFileName(d).StartsWith(TempPrefix, StringComparison.Ordinal)) { DeleteQuietly(d); n++; }
        foreach (var f in System.IO.Directory.GetFiles(Directory))
            if (AtomicFile.IsTemporaryName(System.IO.Path.GetFileName(f))) { try { File.Delete(f); n++; } catch (IOException) { } }
        return n;
    }

    /// <summary>Checks a checkpoint directory: state.json parses and every listed file exists with its hash.</summary>
    public static CheckpointInfo Verify(string dir)
    {
        long step = -1;
        string name = System.IO.Path.GetFileName(System.IO.Path.TrimEndingDirectorySeparator(dir));
        if (name.StartsWith("step-", StringComparison.Ordinal)) long.TryParse(name.AsSpan(5), out step);
        string statePath = System.IO.Path.Combine(dir, StateFile);
        if (!System.IO.Directory.Exists(dir)) return new(dir, step, null, $"checkpoint directory '{dir}' does not exist");
        if (!File.Exists(statePath)) return new(dir, step, null, $"'{statePath}' is missing");
        CheckpointState? state;
        try
        {
            state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(statePath));
        }
        catch (JsonException e)
        {
            return new(dir, step, null, $"'{statePath}' is not valid JSON: {e.Message}");
        }
        if (state is null) return new(dir, step, null, $"'{statePath}' is empty");
        if (state.Files.Count == 0) return new(dir, state.Step, state, $"'{statePath}' lists no files");
        foreach (var (file, hash) in state.Files)
        {
            string path = System.IO.Path.Combine(dir, file);
            if (!File.Exists(path)) return new(dir, state.Step, state, $"'{path}' is missing");
            string actual = HashFile(path);
            if (!string.Equals(actual, hash, StringComparison.OrdinalIgnoreCase))
                return new(dir, state.Step, state, $"'{path}' is damaged: SHA-256 {actual[..16]}… but state.json records {hash[..Math.Min(16, hash.Length)]}…");
        }
        return new(dir, state.Step, state, null);
    }

    /// <summary>Every committed checkpoint verified, newest first (the caller reports the damaged ones and takes the first valid).</summary>
    public IReadOnlyList<CheckpointInfo> VerifyAll() => List().Select(c => Verify(c.Path)).ToList();

    /// <summary>
    /// Keeps the newest <paramref name="keepLast"/> checkpoints and the one <c>best</c> names; deletes the
    /// rest. A checkpoint already gone is tolerated and reported through <paramref name="onProblem"/>.
    /// </summary>
    public void Retain(int keepLast, Action<string>? onProblem = null)
    {
        string? best = Best is { } b ? System.IO.Path.GetFileName(b) : null;
        string? latest = Latest is { } l ? System.IO.Path.GetFileName(l) : null;
        int kept = 0;
        foreach (var (path, _) in List())
        {
            string n = System.IO.Path.GetFileName(path);
            if (kept < keepLast || n == latest) { kept++; continue; }
            if (n == best) continue;
            try
            {
                System.IO.Directory.Delete(path, recursive: true);
                OnOperation?.Invoke("delete " + n);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                onProblem?.Invoke($"could not delete old checkpoint '{path}': {e.Message}");
            }
        }
    }

    private void WriteFile(string path, Action<Stream> write)
    {
        using var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
        if (WrapStream is { } wrap)
        {
            using var wrapped = wrap(fs);
            write(wrapped);
            wrapped.Flush();
        }
        else write(fs);
        fs.Flush(flushToDisk: true);
        OnOperation?.Invoke("flush " + System.IO.Path.GetFileName(path));
    }

    private static void WriteText(Stream s, string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text + "\n");
        s.Write(bytes);
    }

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string HashFile(string path)
    {
        using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }

    private static void FsyncDirectory(string dir) => Serialization.Interop.Posix.FsyncDirectory(dir);

    private static void DeleteQuietly(string dir)
    {
        try
        {
            if (System.IO.Directory.Exists(dir)) System.IO.Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
