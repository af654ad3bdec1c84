using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Kiln.Backends.Cuda;

namespace Kiln.Tests.Backends.Cuda;

/// <summary>
/// Offline check of the C# launchers against the kernels: every kernel name a launcher in
/// Framework/Backends/Cuda/*.cs spells (with <c>{suffix}</c> expanded to f32 and f64) is an
/// <c>extern "C" __global__</c> of the .cu file it names. A typo would otherwise surface only on a GPU
/// as CUDA_ERROR_NOT_FOUND from cuModuleGetFunction.
/// </summary>
public sealed class LauncherNameTests
{
    private static string CudaSourceDir([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "..", "Framework", "Backends", "Cuda"));

    [Fact]
    public void EveryLaunchedKernelName_ExistsInItsFile()
    {
        string dir = CudaSourceDir();
        Assert.True(Directory.Exists(dir), dir);
        var kernelsByFile = KernelCache.SourceFiles().ToDictionary(f => f, f => KernelCompileTests.KernelNames(KernelCache.Source(f)).ToHashSet());
        var all = kernelsByFile.Values.SelectMany(k => k).ToHashSet();
        int checkedNames = 0;
        foreach (var file in Directory.GetFiles(dir, "CudaBackend*.cs"))
        {
            string code = File.ReadAllText(file);
            // Launch1D("pool.cu", $"maxpool2d_forward_{suffix}", ...) and Function("x.cu", name) with name spelled nearby.
            foreach (Match m in Regex.Matches(code, @"Launch1D\(""(\w+\.cu)"",\s*\$?""([a-z0-9_{}]+)"""))
            {
                foreach (var name in Expand(m.Groups[2].Value))
                {
                    Assert.True(kernelsByFile.TryGetValue(m.Groups[1].Value, out var names), $"{Path.GetFileName(file)}: no kernel file {m.Groups[1].Value}");
                    Assert.True(names!.Contains(name), $"{Path.GetFileName(file)}: {name} is not a kernel of {m.Groups[1].Value}");
                    checkedNames++;
                }
            }
            // Names assigned to variables or given as literals elsewhere: "op_pass_dtype" strings must exist somewhere.
            foreach (Match m in Regex.Matches(code, @"\$?""([a-z0-9]+_(?:forward|backward|check|count|update|partial|final|strided)_[a-z0-9_{}]*)"""))
                foreach (var name in Expand(m.Groups[1].Value))
                {
                    Assert.True(all.Contains(name), $"{Path.GetFileName(file)}: {name} is not a kernel in Kernels/*.cu");
                    checkedNames++;
                }
        }
        Assert.True(checkedNames > 40, $"only {checkedNames} kernel names found: is the regex still right?");
    }

    /// <summary>The names a spelled name stands for; none when another interpolation hides part of it.</summary>
    private static IEnumerable<string> Expand(string name)
    {
        string[] names = name.Contains("{suffix}", StringComparison.Ordinal) ? [name.Replace("{suffix}", "f32"), name.Replace("{suffix}", "f64")] : [name];
        return names.Where(n => !n.Contains('{'));
    }
}
