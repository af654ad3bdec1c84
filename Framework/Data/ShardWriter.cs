using System.Formats.Tar;
using System.Globalization;

namespace Kiln.Data;

/// <summary>
/// Writes one WebDataset tar shard: a sample is a run of consecutive members sharing a key
/// (<c>key.jpg</c>, <c>key.cls</c>). The shard is written under a temporary name and renamed into
/// place by <see cref="Complete"/>, so a crash never leaves a half-written file at the final name and a
/// packer can resume by keeping the shards that exist.
/// </summary>
public sealed class ShardWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly TarWriter _tar;
    private readonly string _tempPath;
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private bool _completed, _disposed;

    public ShardWriter(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _tempPath = Path + ".tmp";
        _stream = new FileStream(_tempPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        _tar = new TarWriter(_stream, TarEntryFormat.Ustar, leaveOpen: true);
    }

    /// <summary>The final path of the shard.</summary>
    public string Path { get; }

    /// <summary>Samples written so far.</summary>
    public int Count { get; private set; }

    /// <summary>Writes a sample: the image under <c>key.{imageExtension}</c> and its class index as ASCII in <c>key.cls</c>.</summary>
    public void WriteSample(string key, ReadOnlySpan<byte> image, string imageExtension, int label)
    {
        if (label < 0) throw new ArgumentOutOfRangeException(nameof(label), $"label must be >= 0, got {label}");
        WriteMembers(key, [(imageExtension, image.ToArray()), ("cls", System.Text.Encoding.ASCII.GetBytes(label.ToString(CultureInfo.InvariantCulture)))]);
    }

    /// <summary>Writes the members of one sample, in order; extensions must be distinct.</summary>
    public void WriteMembers(string key, ReadOnlySpan<(string Extension, byte[] Data)> members)
    {
        ObjectDisposedException.ThrowIf(_disposed || _completed, this);
        if (string.IsNullOrEmpty(key) || System.IO.Path.GetFileName(key).Contains('.'))
            throw new ArgumentException($"sample key must be non-empty and have no '.' in its file name, got '{key}'");
        if (!_keys.Add(key)) throw new ArgumentException($"duplicate sample key '{key}' in shard {Path}");
        foreach (var (ext, data) in members)
            WriteRaw($"{key}.{ext}", data);
        Count++;
    }

    /// <summary>Writes one member exactly as given (tests use it to build malformed shards).</summary>
    public void WriteRaw(string name, byte[] data)
    {
        var entry = new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(data, writable: false),
            ModificationTime = DateTimeOffset.UnixEpoch,
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        };
        _tar.WriteEntry(entry);
    }

    /// <summary>Finishes the archive, flushes it to disk and renames it to <see cref="Path"/>.</summary>
    public void Complete()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed) return;
        _tar.Dispose();                      // writes the two zero blocks that end the archive
        _stream.Flush(flushToDisk: true);
        _stream.Dispose();
        File.Move(_tempPath, Path, overwrite: true);
        _completed = true;
    }

    /// <summary>Disposes; a shard that was not completed is deleted, never left at its final name.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_completed) return;
        _tar.Dispose();
        _stream.Dispose();
        File.Delete(_tempPath);
    }
}
