using Kiln.Data;

namespace Kiln.Cli.Commands;

/// <summary><c>kiln bench data --shards ... --workers N --augment train|eval [--decoder auto|turbojpeg|skia]</c>: images/s and time per stage.</summary>
public static class DataBenchCommand
{
    public static int Run(BenchOptions o)
    {
        if (string.IsNullOrEmpty(o.Shards)) throw new ArgumentException("bench data needs --shards <spec>");
        var transform = o.Augment?.ToLowerInvariant() switch
        {
            null or "train" => TransformOptions.Train,
            "eval" => TransformOptions.Eval,
            "tencrop" => TransformOptions.Eval with { Mode = CropMode.TenCrop },
            "full" => TransformOptions.Eval with { Mode = CropMode.Full },
            var a => throw new ArgumentException($"unknown --augment '{a}'; expected train, eval, tencrop or full"),
        };
        var jpeg = o.Decoder.ToLowerInvariant() switch
        {
            "auto" => JpegDecoder.Auto,
            "turbojpeg" or "turbo" => JpegDecoder.TurboJpeg,
            "skia" or "skiasharp" => JpegDecoder.SkiaSharp,
            var d => throw new ArgumentException($"unknown --decoder '{d}'; expected auto, turbojpeg or skia"),
        };
        var format = o.Format.ToLowerInvariant() switch
        {
            "float32" or "f32" => BatchFormat.Float32Nchw,
            "uint8" or "u8" => BatchFormat.UInt8Nhwc,
            var f => throw new ArgumentException($"unknown --format '{f}'; expected float32 (normalised on the CPU) or uint8 (normalised on the GPU)"),
        };
        int workers = o.Workers ?? Environment.ProcessorCount;
        var r = DataBench.Run(o.Shards, workers, transform, o.Images, limits: new DecodeLimits { Jpeg = jpeg }, format: format);
        Console.WriteLine($"{r.Images} images, mean {r.MeanWidth:0}x{r.MeanHeight:0}, {r.MeanImageBytes / 1024:0.0} KiB; " +
                          $"augment {o.Augment ?? "train"} to {transform.OutputSize}x{transform.OutputSize}, {(format == BatchFormat.UInt8Nhwc ? "uint8 NHWC" : "float32 NCHW")}; JPEG decoder {r.JpegDecoder}");
        Console.WriteLine($"one thread: read {r.ReadMsPerImage:0.000} ms, decode+augment {r.DecodeAugmentMsPerImage:0.000} ms, " +
                          $"collate {r.CollateMsPerImage:0.000} ms per image = {r.OneThreadImagesPerSecond:0} images/s " +
                          $"(decode+augment {r.DecodeAugmentCpuMsPerImage:0.000} CPU-ms = {1000 / r.DecodeAugmentCpuMsPerImage:0} images per CPU-second)");
        Console.WriteLine($"loader, {r.Workers} workers: {r.LoaderImagesPerSecond:0} images/s");
        return 0;
    }
}
