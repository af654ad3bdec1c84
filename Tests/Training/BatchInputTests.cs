using Kiln.Cli.Training;
using Kiln.Config;
using Kiln.Data;
using Kiln.Tests.Backends.Cuda;
using Kiln.Tests.Data;
using Kiln.Training;
using SkiaSharp;

namespace Kiln.Tests.Training;

/// <summary>
/// Note [Uint8 batches]: a uint8 NHWC batch normalised by Op.NormalizeImages (through BatchInput) equals the float32
/// NCHW batch of the same loader settings within quantisation, 0.5 · PixelRange/255 / std[c] per element, for every
/// crop mode, flips, colour augmentation (against the float value clamped to the pixel range), odd sizes and a
/// batch size that does not divide the dataset.
/// </summary>
public sealed class BatchInputTests
{
    private const int Samples = 11;   // batches of 4: 4, 4, 3

    /// <summary>Two shards (6 + 5 samples) of odd-sized images with texture, gradients and saturated bands (0 and 255), JPEG and PNG.</summary>
    private static string WriteShards(TempDir dir)
    {
        (int W, int H)[] sizes = [(37, 29), (50, 41), (23, 61), (64, 47), (31, 31), (45, 26)];
        for (int s = 0; s < 2; s++)
        {
            using var writer = new ShardWriter(dir.File($"u8-{s:D6}.tar"));
            for (int i = 0; i < (s == 0 ? 6 : 5); i++)
            {
                int k = 6 * s + i;
                var (w, h) = sizes[k % sizes.Length];
                var format = k % 4 == 3 ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg;
                var image = DataFixtures.Encode(w, h, (x, y) =>
                {
                    uint hash = (uint)(x * 73856093 ^ y * 19349663 ^ k * 83492791);
                    byte band = x < w / 5 ? (byte)0 : x >= w - w / 5 ? (byte)255 : (byte)(x * 255 / w);
                    return (band, (byte)((y * 255 / h + (hash & 63)) % 256), (byte)(hash >> 8));
                }, format);
                writer.WriteSample($"img{k:D3}", image, format == SKEncodedImageFormat.Png ? "png" : "jpg", k % 5);
            }
            writer.Complete();
        }
        return dir.File("u8-{000000..000001}.tar");
    }

    private static LoaderOptions Options(string spec, TransformOptions t, LoaderMode mode, ulong seed = 11, int workers = 2) => new()
    {
        Shards = spec,
        Mode = mode,
        BatchSize = 4,
        DropLast = false,
        Workers = workers,
        Seed = seed,
        NumClasses = 5,
        ShuffleBuffer = 4,
        MinSamplesForBadFraction = 1,
        Transform = t,
    };

    /// <summary>Every network input of an epoch, through BatchInput on the CPU: per batch, per input tensor (one, or one per dense view).</summary>
    private static List<(int Count, int[] Labels, string[] Keys, List<float[]> Inputs)> Read(LoaderOptions options)
    {
        var result = new List<(int, int[], string[], List<float[]>)>();
        foreach (var batch in new DataLoader(options).ReadEpoch(0))
        {
            using (batch)
            using (TensorScope.Begin())
            {
                Assert.Equal(options.Format, batch.Format);
                var inputs = new List<float[]>();
                if (batch.IsDense)
                {
                    for (int i = 0; i < batch.Count; i++)
                        foreach (var (offset, shape) in batch.DenseViews(i))
                            inputs.Add(BatchInput.DenseView(batch, offset, shape, Device.Cpu).ToArray<float>());
                }
                else
                {
                    var x = BatchInput.ToDevice(batch, Device.Cpu);
                    Assert.Equal(batch.Shape, x.Shape.ToArray());
                    inputs.Add(x.ToArray<float>());
                }
                result.Add((batch.Count, batch.Labels[..batch.Count], batch.Keys[..batch.Count], inputs));
            }
        }
        return result;
    }

    /// <summary>
    /// Asserts the uint8 path within quantisation of the float path (clamped to the pixel range when
    /// <paramref name="clamp"/>); returns the largest error in units of the bound and how many float values lay outside the range.
    /// </summary>
    private static (double WorstOfBound, int OutsideRange) AssertUint8MatchesFloat(LoaderOptions options, int expectedBatches, bool clamp = false)
    {
        var floats = Read(options);
        var bytes = Read(options with { Format = BatchFormat.UInt8Nhwc });
        Assert.Equal(expectedBatches, floats.Count);
        Assert.Equal(floats.Count, bytes.Count);
        Assert.Equal(Samples, floats.Sum(b => b.Count));
        var t = options.Transform;
        var n = t.Normalization;
        int c = t.Channels;
        double worst = 0;
        int outside = 0;
        for (int b = 0; b < floats.Count; b++)
        {
            Assert.Equal(floats[b].Keys, bytes[b].Keys);
            Assert.Equal(floats[b].Labels, bytes[b].Labels);
            Assert.Equal(floats[b].Inputs.Count, bytes[b].Inputs.Count);
            for (int v = 0; v < floats[b].Inputs.Count; v++)
            {
                float[] f = floats[b].Inputs[v], u = bytes[b].Inputs[v];
                Assert.Equal(f.Length, u.Length);
                int plane = f.Length / (c * (t.Mode == CropMode.Dense ? 2 : floats[b].Count * t.Views));   // H·W of this input
                for (int i = 0; i < f.Length; i++)
                {
                    int ch = i / plane % c;
                    double bound = 0.5 * n.PixelRange / 255 / n.Std[ch];
                    double lo = -n.Mean[ch] / n.Std[ch], hi = (n.PixelRange - n.Mean[ch]) / n.Std[ch];
                    double expected = f[i];
                    if (expected < lo - 1e-5 || expected > hi + 1e-5) outside++;
                    if (clamp) expected = Math.Clamp(expected, lo, hi);
                    double error = Math.Abs(u[i] - expected);
                    if (!(error <= bound + 1e-5 * (1 + Math.Abs(expected))))
                        Assert.Fail($"{t.Mode} batch {b} input {v} element {i} (channel {ch}): float {f[i]:G9}, uint8 path {u[i]:G9}, |error| {error:G4} > {bound:G4}");
                    worst = Math.Max(worst, error / bound);
                }
            }
        }
        Assert.True(worst > 0.2, $"{t.Mode}: the largest error is only {worst:F3} of the quantisation bound; the uint8 path does not look quantised");
        return (worst, outside);
    }

    [Fact]
    public void Train_RandomResizedCropWithFlip_MatchesFloatPath()
    {
        using var dir = new TempDir();
        var t = new TransformOptions { Mode = CropMode.RandomResizedCrop, OutputSize = 17, Flip = true };
        var (_, outside) = AssertUint8MatchesFloat(Options(WriteShards(dir), t, LoaderMode.Train), expectedBatches: 3);
        Assert.Equal(0, outside);   // without colour augmentation every value is a pixel value
    }

    [Fact]
    public void Train_CaffeBgrWithLighting_MatchesFloatPathClampedToPixelRange()
    {
        using var dir = new TempDir();
        var t = new TransformOptions { Mode = CropMode.ResizeRandomCrop, OutputSize = 19, Resize = 21, Flip = true, LightingStd = 0.1, Normalization = Normalization.CaffeBgr };
        AssertUint8MatchesFloat(Options(WriteShards(dir), t, LoaderMode.Train), expectedBatches: 3, clamp: true);
    }

    [Fact]
    public void Train_ColourJitter_MatchesFloatPathClampedToPixelRange()
    {
        using var dir = new TempDir();
        var t = new TransformOptions { Mode = CropMode.RandomResizedCrop, OutputSize = 15, Flip = true, Brightness = 0.4, Contrast = 0.4, Saturation = 0.4, LightingStd = 0.1 };
        var (_, outside) = AssertUint8MatchesFloat(Options(WriteShards(dir), t, LoaderMode.Train), expectedBatches: 3, clamp: true);
        Assert.True(outside > 0, "the jitter never left the pixel range: the clamp went untested");
    }

    [Fact]
    public void Train_OneChannelLuma_MatchesFloatPath()
    {
        using var dir = new TempDir();
        var t = new TransformOptions { Mode = CropMode.Full, OutputSize = 13, Channels = 1, Flip = true, Normalization = Normalization.Mnist };
        AssertUint8MatchesFloat(Options(WriteShards(dir), t, LoaderMode.Train), expectedBatches: 3);
    }

    [Theory]
    [InlineData(CropMode.CenterCrop)]
    [InlineData(CropMode.TenCrop)]
    [InlineData(CropMode.MultiScale)]
    [InlineData(CropMode.Dense)]
    public void Eval_EveryProtocol_MatchesFloatPath(CropMode mode)
    {
        using var dir = new TempDir();
        var t = new TransformOptions { Mode = mode, OutputSize = 15, Resize = 19, Scales = [15, 21], Flip = false };
        AssertUint8MatchesFloat(Options(WriteShards(dir), t, LoaderMode.Eval), expectedBatches: 3);
    }

    [Fact]
    public void Uint8Batches_SameSeed_SameBytesForAnyWorkerCount_OtherSeedDiffers()
    {
        using var dir = new TempDir();
        string spec = WriteShards(dir);
        var t = new TransformOptions { Mode = CropMode.RandomResizedCrop, OutputSize = 17, Flip = true, Brightness = 0.4, LightingStd = 0.1 };
        List<byte[]> Bytes(ulong seed, int workers)
        {
            var list = new List<byte[]>();
            foreach (var batch in new DataLoader(Options(spec, t, LoaderMode.Train, seed, workers) with { Format = BatchFormat.UInt8Nhwc }).ReadEpoch(0))
                using (batch)
                {
                    Assert.Throws<InvalidOperationException>(() => batch.Pixels.Length);
                    Assert.Equal(batch.Count * 17 * 17 * 3, batch.PixelBytes.Length);
                    list.Add(batch.PixelBytes.ToArray());
                }
            return list;
        }
        var one = Bytes(11, 1);
        var three = Bytes(11, 3);
        Assert.Equal(3, one.Count);
        Assert.Equal(one, three);
        Assert.NotEqual(one, Bytes(12, 2));
        Assert.True(one[0].Distinct().Count() > 64, "uint8 pixels hardly vary: not an image");
    }

    [Fact]
    public void BatchFormatFor_Uint8OnlyOnAGpuWithGpuNormalize()
    {
        var config = RunConfigLoader.Parse("model: {name: lenet5}\ndata: {train: x.tar}\ntraining: {epochs: 1}\n", "t.yaml");
        Assert.True(config.Data.GpuNormalize);
        Assert.Equal(BatchFormat.UInt8Nhwc, RunBuilder.BatchFormatFor(config, Device.Cuda(0)));
        Assert.Equal(BatchFormat.Float32Nchw, RunBuilder.BatchFormatFor(config, Device.Cpu));
        var off = config with { Data = config.Data with { GpuNormalize = false } };
        Assert.Equal(BatchFormat.Float32Nchw, RunBuilder.BatchFormatFor(off, Device.Cuda(0)));
        Assert.Equal(BatchFormat.Float32Nchw, RunBuilder.TrainLoader(config, 3, null, null).Format);   // training.device defaults to cpu
        Assert.Equal(BatchFormat.UInt8Nhwc, RunBuilder.EvalLoader(config, "x.tar", 3, EvalProtocol.Center, device: Device.Cuda(0)).Format);
    }

    [CudaFact]
    public void Gpu_Uint8BatchNormalisedOnTheGpu_MatchesCpuFloatPath()
    {
        CudaTestEnvironment.RequireKernels();
        using var dir = new TempDir();
        var t = new TransformOptions { Mode = CropMode.TenCrop, OutputSize = 15, Resize = 19, Flip = false };
        var options = Options(WriteShards(dir), t, LoaderMode.Eval);
        var floats = Read(options);
        int b = 0;
        foreach (var batch in new DataLoader(options with { Format = BatchFormat.UInt8Nhwc }).ReadEpoch(0))
            using (batch)
            using (TensorScope.Begin())
            {
                var gpu = BatchInput.ToDevice(batch, Device.Cuda(0));          // uploaded as uint8, normalised by the kernel
                Assert.Equal(Device.Cuda(0), gpu.Device);
                var cpu = BatchInput.ToDevice(batch, Device.Cpu);              // the CPU twin
                float[] g = gpu.ToArray<float>(), c = cpu.ToArray<float>(), f = floats[b++].Inputs[0];
                int plane = 15 * 15;
                for (int i = 0; i < g.Length; i++)
                {
                    int ch = i / plane % 3;
                    Assert.True(Math.Abs(g[i] - c[i]) <= 1e-6 * (1 + Math.Abs(c[i])), $"element {i}: CPU twin {c[i]:G9}, GPU {g[i]:G9}");
                    Assert.True(Math.Abs(g[i] - f[i]) <= 0.5 / 255 / t.Normalization.Std[ch] + 1e-5, $"element {i}: float path {f[i]:G9}, GPU {g[i]:G9}");
                }
            }
        Assert.Equal(3, b);
    }
}
