using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Data;

/// <summary>
/// The fused pass from decoded pixels to network input: bilinear resample of a box, horizontal flip
/// and normalisation (<c>out = p · scale[c] + bias[c]</c>) straight into float32 CHW, one read of each
/// source pixel pair per output pixel and no intermediate image. Source pixels are RGBA, 4 bytes each.
/// The same pass can store uint8 HWC instead, for normalisation on the GPU (see Note [Uint8 batches]).
/// </summary>
public static class Resampler
{
    /// <summary>
    /// Resamples <paramref name="box"/> (in source pixel edges, relative to the buffer) of a
    /// <paramref name="width"/>×<paramref name="height"/> RGBA image to <paramref name="outSize"/>² and writes
    /// <paramref name="channels"/> planes to <paramref name="dst"/>: (C, outSize, outSize).
    /// Output channel c reads source channel <paramref name="sourceChannel"/>[c]; with one channel, luma (BT.601).
    /// Pixel centres are aligned as in torchvision/PIL (<c>align_corners=False</c>); edges clamp.
    /// Separable: per output row, one SIMD pass blends the two source rows (only the columns the taps
    /// use) into a float row; then each output pixel blends two neighbours of that row, normalises and
    /// stores to its plane, mirrored when flipping.
    /// </summary>
    public static void ResampleToChw(ReadOnlySpan<byte> src, int width, int height, int strideBytes, CropBox box, int outSize,
        int channels, ReadOnlySpan<int> sourceChannel, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> dst) =>
        ResampleToChw(src, width, height, strideBytes, box, outSize, outSize, channels, sourceChannel, scale, bias, dst);

    /// <summary>The same resample to a non-square output: (C, outHeight, outWidth) (dense evaluation's whole images).</summary>
    public static void ResampleToChw(ReadOnlySpan<byte> src, int width, int height, int strideBytes, CropBox box, int outWidth, int outHeight,
        int channels, ReadOnlySpan<int> sourceChannel, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<float> dst) =>
        Resample<ChwSink, ChwRow>(src, width, height, strideBytes, box, outWidth, outHeight, channels, sourceChannel, scale, default, bias, new ChwSink(dst, channels, outWidth, outHeight));

    /// <summary>
    /// As ResampleToChw, but each output channel is an affine mix of the source RGB:
    /// <c>out[c] = Σ_k matrix[3c + k]·p[k] + bias[c]</c> (colour jitter and normalisation folded together).
    /// </summary>
    public static void ResampleToChwAffine(ReadOnlySpan<byte> src, int width, int height, int strideBytes, CropBox box, int outSize,
        int channels, ReadOnlySpan<float> matrix, ReadOnlySpan<float> bias, Span<float> dst) =>
        ResampleToChwAffine(src, width, height, strideBytes, box, outSize, outSize, channels, matrix, bias, dst);

    /// <summary>The affine resample to a non-square output: (C, outHeight, outWidth).</summary>
    public static void ResampleToChwAffine(ReadOnlySpan<byte> src, int width, int height, int strideBytes, CropBox box, int outWidth, int outHeight,
        int channels, ReadOnlySpan<float> matrix, ReadOnlySpan<float> bias, Span<float> dst)
    {
        if (matrix.Length < 3 * channels) throw new ArgumentException($"affine resample needs {3 * channels} matrix entries, got {matrix.Length}");
        Resample<ChwSink, ChwRow>(src, width, height, strideBytes, box, outWidth, outHeight, channels, default, default, matrix, bias, new ChwSink(dst, channels, outWidth, outHeight));
    }

    /// <summary>
    /// The same resample, stored as uint8 (outHeight, outWidth, C) instead: each value <c>p · scale[c] + bias[c]</c>
    /// (pixel units, so scale 1 and bias the lighting offset) rounded to the nearest integer and clamped to [0, 255].
    /// See Note [Uint8 batches].
    /// </summary>
    public static void ResampleToHwc(ReadOnlySpan<byte> src, int width, int height, int strideBytes, CropBox box, int outWidth, int outHeight,
        int channels, ReadOnlySpan<int> sourceChannel, ReadOnlySpan<float> scale, ReadOnlySpan<float> bias, Span<byte> dst)
    {
        Span<float> rounding = stackalloc float[3];
        Resample<HwcSink, HwcRow>(src, width, height, strideBytes, box, outWidth, outHeight, channels, sourceChannel, scale, default,
            HalfUp(bias, channels, rounding), new HwcSink(dst, channels, outWidth, outHeight));
    }

    /// <summary>The affine resample stored as uint8 (outHeight, outWidth, C), rounded and clamped (colour jitter in pixel units).</summary>
    public static void ResampleToHwcAffine(ReadOnlySpan<byte> src, int width, int height, int strideBytes, CropBox box, int outWidth, int outHeight,
        int channels, ReadOnlySpan<float> matrix, ReadOnlySpan<float> bias, Span<byte> dst)
    {
        if (matrix.Length < 3 * channels) throw new ArgumentException($"affine resample needs {3 * channels} matrix entries, got {matrix.Length}");
        Span<float> rounding = stackalloc float[3];
        Resample<HwcSink, HwcRow>(src, width, height, strideBytes, box, outWidth, outHeight, channels, default, default, matrix,
            HalfUp(bias, channels, rounding), new HwcSink(dst, channels, outWidth, outHeight));
    }

    /// <summary>bias + 0.5 per channel, so that <see cref="HwcRow"/> rounds half up by truncating.</summary>
    private static ReadOnlySpan<float> HalfUp(ReadOnlySpan<float> bias, int channels, Span<float> rounding)
    {
        if (channels is not (1 or 3) || bias.Length < channels) throw new ArgumentException($"{channels} channels need as many bias values, got {bias.Length}");
        for (int c = 0; c < channels; c++) rounding[c] = bias[c] + 0.5f;
        return rounding[..channels];
    }

    /// <summary>Where the pass stores an output row: <see cref="Row"/> gives the row's writer, whose x is the output column (flip already applied).</summary>
    private interface IPixelSink<TRow> where TRow : IRowWriter, allows ref struct
    {
        TRow Row(int oy);
    }

    private interface IRowWriter
    {
        void Store3(int x, float v0, float v1, float v2);
        void Store1(int x, float v0);
    }

    /// <summary>Float32 planes (C, H, W).</summary>
    private readonly ref struct ChwSink : IPixelSink<ChwRow>
    {
        private readonly ref float _d;
        private readonly int _width, _plane, _last;

        public ChwSink(Span<float> dst, int channels, int width, int height)
        {
            if (dst.Length < channels * width * height) throw new ArgumentException($"output needs {channels * width * height} floats, got {dst.Length}");
            _d = ref MemoryMarshal.GetReference(dst);
            (_width, _plane, _last) = (width, width * height, channels - 1);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public ChwRow Row(int oy)
        {
            ref float p0 = ref Unsafe.Add(ref _d, oy * _width);
            return new ChwRow(ref p0, ref Unsafe.Add(ref p0, Math.Min(1, _last) * _plane), ref Unsafe.Add(ref p0, _last * _plane));
        }
    }

    private readonly ref struct ChwRow(ref float p0, ref float p1, ref float p2) : IRowWriter
    {
        private readonly ref float _p0 = ref p0, _p1 = ref p1, _p2 = ref p2;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store3(int x, float v0, float v1, float v2)
        {
            Unsafe.Add(ref _p0, x) = v0;
            Unsafe.Add(ref _p1, x) = v1;
            Unsafe.Add(ref _p2, x) = v2;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store1(int x, float v0) => Unsafe.Add(ref _p0, x) = v0;
    }

    /// <summary>Uint8 pixels (H, W, C), clamped to [0, 255] and truncated: rounded half up, as its callers add 0.5 to the bias.</summary>
    private readonly ref struct HwcSink : IPixelSink<HwcRow>
    {
        private readonly ref byte _d;
        private readonly int _rowBytes;

        public HwcSink(Span<byte> dst, int channels, int width, int height)
        {
            if (dst.Length < channels * width * height) throw new ArgumentException($"output needs {channels * width * height} bytes, got {dst.Length}");
            _d = ref MemoryMarshal.GetReference(dst);
            _rowBytes = channels * width;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public HwcRow Row(int oy) => new(ref Unsafe.Add(ref _d, oy * _rowBytes));
    }

    private readonly ref struct HwcRow(ref byte row) : IRowWriter
    {
        private readonly ref byte _row = ref row;

        /// <summary>Clamp, then truncate (v already holds the + 0.5 of rounding): the clamp comes first, in float, so the conversion is a plain truncation.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static byte Quantise(float v) => (byte)float.ConvertToIntegerNative<int>(float.MinNative(float.MaxNative(v, 0f), 255f));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store3(int x, float v0, float v1, float v2)
        {
            ref byte o = ref Unsafe.Add(ref _row, 3 * x);
            o = Quantise(v0);
            Unsafe.Add(ref o, 1) = Quantise(v1);
            Unsafe.Add(ref o, 2) = Quantise(v2);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Store1(int x, float v0) => Unsafe.Add(ref _row, x) = Quantise(v0);
    }

    private static void Resample<TSink, TRow>(ReadOnlySpan<byte> src, int width, int height, int strideBytes, CropBox box, int outWidth, int outHeight,
        int channels, ReadOnlySpan<int> sourceChannel, ReadOnlySpan<float> scale, ReadOnlySpan<float> matrix, ReadOnlySpan<float> bias, TSink sink)
        where TSink : IPixelSink<TRow>, allows ref struct
        where TRow : IRowWriter, allows ref struct
    {
        if ((long)strideBytes * (height - 1) + 4L * width > src.Length)
            throw new ArgumentException($"source {width}x{height} with stride {strideBytes} needs more than {src.Length} bytes");
        if (channels is not (1 or 3)) throw new ArgumentException($"channels must be 1 or 3, got {channels}");

        int[] xTable = ArrayPool<int>.Shared.Rent(2 * outWidth);
        float[] xWeight = ArrayPool<float>.Shared.Rent(outWidth);
        float[]? row = null;
        try
        {
            // Column taps: float offsets (into the blended row) of the left and right source pixels, and the right one's weight.
            double sx = box.Width / outWidth, sy = box.Height / outHeight;
            int xLo = int.MaxValue, xHi = 0;
            for (int ox = 0; ox < outWidth; ox++)
            {
                double fx = Math.Clamp(box.X + (ox + 0.5) * sx - 0.5, 0, width - 1);
                int x0 = (int)fx;
                xLo = Math.Min(xLo, x0);
                xHi = Math.Max(xHi, Math.Min(x0 + 1, width - 1));
            }
            for (int ox = 0; ox < outWidth; ox++)
            {
                int dx = box.Flip ? outWidth - 1 - ox : ox;
                double fx = Math.Clamp(box.X + (ox + 0.5) * sx - 0.5, 0, width - 1);
                int x0 = (int)fx;
                int x1 = Math.Min(x0 + 1, width - 1);
                xTable[2 * dx] = 4 * (x0 - xLo);
                xTable[2 * dx + 1] = 4 * (x1 - xLo);
                xWeight[dx] = (float)(fx - x0);
            }
            int rowFloats = 4 * (xHi - xLo + 1);
            row = ArrayPool<float>.Shared.Rent(rowFloats);

            ref byte s = ref MemoryMarshal.GetReference(src);
            ref int xt = ref MemoryMarshal.GetArrayDataReference(xTable);
            ref float xw = ref MemoryMarshal.GetArrayDataReference(xWeight);
            ref float rw = ref MemoryMarshal.GetArrayDataReference(row);
            for (int oy = 0; oy < outHeight; oy++)
            {
                double fy = Math.Clamp(box.Y + (oy + 0.5) * sy - 0.5, 0, height - 1);
                int y0 = (int)fy;
                int y1 = Math.Min(y0 + 1, height - 1);
                BlendRows(ref Unsafe.Add(ref s, (nint)y0 * strideBytes + 4 * xLo), ref Unsafe.Add(ref s, (nint)y1 * strideBytes + 4 * xLo),
                    (float)(fy - y0), ref rw, rowFloats);
                var line = sink.Row(oy);   // output row oy
                if (matrix.Length > 0)
                {
                    // One pass: interpolate R, G, B once, then mix into every output channel.
                    float m00 = matrix[0], m01 = matrix[1], m02 = matrix[2], b0 = bias[0];
                    int r1 = Math.Min(1, channels - 1), r2 = channels - 1;
                    float m10 = matrix[3 * r1], m11 = matrix[3 * r1 + 1], m12 = matrix[3 * r1 + 2], b1 = bias[r1];
                    float m20 = matrix[3 * r2], m21 = matrix[3 * r2 + 1], m22 = matrix[3 * r2 + 2], b2 = bias[r2];
                    if (channels == 3)
                        for (int x = 0; x < outWidth; x++)
                        {
                            InterpolateRgb(ref rw, ref xt, ref xw, x, out float v0, out float v1, out float v2);
                            line.Store3(x, m00 * v0 + m01 * v1 + m02 * v2 + b0, m10 * v0 + m11 * v1 + m12 * v2 + b1, m20 * v0 + m21 * v1 + m22 * v2 + b2);
                        }
                    else
                        for (int x = 0; x < outWidth; x++)
                        {
                            InterpolateRgb(ref rw, ref xt, ref xw, x, out float v0, out float v1, out float v2);
                            line.Store1(x, m00 * v0 + m01 * v1 + m02 * v2 + b0);
                        }
                }
                else if (channels == 3)
                {
                    int c0 = sourceChannel[0], c1 = sourceChannel[1], c2 = sourceChannel[2];
                    float a0 = scale[0], a1 = scale[1], a2 = scale[2], b0 = bias[0], b1 = bias[1], b2 = bias[2];
                    for (int x = 0; x < outWidth; x++)
                    {
                        ref float l = ref Unsafe.Add(ref rw, Unsafe.Add(ref xt, 2 * x));
                        ref float r = ref Unsafe.Add(ref rw, Unsafe.Add(ref xt, 2 * x + 1));
                        float wx = Unsafe.Add(ref xw, x);
                        float l0 = Unsafe.Add(ref l, c0), l1 = Unsafe.Add(ref l, c1), l2 = Unsafe.Add(ref l, c2);
                        line.Store3(x,
                            (l0 + (Unsafe.Add(ref r, c0) - l0) * wx) * a0 + b0,
                            (l1 + (Unsafe.Add(ref r, c1) - l1) * wx) * a1 + b1,
                            (l2 + (Unsafe.Add(ref r, c2) - l2) * wx) * a2 + b2);
                    }
                }
                else
                {
                    float a0 = scale[0], b0 = bias[0];
                    for (int x = 0; x < outWidth; x++)
                    {
                        ref float l = ref Unsafe.Add(ref rw, Unsafe.Add(ref xt, 2 * x));
                        ref float r = ref Unsafe.Add(ref rw, Unsafe.Add(ref xt, 2 * x + 1));
                        float wx = Unsafe.Add(ref xw, x);
                        float lumaL = 0.299f * l + 0.587f * Unsafe.Add(ref l, 1) + 0.114f * Unsafe.Add(ref l, 2);
                        float lumaR = 0.299f * r + 0.587f * Unsafe.Add(ref r, 1) + 0.114f * Unsafe.Add(ref r, 2);
                        line.Store1(x, (lumaL + (lumaR - lumaL) * wx) * a0 + b0);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(xTable);
            ArrayPool<float>.Shared.Return(xWeight);
            if (row is not null) ArrayPool<float>.Shared.Return(row);
        }
    }

    /// <summary>R, G, B of output column x: the blended row's two taps of that column, mixed by its weight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InterpolateRgb(ref float row, ref int xTable, ref float xWeight, int x, out float v0, out float v1, out float v2)
    {
        ref float l = ref Unsafe.Add(ref row, Unsafe.Add(ref xTable, 2 * x));
        ref float r = ref Unsafe.Add(ref row, Unsafe.Add(ref xTable, 2 * x + 1));
        float wx = Unsafe.Add(ref xWeight, x);
        v0 = l + (r - l) * wx;
        v1 = Unsafe.Add(ref l, 1) + (Unsafe.Add(ref r, 1) - Unsafe.Add(ref l, 1)) * wx;
        v2 = Unsafe.Add(ref l, 2) + (Unsafe.Add(ref r, 2) - Unsafe.Add(ref l, 2)) * wx;
    }

    /// <summary>dst[i] = a[i] + (b[i] − a[i])·w for n bytes, widened to float; 16 at a time with SIMD.</summary>
    private static void BlendRows(ref byte a, ref byte b, float w, ref float dst, int n)
    {
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            var vw = Vector128.Create(w);
            for (; i + 16 <= n; i += 16)
            {
                var (aLo, aHi) = Vector128.Widen(Vector128.LoadUnsafe(ref a, (nuint)i));
                var (bLo, bHi) = Vector128.Widen(Vector128.LoadUnsafe(ref b, (nuint)i));
                Blend8(aLo, bLo, vw, ref Unsafe.Add(ref dst, i));
                Blend8(aHi, bHi, vw, ref Unsafe.Add(ref dst, i + 8));
            }
        }
        for (; i < n; i++)
        {
            float va = Unsafe.Add(ref a, i);
            Unsafe.Add(ref dst, i) = va + (Unsafe.Add(ref b, i) - va) * w;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Blend8(Vector128<ushort> a, Vector128<ushort> b, Vector128<float> w, ref float dst)
    {
        var (a0, a1) = Vector128.Widen(a);
        var (b0, b1) = Vector128.Widen(b);
        var fa0 = Vector128.ConvertToSingle(a0.AsInt32());
        var fa1 = Vector128.ConvertToSingle(a1.AsInt32());
        (fa0 + (Vector128.ConvertToSingle(b0.AsInt32()) - fa0) * w).StoreUnsafe(ref dst);
        (fa1 + (Vector128.ConvertToSingle(b1.AsInt32()) - fa1) * w).StoreUnsafe(ref dst, 4);
    }

    /// <summary>
    /// Antialiasing before a large downscale: averages <paramref name="factor"/>×<paramref name="factor"/>
    /// blocks of an RGBA image into <paramref name="dst"/> (RGBA, stride 4·⌈width/factor⌉). Returns the new size.
    /// </summary>
    public static (int Width, int Height) BoxReduce(ReadOnlySpan<byte> src, int width, int height, int strideBytes, int factor, Span<byte> dst)
    {
        if (factor < 2) throw new ArgumentOutOfRangeException(nameof(factor), $"factor must be >= 2, got {factor}");
        int ow = (width + factor - 1) / factor, oh = (height + factor - 1) / factor;
        if (dst.Length < 4 * ow * oh) throw new ArgumentException($"box reduce needs {4 * ow * oh} bytes, got {dst.Length}");
        if ((long)strideBytes * (height - 1) + 4L * width > src.Length)
            throw new ArgumentException($"source {width}x{height} with stride {strideBytes} needs more than {src.Length} bytes");
        int n = 4 * width;
        int[] acc = ArrayPool<int>.Shared.Rent(n);
        try
        {
            ref byte s = ref MemoryMarshal.GetReference(src);
            ref int a = ref MemoryMarshal.GetArrayDataReference(acc);
            for (int oy = 0; oy < oh; oy++)
            {
                Array.Clear(acc, 0, n);
                int yEnd = Math.Min(height, (oy + 1) * factor);
                for (int y = oy * factor; y < yEnd; y++)
                    AccumulateRow(ref Unsafe.Add(ref s, (nint)y * strideBytes), ref a, n);
                int rows = yEnd - oy * factor;
                for (int ox = 0; ox < ow; ox++)
                {
                    int xEnd = Math.Min(width, (ox + 1) * factor);
                    int count = rows * (xEnd - ox * factor);
                    int o = 4 * (oy * ow + ox);
                    for (int c = 0; c < 4; c++)
                    {
                        int sum = 0;
                        for (int x = ox * factor; x < xEnd; x++) sum += Unsafe.Add(ref a, 4 * x + c);
                        dst[o + c] = (byte)((sum + count / 2) / count);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(acc);
        }
        return (ow, oh);
    }

    /// <summary>acc[i] += row[i] for n bytes; 16 at a time with SIMD.</summary>
    private static void AccumulateRow(ref byte row, ref int acc, int n)
    {
        int i = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
            {
                var (lo, hi) = Vector128.Widen(Vector128.LoadUnsafe(ref row, (nuint)i));
                var (q0, q1) = Vector128.Widen(lo);
                var (q2, q3) = Vector128.Widen(hi);
                ref int d = ref Unsafe.Add(ref acc, i);
                (Vector128.LoadUnsafe(ref d) + q0.AsInt32()).StoreUnsafe(ref d);
                (Vector128.LoadUnsafe(ref d, 4) + q1.AsInt32()).StoreUnsafe(ref d, 4);
                (Vector128.LoadUnsafe(ref d, 8) + q2.AsInt32()).StoreUnsafe(ref d, 8);
                (Vector128.LoadUnsafe(ref d, 12) + q3.AsInt32()).StoreUnsafe(ref d, 12);
            }
        }
        for (; i < n; i++) Unsafe.Add(ref acc, i) += Unsafe.Add(ref row, i);
    }
}
