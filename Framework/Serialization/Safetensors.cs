using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Kiln.Backends.Cpu;
using Kiln.Core.Autograd;

namespace Kiln.Serialization;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length N, N bytes of
/// UTF-8 JSON (<c>{"__metadata__": {..}, "name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}, ..}</c>,
/// padded with spaces to a multiple of 8), then the tensors' little-endian bytes, offsets relative to
/// the start of that buffer.
/// </summary>
/// <remarks>
/// Note [Safetensors layout]. Files are laid out as the reference writer (the Rust crate behind
/// <c>safetensors.torch.save_file</c>) lays them out, so the same tensors give the same bytes:
/// tensors sorted by dtype in the reference enum's order, descending (8-byte types first, so every
/// tensor is aligned to its element size), then by name (UTF-8 bytes); compact JSON with
/// <c>__metadata__</c> first (its keys sorted here, where the reference uses a hash map's order); the
/// JSON escaped as serde_json escapes it; the header padded with spaces to 8 bytes.
/// Reading is in <see cref="SafetensorsFile"/>; see Note [Safetensors validation].
/// </remarks>
public static class Safetensors
{
    /// <summary>Opens a file for inspection or lazy loading (see <see cref="SafetensorsFile"/>).</summary>
    public static SafetensorsFile Open(string path) => SafetensorsFile.Open(path);

    /// <summary>Loads every tensor of a file into new CPU tensors owned by the caller.</summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        using var file = SafetensorsFile.Open(path);
        return file.LoadAll();
    }

    /// <summary>Writes tensors to <paramref name="path"/> atomically (see Note [Atomic file writes]).</summary>
    public static void Save(string path, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = Items(tensors);
        AtomicFile.Write(path, s => WriteItems(s, items, metadata));
    }

    /// <summary>Writes tensors to <paramref name="path"/> atomically.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        Save(path, tensors.Select(kv => (kv.Key, kv.Value)), metadata);

    /// <summary>Writes tensors to a stream (no atomicity: for files use <see cref="Save(string, IEnumerable{ValueTuple{string, Tensor}}, IReadOnlyDictionary{string, string}?)"/>).</summary>
    public static void Write(Stream stream, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null) =>
        WriteItems(stream, Items(tensors), metadata);

    /// <summary>The bytes of a safetensors file holding <paramref name="tensors"/>.</summary>
    public static byte[] Serialize(IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var ms = new MemoryStream();
        Write(ms, tensors, metadata);
        return ms.ToArray();
    }

    /// <summary>
    /// Copies <paramref name="input"/> to <paramref name="output"/> (atomically), converting every
    /// floating tensor (F16, BF16, F32, F64) to <paramref name="floatsTo"/> if given; other tensors
    /// (I64 counters, ...) are copied as they are. Metadata is kept, with <paramref name="setMetadata"/>
    /// entries added or replaced. Data streams through in chunks: memory stays small for any file.
    /// F64 → BF16 rounds through F32.
    /// </summary>
    public static void Convert(string input, string output, SafetensorsDType? floatsTo = null, IReadOnlyDictionary<string, string>? setMetadata = null)
    {
        if (floatsTo is { } target && !target.IsConvertibleFloat())
            throw new ArgumentException($"can only convert floating tensors to F16, BF16, F32 or F64, not {target}");
        using var file = SafetensorsFile.Open(input);
        var metadata = new Dictionary<string, string>(file.Metadata, StringComparer.Ordinal);
        if (setMetadata is not null)
            foreach (var (k, v) in setMetadata) metadata[k] = v;
        var items = new List<Item>(file.Entries.Count);
        foreach (var e in file.Entries)
        {
            var entry = e;
            if (floatsTo is { } to && entry.DType.IsConvertibleFloat() && entry.DType != to)
                items.Add(new Item(entry.Name, to, entry.Shape.ToArray(), checked(entry.NumElements * to.Size()), s => ConvertFloats(file, entry, to, s)));
            else
                items.Add(new Item(entry.Name, entry.DType, entry.Shape.ToArray(), entry.ByteLength, s => CopyRaw(file, entry, s)));
        }
        CheckItems(items);
        // output may be input: the reader keeps the old file open, and the new one replaces it by rename.
        AtomicFile.Write(output, s => WriteItems(s, items, metadata));
    }

    // ------------------------------------------------------------------ writing

    /// <summary>One tensor to write: header fields and a callback that writes exactly ByteLength bytes.</summary>
    private sealed record Item(string Name, SafetensorsDType DType, long[] Shape, long ByteLength, Action<Stream> WriteData);

    private static List<Item> Items(IEnumerable<(string Name, Tensor Value)> tensors)
    {
        var items = new List<Item>();
        foreach (var (name, t) in tensors)
        {
            ArgumentNullException.ThrowIfNull(t);
            var dtype = SafetensorsDTypeExtensions.FromKiln(t.DType);
            var tensor = t;
            var shape = new long[t.Rank];
            for (int i = 0; i < shape.Length; i++) shape[i] = t.Shape[i];
            items.Add(new Item(name, dtype, shape, checked(t.NumElements * t.DType.Size()), s => WriteTensor(s, tensor)));
        }
        CheckItems(items);
        return items;
    }

    private static void CheckItems(List<Item> items)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            if (string.IsNullOrEmpty(item.Name)) throw new ArgumentException("safetensors: tensor names must be non-empty");
            if (item.Name == SafetensorsFile.MetadataKey) throw new ArgumentException($"safetensors: '{SafetensorsFile.MetadataKey}' is reserved and cannot name a tensor");
            if (item.Name.Any(char.IsControl)) throw new ArgumentException($"safetensors: tensor name '{SafetensorsFile.Printable(item.Name)}' contains a control character");
            if (!names.Add(item.Name)) throw new ArgumentException($"safetensors: duplicate tensor name '{item.Name}'");
            if (item.Shape.Length > SafetensorsFile.MaxRank) throw new ArgumentException($"safetensors: tensor '{item.Name}' has rank {item.Shape.Length}, over the limit of {SafetensorsFile.MaxRank}");
        }
    }

    private static void WriteItems(Stream stream, List<Item> items, IReadOnlyDictionary<string, string>? metadata)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian hosts are not supported");
        // See Note [Safetensors layout] for the order.
        var utf8Names = items.ToDictionary(i => i, i => Encoding.UTF8.GetBytes(i.Name));
        var ordered = items.OrderByDescending(i => i.DType)
                           .ThenBy(i => utf8Names[i], Comparer<byte[]>.Create((a, b) => a.AsSpan().SequenceCompareTo(b)))
                           .ToList();
        byte[] header = Header(ordered, metadata);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        foreach (var item in ordered)
        {
            long before = stream.CanSeek ? stream.Position : -1;
            item.WriteData(stream);
            if (before >= 0 && stream.Position - before != item.ByteLength)
                throw new InvalidOperationException($"safetensors: tensor '{item.Name}' wrote {stream.Position - before} bytes, header says {item.ByteLength}");
        }
    }

    private static byte[] Header(List<Item> ordered, IReadOnlyDictionary<string, string>? metadata)
    {
        var sb = new StringBuilder("{");
        bool first = true;
        if (metadata is { Count: > 0 })
        {
            sb.Append("\"__metadata__\":{");
            bool firstKey = true;
            foreach (var key in metadata.Keys.Order(StringComparer.Ordinal))
            {
                if (!firstKey) sb.Append(',');
                firstKey = false;
                AppendString(sb, key);
                sb.Append(':');
                AppendString(sb, metadata[key]);
            }
            sb.Append('}');
            first = false;
        }
        long offset = 0;
        foreach (var item in ordered)
        {
            if (!first) sb.Append(',');
            first = false;
            AppendString(sb, item.Name);
            sb.Append(":{\"dtype\":\"").Append(item.DType.Code()).Append("\",\"shape\":[");
            sb.AppendJoin(',', item.Shape);
            long end = checked(offset + item.ByteLength);
            sb.Append("],\"data_offsets\":[").Append(offset).Append(',').Append(end).Append("]}");
            offset = end;
        }
        sb.Append('}');
        int length = Encoding.UTF8.GetByteCount(sb.ToString());
        sb.Append(' ', (8 - length % 8) % 8);
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        if (bytes.Length > SafetensorsFile.MaxHeaderBytes)
            throw new ArgumentException($"safetensors: header would be {bytes.Length} bytes, over the readers' limit of {SafetensorsFile.MaxHeaderBytes}");
        return bytes;
    }

    /// <summary>A JSON string escaped as serde_json escapes it: quote, backslash and control characters only.</summary>
    private static void AppendString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20) sb.Append("\\u00").Append(((int)c).ToString("x2"));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }

    private static void WriteTensor(Stream stream, Tensor t)
    {
        if (t.Device.Type == DeviceType.Cpu && t.IsContiguous)
        {
            stream.Write(CpuBackend.Bytes(t));
            return;
        }
        using var noGrad = GradMode.NoGrad();
        using var host = t.Device.Type == DeviceType.Cpu ? t.Contiguous() : t.To(Device.Cpu);
        stream.Write(CpuBackend.Bytes(host));
    }

    // ------------------------------------------------------------------ conversion

    private const int ChunkElements = 1 << 18;

    private static void CopyRaw(SafetensorsFile file, SafetensorsEntry entry, Stream output)
    {
        var buffer = new byte[(int)Math.Min(entry.ByteLength, 1 << 20)];
        for (long done = 0; done < entry.ByteLength;)
        {
            int n = (int)Math.Min(buffer.Length, entry.ByteLength - done);
            file.ReadBytes(entry, done, buffer.AsSpan(0, n));
            output.Write(buffer, 0, n);
            done += n;
        }
    }

    private static void ConvertFloats(SafetensorsFile file, SafetensorsEntry entry, SafetensorsDType to, Stream output)
    {
        int inSize = entry.DType.Size(), outSize = to.Size();
        var src = new byte[(int)Math.Min(entry.NumElements, ChunkElements) * inSize];
        var values = new double[src.Length / inSize];
        var dst = new byte[values.Length * outSize];
        for (long done = 0; done < entry.NumElements;)
        {
            int n = (int)Math.Min(values.Length, entry.NumElements - done);
            file.ReadBytes(entry, done * inSize, src.AsSpan(0, n * inSize));
            Decode(src.AsSpan(0, n * inSize), entry.DType, values.AsSpan(0, n));
            Encode(values.AsSpan(0, n), to, dst.AsSpan(0, n * outSize));
            output.Write(dst, 0, n * outSize);
            done += n;
        }
    }

    private static void Decode(ReadOnlySpan<byte> src, SafetensorsDType dtype, Span<double> values)
    {
        switch (dtype)
        {
            case SafetensorsDType.F64: MemoryMarshal.Cast<byte, double>(src).CopyTo(values); break;
            case SafetensorsDType.F32:
                var f = MemoryMarshal.Cast<byte, float>(src);
                for (int i = 0; i < values.Length; i++) values[i] = f[i];
                break;
            case SafetensorsDType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(src);
                for (int i = 0; i < values.Length; i++) values[i] = (double)h[i];
                break;
            case SafetensorsDType.BF16:
                var b = MemoryMarshal.Cast<byte, ushort>(src);
                for (int i = 0; i < values.Length; i++) values[i] = BitConverter.UInt32BitsToSingle((uint)b[i] << 16);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a floating dtype");
        }
    }

    private static void Encode(ReadOnlySpan<double> values, SafetensorsDType dtype, Span<byte> dst)
    {
        switch (dtype)
        {
            case SafetensorsDType.F64: values.CopyTo(MemoryMarshal.Cast<byte, double>(dst)); break;
            case SafetensorsDType.F32:
                var f = MemoryMarshal.Cast<byte, float>(dst);
                for (int i = 0; i < values.Length; i++) f[i] = (float)values[i];
                break;
            case SafetensorsDType.F16:
                var h = MemoryMarshal.Cast<byte, Half>(dst);
                for (int i = 0; i < values.Length; i++) h[i] = (Half)values[i];
                break;
            case SafetensorsDType.BF16:
                var b = MemoryMarshal.Cast<byte, ushort>(dst);
                for (int i = 0; i < values.Length; i++) b[i] = ToBFloat16((float)values[i]);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a floating dtype");
        }
    }

    /// <summary>float32 → bfloat16, rounding to nearest even (as PyTorch does); NaN stays a quiet NaN.</summary>
    internal static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        bits += 0x7FFF + ((bits >> 16) & 1);
        return (ushort)(bits >> 16);
    }
}
