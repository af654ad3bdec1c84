using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Kiln.Backends.Cpu;

namespace Kiln.Serialization;

/// <summary>
/// An open safetensors file: the header is read and fully validated on open, tensor data is read
/// only when asked for (so <c>kiln weights inspect</c> touches the header only). Not thread-safe:
/// one reader per thread.
/// </summary>
/// <remarks>
/// Note [Safetensors validation]. A file is hostile until proven otherwise. Before anything is
/// allocated from the file's numbers: the header length must be ≤ <see cref="MaxHeaderBytes"/> and fit
/// in the file. The header must be valid UTF-8 and one JSON object (nesting depth ≤ 3, no comments, no
/// duplicate keys at any level, no unknown keys in a tensor record). Each tensor has a known dtype,
/// rank ≤ <see cref="MaxRank"/>, non-negative dimensions and offsets, a byte length equal to
/// product(shape) × dtype size computed with overflow checks, and the tensors, sorted by offset, tile
/// the data buffer exactly: no gap, no overlap, nothing after the last one. So no tensor allocation can
/// exceed the file's size. Every failure is a <see cref="SafetensorsFormatException"/> naming the file,
/// the tensor and the problem; the reference checks are those of the Rust <c>safetensors</c> crate.
/// </remarks>
public sealed class SafetensorsFile : IDisposable
{
    /// <summary>Largest header accepted (the reference reader's limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>Largest tensor rank accepted.</summary>
    public const int MaxRank = 32;

    /// <summary>Key of the optional string-to-string metadata map.</summary>
    public const string MetadataKey = "__metadata__";

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly Dictionary<string, SafetensorsEntry> _byName;

    private SafetensorsFile(Stream stream, bool leaveOpen, string name, long headerLength, long dataLength,
                            List<SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        Name = name;
        HeaderLength = headerLength;
        DataLength = dataLength;
        Entries = entries;
        Metadata = metadata;
        _byName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
    }

    /// <summary>The file path (or the name given for a stream), used in every error message.</summary>
    public string Name { get; }

    /// <summary>N, the header's length in bytes (padding included).</summary>
    public long HeaderLength { get; }

    /// <summary>Where the data buffer starts in the file: 8 + N.</summary>
    public long DataStart => 8 + HeaderLength;

    /// <summary>Size of the data buffer in bytes.</summary>
    public long DataLength { get; }

    /// <summary>The tensors in file order (by offset).</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }

    /// <summary>The <c>__metadata__</c> map (empty if the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public SafetensorsEntry this[string name] => _byName.TryGetValue(name, out var e) ? e
        : throw new KeyNotFoundException($"{Name}: no tensor named '{name}'");

    /// <summary>Opens and validates a file. Tensor data stays on disk until loaded.</summary>
    public static SafetensorsFile Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        try
        {
            return Read(stream, path, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Validates the header of a seekable stream. <paramref name="name"/> is used in messages.</summary>
    public static SafetensorsFile Read(Stream stream, string name, bool leaveOpen = false)
    {
        if (!stream.CanSeek || !stream.CanRead) throw new ArgumentException("safetensors needs a readable, seekable stream", nameof(stream));
        long fileLength = stream.Length;
        if (fileLength < 8)
            throw new SafetensorsFormatException(name, null,
                $"file is {fileLength} bytes, too small or truncated: expected at least 8 bytes (the header length)");
        Span<byte> prefix = stackalloc byte[8];
        stream.Position = 0;
        ReadExactly(stream, prefix, name, null);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderBytes)
            throw new SafetensorsFormatException(name, null, $"header length {n} exceeds the limit of {MaxHeaderBytes} bytes" + ForeignFormatHint(prefix));
        if ((long)n > fileLength - 8)
            throw new SafetensorsFormatException(name, null,
                $"header length {n} exceeds the file size: only {fileLength - 8} bytes follow the 8-byte prefix (truncated?)" + ForeignFormatHint(prefix));
        if (n < 2)
            throw new SafetensorsFormatException(name, null, $"header length {n} is too small for a JSON object");
        var header = new byte[(int)n];
        ReadExactly(stream, header, name, null);
        long dataLength = fileLength - 8 - (long)n;
        var (entries, metadata) = ParseHeader(header, name);
        Validate(entries, dataLength, name);
        return new SafetensorsFile(stream, leaveOpen, name, (long)n, dataLength, entries, metadata);
    }

    /// <summary>
    /// Fault scenario LD-11: PyTorch's .pt/.pth files are a zip archive or a raw pickle. Kiln never
    /// unpickles anything (unpickling runs code); say what the file is and how to convert it.
    /// </summary>
    private static string ForeignFormatHint(ReadOnlySpan<byte> prefix)
    {
        bool zip = prefix[0] == (byte)'P' && prefix[1] == (byte)'K' && prefix[2] == 3 && prefix[3] == 4;
        bool pickle = prefix[0] == 0x80 && prefix[1] is >= 2 and <= 5;
        return zip || pickle
            ? $"; this looks like a PyTorch {(zip ? "zip" : "pickle")} checkpoint (.pt/.pth), which Kiln does not read because unpickling can run code. " +
              "Convert it offline in Python: safetensors.torch.save_file(torch.load(path, weights_only=True), 'model.safetensors')"
            : "";
    }

    // ------------------------------------------------------------------ header

    private static (List<SafetensorsEntry>, Dictionary<string, string>) ParseHeader(byte[] header, string file)
    {
        if (!Utf8.IsValid(header))
            throw new SafetensorsFormatException(file, null, "header is not valid UTF-8");
        if (header[0] != (byte)'{')
            throw new SafetensorsFormatException(file, null, $"header must start with '{{' (a JSON object), found byte 0x{header[0]:x2}");
        var entries = new List<SafetensorsEntry>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        bool sawMetadata = false;
        // Depth 3 is all the format needs: top object > tensor record > shape array.
        var reader = new Utf8JsonReader(header, new JsonReaderOptions { MaxDepth = 3, CommentHandling = JsonCommentHandling.Disallow });
        string? current = null;
        try
        {
            Next(ref reader, file, null);
            if (reader.TokenType != JsonTokenType.StartObject)
                throw new SafetensorsFormatException(file, null, "header is not a JSON object");
            while (true)
            {
                Next(ref reader, file, null);
                if (reader.TokenType == JsonTokenType.EndObject) break;
                string key = reader.GetString()!;
                current = key;
                if (!keys.Add(key))
                    throw new SafetensorsFormatException(file, key, "duplicate key in the header (the name appears twice)");
                if (key == MetadataKey)
                {
                    sawMetadata = true;
                    ReadMetadata(ref reader, file, metadata);
                }
                else
                {
                    CheckName(key, file);
                    entries.Add(ReadEntry(ref reader, file, key));
                }
                current = null;
            }
            // Only whitespace (the writer's padding) may follow the object; the reader rejects anything else.
            if (reader.Read())
                throw new SafetensorsFormatException(file, null, $"unexpected {reader.TokenType} after the header object");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string that cannot be transcoded (lone surrogate escape).
            throw new SafetensorsFormatException(file, current, $"header is not valid JSON: {e.Message}", e);
        }
        _ = sawMetadata;
        return (entries, metadata);
    }

    private static void Next(ref Utf8JsonReader reader, string file, string? tensor)
    {
        if (!reader.Read()) throw new SafetensorsFormatException(file, tensor, "header JSON ends early");
    }

    private static void CheckName(string name, string file)
    {
        if (name.Length == 0) throw new SafetensorsFormatException(file, name, "empty tensor name");
        foreach (char c in name)
            if (char.IsControl(c))
                throw new SafetensorsFormatException(file, Printable(name), $"tensor name contains control character U+{(int)c:X4}");
    }

    /// <summary>A name with control characters escaped, for messages.</summary>
    internal static string Printable(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s) sb.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString());
        return sb.ToString();
    }

    private static void ReadMetadata(ref Utf8JsonReader reader, string file, Dictionary<string, string> metadata)
    {
        Next(ref reader, file, null);
        if (reader.TokenType == JsonTokenType.Null) return;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafetensorsFormatException(file, null, $"{MetadataKey} must be an object of strings, found {reader.TokenType}");
        while (true)
        {
            Next(ref reader, file, null);
            if (reader.TokenType == JsonTokenType.EndObject) return;
            string key = reader.GetString()!;
            Next(ref reader, file, null);
            if (reader.TokenType != JsonTokenType.String)
                throw new SafetensorsFormatException(file, null, $"{MetadataKey} value of '{Printable(key)}' must be a string, found {reader.TokenType}");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw new SafetensorsFormatException(file, null, $"duplicate key '{Printable(key)}' in {MetadataKey}");
        }
    }

    private static SafetensorsEntry ReadEntry(ref Utf8JsonReader reader, string file, string name)
    {
        Next(ref reader, file, name);
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new SafetensorsFormatException(file, name, $"expected an object with dtype, shape and data_offsets, found {reader.TokenType}");
        string? dtypeCode = null;
        long[]? shape = null, offsets = null;
        while (true)
        {
            Next(ref reader, file, name);
            if (reader.TokenType == JsonTokenType.EndObject) break;
            string key = reader.GetString()!;
            switch (key)
            {
                case "dtype":
                    if (dtypeCode is not null) throw new SafetensorsFormatException(file, name, "duplicate key 'dtype'");
                    Next(ref reader, file, name);
                    if (reader.TokenType != JsonTokenType.String)
                        throw new SafetensorsFormatException(file, name, $"dtype must be a string, found {reader.TokenType}");
                    dtypeCode = reader.GetString()!;
                    break;
                case "shape":
                    if (shape is not null) throw new SafetensorsFormatException(file, name, "duplicate key 'shape'");
                    shape = ReadIntegers(ref reader, file, name, "shape", MaxRank);
                    break;
                case "data_offsets":
                    if (offsets is not null) throw new SafetensorsFormatException(file, name, "duplicate key 'data_offsets'");
                    offsets = ReadIntegers(ref reader, file, name, "data_offsets", 2);
                    if (offsets.Length != 2)
                        throw new SafetensorsFormatException(file, name, $"data_offsets must hold two integers [begin, end], found {offsets.Length}");
                    break;
                default:
                    throw new SafetensorsFormatException(file, name, $"unknown key '{Printable(key)}' (expected dtype, shape, data_offsets)");
            }
        }
        if (dtypeCode is null) throw new SafetensorsFormatException(file, name, "missing 'dtype'");
        if (shape is null) throw new SafetensorsFormatException(file, name, "missing 'shape'");
        if (offsets is null) throw new SafetensorsFormatException(file, name, "missing 'data_offsets'");
        if (!SafetensorsDTypeExtensions.TryParse(dtypeCode, out var dtype))
            throw new SafetensorsFormatException(file, name, $"unknown dtype '{Printable(dtypeCode)}' (known: {string.Join(", ", Enum.GetNames<SafetensorsDType>())})");
        long count = 1;
        foreach (long d in shape)
            if (!TryMultiply(count, d, out count))
                throw new SafetensorsFormatException(file, name, $"shape [{string.Join(", ", shape)}] has more than 2^63 elements (overflow)");
        return new SafetensorsEntry(name, dtype, shape, offsets[0], offsets[1], count);
    }

    private static long[] ReadIntegers(ref Utf8JsonReader reader, string file, string name, string what, int max)
    {
        Next(ref reader, file, name);
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new SafetensorsFormatException(file, name, $"{what} must be an array of integers, found {reader.TokenType}");
        var values = new List<long>();
        while (true)
        {
            Next(ref reader, file, name);
            if (reader.TokenType == JsonTokenType.EndArray) return values.ToArray();
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v))
                throw new SafetensorsFormatException(file, name, $"{what} must hold integers in [0, 2^63), found {reader.TokenType} '{Encoding.UTF8.GetString(reader.ValueSpan)}'");
            if (v < 0) throw new SafetensorsFormatException(file, name, $"{what} holds a negative value {v}");
            if (values.Count == max)
                throw new SafetensorsFormatException(file, name, what == "shape" ? $"rank exceeds the limit of {max}" : $"{what} must hold exactly {max} integers");
            values.Add(v);
        }
    }

    private static bool TryMultiply(long a, long b, out long product)
    {
        try
        {
            product = checked(a * b);
            return true;
        }
        catch (OverflowException)
        {
            product = 0;
            return false;
        }
    }

    /// <summary>See Note [Safetensors validation]: sizes, then an exact tiling of the data buffer.</summary>
    private static void Validate(List<SafetensorsEntry> entries, long dataLength, string file)
    {
        foreach (var e in entries)
        {
            if (e.End < e.Begin)
                throw new SafetensorsFormatException(file, e.Name, $"invalid offsets [{e.Begin}, {e.End}]: end is before begin");
            if (e.End > dataLength)
                throw new SafetensorsFormatException(file, e.Name, $"invalid offsets [{e.Begin}, {e.End}]: past the end of the data buffer ({dataLength} bytes)");
            if (!TryMultiply(e.NumElements, e.DType.Size(), out long bytes))
                throw new SafetensorsFormatException(file, e.Name, $"shape {e.ShapeString} × {e.DType} overflows 2^63 bytes");
            if (bytes != e.ByteLength)
                throw new SafetensorsFormatException(file, e.Name,
                    $"shape {e.ShapeString} × dtype {e.DType} ({e.DType.Size()} bytes) = {bytes} bytes, but offsets [{e.Begin}, {e.End}] span {e.ByteLength}");
        }
        // Stable sort by offsets: entries keep header order among equal (zero-length) ranges.
        entries.Sort(Comparer<SafetensorsEntry>.Create((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End)));
        long expected = 0;
        SafetensorsEntry? previous = null;
        foreach (var e in entries)
        {
            if (e.Begin < expected)
                throw new SafetensorsFormatException(file, e.Name, $"invalid offsets [{e.Begin}, {e.End}]: overlaps tensor '{previous!.Name}' [{previous.Begin}, {previous.End}]");
            if (e.Begin > expected)
                throw new SafetensorsFormatException(file, e.Name, $"invalid offsets [{e.Begin}, {e.End}]: bytes [{expected}, {e.Begin}) before it belong to no tensor (gap)");
            expected = e.End;
            if (e.ByteLength > 0) previous = e;
        }
        if (expected != dataLength)
            throw new SafetensorsFormatException(file, null,
                $"data section does not cover the file exactly: tensors end at byte {expected} of the data buffer, which holds {dataLength} bytes");
    }

    // ------------------------------------------------------------------ data

    /// <summary>Reads a tensor's raw little-endian bytes into <paramref name="destination"/> (exactly its byte length).</summary>
    public void ReadBytes(SafetensorsEntry entry, Span<byte> destination) => ReadBytes(entry, 0, destination);

    /// <summary>Reads part of a tensor's bytes, starting <paramref name="offset"/> bytes into it.</summary>
    public void ReadBytes(SafetensorsEntry entry, long offset, Span<byte> destination)
    {
        if (offset < 0 || offset + destination.Length > entry.ByteLength)
            throw new ArgumentOutOfRangeException(nameof(offset), $"bytes [{offset}, {offset + destination.Length}) are outside tensor '{entry.Name}' ({entry.ByteLength} bytes)");
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_byName.TryGetValue(entry.Name, out var own) || !ReferenceEquals(own, entry))
            throw new ArgumentException($"tensor '{entry.Name}' is not an entry of {Name}", nameof(entry));
        _stream.Position = DataStart + entry.Begin + offset;
        ReadExactly(_stream, destination, Name, entry.Name);
    }

    /// <summary>Loads one tensor into a new CPU tensor (the caller owns it; <c>.To(device)</c> to move it).</summary>
    public Tensor Load(string name) => Load(this[name]);

    /// <summary>Loads one tensor into a new CPU tensor (the caller owns it).</summary>
    public Tensor Load(SafetensorsEntry entry)
    {
        var dtype = entry.DType.ToKiln() ?? throw new SafetensorsFormatException(Name, entry.Name,
            $"dtype {entry.DType} has no Kiln equivalent (Kiln holds F32, F64, F16, BF16, I64, I32, U8)");
        var shape = KilnShape(entry);
        if (entry.ByteLength > int.MaxValue)
            throw new SafetensorsFormatException(Name, entry.Name, $"{entry.ByteLength} bytes is more than one Kiln CPU tensor holds (2 GiB)");
        var t = Tensor.Empty(shape, dtype, Device.Cpu);
        try
        {
            ReadBytes(entry, CpuBackend.Bytes(t));
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>Loads every tensor (file order) into new CPU tensors owned by the caller.</summary>
    public Dictionary<string, Tensor> LoadAll()
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var e in Entries) result.Add(e.Name, Load(e));
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>The entry's shape as Kiln's int dimensions, or a format error naming the tensor.</summary>
    internal int[] KilnShape(SafetensorsEntry entry)
    {
        var shape = new int[entry.Rank];
        for (int i = 0; i < shape.Length; i++)
        {
            long d = entry.Shape[i];
            if (d > int.MaxValue)
                throw new SafetensorsFormatException(Name, entry.Name, $"dimension {i} of shape {entry.ShapeString} exceeds Kiln's limit of 2^31 - 1");
            shape[i] = (int)d;
        }
        return shape;
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string file, string? tensor)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException e)
        {
            throw new SafetensorsFormatException(file, tensor, "file ends early (truncated while reading)", e);
        }
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_leaveOpen) _stream.Dispose();
    }
}
