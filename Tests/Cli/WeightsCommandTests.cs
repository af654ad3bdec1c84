using Kiln.Cli.Commands;
using Kiln.Nn;
using Kiln.Serialization;
using Kiln.Tests.Serialization;

namespace Kiln.Tests.Cli;

public sealed class WeightsCommandTests
{
    private static Sequential Net(int classes) =>
        new(new Conv2d(3, 4, 3), new BatchNorm2d(4), new ReLU(), new Flatten(), new Linear(4, classes));

    private static string Run(params string[] args)
    {
        var parsed = new CommandLine.Parser().ParseArguments<WeightsOptions>(args);
        var o = Assert.IsType<CommandLine.Parsed<WeightsOptions>>(parsed).Value;
        var sw = new StringWriter();
        Assert.Equal(0, WeightsCommand.Run(o, sw, name => Net(int.Parse(name["net".Length..]))));
        return sw.ToString();
    }

    [Fact]
    public void Inspect_ListsTensorsDTypesShapesAndParameterTotals()
    {
        var dir = TempDir.Create();
        try
        {
            string path = Path.Combine(dir, "net.safetensors");
            using var net = Net(10);
            ModelWeights.Save(net, path, new Dictionary<string, string> { ["epoch"] = "3" });
            var text = Run("inspect", path);
            var lines = text.Split('\n').Select(l => l.TrimEnd()).ToList();
            Assert.Contains(lines, l => l.StartsWith("metadata    epoch=3, format=pt"));
            Assert.Contains(lines, l => l == "tensors     9");
            Assert.Contains(lines, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["0.weight", "F32", "(4,", "3,", "3,", "3)", "108"]);
            Assert.Contains(lines, l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries) is ["1.num_batches_tracked", "I64", "()", "1"]);
            Assert.Contains(lines, l => l.StartsWith("by dtype    I64 1 tensors, 1 values, 8 bytes; F32 8 tensors"));
            // 108 + 4 conv, 4 + 4 bn affine, 40 + 10 linear = 170 parameters; 4 + 4 + 1 statistics.
            Assert.Equal(170, net.ParameterCount);
            Assert.Contains(lines, l => l.StartsWith("parameters  170 (values less 9 in batch-norm statistics"));
            Assert.Contains(lines, l => l == "values      179");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Program_HasTheWeightsVerb_AndMapsErrorsToExitCode1()
    {
        Assert.Equal(1, Kiln.Cli.Program.Main(["weights", "inspect", Path.Combine(Path.GetTempPath(), "no-such-" + Guid.NewGuid().ToString("N"))]));
        Assert.Equal(2, Kiln.Cli.Program.Main(["weights"]));
    }

    [Fact]
    public void Inspect_DamagedFile_ThrowsTheFormatError()
    {
        var dir = TempDir.Create();
        try
        {
            string path = Path.Combine(dir, "bad.safetensors");
            File.WriteAllBytes(path, [1, 2, 3]);
            var parsed = new CommandLine.Parser().ParseArguments<WeightsOptions>(["inspect", path]);
            var o = Assert.IsType<CommandLine.Parsed<WeightsOptions>>(parsed).Value;
            var e = Assert.Throws<SafetensorsFormatException>(() => WeightsCommand.Run(o, TextWriter.Null));
            Assert.StartsWith(path + ": file is 3 bytes", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ConvertExportImport_MoveWeightsBetweenFilesAndModels()
    {
        var dir = TempDir.Create();
        try
        {
            // A "foreign" file in float16 with a 1000-class head, as a pretrained download might be.
            string pretrained = Path.Combine(dir, "pretrained.safetensors");
            using (var net = Net(1000))
                ModelWeights.Save(net, pretrained);
            string f16 = Path.Combine(dir, "f16.safetensors");
            Run("convert", pretrained, f16, "--to", "f16");
            using (var f = Safetensors.Open(f16))
                Assert.Equal(SafetensorsDType.F16, f["4.weight"].DType);

            string imported = Path.Combine(dir, "imported.safetensors");
            Run("import", f16, imported);
            using (var f = Safetensors.Open(imported))
            {
                Assert.Equal(SafetensorsDType.F32, f["4.weight"].DType);
                Assert.Equal(SafetensorsDType.I64, f["1.num_batches_tracked"].DType);
            }

            // Into a 10-class model: strict fails listing the head, non-strict keeps the new head.
            string tuned = Path.Combine(dir, "tuned.safetensors");
            Assert.Throws<StateDictMismatchException>(() => Run("import", imported, tuned, "--model", "net10"));
            var text = Run("import", imported, tuned, "--model", "net10", "--non-strict");
            Assert.Contains("loaded 7, missing 0, unexpected 0, mismatched 2", text);
            using (var f = Safetensors.Open(tuned))
            {
                Assert.Equal(10, f["4.weight"].Shape[0]);
                Assert.Equal("net10", f.Metadata["model"]);
            }

            // export takes a checkpoint directory holding model.safetensors.
            var ckpt = Directory.CreateDirectory(Path.Combine(dir, "step-100")).FullName;
            File.Copy(tuned, Path.Combine(ckpt, "model.safetensors"));
            string exported = Path.Combine(dir, "exported.safetensors");
            Run("export", ckpt, exported, "--metadata", "source=kiln,step=100");
            using (var f = Safetensors.Open(exported))
            {
                Assert.Equal("pt", f.Metadata["format"]);
                Assert.Equal("100", f.Metadata["step"]);
                Assert.Equal(9, f.Entries.Count);
            }
            Assert.DoesNotContain(Directory.GetFiles(dir), p => AtomicFile.IsTemporaryName(Path.GetFileName(p)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
