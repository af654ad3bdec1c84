namespace Kiln.Data;

/// <summary>Per-stage costs of the input pipeline on some shards (see <see cref="DataBench.Run"/>).</summary>
public sealed record DataBenchResult(
    int Images,
    double MeanImageBytes,
    double MeanWidth,
    double MeanHeight,
    double ReadMsPerImage,
    double DecodeAugmentMsPerImage,
    double DecodeAugmentCpuMsPerImage,
    double CollateMsPerImage,
    int Workers,
    double LoaderImagesPerSecond,
    JpegDecoder JpegDecoder)
{
    /// <summary>Single-thread images/s of read + decode + augment + collate.</summary>
    public double OneThreadImagesPerSecond => 1000.0 / (ReadMsPerImage + DecodeAugmentMsPerImage + CollateMsPerImage);
}
