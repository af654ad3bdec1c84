using Kiln.Backends.Cuda.Interop;

namespace Kiln.Tests.Backends.Cuda;

public sealed class NativeLibrariesTests
{
    [Fact]
    public void TryLoadFirst_MissingLibrary_ListsEveryPlaceTried()
    {
        string dirA = Directory.CreateTempSubdirectory("kiln-libs-a").FullName;
        string dirB = Directory.CreateTempSubdirectory("kiln-libs-b").FullName;
        try
        {
            var tried = new List<string>();
            bool ok = NativeLibraries.TryLoadFirst(["libkiln-missing.so.7"], [dirA, dirB], NativeLibraries.BareName.Last, tried, out nint h, out _);
            Assert.False(ok);
            Assert.Equal(0, h);
            string message = NativeLibraries.NotFound("libkiln-missing.so.7", tried, "a hint");
            Assert.Contains(Path.Combine(dirA, "libkiln-missing.so.7"), message);
            Assert.Contains(Path.Combine(dirB, "libkiln-missing.so.7"), message);
            Assert.Contains("dlopen(\"libkiln-missing.so.7\")", message);   // the system loader's own search
            Assert.Contains("a hint", message);
        }
        finally
        {
            Directory.Delete(dirA);
            Directory.Delete(dirB);
        }
    }

    [Fact]
    public void TryLoadFirst_FileThatIsNotALibrary_ReportsTheLoaderError()
    {
        string dir = Directory.CreateTempSubdirectory("kiln-libs").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "libkiln-bogus.so.1"), "not an ELF file");
            var tried = new List<string>();
            Assert.False(NativeLibraries.TryLoadFirst(["libkiln-bogus.so.1"], [dir], NativeLibraries.BareName.Last, tried, out _, out _));
            Assert.Contains(tried, t => t.StartsWith(Path.Combine(dir, "libkiln-bogus.so.1") + ":", StringComparison.Ordinal) && !t.EndsWith("no such file", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void SearchDirectories_OverrideFirst_ThenLdLibraryPath_NeverStubs()
    {
        string root = Directory.CreateTempSubdirectory("kiln-cuda-root").FullName;
        string ld = Directory.CreateTempSubdirectory("kiln-ld").FullName;
        string stubs = Path.Combine(root, "lib64", "stubs");
        Directory.CreateDirectory(stubs);
        try
        {
            var env = new Dictionary<string, string?>
            {
                ["KILN_CUDA_LIB_PATH"] = root,
                ["LD_LIBRARY_PATH"] = $"{stubs}:{ld}:/nonexistent/kiln",
            };
            var dirs = NativeLibraries.SearchDirectories(k => env.GetValueOrDefault(k));
            Assert.Equal(root, dirs[0]);
            Assert.Equal(Path.Combine(root, "lib64"), dirs[1]);
            Assert.Contains(ld, dirs);
            Assert.True(dirs.ToList().IndexOf(ld) < dirs.ToList().IndexOf("/usr/lib/x86_64-linux-gnu") || !dirs.Contains("/usr/lib/x86_64-linux-gnu"));
            Assert.DoesNotContain(stubs, dirs);
            Assert.DoesNotContain("/nonexistent/kiln", dirs);
            Assert.Equal(dirs.Count, dirs.Distinct().Count());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
            Directory.Delete(ld, recursive: true);
        }
    }

    [Fact]
    public void SearchDirectories_FallbackPathComesLast()
    {
        string fallback = Directory.CreateTempSubdirectory("kiln-fallback").FullName;
        try
        {
            var dirs = NativeLibraries.SearchDirectories(k => k == "KILN_CUDA_FALLBACK_LIB_PATH" ? fallback : null);
            Assert.Equal(fallback, dirs[^1]);
        }
        finally
        {
            Directory.Delete(fallback);
        }
    }

    [Fact]
    public void SearchDirectories_FindsPythonWheelLayouts()
    {
        string venv = Directory.CreateTempSubdirectory("kiln-venv").FullName;
        string site = Path.Combine(venv, "lib", "python3.12", "site-packages");
        string cublas = Path.Combine(site, "nvidia", "cublas", "lib");
        string cu13 = Path.Combine(site, "nvidia", "cu13", "lib");
        Directory.CreateDirectory(cublas);
        Directory.CreateDirectory(cu13);
        try
        {
            var dirs = NativeLibraries.SearchDirectories(k => k == "VIRTUAL_ENV" ? venv : null);
            Assert.Contains(cublas, dirs);
            Assert.Contains(cu13, dirs);
        }
        finally
        {
            Directory.Delete(venv, recursive: true);
        }
    }

    [Fact]
    public void SearchDirectories_FindsTheWheelsOfThePython3OnPath()
    {
        // A PyTorch image's venv (e.g. /opt/torch/.venv) is on PATH but VIRTUAL_ENV is not set.
        string venv = Directory.CreateTempSubdirectory("kiln-venv").FullName;
        string bin = Path.Combine(venv, "bin");
        string cudnn = Path.Combine(venv, "lib", "python3.12", "site-packages", "nvidia", "cudnn", "lib");
        Directory.CreateDirectory(bin);
        Directory.CreateDirectory(cudnn);
        File.WriteAllText(Path.Combine(bin, "python3"), "");
        try
        {
            var dirs = NativeLibraries.SearchDirectories(k => k == "PATH" ? $"/nonexistent{Path.PathSeparator}{bin}" : null);
            Assert.Contains(cudnn, dirs);
        }
        finally
        {
            Directory.Delete(venv, recursive: true);
        }
    }

    [Fact]
    public void FileNames_AreVersionedSonames()
    {
        Assert.Equal(["libcuda.so.1"], NativeLibraries.FileNames(NativeLibraries.Cuda, 0));
        Assert.Equal("libnvrtc.so.11.2", NativeLibraries.FileNames(NativeLibraries.Nvrtc, 11)[0]);
        Assert.Equal(["libnvrtc.so.12"], NativeLibraries.FileNames(NativeLibraries.Nvrtc, 12));
        Assert.Equal(["libcublas.so.13"], NativeLibraries.FileNames(NativeLibraries.Cublas, 13));
        Assert.Equal(["libcublasLt.so.11"], NativeLibraries.FileNames(NativeLibraries.CublasLt, 11));
        Assert.Equal(["libcudnn.so.9"], NativeLibraries.FileNames(NativeLibraries.Cudnn, 9));
    }

    [Fact]
    public void Nvrtc_LoadsHere_AndFixesTheCudaMajor()
    {
        CudaTestEnvironment.RequireNvrtc();
        Assert.NotNull(NativeLibraries.LoadedFrom(NativeLibraries.Nvrtc));
        Assert.InRange(NativeLibraries.CudaMajor, 11, 13);
    }

    [Fact]
    public void MissingDriver_MessageNamesLibcudaAndPlacesTried()
    {
        if (NativeLibraries.TryLoad(NativeLibraries.Cuda, out _, out _))
            Assert.Skip("libcuda.so.1 is installed on this machine; the missing-driver message cannot be observed");
        Assert.False(NativeLibraries.TryLoad(NativeLibraries.Cuda, out _, out string? why));
        Assert.Contains("libcuda.so.1", why);
        Assert.Contains("tried:", why);
        Assert.Contains("dlopen(\"libcuda.so.1\")", why);
        Assert.Contains("cannot open shared object file", why);   // the loader's own error, not .NET's generic advice
        Assert.Single(why!.Split('\n'), l => l.Contains("dlopen(", StringComparison.Ordinal));
        Assert.Throws<DllNotFoundException>(() => NativeLibraries.Load(NativeLibraries.Cuda));
    }
}
