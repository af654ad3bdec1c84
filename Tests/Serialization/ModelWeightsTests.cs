using Kiln.Nn;
using Kiln.Serialization;

namespace Kiln.Tests.Serialization;

public sealed class ModelWeightsTests
{
    /// <summary>A small convnet with batch norm: conv (0), bn (1), relu, flatten, linear head (4).</summary>
    private static Sequential Net(int classes = 10, int seed = 1)
    {
        var net = new Sequential(new Conv2d(3, 4, 3, padding: 1), new BatchNorm2d(4), new ReLU(), new Flatten(), new Linear(4 * 5 * 5, classes));
        var rng = new RandomGenerator((ulong)seed);
        foreach (var (_, t) in net.StateDict())
            if (t.DType == DType.Float32) rng.Uniform<float>(Kiln.Backends.Cpu.CpuBackend.Data<float>(t), -1, 1);
        return net;
    }

    private static Dictionary<string, float[]> Floats(Module m) =>
        m.StateDict().Where(s => s.Value.DType == DType.Float32).ToDictionary(s => s.Name, s => s.Value.ToArray<float>());

    private static void Train(Module m, int steps, int channels = 3)
    {
        m.Train();
        for (int i = 0; i < steps; i++)
        {
            using var scope = TensorScope.Begin();
            using var noGrad = Kiln.Core.Autograd.GradMode.NoGrad();
            m.Forward(Tensor.Full([2, channels, 5, 5], i + 1));
        }
    }

    [Fact]
    public void SaveLoad_RoundTripsParametersAndBatchNormState()
    {
        var dir = TempDir.Create();
        try
        {
            string path = Path.Combine(dir, "net.safetensors");
            using var a = Net(seed: 1);
            Train(a, 3);
            ModelWeights.Save(a, path, new Dictionary<string, string> { ["model"] = "tiny" });

            using (var file = SafetensorsFile.Open(path))
            {
                Assert.Equal(SafetensorsDType.I64, file["1.num_batches_tracked"].DType);
                Assert.Equal(["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked", "4.weight", "4.bias"],
                             a.StateDict().Select(s => s.Name));
                Assert.All(a.StateDict(), s => Assert.True(file.Contains(s.Name)));
                Assert.Equal("pt", file.Metadata["format"]);
                Assert.Equal("tiny", file.Metadata["model"]);
            }

            using var b = Net(seed: 2);
            var identity = b.Parameters().First().Value;
            var report = ModelWeights.Load(b, path);
            Assert.True(report.IsExact);
            Assert.Equal(9, report.Loaded.Count);
            Assert.Same(identity, b.Parameters().First().Value); // copied in place
            Assert.Equal(Floats(a), Floats(b));
            Assert.Equal(3L, b.StateDict().Single(s => s.Name == "1.num_batches_tracked").Value.ToArray<long>()[0]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void BatchNormCounter_AfterLoad_ContinuesFromTheLoadedValue()
    {
        using var bn = new BatchNorm2d(2);
        Train(bn, 2, channels: 2); // caches 2
        using var counter = Tensor.Scalar(100, DType.Int64);
        var state = bn.StateDict().Where(s => s.Name != "num_batches_tracked").ToDictionary(s => s.Name, s => s.Value);
        state["num_batches_tracked"] = counter;
        bn.LoadStateDict(state);
        Train(bn, 1, channels: 2);
        Assert.Equal(101L, bn.StateDict().Single(s => s.Name == "num_batches_tracked").Value.ToArray<long>()[0]);
    }

    [Fact]
    public void Strict_ListsEveryMissingUnexpectedAndMismatchedTensor_AndLoadsNothing()
    {
        using var model = Net(classes: 10, seed: 1);
        using var source = Net(classes: 1000, seed: 2);
        using var scope = TensorScope.Begin();
        var state = source.StateDict().ToDictionary(s => s.Name, s => s.Value);
        state.Remove("0.bias");
        state["extra.weight"] = Tensor.Zeros([3]);
        state["1.running_mean"] = Tensor.Zeros([4], DType.Float64);
        state["1.running_var"] = Tensor.Ones([1, 4]); // broadcastable, still a mismatch
        var before = Floats(model);

        var e = Assert.Throws<StateDictMismatchException>(() => model.LoadStateDict(state));
        Assert.Contains("state dict does not match Sequential (missing 1, unexpected 1, mismatched 4); nothing was loaded", e.Message);
        Assert.Contains("0.bias (4) float32", e.Message);
        Assert.Contains("extra.weight (3) float32", e.Message);
        Assert.Contains("4.weight: checkpoint (1000, 100) float32, model (10, 100) float32", e.Message);
        Assert.Contains("4.bias: checkpoint (1000) float32, model (10) float32", e.Message);
        Assert.Contains("1.running_mean: checkpoint (4) float64, model (4) float32", e.Message);
        Assert.Contains("1.running_var: checkpoint (1, 4) float32, model (4) float32", e.Message);
        Assert.Contains("dtypes are never converted on load", e.Message);
        Assert.Equal(4, e.Report.Mismatched.Count);
        Assert.Equal(before, Floats(model));
    }

    [Fact]
    public void NonStrict_LoadsWhatMatches_AndReportsTheRest()
    {
        var dir = TempDir.Create();
        try
        {
            string path = Path.Combine(dir, "imagenet.safetensors");
            using (var pretrained = Net(classes: 1000, seed: 2))
                ModelWeights.Save(pretrained, path);
            using var model = Net(classes: 10, seed: 1);
            var head = model.StateDict().Single(s => s.Name == "4.weight").Value.ToArray<float>();

            var report = ModelWeights.Load(model, path, strict: false);
            Assert.Equal(["4.weight", "4.bias"], report.Mismatched.Select(m => m.Name));
            Assert.Empty(report.Missing);
            Assert.Empty(report.Unexpected);
            Assert.Equal(7, report.Loaded.Count);
            Assert.Equal(head, model.StateDict().Single(s => s.Name == "4.weight").Value.ToArray<float>());
            using var pre = Safetensors.Open(path);
            using var w0 = pre.Load("0.weight");
            Assert.Equal(w0.ToArray<float>(), model.StateDict().First().Value.ToArray<float>());

            var strictError = Assert.Throws<StateDictMismatchException>(() => ModelWeights.Load(model, path));
            Assert.StartsWith(path + " does not match Sequential", strictError.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Load_FileWithUnsupportedDType_IsReportedAsMismatch()
    {
        var dir = TempDir.Create();
        try
        {
            string path = Path.Combine(dir, "u16.safetensors");
            var bytes = SafetensorsMalformedTests.Build("{\"weight\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
            File.WriteAllBytes(path, bytes);
            using var lin = new Linear(1, 2, bias: false);
            var e = Assert.Throws<StateDictMismatchException>(() => ModelWeights.Load(lin, path));
            Assert.Contains("weight: checkpoint (2) U16, model (2, 1) float32", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
