using Kiln.Backends.Cuda;

namespace Kiln.Tests.Backends.Cuda;

/// <summary>Every Kernels/*.cu compiles through Kiln's own NVRTC binding (no GPU needed).</summary>
public sealed class KernelCompileTests
{
    public static TheoryData<string, string> FilesAndArchs()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in KernelCache.SourceFiles())
            foreach (var arch in (string[])["compute_oldest", "compute_90", "sm_oldest", "sm_90"])
                data.Add(file, arch);
        return data;
    }

    [Fact]
    public void SourceFiles_AreEmbedded_IncludingEveryKernelFamily()
    {
        var files = KernelCache.SourceFiles();
        foreach (var f in (string[])["elementwise.cu", "fill.cu", "normalize.cu", "reduce.cu", "relu.cu", "sgd.cu",
                                "batchnorm.cu", "check.cu", "concat.cu", "crossentropy.cu", "dropout.cu", "lrn.cu", "maxout.cu", "pool.cu", "renorm.cu"])
            Assert.Contains(f, files);
        Assert.Contains(KernelCache.Headers(), h => h.Name == "common.cuh");
    }

    [Theory]
    [MemberData(nameof(FilesAndArchs))]
    public void KernelFile_Compiles_ForArch(string file, string arch)
    {
        CudaTestEnvironment.RequireNvrtc();
        arch = arch.Replace("oldest", Oldest[^2..]);
        var image = new KernelCache(arch, diskDirectory: null).Get(file);
        Assert.NotEmpty(image.Image);
        Assert.Equal(arch.StartsWith("sm_", StringComparison.Ordinal), image.IsCubin);
        if (!image.IsCubin)
        {
            string ptx = System.Text.Encoding.ASCII.GetString(image.Image);
            Assert.Equal('\0', ptx[^1]);   // cuModuleLoadData needs the NUL
            Assert.Contains($".target sm_{arch[^2..]}", ptx);
            // Every extern "C" __global__ in the source appears as an entry with its plain name.
            foreach (var kernel in KernelNames(KernelCache.Source(file)))
                Assert.Contains($".entry {kernel}(", ptx);
        }
    }

    [Fact]
    public void KernelNames_FollowOpPassDtypeConvention()
    {
        foreach (var file in KernelCache.SourceFiles())
            foreach (var kernel in KernelNames(KernelCache.Source(file)))
                Assert.Matches(@"^[a-z0-9]+_[a-z]+_[a-z0-9_]+$", kernel);
    }

    [Fact]
    public void BrokenSource_ThrowsNvrtcCompileException_WithFullLog()
    {
        CudaTestEnvironment.RequireNvrtc();
        const string source = "#include \"common.cuh\"\nextern \"C\" __global__ void broken_forward_f32(float* y) { y[0] = undeclared_thing; }\n";
        var cache = new KernelCache(Oldest, diskDirectory: null);
        var e = Assert.Throws<NvrtcCompileException>(() => cache.Load("broken.cu", source));
        Assert.Contains("undeclared_thing", e.Log);
        Assert.Contains("broken.cu", e.Log);
        Assert.Contains(e.Log, e.Message);
        Assert.Equal(6, e.Status);   // NVRTC_ERROR_COMPILATION
        Assert.Equal("NVRTC_ERROR_COMPILATION", e.StatusName);
        Assert.Contains($"--gpu-architecture={Oldest}", e.Options);
    }

    [Fact]
    public void UnsupportedArch_ThrowsNvrtcCompileException()
    {
        CudaTestEnvironment.RequireNvrtc();
        var e = Assert.Throws<NvrtcCompileException>(() => new KernelCache("sm_1", diskDirectory: null).Load("fill.cu", KernelCache.Source("fill.cu")));
        Assert.Equal(5, e.Status);   // NVRTC_ERROR_INVALID_OPTION
    }

    [Fact]
    public void DiskCache_SecondCacheReadsImage_WithoutCompiling()
    {
        CudaTestEnvironment.RequireNvrtc();
        string dir = Path.Combine(Path.GetTempPath(), $"kiln-kernels-{Guid.NewGuid():N}");
        try
        {
            var first = new KernelCache(Oldest, dir);
            var a = first.Get("relu.cu");
            Assert.Equal(1, first.CompileCount);
            first.Get("relu.cu");
            Assert.Equal(1, first.CompileCount);   // memory hit
            Assert.Single(Directory.GetFiles(dir));

            var second = new KernelCache(Oldest, dir);
            var b = second.Get("relu.cu");
            Assert.Equal(0, second.CompileCount);  // disk hit
            Assert.Equal(a.Image, b.Image);

            var other = new KernelCache("compute_90", dir);
            other.Get("relu.cu");
            Assert.Equal(1, other.CompileCount);   // the arch is part of the key
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Key_ChangesWithEveryInput()
    {
        var h = new[] { ("common.cuh", "x") };
        string k = KernelCache.Key("src", h, ["-a"], "sm_70", "11.8");
        Assert.NotEqual(k, KernelCache.Key("src2", h, ["-a"], "sm_70", "11.8"));
        Assert.NotEqual(k, KernelCache.Key("src", [("common.cuh", "y")], ["-a"], "sm_70", "11.8"));
        Assert.NotEqual(k, KernelCache.Key("src", h, ["-b"], "sm_70", "11.8"));
        Assert.NotEqual(k, KernelCache.Key("src", h, ["-a"], "sm_90", "11.8"));
        Assert.NotEqual(k, KernelCache.Key("src", h, ["-a"], "sm_70", "12.6"));
        Assert.Equal(k, KernelCache.Key("src", h, ["-a"], "sm_70", "11.8"));
    }

    [Fact]
    public void ChooseArch_UsesCubinWhenKnown_PtxForNewerDevices()
    {
        CudaTestEnvironment.RequireNvrtc();
        int[] archs = [35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90];   // NVRTC 11.8
        Assert.Equal("sm_90", NvrtcCompiler.ChooseArch(9, 0, archs, out _));
        Assert.Equal("sm_86", NvrtcCompiler.ChooseArch(8, 6, archs, out _));
        Assert.Equal("compute_90", NvrtcCompiler.ChooseArch(10, 0, archs, out _));   // Blackwell on 11.8: PTX, driver JIT
        Assert.Equal("sm_80", NvrtcCompiler.ChooseArch(8, 4, archs, out _));          // minor-compatible cubin
        Assert.Null(NvrtcCompiler.ChooseArch(3, 0, archs, out string? why));
        Assert.Contains("3.0", why);
    }

    [Fact]
    public void Nvrtc_ReportsVersionAndArchs()
    {
        CudaTestEnvironment.RequireNvrtc();
        var (major, _) = NvrtcCompiler.Version;
        Assert.InRange(major, 11, 13);
        Assert.Contains(75, NvrtcCompiler.SupportedArchs);   // every NVRTC from 11.x to 13.x
        Assert.Contains(90, NvrtcCompiler.SupportedArchs);
    }

    /// <summary>The oldest architecture this NVRTC compiles for: compute_70 up to CUDA 12, compute_75 from CUDA 13 (which dropped Volta).</summary>
    private static string Oldest => $"compute_{NvrtcCompiler.SupportedArchs.Min()}";

    internal static IEnumerable<string> KernelNames(string source) =>
        System.Text.RegularExpressions.Regex.Matches(source, @"extern ""C"" __global__ void (?:__launch_bounds__\([^)]*\) )?(\w+)\(")
            .Select(m => m.Groups[1].Value);
}
