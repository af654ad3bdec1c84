using System.Security.Cryptography;
using System.Text.Json;
using SkiaSharp;

namespace Kiln.Data;

/// <summary>
/// Packs labelled image files into WebDataset shards: a class-folder tree (<c>train/n01440764/*.JPEG</c>,
/// class index = position of the folder name in ordinal sort order, as torchvision's ImageFolder and
/// Caffe's synset_words.txt) or any list of (file, label).
///
/// Each image is checked by a full decode. JPEG bytes are stored as they are; a file that is not a
/// JPEG (ImageNet holds a PNG named .JPEG) or a CMYK/YCCK JPEG (about two dozen in ImageNet) is
/// converted to an RGB JPEG and reported; an undecodable file is skipped and reported.
/// The file order is shuffled with a seed so every shard mixes classes, and shard i holds a fixed
/// slice of that order: an interrupted pack resumes by keeping the shards that exist (they are
/// renamed into place only when complete). A manifest lists samples per shard and per class and
/// each shard's SHA-256 (conversions and skips are listed for the shards written by this run).
/// </summary>
public static class FolderPacker
{
    private static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif" };

    /// <summary>The class folders under <paramref name="root"/> in ordinal order (index = class).</summary>
    public static IReadOnlyList<string> ScanClasses(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"dataset folder not found: {root}");
        var classes = Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        if (classes.Count == 0) throw new InvalidDataException($"no class folders in {root}");
        return classes;
    }

    /// <summary>Class ids from a class-folder tree or a <c>classes.json</c> written by a packer (ordered by index).</summary>
    public static IReadOnlyList<string> ReadClassIds(string path)
    {
        if (Directory.Exists(path)) return ScanClasses(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"classes not found: {path} (expected a class-folder tree or classes.json)", path);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.EnumerateArray().OrderBy(e => e.GetProperty("index").GetInt32())
            .Select(e => e.GetProperty("id").GetString() ?? throw new InvalidDataException($"{path}: class without an id")).ToList();
    }

    /// <summary>Every image file of a class-folder tree with its class index, sorted by path.</summary>
    public static List<(string Path, int Label)> ScanFiles(string root, IReadOnlyList<string> classes)
    {
        var files = new List<(string, int)>();
        for (int label = 0; label < classes.Count; label++)
        {
            var paths = Directory.EnumerateFiles(Path.Combine(root, classes[label]), "*", SearchOption.AllDirectories)
                .Where(p => Extensions.Contains(Path.GetExtension(p))).Order(StringComparer.Ordinal);
            foreach (var p in paths) files.Add((p, label));
        }
        if (files.Count == 0) throw new InvalidDataException($"no image files under {root}");
        return files;
    }

    /// <summary>Packs a class-folder tree into <c>{outDir}/{prefix}-{000000..}.tar</c> and writes <c>classes.json</c>.</summary>
    public static PackReport PackClassFolders(string root, string outDir, string prefix = "train", int samplesPerShard = 1000, ulong seed = 0,
        IProgress<string>? progress = null)
    {
        var classes = ScanClasses(root);
        var files = ScanFiles(root, classes);
        Directory.CreateDirectory(outDir);
        WriteClasses(Path.Combine(outDir, "classes.json"), classes);
        return Pack(files, classes.Count, outDir, prefix, samplesPerShard, seed, progress);
    }

    /// <summary>Packs (file, label) pairs; the order is shuffled with <paramref name="seed"/> (null keeps the given order, e.g. for validation).</summary>
    public static PackReport Pack(IReadOnlyList<(string Path, int Label)> files, int numClasses, string outDir, string prefix, int samplesPerShard,
        ulong? seed, IProgress<string>? progress = null)
    {
        if (samplesPerShard < 1) throw new ArgumentOutOfRangeException(nameof(samplesPerShard), $"samples per shard must be >= 1, got {samplesPerShard}");
        var order = files.ToArray();
        if (seed is ulong s)
        {
            ulong stream = SampleRandom.Stream(StreamPurpose.ShardOrder, -1, 0);
            for (int i = order.Length - 1; i > 0; i--)
            {
                int j = (int)(((ulong)Philox.Word(s, stream, (ulong)i, 0) * (ulong)(i + 1)) >> 32);
                (order[i], order[j]) = (order[j], order[i]);
            }
        }
        Directory.CreateDirectory(outDir);
        foreach (var stale in Directory.GetFiles(outDir, $"{prefix}-*.tar.tmp")) File.Delete(stale); // shards cut off by an interrupted run
        int shards = (order.Length + samplesPerShard - 1) / samplesPerShard;
        var converted = new List<(string, string)>();
        var skipped = new List<(string, string)>();
        int written = 0, kept = 0;
        for (int shard = 0; shard < shards; shard++)
        {
            string path = Path.Combine(outDir, $"{prefix}-{shard:D6}.tar");
            if (File.Exists(path)) { kept++; continue; }
            int first = shard * samplesPerShard, count = Math.Min(samplesPerShard, order.Length - first);
            var prepared = new (byte[]? Bytes, string? Converted, string? Skipped)[count];
            Parallel.For(0, count, i => prepared[i] = Prepare(order[first + i].Path));
            using var writer = new ShardWriter(path);
            for (int i = 0; i < count; i++)
            {
                var (file, label) = order[first + i];
                if (label < 0 || label >= numClasses) throw new ArgumentException($"label {label} of {file} outside [0, {numClasses})");
                var p = prepared[i];
                if (p.Skipped is not null) { skipped.Add((file, p.Skipped)); continue; }
                if (p.Converted is not null) converted.Add((file, p.Converted));
                writer.WriteSample(KeyOf(file), p.Bytes, "jpg", label);
            }
            writer.Complete();
            written++;
            progress?.Report($"{prefix}: shard {shard + 1}/{shards} ({path})");
        }
        string spec = Path.Combine(outDir, shards <= 1 ? $"{prefix}-000000.tar" : $"{prefix}-{{000000..{shards - 1:D6}}}.tar");
        string manifest = Path.Combine(outDir, $"{prefix}-manifest.json");
        WriteManifest(manifest, outDir, prefix, shards, numClasses, converted, skipped);
        return new PackReport(order.Length - skipped.Count, written, kept, spec, manifest, converted, skipped);
    }

    /// <summary>The sample key: parent folder / file name without extension (<c>n01440764/n01440764_10026</c>); no '.' in the name part.</summary>
    private static string KeyOf(string file) =>
        $"{Path.GetFileName(Path.GetDirectoryName(file))}/{Path.GetFileNameWithoutExtension(file).Replace('.', '_')}";

    /// <summary>Reads and checks one file: the bytes to store, or why it was converted or skipped.</summary>
    internal static (byte[]? Bytes, string? Converted, string? Skipped) Prepare(string file)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(file); }
        catch (IOException e) { return (null, null, $"unreadable: {e.Message}"); }
        catch (UnauthorizedAccessException e) { return (null, null, $"unreadable: {e.Message}"); }

        if (JpegHeader.Unsupported(bytes) is { } unsupported) return (null, null, unsupported);
        using var bitmap = DecodeChecked(bytes, out string? why);
        if (bitmap is null) return (null, null, why);
        bool jpeg = JpegHeader.TryReadFrame(bytes, out _, out _, out int components);
        if (jpeg && components is 1 or 3) return (bytes, null, null);
        string reason = jpeg ? $"CMYK/YCCK JPEG ({components} components) converted to RGB" : $"{Format(bytes)} converted to JPEG";
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 95);
        if (data is null) return (null, null, "re-encoding to JPEG failed");
        return (data.ToArray(), reason, null);
    }

    private static SKBitmap? DecodeChecked(byte[] bytes, out string? why)
    {
        why = null;
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        if (codec is null) { why = $"not a decodable image ({bytes.Length} bytes)"; return null; }
        var limits = new DecodeLimits();
        if ((long)codec.Info.Width * codec.Info.Height > limits.MaxPixels) { why = $"declared size {codec.Info.Width}x{codec.Info.Height} is too large"; return null; }
        var bitmap = new SKBitmap(new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var result = codec.GetPixels(bitmap.Info, bitmap.GetPixels());
        if (result == SKCodecResult.Success) return bitmap;
        bitmap.Dispose();
        why = result == SKCodecResult.IncompleteInput ? "truncated image (premature end)" : $"decoder failed: {result}";
        return null;
    }

    private static string Format(byte[] bytes)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        return codec?.EncodedFormat.ToString().ToUpperInvariant() ?? "image";
    }

    private static void WriteClasses(string path, IReadOnlyList<string> classes)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartArray();
        for (int i = 0; i < classes.Count; i++)
        {
            json.WriteStartObject();
            json.WriteNumber("index", i);
            json.WriteString("id", classes[i]);
            json.WriteString("name", classes[i]);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    /// <summary>Counts per shard and class and a SHA-256 per shard, read back from the shards themselves (so kept shards count too).</summary>
    private static void WriteManifest(string path, string outDir, string prefix, int shards, int numClasses,
        List<(string, string)> converted, List<(string, string)> skipped)
    {
        var perClass = new long[numClasses];
        string temp = path + ".tmp";
        using (var stream = File.Create(temp))
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartArray("shards");
            long total = 0;
            for (int s = 0; s < shards; s++)
            {
                string shard = Path.Combine(outDir, $"{prefix}-{s:D6}.tar");
                int count = 0;
                foreach (var sample in new ShardReader(shard, numClasses).ReadSamples())
                {
                    if (sample.Fault is null) { count++; perClass[sample.Label]++; }
                    sample.Release();
                }
                total += count;
                using var file = File.OpenRead(shard);
                json.WriteStartObject();
                json.WriteString("name", Path.GetFileName(shard));
                json.WriteNumber("samples", count);
                json.WriteNumber("bytes", file.Length);
                json.WriteString("sha256", Convert.ToHexStringLower(SHA256.HashData(file)));
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteNumber("samples", total);
            json.WriteStartArray("samplesPerClass");
            foreach (var c in perClass) json.WriteNumberValue(c);
            json.WriteEndArray();
            WritePairs(json, "converted", converted);
            WritePairs(json, "skipped", skipped);
            json.WriteEndObject();
        }
        File.Move(temp, path, overwrite: true);
    }

    private static void WritePairs(Utf8JsonWriter json, string name, List<(string Path, string Reason)> items)
    {
        json.WriteStartArray(name);
        foreach (var (p, r) in items)
        {
            json.WriteStartObject();
            json.WriteString("path", p);
            json.WriteString("reason", r);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }
}
