using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kiln.Data;

/// <summary>
/// The fused pass from decoded pixels to network input: bilinear resample of a box, horizontal flip
/// and normalisation (<c>out = p · scale[c] + bias[c]</c>) straight into float32 CHW, one read of each
/// source pixel pair per output pixel and no intermediate image. Source pixels are RGBA, 4 bytes each.
/// </summary>
public static class Resampler
{
    /// <summary>
    /// Resamples <paramref name="box"/> (in source pixel edges, relative to the buffer) of a
    /// <paramref name="width"/>×<paramref name="height"/> RGBA image to <paramref name="outSize"/>² and writes
    /// <paramref name="channels"/> planes to <paramref name="dst"/>: (C, outSize, outSize).
    /// Output channel c reads source channel <paramref name="sourceChannel"/>[c]; with one channel, luma (BT.601).
    /// Pixel centres are aligned as in torchvision/PIL (<c>align_corners=False</c>); edges clamp.
    /// </summary>
    public static void ResampleToChw(ReadOnlySpan<byte> src, int width, int height, int strideBytes, CropBox box, int outSize,
        int channels, ReadOnlySpan<int> sourceChannel, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> dst)
    {
        int plane = outSize * outSize;
        if (dst.Length < channels * plane) throw new ArgumentException($"output needs {channels * plane} floats, got {dst.Length}");
        if ((long)strideBytes * (height - 1) + 4L * width > src.Length)
            throw new ArgumentException($"source {width}x{height} with stride {strideBytes} needs more than {src.Length} bytes");

        int[] xTable = ArrayPool<int>.Shared.Rent(2 * outSize);
        float[] xWeight = ArrayPool<float>.Shared.Rent(outSize);
        try
        {
            // Column taps: byte offsets of the left and right source pixels, and the right pixel's weight.
            double sx = box.Width / outSize, sy = box.Height / outSize;
            for (int ox = 0; ox < outSize; ox++)
            {
                int dx = box.Flip ? outSize - 1 - ox : ox;
                double fx = Math.Clamp(box.X + (ox + 0.5) * sx - 0.5, 0, width - 1);
                int x0 = (int)fx;
                int x1 = Math.Min(x0 + 1, width - 1);
                xTable[2 * dx] = 4 * x0;
                xTable[2 * dx + 1] = 4 * x1;
                xWeight[dx] = (float)(fx - x0);
            }

            ref byte s = ref MemoryMarshal.GetReference(src);
            ref float d = ref MemoryMarshal.GetReference(dst);
            ref int xt = ref MemoryArrayRef(xTable);
            ref float xw = ref MemoryArrayRef(xWeight);
            for (int oy = 0; oy < outSize; oy++)
            {
                double fy = Math.Clamp(box.Y + (oy + 0.5) * sy - 0.5, 0, height - 1);
                int y0 = (int)fy;
                int y1 = Math.Min(y0 + 1, height - 1);
                float wy = (float)(fy - y0);
                ref byte r0 = ref Unsafe.Add(ref s, (nint)y0 * strideBytes);
                ref byte r1 = ref Unsafe.Add(ref s, (nint)y1 * strideBytes);
                int rowOut = oy * outSize;
                if (channels == 3)
                {
                    int c0 = sourceChannel[0], c1 = sourceChannel[1], c2 = sourceChannel[2];
                    float a0 = scale[0], a1 = scale[1], a2 = scale[2], b0 = bias[0], b1 = bias[1], b2 = bias[2];
                    ref float p0 = ref Unsafe.Add(ref d, rowOut);
                    ref float p1 = ref Unsafe.Add(ref d, plane + rowOut);
                    ref float p2 = ref Unsafe.Add(ref d, 2 * plane + rowOut);
                    for (int x = 0; x < outSize; x++)
                    {
                        int l = Unsafe.Add(ref xt, 2 * x), r = Unsafe.Add(ref xt, 2 * x + 1);
                        float wx = Unsafe.Add(ref xw, x);
                        Unsafe.Add(ref p0, x) = Tap(ref r0, ref r1, l + c0, r + c0, wx, wy) * a0 + b0;
                        Unsafe.Add(ref p1, x) = Tap(ref r0, ref r1, l + c1, r + c1, wx, wy) * a1 + b1;
                        Unsafe.Add(ref p2, x) = Tap(ref r0, ref r1, l + c2, r + c2, wx, wy) * a2 + b2;
                    }
                }
                else
                {
                    float a0 = scale[0], b0 = bias[0];
                    ref float p0 = ref Unsafe.Add(ref d, rowOut);
                    for (int x = 0; x < outSize; x++)
                    {
                        int l = Unsafe.Add(ref xt, 2 * x), r = Unsafe.Add(ref xt, 2 * x + 1);
                        float wx = Unsafe.Add(ref xw, x);
                        float luma = 0.299f * Tap(ref r0, ref r1, l, r, wx, wy)
                                   + 0.587f * Tap(ref r0, ref r1, l + 1, r + 1, wx, wy)
                                   + 0.114f * Tap(ref r0, ref r1, l + 2, r + 2, wx, wy);
                        Unsafe.Add(ref p0, x) = luma * a0 + b0;
                    }
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(xTable);
            ArrayPool<float>.Shared.Return(xWeight);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Tap(ref byte r0, ref byte r1, int l, int r, float wx, float wy)
    {
        float top = Unsafe.Add(ref r0, l) + (Unsafe.Add(ref r0, r) - (float)Unsafe.Add(ref r0, l)) * wx;
        float bottom = Unsafe.Add(ref r1, l) + (Unsafe.Add(ref r1, r) - (float)Unsafe.Add(ref r1, l)) * wx;
        return top + (bottom - top) * wy;
    }

    private static ref T MemoryArrayRef<T>(T[] array) => ref MemoryMarshal.GetArrayDataReference(array);

    /// <summary>
    /// Antialiasing before a large downscale: averages <paramref name="factor"/>×<paramref name="factor"/>
    /// blocks of an RGBA image into <paramref name="dst"/> (RGBA, stride 4·⌈width/factor⌉). Returns the new size.
    /// </summary>
    public static (int Width, int Height) BoxReduce(ReadOnlySpan<byte> src, int width, int height, int strideBytes, int factor, Span<byte> dst)
    {
        if (factor < 2) throw new ArgumentOutOfRangeException(nameof(factor), $"factor must be >= 2, got {factor}");
        int ow = (width + factor - 1) / factor, oh = (height + factor - 1) / factor;
        if (dst.Length < 4 * ow * oh) throw new ArgumentException($"box reduce needs {4 * ow * oh} bytes, got {dst.Length}");
        Span<int> acc = stackalloc int[4];
        for (int oy = 0; oy < oh; oy++)
        {
            int yEnd = Math.Min(height, (oy + 1) * factor);
            for (int ox = 0; ox < ow; ox++)
            {
                int xEnd = Math.Min(width, (ox + 1) * factor);
                acc.Clear();
                int n = 0;
                for (int y = oy * factor; y < yEnd; y++)
                {
                    var row = src.Slice(y * strideBytes);
                    for (int x = ox * factor; x < xEnd; x++, n++)
                    {
                        acc[0] += row[4 * x]; acc[1] += row[4 * x + 1]; acc[2] += row[4 * x + 2]; acc[3] += row[4 * x + 3];
                    }
                }
                int o = 4 * (oy * ow + ox);
                for (int c = 0; c < 4; c++) dst[o + c] = (byte)((acc[c] + n / 2) / n);
            }
        }
        return (ow, oh);
    }
}
