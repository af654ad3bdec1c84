using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace Kiln.Data.Interop;

/// <summary>
/// Finds <c>libturbojpeg.so.0</c> (the TurboJPEG 2.x ABI) once per process. Searched in order: the file or
/// folders in <c>KILN_TURBOJPEG_PATH</c>, the system loader by soname (ld.so.cache, LD_LIBRARY_PATH),
/// then the usual library folders. <c>KILN_TURBOJPEG=0</c> (or <c>off</c>, <c>false</c>) turns it off, so
/// every JPEG goes through SkiaSharp. When nothing loads, <see cref="TryLoad"/> returns every place tried.
/// The handle is handed to the interop stubs through the load context's <c>ResolvingUnmanagedDll</c> event
/// (the assembly's DllImport resolver belongs to the CUDA bindings; it passes other names through).
/// </summary>
internal static class TurboJpegLibrary
{
    internal const string SoName = "libturbojpeg.so.0";

    private static readonly Lock s_lock = new();
    private static (nint Handle, string? From, string? Error)? s_result;

    private static readonly string[] s_folders =
        ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib", "/usr/local/lib64", "/opt/libjpeg-turbo/lib64"];

    /// <summary>Loads the library (once); false with the reason, and every place tried, when it is unavailable or disabled.</summary>
    internal static bool TryLoad(out string? whyNot)
    {
        lock (s_lock)
        {
            if (s_result is null)
            {
                s_result = Probe(Environment.GetEnvironmentVariable, [SoName]);
                if (s_result.Value.Handle != 0)
                    AssemblyLoadContext.GetLoadContext(typeof(TurboJpegLibrary).Assembly)!.ResolvingUnmanagedDll += Resolve;
            }
            whyNot = s_result.Value.Error;
            return s_result.Value.Handle != 0;
        }
    }

    /// <summary>Where the library was loaded from, or null.</summary>
    internal static string? LoadedFrom
    {
        get { lock (s_lock) return s_result?.From; }
    }

    private static nint Resolve(Assembly assembly, string name)
    {
        if (name != SoName) return 0;
        lock (s_lock) return s_result?.Handle ?? 0;
    }

    /// <summary>One search (no caching), for tests: <paramref name="env"/> reads the environment, <paramref name="fileNames"/> are the sonames to look for.</summary>
    internal static (nint Handle, string? From, string? Error) Probe(Func<string, string?> env, IReadOnlyList<string> fileNames)
    {
        if (env("KILN_TURBOJPEG") is { } flag && flag.Trim().ToLowerInvariant() is "0" or "off" or "false" or "no")
            return (0, null, $"TurboJPEG disabled by KILN_TURBOJPEG={flag}");
        var tried = new List<string>();
        var candidates = new List<string>();
        foreach (var entry in (env("KILN_TURBOJPEG_PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (File.Exists(entry)) candidates.Add(entry);
            else foreach (var file in fileNames) candidates.Add(Path.Combine(entry, file));
        }
        candidates.AddRange(fileNames);                                   // bare soname: the system loader's search
        foreach (var dir in s_folders)
            foreach (var file in fileNames) candidates.Add(Path.Combine(dir, file));
        foreach (var candidate in candidates)
        {
            bool rooted = Path.IsPathRooted(candidate);
            if (rooted && !File.Exists(candidate)) { tried.Add($"{candidate}: no such file"); continue; }
            try
            {
                nint handle = NativeLibrary.Load(candidate);
                if (!NativeLibrary.TryGetExport(handle, "tjDecompress2", out _) || !NativeLibrary.TryGetExport(handle, "tjGetErrorStr2", out _))
                {
                    tried.Add($"{candidate}: loaded but lacks tjDecompress2/tjGetErrorStr2 (TurboJPEG older than 2.0)");
                    NativeLibrary.Free(handle);
                    continue;
                }
                return (handle, rooted ? candidate : $"{candidate} via the system loader", null);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                string message = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? e.Message;
                tried.Add($"{(rooted ? candidate : $"dlopen(\"{candidate}\")")}: {message}");
            }
        }
        return (0, null, $"{string.Join(" or ", fileNames)} not found (install Debian's libturbojpeg0, or set KILN_TURBOJPEG_PATH); tried:\n  " + string.Join("\n  ", tried));
    }
}
