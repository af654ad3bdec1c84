using System.Collections.Concurrent;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace Kiln.Backends.Cuda;

/// <summary>
/// Note [Kernel cache]: <c>Kernels/*.cu</c> are embedded in the Framework assembly (resource names
/// <c>Kiln.Kernels.&lt;file&gt;</c>) and compiled by NVRTC at first use for one architecture with fixed
/// options. Images are cached in memory and on disk (<c>$KILN_CACHE_DIR</c>, else
/// <c>~/.cache/kiln/kernels</c>) under a SHA-256 of (source, headers, options, arch, NVRTC version), so a
/// changed kernel, option or NVRTC never reuses a stale image. A cache folder that cannot be written
/// only costs recompiles.
/// </summary>
internal sealed class KernelCache
{
    /// <summary>
    /// Options every kernel is compiled with (the arch is added per cache). Not <c>--generate-line-info</c>:
    /// NVRTC 11.8 segfaults with it when building sm_90 cubins of templated kernels (reproduced outside .NET).
    /// </summary>
    internal static readonly string[] FixedOptions = ["--std=c++17"];

    private const string ResourcePrefix = "Kiln.Kernels.";
    private readonly ConcurrentDictionary<string, Lazy<KernelImage>> _images = new(StringComparer.Ordinal);

    public KernelCache(string arch, string? diskDirectory)
    {
        Arch = arch;
        DiskDirectory = diskDirectory;
    }

    public string Arch { get; }
    /// <summary>Null: memory only.</summary>
    public string? DiskDirectory { get; }
    /// <summary>Compiles run by this cache (a test hook: disk and memory hits do not count).</summary>
    public int CompileCount => Volatile.Read(ref _compiles);
    private int _compiles;

    /// <summary><c>$KILN_CACHE_DIR</c>, else <c>$XDG_CACHE_HOME/kiln/kernels</c>, else <c>~/.cache/kiln/kernels</c>.</summary>
    internal static string DefaultDirectory()
    {
        if (Environment.GetEnvironmentVariable("KILN_CACHE_DIR") is { Length: > 0 } dir) return dir;
        string root = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "kiln", "kernels");
    }

    /// <summary>File names of the embedded kernel sources (<c>fill.cu</c>, ...).</summary>
    internal static IReadOnlyList<string> SourceFiles() =>
        typeof(KernelCache).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".cu", StringComparison.Ordinal))
            .Select(n => n[ResourcePrefix.Length..]).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Every embedded header (<c>*.cuh</c>) as (include name, text).</summary>
    internal static IReadOnlyList<(string Name, string Text)> Headers() =>
        typeof(KernelCache).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".cuh", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => (n[ResourcePrefix.Length..], ReadResource(n))).ToArray();

    internal static string Source(string fileName) => ReadResource(ResourcePrefix + fileName);

    private static string ReadResource(string name)
    {
        using var stream = typeof(KernelCache).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"kernel resource {name} is not embedded in {typeof(KernelCache).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The compiled image of an embedded kernel file, compiling on first use.</summary>
    public KernelImage Get(string fileName) =>
        _images.GetOrAdd(fileName, f => new Lazy<KernelImage>(() => Load(f, Source(f)))).Value;

    /// <summary>Compiles (or finds on disk) arbitrary source under a file name; not cached in memory. For tests and tools.</summary>
    internal KernelImage Load(string fileName, string source)
    {
        var headers = Headers();
        var (major, minor) = NvrtcCompiler.Version;
        string key = Key(source, headers, FixedOptions, Arch, $"{major}.{minor}");
        string? path = DiskDirectory is null ? null : Path.Combine(DiskDirectory, $"{Path.GetFileNameWithoutExtension(fileName)}-{Arch}-{key[..32]}.{(Arch.StartsWith("sm_", StringComparison.Ordinal) ? "cubin" : "ptx")}");
        if (path is not null && TryRead(path) is { } cached)
            return new KernelImage(fileName, Arch, cached, Arch.StartsWith("sm_", StringComparison.Ordinal), "");
        Interlocked.Increment(ref _compiles);
        var image = NvrtcCompiler.Compile(fileName, source, headers, Arch, FixedOptions);
        if (path is not null) TryWrite(path, image.Image);
        return image;
    }

    internal static string Key(string source, IReadOnlyList<(string Name, string Text)> headers, IReadOnlyList<string> options, string arch, string nvrtcVersion)
    {
        var text = new StringBuilder();
        void Part(string s) => text.Append(s.Length).Append(':').Append(s).Append('\n');   // length-prefixed: no ambiguity
        Part(source);
        foreach (var (name, body) in headers) { Part(name); Part(body); }
        foreach (var o in options) Part(o);
        Part(arch);
        Part(nvrtcVersion);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static byte[]? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllBytes(path) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void TryWrite(string path, byte[] image)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            string tmp = $"{path}.{Environment.ProcessId}.tmp";
            File.WriteAllBytes(tmp, image);
            File.Move(tmp, path, overwrite: true);   // atomic: concurrent processes never read half a file
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Read-only or full cache folder: keep working from memory.
        }
    }
}
