using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kiln.Backends.Cuda.Interop;

/// <summary>
/// Note [Native library resolution]: the bindings name logical libraries ("cuda", "nvrtc", "cublas",
/// "cublasLt", "cudnn"); this resolver maps them to versioned sonames (runtime installs and pip
/// wheels ship no unversioned <c>libX.so</c>), searching, in order: <c>KILN_CUDA_LIB_PATH</c>
/// (directories or roots), <c>LD_LIBRARY_PATH</c>, <c>CUDA_HOME</c>/<c>CUDA_PATH</c>/<c>CUDNN_PATH</c>,
/// Python wheel folders (<c>site-packages/nvidia/*/lib</c>, <c>nvidia/cu13/lib</c>),
/// <c>/usr/local/cuda*/lib64</c>, <c>$CONDA_PREFIX/lib</c>, the system library folders, and finally
/// <c>KILN_CUDA_FALLBACK_LIB_PATH</c>, and the loader's own search by bare soname. <c>stubs</c> folders are never searched (the toolkit's
/// stub libcuda returns CUDA_ERROR_STUB_LIBRARY from every call).
/// The CUDA major is chosen once: the newest major (13, 12, 11) not above the driver's whose library
/// loads fixes it, and every later NVRTC/cuBLAS library must have the same major. When nothing loads,
/// the exception lists every place tried. Results (also failures) are cached per logical name.
/// </summary>
internal static unsafe class NativeLibraries
{
    internal const string Cuda = "cuda";
    internal const string Nvrtc = "nvrtc";
    internal const string Cublas = "cublas";
    internal const string CublasLt = "cublasLt";
    internal const string Cudnn = "cudnn";

    private static readonly Lock s_lock = new();
    private static readonly Dictionary<string, Loaded> s_loaded = [];
    private static int s_cudaMajor;             // 0 until NVRTC or cuBLAS fixes it
    private static string? s_cudaMajorSource;   // which library fixed it, for error messages

    private sealed record Loaded(nint Handle, string? Path, string? Error);

    /// <summary>Supported CUDA majors, newest first, with each library's sonames.</summary>
    private static readonly int[] s_majors = [13, 12, 11];

    internal static string[] FileNames(string logical, int major) => (logical, major) switch
    {
        (Cuda, _) => ["libcuda.so.1"],
        (Nvrtc, 11) => ["libnvrtc.so.11.2", "libnvrtc.so.11.1", "libnvrtc.so.11.0"],
        (Nvrtc, _) => [$"libnvrtc.so.{major}"],
        (Cublas, _) => [$"libcublas.so.{major}"],
        (CublasLt, _) => [$"libcublasLt.so.{major}"],
        (Cudnn, _) => ["libcudnn.so.9"],
        _ => throw new ArgumentException($"unknown native library '{logical}'"),
    };

    /// <summary>cuDNN 9 sub-libraries, preloaded by full path from the shim's folder (graph first, engines before ops/cnn/adv).</summary>
    private static readonly string[] s_cudnnParts =
    [
        "libcudnn_graph.so.9", "libcudnn_engines_precompiled.so.9", "libcudnn_engines_runtime_compiled.so.9",
        "libcudnn_heuristic.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9", "libcudnn_adv.so.9",
    ];

#pragma warning disable CA2255 // the resolver must be in place before the first P/Invoke of this assembly
    [ModuleInitializer]
    internal static void Install() => NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
#pragma warning restore CA2255

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name is not (Cuda or Nvrtc or Cublas or CublasLt or Cudnn)) return 0;
        return Load(name);
    }

    /// <summary>The handle of a logical library; throws <see cref="DllNotFoundException"/> listing every place tried.</summary>
    internal static nint Load(string logical) =>
        TryLoad(logical, out nint handle, out string? whyNot) ? handle : throw new DllNotFoundException(whyNot);

    /// <summary>Loads (once) a logical library. Never throws for a missing library.</summary>
    internal static bool TryLoad(string logical, out nint handle, out string? whyNot)
    {
        lock (s_lock)
        {
            if (!s_loaded.TryGetValue(logical, out var loaded))
                s_loaded[logical] = loaded = LoadUncached(logical);
            handle = loaded.Handle;
            whyNot = loaded.Error;
            return handle != 0;
        }
    }

    /// <summary>Where a loaded library came from (a full path, or "soname via the system loader"); null if not loaded.</summary>
    internal static string? LoadedFrom(string logical)
    {
        lock (s_lock) return s_loaded.TryGetValue(logical, out var l) && l.Handle != 0 ? l.Path : null;
    }

    /// <summary>The CUDA major that NVRTC/cuBLAS were loaded for (0 if none yet).</summary>
    internal static int CudaMajor
    {
        get { lock (s_lock) return s_cudaMajor; }
    }

    private static Loaded LoadUncached(string logical)
    {
        var dirs = SearchDirectories(Environment.GetEnvironmentVariable);
        var tried = new List<string>();
        switch (logical)
        {
            case Cuda:
                {
                    // The driver is registered with the system loader: try the bare soname first.
                    var names = FileNames(Cuda, 0);
                    if (TryLoadFirst(names, dirs, BareName.First, tried, out nint h, out string? path))
                        return new Loaded(h, path, null);
                    return new Loaded(0, null, NotFound("libcuda.so.1 (the NVIDIA driver)", tried,
                        "install the NVIDIA driver, or point KILN_CUDA_LIB_PATH at the folder holding libcuda.so.1"));
                }
            case Cudnn:
                return LoadCudnn(dirs, tried);
            default:
                return LoadVersioned(logical, dirs, tried);
        }
    }

    private static Loaded LoadVersioned(string logical, IReadOnlyList<string> dirs, List<string> tried)
    {
        int cap = DriverMajorCap();
        int[] majors = s_cudaMajor != 0 ? [s_cudaMajor] : s_majors.Where(m => m <= cap).ToArray();
        if (majors.Length == 0)
            return new Loaded(0, null, $"{logical}: the installed driver supports CUDA {cap} at most; Kiln needs CUDA 11, 12 or 13 libraries and a driver for them");
        foreach (int major in majors)
        {
            if (logical == Cublas)
            {
                // libcublas has DT_NEEDED on libcublasLt of the same major: preload it by full path.
                var lt = LoadFor(CublasLt, major, dirs, tried);
                if (lt is null) continue;
                s_loaded[CublasLt] = lt;
            }
            var l = LoadFor(logical, major, dirs, tried);
            if (l is null) continue;
            if (s_cudaMajor == 0)
            {
                s_cudaMajor = major;
                s_cudaMajorSource = $"{Path.GetFileName(l.Path ?? logical)}";
            }
            return l;
        }
        string what = string.Join(" or ", majors.SelectMany(m => FileNames(logical, m)).Distinct())
                      + (logical == Cublas ? " (with libcublasLt of the same major, loaded first)" : "");
        string hint = s_cudaMajor != 0
            ? $"CUDA {s_cudaMajor} was fixed by {s_cudaMajorSource}; every CUDA library must have the same major"
            : cap < s_majors[0] ? $"the driver supports CUDA {cap} at most" : "install the CUDA runtime libraries (a toolkit, distribution packages or the nvidia-* pip wheels), or set KILN_CUDA_LIB_PATH";
        return new Loaded(0, null, NotFound(what, tried, hint));
    }

    private static Loaded? LoadFor(string logical, int major, IReadOnlyList<string> dirs, List<string> tried) =>
        TryLoadFirst(FileNames(logical, major), dirs, BareName.Last, tried, out nint h, out string? path)
            ? new Loaded(h, path, null) : null;

    private static Loaded LoadCudnn(IReadOnlyList<string> dirs, List<string> tried)
    {
        // cuDNN dlopens libcublasLt and libnvrtc of its CUDA major by bare name when some engines run;
        // having them loaded already (found wherever they are, e.g. in a wheel folder) satisfies that.
        foreach (var dependency in (string[])[Nvrtc, Cublas])
            if (!s_loaded.ContainsKey(dependency)) s_loaded[dependency] = LoadUncached(dependency);
        var names = FileNames(Cudnn, 9);
        // Find the shim's folder first, so its sub-libraries can be preloaded by full path: the shim
        // dlopens them by bare name, which only finds already-loaded objects or the loader's path.
        foreach (var dir in dirs)
        {
            string shim = Path.Combine(dir, names[0]);
            if (!File.Exists(shim)) { tried.Add($"{shim}: no such file"); continue; }
            var pending = s_cudnnParts.Select(p => Path.Combine(dir, p)).Where(File.Exists).ToList();
            for (int pass = 0; pass < 2 && pending.Count > 0; pass++)
                pending = pending.Where(p => !NativeLibrary.TryLoad(p, out _)).ToList();
            foreach (var p in pending) tried.Add($"{p}: preload failed (missing dependency?)");
            if (TryLoadPath(shim, tried, out nint h)) return new Loaded(h, shim, null);
        }
        if (TryLoadFirst(names, [], BareName.First, tried, out nint bare, out string? path))
            return new Loaded(bare, path, null);
        return new Loaded(0, null, NotFound("libcudnn.so.9 (cuDNN 9)", tried,
            "install cuDNN 9 (e.g. the nvidia-cudnn-cu12 wheel or NVIDIA's libcudnn9 packages), or set KILN_CUDA_LIB_PATH"));
    }

    /// <summary>When to ask the system loader for the bare soname, relative to the directory scan.</summary>
    internal enum BareName { First, Last, Never }

    /// <summary>
    /// Tries each file name in each directory (by full path), and by bare name through the system
    /// loader (first, last or never). Appends one line per attempt to <paramref name="tried"/>.
    /// </summary>
    internal static bool TryLoadFirst(IReadOnlyList<string> fileNames, IReadOnlyList<string> directories, BareName bareName,
                                      List<string> tried, out nint handle, out string? loadedFrom)
    {
        if (bareName == BareName.First && TryBare(fileNames, tried, out handle, out loadedFrom)) return true;
        foreach (var dir in directories)
            foreach (var file in fileNames)
            {
                string full = Path.Combine(dir, file);
                if (!File.Exists(full)) { tried.Add($"{full}: no such file"); continue; }
                if (TryLoadPath(full, tried, out handle)) { loadedFrom = full; return true; }
            }
        if (bareName == BareName.Last && TryBare(fileNames, tried, out handle, out loadedFrom)) return true;
        handle = 0;
        loadedFrom = null;
        return false;
    }

    private static bool TryBare(IReadOnlyList<string> fileNames, List<string> tried, out nint handle, out string? loadedFrom)
    {
        foreach (var file in fileNames)
            if (TryLoadPath(file, tried, out handle))
            {
                loadedFrom = $"{file} via the system loader";
                return true;
            }
        handle = 0;
        loadedFrom = null;
        return false;
    }

    private static bool TryLoadPath(string pathOrSoname, List<string> tried, out nint handle)
    {
        try
        {
            handle = NativeLibrary.Load(pathOrSoname);   // single-argument form: straight to dlopen
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
        {
            string what = Path.IsPathRooted(pathOrSoname) ? pathOrSoname : $"dlopen(\"{pathOrSoname}\") (ld.so.cache, LD_LIBRARY_PATH at start, /lib, /usr/lib)";
            tried.Add($"{what}: {LoaderError(e.Message)}");
            handle = 0;
            return false;
        }
    }

    /// <summary>The dlerror text from .NET's message (its first line is generic advice about strace and LD_DEBUG).</summary>
    private static string LoaderError(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var specific = lines.Skip(1).ToArray();
        return specific.Length > 0 ? string.Join("; ", specific) : lines.FirstOrDefault() ?? message;
    }

    internal static string NotFound(string what, List<string> tried, string hint) =>
        $"{what} not found ({hint}); tried:\n  " + (tried.Count == 0 ? "(no candidate locations)" : string.Join("\n  ", tried));

    /// <summary>Highest CUDA major the installed driver supports, or int.MaxValue without a driver (NVRTC-only use).</summary>
    private static int DriverMajorCap()
    {
        // Called under s_lock; loading "cuda" here goes through the same cache.
        if (!s_loaded.TryGetValue(Cuda, out var driver))
            s_loaded[Cuda] = driver = LoadUncached(Cuda);
        if (driver.Handle == 0 || !NativeLibrary.TryGetExport(driver.Handle, "cuDriverGetVersion", out nint fn))
            return int.MaxValue;
        int version = 0;
        int status = ((delegate* unmanaged[Cdecl]<int*, int>)fn)(&version);
        return status == 0 && version > 0 ? version / 1000 : int.MaxValue;
    }

    /// <summary>Directories to search, in order, without duplicates or <c>stubs</c> folders. Only existing folders are kept.</summary>
    internal static IReadOnlyList<string> SearchDirectories(Func<string, string?> env)
    {
        var dirs = new List<string>();
        void AddRoot(string root)
        {
            dirs.Add(root);
            dirs.Add(Path.Combine(root, "lib64"));
            dirs.Add(Path.Combine(root, "lib"));
            dirs.Add(Path.Combine(root, "targets", "x86_64-linux", "lib"));
        }
        foreach (var p in SplitPath(env("KILN_CUDA_LIB_PATH"))) AddRoot(p);
        dirs.AddRange(SplitPath(env("LD_LIBRARY_PATH")));
        foreach (var v in (string[])["CUDA_HOME", "CUDA_PATH", "CUDNN_PATH"])
            if (env(v) is { Length: > 0 } root) AddRoot(root);

        // Python wheels (what PyTorch images use): venv and conda first, then system and user site dirs.
        var prefixes = new List<string>();
        foreach (var v in (string[])["VIRTUAL_ENV", "CONDA_PREFIX"])
            if (env(v) is { Length: > 0 } p) prefixes.Add(p);
        // The python3 first on PATH names its environment (e.g. /opt/torch/.venv/bin/python3 → /opt/torch/.venv),
        // which finds a PyTorch image's wheels without VIRTUAL_ENV being set.
        foreach (var bin in SplitPath(env("PATH")))
            if (File.Exists(Path.Combine(bin, "python3")) && Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(bin)) is { Length: > 0 } envRoot)
            {
                prefixes.Add(envRoot);
                break;
            }
        prefixes.AddRange(["/opt/conda", "/usr/local", "/usr"]);
        if (env("HOME") is { Length: > 0 } home) prefixes.Add(Path.Combine(home, ".local"));
        foreach (var prefix in prefixes)
            foreach (var site in SitePackages(prefix))
            {
                dirs.Add(Path.Combine(site, "nvidia", "cu13", "lib"));
                foreach (var sub in SafeSubdirectories(Path.Combine(site, "nvidia")))
                    dirs.Add(Path.Combine(sub, "lib"));
            }

        // Toolkit installs: /usr/local/cuda first, then versioned folders newest first.
        dirs.Add("/usr/local/cuda/lib64");
        dirs.Add("/usr/local/cuda/targets/x86_64-linux/lib");
        foreach (var d in SafeSubdirectories("/usr/local").Where(d => Path.GetFileName(d).StartsWith("cuda-", StringComparison.Ordinal))
                     .OrderByDescending(d => Version.TryParse(Path.GetFileName(d)[5..], out var v) ? v : new Version(0, 0)))
            dirs.Add(Path.Combine(d, "lib64"));
        dirs.Add("/usr/local/cuda/compat");
        if (env("CONDA_PREFIX") is { Length: > 0 } conda) dirs.Add(Path.Combine(conda, "lib"));
        dirs.AddRange(["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/aarch64-linux-gnu", "/usr/lib/wsl/lib", "/usr/lib"]);
        // Last resort, after everything else (the GPU-check bundle ships an NVRTC here).
        foreach (var p in SplitPath(env("KILN_CUDA_FALLBACK_LIB_PATH"))) AddRoot(p);

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var d in dirs)
        {
            var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(d));
            if (IsStubs(full) || !seen.Add(full) || !Directory.Exists(full)) continue;
            result.Add(full);
        }
        return result;
    }

    internal static bool IsStubs(string dir) =>
        dir.Split(Path.DirectorySeparatorChar).Any(part => part == "stubs");

    private static IEnumerable<string> SplitPath(string? value) =>
        string.IsNullOrWhiteSpace(value) ? [] : value.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static IEnumerable<string> SitePackages(string prefix)
    {
        foreach (var lib in (string[])["lib", "lib64"])
            foreach (var py in SafeSubdirectories(Path.Combine(prefix, lib)).Where(d => Path.GetFileName(d).StartsWith("python3", StringComparison.Ordinal)).Order())
            {
                yield return Path.Combine(py, "site-packages");
                yield return Path.Combine(py, "dist-packages");
            }
        yield return Path.Combine(prefix, "lib", "python3", "dist-packages");
    }

    private static IEnumerable<string> SafeSubdirectories(string dir)
    {
        try
        {
            return Directory.Exists(dir) ? Directory.GetDirectories(dir).Order(StringComparer.Ordinal).ToArray() : [];
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            return [];
        }
    }
}
