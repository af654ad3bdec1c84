using System.Buffers;

namespace Kiln.Data;

/// <summary>
/// A class-folder tree (<c>root/&lt;class&gt;/*.jpg</c>, classes in ordinal order) read directly, for small
/// datasets that are not worth packing. The files are put in a fixed pseudo-random order (Philox,
/// seed 0) and cut into virtual shards of <see cref="FilesPerShard"/> files, so the loader's shard
/// permutation, rank split and shuffle buffer work exactly as with tar shards.
/// </summary>
public sealed class ImageFolderSource
{
    public const int FilesPerShard = 256;
    private readonly (string Path, int Label)[] _files;

    public ImageFolderSource(string root)
    {
        Root = Path.GetFullPath(root);
        Classes = FolderPacker.ScanClasses(Root);
        _files = FolderPacker.ScanFiles(Root, Classes).ToArray();
        ulong stream = SampleRandom.Stream(StreamPurpose.ShardOrder, -1, 0);
        for (int i = _files.Length - 1; i > 0; i--)
        {
            int j = (int)(((ulong)Philox.Word(0, stream, (ulong)i, 0) * (ulong)(i + 1)) >> 32);
            (_files[i], _files[j]) = (_files[j], _files[i]);
        }
        var names = new string[(_files.Length + FilesPerShard - 1) / FilesPerShard];
        for (int i = 0; i < names.Length; i++) names[i] = $"{Root}#{i:D6}";
        ShardNames = names;
    }

    public string Root { get; }
    /// <summary>Class folder names; index = class.</summary>
    public IReadOnlyList<string> Classes { get; }
    /// <summary>Names of the virtual shards (<c>root#000000</c> …).</summary>
    public IReadOnlyList<string> ShardNames { get; }
    public int Count => _files.Length;

    /// <summary>The samples of virtual shard <paramref name="shard"/>; an unreadable file is a bad sample.</summary>
    public IEnumerable<RawSample> Read(int shard, int numClasses)
    {
        int end = Math.Min(_files.Length, (shard + 1) * FilesPerShard);
        for (int i = shard * FilesPerShard; i < end; i++)
        {
            var (path, label) = _files[i];
            string key = $"{Classes[label]}/{Path.GetFileNameWithoutExtension(path)}";
            if (label >= numClasses)
            {
                yield return new RawSample { Shard = path, Key = key, Fault = BadSampleReason.LabelOutOfRange, FaultDetail = $"class {label} outside [0, {numClasses})" };
                continue;
            }
            byte[]? buffer = null;
            int length = 0;
            string? error = null;
            try
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
                if (stream.Length > int.MaxValue) throw new IOException($"{stream.Length} bytes is too large");
                length = (int)stream.Length;
                buffer = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
                stream.ReadExactly(buffer, 0, length);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
                error = $"unreadable file: {e.Message}";
            }
            if (error is not null)
            {
                yield return new RawSample { Shard = path, Key = key, Fault = BadSampleReason.CorruptImage, FaultDetail = error };
                continue;
            }
            yield return new RawSample { Shard = path, Key = key, Label = label, ImageLength = length, ImageExtension = Path.GetExtension(path).TrimStart('.') }
                .WithImage(buffer);
        }
    }
}
