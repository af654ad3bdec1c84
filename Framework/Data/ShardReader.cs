using System.Buffers;
using System.Formats.Tar;
using System.Globalization;
using System.Text;

namespace Kiln.Data;

/// <summary>
/// Streams the samples of one WebDataset tar shard with <see cref="TarReader"/>: members are read one
/// at a time, so memory holds one sample, never the shard. Consecutive members with the same key form a
/// sample (the key is the member path up to the first '.' of its file name, as WebDataset splits it).
///
/// Note [Bad shards]: a structural problem in one sample (no label, unreadable label, label out of
/// range, duplicate key, oversized member) yields that sample with <see cref="RawSample.Fault"/> set
/// and reading goes on. A problem in the tar itself (bad header checksum, size past the end of the
/// file, end of file inside a member, missing end-of-archive blocks) yields one
/// <see cref="BadSampleReason.TruncatedShard"/> item with the byte offset, and the rest of the shard is
/// skipped: a streaming tar reader cannot find the next header safely.
/// </summary>
public sealed class ShardReader
{
    /// <summary>Extensions that hold the image (case-insensitive).</summary>
    public static readonly IReadOnlySet<string> ImageExtensions =
        new HashSet<string>(["jpg", "jpeg", "png", "webp", "bmp", "gif", "img"], StringComparer.OrdinalIgnoreCase);

    /// <summary>Extensions that hold the class index as ASCII text.</summary>
    public static readonly IReadOnlySet<string> LabelExtensions =
        new HashSet<string>(["cls", "label", "cls.txt"], StringComparer.OrdinalIgnoreCase);

    public ShardReader(string path, int numClasses = int.MaxValue, long maxMemberBytes = 64L << 20)
    {
        Path = path;
        NumClasses = numClasses;
        MaxMemberBytes = maxMemberBytes;
    }

    public string Path { get; }
    public int NumClasses { get; }
    public long MaxMemberBytes { get; }

    /// <summary>The samples of the shard in file order. Image buffers are rented: release each sample.</summary>
    public IEnumerable<RawSample> ReadSamples()
    {
        using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        long fileLength = stream.Length;
        bool trailerOk = HasEndOfArchive(stream);
        stream.Position = 0;
        using var tar = new TarReader(stream, leaveOpen: true);

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var group = new Group();
        long entryOffset = 0;
        while (true)
        {
            TarEntry? entry;
            string? tarError = null;
            entryOffset = stream.Position;
            try
            {
                entry = tar.GetNextEntry(copyData: false);
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException or ArgumentException or OverflowException)
            {
                entry = null;
                tarError = $"bad tar header at byte {entryOffset}: {e.Message}";
            }

            if (entry is not null && tarError is null && entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
            {
                string name = entry.Name;
                SplitKey(name, out string key, out string ext);
                if (group.Key is not null && group.Key != key)
                {
                    yield return group.Emit(this, seen);
                }
                if (group.Key is null) group.Start(key, entryOffset);

                if (entry.Length < 0 || entry.Length > fileLength - entryOffset - 512)
                {
                    tarError = $"member {name} at byte {entryOffset} declares {entry.Length} bytes but the shard has {Math.Max(0, fileLength - entryOffset - 512)} left (truncated at byte {fileLength})";
                }
                else if (entry.Length > MaxMemberBytes)
                {
                    group.Fault(BadSampleReason.MemberTooLarge, $"member {name} is {entry.Length} bytes, over the {MaxMemberBytes}-byte cap");
                }
                else
                {
                    int length = (int)entry.Length;
                    byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
                    try
                    {
                        entry.DataStream?.ReadExactly(buffer, 0, length);
                        if (entry.DataStream is null && length > 0) throw new EndOfStreamException();
                        group.Add(ext, buffer, length);
                    }
                    catch (EndOfStreamException)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        tarError = $"shard ends inside member {name} (truncated at byte {fileLength})";
                    }
                }
                if (tarError is null) continue;
            }
            else if (entry is not null && tarError is null)
            {
                continue; // directories, links, PAX/GNU metadata: not sample members
            }

            // End of the archive, or a tar error: flush the current sample, then report the shard if broken.
            // A sample whose image and label were both read is complete and kept; a partial one is the cut.
            if (tarError is not null || !trailerOk)
            {
                string detail = tarError ?? $"shard has no end-of-archive blocks (truncated at byte {fileLength})";
                if (group.Key is not null && !group.IsComplete)
                {
                    string key = group.Key;
                    long offset = group.Offset;
                    group.Clear();
                    yield return new RawSample { Shard = Path, Key = key, Fault = BadSampleReason.TruncatedShard, Offset = offset, FaultDetail = detail };
                }
                else
                {
                    if (group.Key is not null) yield return group.Emit(this, seen);
                    yield return new RawSample { Shard = Path, Key = "", Fault = BadSampleReason.TruncatedShard, Offset = entryOffset, FaultDetail = detail };
                }
            }
            else if (group.Key is not null)
            {
                yield return group.Emit(this, seen);
            }
            yield break;
        }
    }

    /// <summary>WebDataset's split: <c>dir/n01_1.cls.txt</c> → key <c>dir/n01_1</c>, extension <c>cls.txt</c>.</summary>
    public static void SplitKey(string name, out string key, out string extension)
    {
        int slash = name.LastIndexOf('/');
        int dot = name.IndexOf('.', slash + 1);
        if (dot < 0) { key = name; extension = ""; return; }
        key = name[..dot];
        extension = name[(dot + 1)..];
    }

    /// <summary>A well-formed tar ends with at least two 512-byte zero blocks; a cut file does not.</summary>
    private static bool HasEndOfArchive(FileStream stream)
    {
        if (stream.Length < 1024 || stream.Length % 512 != 0) return false;
        Span<byte> tail = stackalloc byte[1024];
        stream.Position = stream.Length - 1024;
        stream.ReadExactly(tail);
        return !tail.ContainsAnyExcept((byte)0);
    }

    /// <summary>The members of the sample being assembled.</summary>
    private sealed class Group
    {
        public string? Key;
        public long Offset;
        private byte[]? _image;
        private int _imageLength;
        private string? _imageExt;
        private byte[]? _label;
        private int _labelLength;
        private bool _hasLabel;
        private BadSampleReason? _fault;
        private string _detail = "";
        private readonly HashSet<string> _exts = new(StringComparer.OrdinalIgnoreCase);

        public void Start(string key, long offset) { Key = key; Offset = offset; }

        /// <summary>Image and label both read (or the sample is already bad for another reason).</summary>
        public bool IsComplete => _fault is not null || _image is not null && _hasLabel;

        public void Fault(BadSampleReason reason, string detail)
        {
            if (_fault is null) { _fault = reason; _detail = detail; }
        }

        public void Add(string ext, byte[] buffer, int length)
        {
            if (!_exts.Add(ext))
            {
                Fault(BadSampleReason.DuplicateKey, $"two '.{ext}' members for key {Key}");
                ArrayPool<byte>.Shared.Return(buffer);
            }
            else if (ImageExtensions.Contains(ext) && _image is null)
            {
                (_image, _imageLength, _imageExt) = (buffer, length, ext);
            }
            else if (LabelExtensions.Contains(ext) && !_hasLabel)
            {
                (_label, _labelLength, _hasLabel) = (buffer, length, true);
            }
            else
            {
                ArrayPool<byte>.Shared.Return(buffer); // other members (json, txt) are not used
            }
        }

        public RawSample Emit(ShardReader reader, HashSet<string> seen)
        {
            string key = Key!;
            if (!seen.Add(key)) Fault(BadSampleReason.DuplicateKey, $"key {key} appears twice in the shard");
            int label = -1;
            if (_fault is null)
            {
                if (_image is null) Fault(BadSampleReason.MissingImage, $"no image member for key {key}");
                else if (!_hasLabel) Fault(BadSampleReason.MissingLabel, $"no .cls member for key {key}");
                else if (!TryParseLabel(_label.AsSpan(0, _labelLength), out label))
                    Fault(BadSampleReason.UnreadableLabel, $"label '{Printable(_label.AsSpan(0, Math.Min(_labelLength, 32)))}' is not an integer");
                else if (label < 0 || label >= reader.NumClasses)
                    Fault(BadSampleReason.LabelOutOfRange, $"label {label} outside [0, {reader.NumClasses})");
            }
            var sample = new RawSample
            {
                Shard = reader.Path,
                Key = key,
                ImageLength = _fault is null ? _imageLength : 0,
                ImageExtension = _imageExt,
                Label = _fault is null ? label : -1,
                Fault = _fault,
                FaultDetail = _detail,
                Offset = Offset,
            };
            if (_fault is null)
            {
                sample.WithImage(_image);
                _image = null;
            }
            Clear();
            return sample;
        }

        public void Clear()
        {
            if (_image is not null) ArrayPool<byte>.Shared.Return(_image);
            if (_label is not null) ArrayPool<byte>.Shared.Return(_label);
            (_image, _label, _imageExt, _hasLabel, _fault, _detail, Key) = (null, null, null, false, null, "", null);
            _exts.Clear();
        }

        private static bool TryParseLabel(ReadOnlySpan<byte> text, out int label)
        {
            text = text.Trim((byte)' ').Trim("\r\n\t\0"u8);
            return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out label) && text.Length > 0;
        }

        private static string Printable(ReadOnlySpan<byte> bytes)
        {
            var sb = new StringBuilder(bytes.Length);
            foreach (byte b in bytes) sb.Append(b is >= 32 and < 127 ? (char)b : '?');
            return sb.ToString();
        }
    }
}
