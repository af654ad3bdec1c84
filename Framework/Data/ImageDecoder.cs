using System.Runtime.InteropServices;
using Kiln.Data.Interop;
using SkiaSharp;

namespace Kiln.Data;

/// <summary>
/// Decodes one image and produces its views as normalised float32 CHW (or uint8 HWC, see Note [Uint8 batches]). One instance per worker
/// thread: it owns pinned scratch buffers that grow to the largest region seen and are reused, and,
/// when TurboJPEG is in use, its own decompressor handle (dispose the decoder to free it).
///
/// Note [Two JPEG decoders]: JPEGs can go to TurboJPEG (the system's SIMD libjpeg-turbo,
/// <see cref="Interop.TurboJpeg"/>, when <c>libturbojpeg.so.0</c> loads) or to SkiaSharp, whose bundled
/// libjpeg-turbo is built without SIMD but can decode a region: it skips every row below the crop (no
/// entropy decoding) and the IDCT and colour conversion outside it. TurboJPEG 2.1 has no partial decode
/// (tj3's cropping is 3.0-only), so it decodes the whole image at the DCT scale. On 107 kB 500×375 JPEGs
/// entropy decoding dominates and SIMD saves only ~12% of a whole-image decode, while the region saves
/// more on training crops: <see cref="JpegDecoder.Auto"/> therefore takes TurboJPEG when the views
/// cover at least <see cref="TurboMinCoverage"/> of the image (ten-crop, full image, large crops, or
/// <see cref="DecodeLimits.DecodeToCrop"/> off) and SkiaSharp's region decoder otherwise; the README's
/// Data section has the measurements. <see cref="JpegDecoder.TurboJpeg"/> forces TurboJPEG for every JPEG.
/// TurboJPEG declines CMYK/YCCK JPEGs (it cannot convert them to RGB; SkiaSharp inverts Adobe CMYK
/// properly), and anything TurboJPEG rejects or warns about (truncated data, extraneous bytes) is
/// decoded again by SkiaSharp from the same random state, so both paths accept and skip the same
/// samples with the same reasons (a bad sample's detail then ends with TurboJPEG's own message). PNG and
/// other formats always use SkiaSharp.
///
/// Note [Decode to crop]: the crop boxes are planned from the header's size first
/// (<see cref="Geometry.Plan"/>); a JPEG is then decoded at the smallest DCT scale M/8 that keeps every
/// box at least as large as the output, and (SkiaSharp) only the rows and columns the boxes cover (the
/// scanline decoder with an x-subset, skipping rows above). Other formats are decoded whole. What remains is
/// a downscale below 2× in the usual case, which the bilinear pass in <see cref="Resampler"/> handles;
/// larger remaining downscales are box-filtered first so thin lines do not alias.
///
/// Note [Truncated JPEG and scanlines]: SkiaSharp's scanline decoder crashed the process (SIGSEGV,
/// found by FuzzTests) on a JPEG cut off before its end, in Skia's filling of the rows it could not
/// decode. Two guards: decoders are told the buffer is zero-initialised, so Skia does not fill (we
/// never use the pixels of an incomplete image), and the region path is taken only for a JPEG that
/// ends with its EOI marker; a truncated one goes through the whole-image decoder and is reported.
///
/// Note [JPEG variants]: progressive and arithmetic-coded JPEGs decode on both paths, to the same pixels as the
/// baseline file with the same coefficients. JPEGs libjpeg-turbo cannot decode (12-bit samples, lossless,
/// hierarchical) are refused from the frame header as <see cref="BadSampleReason.CorruptImage"/> with the reason
/// (<see cref="JpegHeader.Unsupported"/>) before either decoder runs. Without that check SkiaSharp reported a 12-bit
/// JPEG as a truncated image. Tests: Tests/Data/JpegVariantTests, on fixtures in Tests/Data/Fixtures.
///
/// Note [EXIF orientation]: the EXIF Orientation tag is ignored: pixels are used in the order they are stored,
/// as PIL's <c>Image.open</c> and torchvision's <c>decode_jpeg</c> (whose <c>apply_exif_orientation</c> is off by
/// default) do in the reference ImageNet pipelines whose accuracies we compare against. Neither SkiaSharp's
/// <c>SKCodec</c> nor TurboJPEG applies the tag, so both paths agree; rotating here would change those images
/// relative to every published ImageNet result.
/// </summary>
public sealed class ImageDecoder : IDisposable
{
    private byte[] _pixels = [];
    private byte[] _reduced = [];
    private CropBox[] _views = new CropBox[10];
    private int[] _outWidth = new int[10], _outHeight = new int[10];
    private readonly float[] _scale = new float[3], _bias = new float[3], _light = new float[3], _matrix = new float[9];
    private readonly double[] _jitterM = new double[9], _jitterT = new double[3], _meanRgb = new double[3];
    private readonly int[] _sourceChannel = new int[3];
    private readonly TurboJpegHandle? _turbo;

    /// <summary>With <see cref="JpegDecoder.Auto"/>, the smallest fraction of the image the views' union must cover for TurboJPEG's whole-image decode to be used.</summary>
    internal const double TurboMinCoverage = 0.7;

    /// <summary>
    /// A decoder for one thread. With <see cref="JpegDecoder.TurboJpeg"/> and no loadable TurboJPEG this throws
    /// <see cref="InvalidOperationException"/> listing where the library was looked for.
    /// </summary>
    public ImageDecoder(DecodeLimits? limits = null)
    {
        Limits = limits ?? new DecodeLimits();
        if (Limits.Jpeg == JpegDecoder.SkiaSharp) return;
        if (TurboJpegLibrary.TryLoad(out string? whyNot)) _turbo = TurboJpeg.CreateDecompressor();
        else if (Limits.Jpeg == JpegDecoder.TurboJpeg)
            throw new InvalidOperationException($"JPEG decoder TurboJpeg was requested but cannot be used: {whyNot}");
    }

    public DecodeLimits Limits { get; }

    /// <summary>The library this decoder uses for JPEGs: <see cref="JpegDecoder.TurboJpeg"/> or <see cref="JpegDecoder.SkiaSharp"/>.</summary>
    public JpegDecoder JpegLibrary => _turbo is null ? JpegDecoder.SkiaSharp : JpegDecoder.TurboJpeg;

    /// <summary>Whether TurboJPEG can be loaded in this process, and if not why (every place tried, or the switch that disabled it).</summary>
    public static bool TurboJpegAvailable(out string? whyNot) => TurboJpegLibrary.TryLoad(out whyNot);

    /// <summary>Pixels the last decode asked the codec for (width × height of the decoded region); for tests and benchmarks.</summary>
    internal long LastDecodedPixels { get; private set; }

    /// <summary>Width and height of the last image whose views were planned (what dense evaluation's view sizes follow).</summary>
    public (int Width, int Height) LastImageSize { get; private set; }

    /// <summary>The library that produced the last successful decode's pixels; for tests.</summary>
    internal JpegDecoder LastDecoder { get; private set; }

    public void Dispose() => _turbo?.Dispose();

    /// <summary>Reads the header only: size and format, or why the bytes are not an image.</summary>
    public static DecodeResult Probe(ReadOnlySpan<byte> bytes, out int width, out int height, out SKEncodedImageFormat format)
    {
        width = height = 0;
        format = default;
        if (bytes.Length == 0) return DecodeResult.Bad(BadSampleReason.CorruptImage, "image member is empty (0 bytes)");
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        if (codec is null) return DecodeResult.Bad(BadSampleReason.CorruptImage, $"not a decodable image (first bytes {Magic(bytes)})");
        (width, height, format) = (codec.Info.Width, codec.Info.Height, codec.EncodedFormat);
        return DecodeResult.Ok;
    }

    /// <summary>
    /// Decodes <paramref name="bytes"/> (format detected from the magic bytes) and writes
    /// <see cref="TransformOptions.Views"/> views of (C, S, S) to <paramref name="dst"/>.
    /// </summary>
    public DecodeResult Decode(ReadOnlySpan<byte> bytes, TransformOptions t, ref SampleRandom random, Span<float> dst)
    {
        if (dst.Length < t.SampleElements) throw new ArgumentException($"output needs {t.SampleElements} floats, got {dst.Length}");
        return Decode(bytes, t, ref random, new Destination(dst, default));
    }

    /// <summary>
    /// As the float overload, but writes the views as uint8 (S, S, C) each, not normalised: the same crops, flips and
    /// colour augmentation, rounded and clamped to [0, 255], channels in output order (see Note [Uint8 batches]).
    /// </summary>
    public DecodeResult Decode(ReadOnlySpan<byte> bytes, TransformOptions t, ref SampleRandom random, Span<byte> dst)
    {
        if (dst.Length < t.SampleElements) throw new ArgumentException($"output needs {t.SampleElements} bytes, got {dst.Length}");
        return Decode(bytes, t, ref random, new Destination(default, dst));
    }

    /// <summary>Where the views go: float32 (C, H, W) views, or uint8 (H, W, C) views when <see cref="Bytes"/> is not empty.</summary>
    private readonly ref struct Destination(Span<float> floats, Span<byte> bytes)
    {
        public Span<float> Floats { get; } = floats;
        public Span<byte> Bytes { get; } = bytes;
        public bool IsBytes => !Bytes.IsEmpty;
    }

    private DecodeResult Decode(ReadOnlySpan<byte> bytes, TransformOptions t, ref SampleRandom random, Destination dst)
    {
        if (bytes.Length == 0) return DecodeResult.Bad(BadSampleReason.CorruptImage, "image member is empty (0 bytes)");
        if (JpegHeader.Unsupported(bytes) is { } unsupported) return DecodeResult.Bad(BadSampleReason.CorruptImage, unsupported);
        if (_turbo is not null && JpegHeader.IsJpeg(bytes))
        {
            var start = random;
            if (TryDecodeTurbo(bytes, t, ref random, dst, out var result, out string? turboError)) return result;
            random = start; // SkiaSharp decides (see Note [Two JPEG decoders]), with the same random draws
            var skia = DecodeSkia(bytes, t, ref random, dst);
            return skia.Success || turboError is null ? skia : skia with { Detail = $"{skia.Detail}; TurboJPEG {turboError}" };
        }
        return DecodeSkia(bytes, t, ref random, dst);
    }

    private DecodeResult CheckSize(int width, int height) =>
        width < 1 || height < 1 || width > Limits.MaxSide || height > Limits.MaxSide || (long)width * height > Limits.MaxPixels
            ? DecodeResult.Bad(BadSampleReason.ImageTooLarge,
                $"declared size {width}x{height} exceeds the limit ({Limits.MaxPixels} pixels, {Limits.MaxSide} per side)")
            : DecodeResult.Ok;

    /// <summary>
    /// Plans the views and their output sizes and draws the lighting (the random draws before decoding); returns the
    /// boxes' union and smallest size, measured as if every output were OutputSize square (so a box is large enough
    /// at a decode scale when minW and minH scaled are at least OutputSize).
    /// </summary>
    private int PlanViews(TransformOptions t, int width, int height, ref SampleRandom random,
        out double ux0, out double uy0, out double ux1, out double uy1, out double minW, out double minH)
    {
        if (_views.Length < t.Views) (_views, _outWidth, _outHeight) = (new CropBox[t.Views], new int[t.Views], new int[t.Views]);
        int viewCount = Geometry.Plan(t, width, height, ref random, _views);
        if (t.LightingStd > 0) PcaLighting.Sample(ref random, t.LightingStd, _light);
        else Array.Clear(_light);
        int s = t.OutputSize;
        ux0 = uy0 = minW = minH = double.MaxValue;
        ux1 = uy1 = 0;
        for (int i = 0; i < viewCount; i++)
        {
            var v = _views[i];
            if (t.Mode == CropMode.Dense)
            {
                var dense = Geometry.DenseView(width, height, t.Scales[i / 2], t.DenseMaxAspect);
                (_outWidth[i], _outHeight[i]) = (dense.Width, dense.Height);
            }
            else (_outWidth[i], _outHeight[i]) = (s, s);
            ux0 = Math.Min(ux0, v.X); uy0 = Math.Min(uy0, v.Y); ux1 = Math.Max(ux1, v.Right); uy1 = Math.Max(uy1, v.Bottom);
            minW = Math.Min(minW, _outWidth[i] == s ? v.Width : v.Width * s / _outWidth[i]);
            minH = Math.Min(minH, _outHeight[i] == s ? v.Height : v.Height * s / _outHeight[i]);
        }
        LastImageSize = (width, height);
        return viewCount;
    }

    /// <summary>
    /// The TurboJPEG path: header, size limits, plan, one scaled full-image decode, then the shared resample.
    /// False when SkiaSharp must decide instead (unreadable header, CMYK/YCCK, or any error or warning while decoding).
    /// </summary>
    private unsafe bool TryDecodeTurbo(ReadOnlySpan<byte> bytes, TransformOptions t, ref SampleRandom random, Destination dst,
        out DecodeResult result, out string? error)
    {
        result = DecodeResult.Ok;
        error = null;
        var length = new CULong((nuint)bytes.Length);
        fixed (byte* jpeg = bytes)
        {
            if (TurboJpeg.tjDecompressHeader3(_turbo!, jpeg, length, out int width, out int height, out _, out int colorspace) != 0)
            {
                error = "header " + TurboJpeg.LastError(_turbo!);
                return false;
            }
            // A tables-only stream (or one cut before its frame header) reads as 0x0; CMYK/YCCK cannot become RGB here.
            if (width < 1 || height < 1 || colorspace is TurboJpeg.TJCS_CMYK or TurboJpeg.TJCS_YCCK) return false;
            result = CheckSize(width, height);
            if (!result.Success) return true; // refused before decoding a pixel

            int viewCount = PlanViews(t, width, height, ref random, out double ux0, out double uy0, out double ux1, out double uy1, out double minW, out double minH);
            if (Limits.Jpeg == JpegDecoder.Auto && Limits.DecodeToCrop && (ux1 - ux0) * (uy1 - uy0) < TurboMinCoverage * width * height)
                return false; // a small region: SkiaSharp's region decoder is faster (see Note [Two JPEG decoders])
            int sw = width, sh = height;
            if (Limits.DecodeToCrop)
            {
                // Smallest factor ≤ 1 that keeps every box at least the output size (the table runs from 2/1 down to 1/8).
                double best = 1;
                foreach (var f in TurboJpeg.ScalingFactors)
                {
                    double ratio = (double)f.num / f.denom;
                    if (ratio > 1 || ratio >= best) continue;
                    int w = TurboJpeg.Scaled(width, f), h = TurboJpeg.Scaled(height, f);
                    if (minW * w / width >= t.OutputSize && minH * h / height >= t.OutputSize) { best = ratio; sw = w; sh = h; }
                }
            }
            EnsurePixels(4L * sw * sh);
            int status;
            fixed (byte* pixels = _pixels)
                status = TurboJpeg.tjDecompress2(_turbo!, jpeg, length, pixels, sw, 4 * sw, sh, TurboJpeg.TJPF_RGBX, 0);
            if (status != 0)
            {
                error = TurboJpeg.LastError(_turbo!);
                return false;
            }
            LastDecodedPixels = (long)sw * sh;
            LastDecoder = JpegDecoder.TurboJpeg;
            Finish(t, ref random, viewCount, (double)sw / width, (double)sh / height, 0, 0, _pixels.AsSpan(0, 4 * sw * sh), sw, sh, dst);
            return true;
        }
    }

    private DecodeResult DecodeSkia(ReadOnlySpan<byte> bytes, TransformOptions t, ref SampleRandom random, Destination dst)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        if (codec is null)
            return DecodeResult.Bad(BadSampleReason.CorruptImage, $"not a decodable image (first bytes {Magic(bytes)}, {bytes.Length} bytes)");

        int width = codec.Info.Width, height = codec.Info.Height;
        var size = CheckSize(width, height);
        if (!size.Success) return size;

        int viewCount = PlanViews(t, width, height, ref random, out double ux0, out double uy0, out double ux1, out double uy1, out double minW, out double minH);

        bool jpeg = codec.EncodedFormat == SKEncodedImageFormat.Jpeg;
        SKSizeI scaled = new(width, height);
        if (jpeg && Limits.DecodeToCrop)
        {
            for (int k = 1; k < 8; k++)
            {
                var dims = codec.GetScaledDimensions(k / 8f);
                if (minW * dims.Width / width >= t.OutputSize && minH * dims.Height / height >= t.OutputSize) { scaled = dims; break; }
            }
        }
        double fx = (double)scaled.Width / width, fy = (double)scaled.Height / height;

        // Region to decode, in scaled pixels, with a pixel of margin for the bilinear taps.
        int rx0 = 0, ry0 = 0, rx1 = scaled.Width, ry1 = scaled.Height;
        if (jpeg && Limits.DecodeToCrop && codec.ScanlineOrder == SKCodecScanlineOrder.TopDown && JpegHeader.EndsWithEoi(bytes))
        {
            rx0 = Math.Clamp((int)Math.Floor(ux0 * fx) - 1, 0, scaled.Width - 1);
            rx1 = Math.Clamp((int)Math.Ceiling(ux1 * fx) + 1, rx0 + 1, scaled.Width);
            ry0 = Math.Clamp((int)Math.Floor(uy0 * fy) - 1, 0, scaled.Height - 1);
            ry1 = Math.Clamp((int)Math.Ceiling(uy1 * fy) + 1, ry0 + 1, scaled.Height);
        }

        var info = new SKImageInfo(scaled.Width, scaled.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var decoded = DecodeRegion(codec, info, ref rx0, ref rx1, ry0, ry1);
        if (!decoded.Success) return decoded;
        int rw = rx1 - rx0, rh = ry1 - ry0;
        LastDecodedPixels = (long)rw * rh;
        LastDecoder = JpegDecoder.SkiaSharp;
        Finish(t, ref random, viewCount, fx, fy, rx0, ry0, _pixels.AsSpan(0, 4 * rw * rh), rw, rh, dst);
        return DecodeResult.Ok;
    }

    /// <summary>
    /// From decoded RGBA pixels (a region starting at scaled pixel (rx0, ry0), scaled by fx, fy from the source)
    /// to the output views: antialiasing reduce when needed, colour jitter, then the fused resample per view.
    /// </summary>
    private void Finish(TransformOptions t, ref SampleRandom random, int viewCount, double fx, double fy, int rx0, int ry0,
        ReadOnlySpan<byte> region, int rw, int rh, Destination dst)
    {
        var views = _views.AsSpan(0, viewCount);
        int stride = 4 * rw;

        // Antialias a large remaining downscale with a box filter first.
        double remaining = double.MaxValue;
        for (int i = 0; i < views.Length; i++)
            remaining = Math.Min(remaining, Math.Min(views[i].Width * fx / _outWidth[i], views[i].Height * fy / _outHeight[i]));
        double reduce = 1;
        if (remaining >= 2)
        {
            int factor = (int)remaining;
            int need = 4 * ((rw + factor - 1) / factor) * ((rh + factor - 1) / factor);
            if (_reduced.Length < need) _reduced = GC.AllocateUninitializedArray<byte>(need, pinned: true);
            (rw, rh) = Resampler.BoxReduce(region, rw, rh, stride, factor, _reduced);
            stride = 4 * rw;
            region = _reduced.AsSpan(0, stride * rh);
            reduce = factor;
        }

        if (t.HasColorJitter)
        {
            MeanRgb(region, rw, rh, stride, _meanRgb);
            ColorJitter.Sample(ref random, t.Brightness, t.Contrast, t.Saturation, _meanRgb, _jitterM, _jitterT);
            SetAffineNormalisation(t, pixelUnits: dst.IsBytes);
        }
        else
        {
            SetNormalisation(t, pixelUnits: dst.IsBytes);
        }
        int offset = 0;
        for (int i = 0; i < views.Length; i++)
        {
            var v = views[i];
            var box = new CropBox((v.X * fx - rx0) / reduce, (v.Y * fy - ry0) / reduce, v.Width * fx / reduce, v.Height * fy / reduce, v.Flip);
            int ow = _outWidth[i], oh = _outHeight[i], viewElements = t.Channels * ow * oh;
            if (dst.IsBytes)
            {
                var bytes = dst.Bytes.Slice(offset, viewElements);   // (oh, ow, C); views follow each other without gaps
                if (t.HasColorJitter)
                    Resampler.ResampleToHwcAffine(region, rw, rh, stride, box, ow, oh, t.Channels, _matrix, _bias, bytes);
                else
                    Resampler.ResampleToHwc(region, rw, rh, stride, box, ow, oh, t.Channels, _sourceChannel, _scale, _bias, bytes);
            }
            else
            {
                var view = dst.Floats.Slice(offset, viewElements);   // (C, oh, ow); views follow each other without gaps
                if (t.HasColorJitter)
                    Resampler.ResampleToChwAffine(region, rw, rh, stride, box, ow, oh, t.Channels, _matrix, _bias, view);
                else
                    Resampler.ResampleToChw(region, rw, rh, stride, box, ow, oh, t.Channels, _sourceChannel, _scale, _bias, view);
            }
            if (v.X < 0 || v.Y < 0 || v.Right > LastImageSize.Width || v.Bottom > LastImageSize.Height)
                FillOutside(v, LastImageSize.Width, LastImageSize.Height, ow, oh, t.Channels, dst, offset);
            offset += viewElements;
        }
    }

    /// <summary>
    /// A box that reaches outside the image (<see cref="CropMode.PadRandomCrop"/>): the output pixels whose centre
    /// falls outside get what a black pixel becomes, the bias of the fused pass (the resample itself clamps to the edge).
    /// </summary>
    private void FillOutside(CropBox v, int width, int height, int ow, int oh, int channels, Destination dst, int offset)
    {
        bool Outside(double start, double size, int n, int i, int limit) { double c = start + (i + 0.5) * size / n; return c < 0 || c >= limit; }
        for (int oy = 0; oy < oh; oy++)
        {
            bool rowOut = Outside(v.Y, v.Height, oh, oy, height);
            for (int ox = 0; ox < ow; ox++)
            {
                if (!rowOut && !Outside(v.X, v.Width, ow, ox, width)) continue;
                int x = v.Flip ? ow - 1 - ox : ox;   // the view is stored mirrored
                for (int c = 0; c < channels; c++)
                {
                    if (dst.IsBytes) dst.Bytes[offset + (oy * ow + x) * channels + c] = (byte)Math.Clamp(MathF.Round(_bias[c]), 0, 255);   // (oh, ow, C)
                    else dst.Floats[offset + (c * oh + oy) * ow + x] = _bias[c];                                                           // (C, oh, ow)
                }
            }
        }
    }

    /// <summary>Decodes rows [ry0, ry1) and columns [rx0, rx1) into <see cref="_pixels"/>; the column range may widen to the whole row.</summary>
    private DecodeResult DecodeRegion(SKCodec codec, SKImageInfo info, ref int rx0, ref int rx1, int ry0, int ry1)
    {
        bool partial = rx0 > 0 || rx1 < info.Width || ry0 > 0 || ry1 < info.Height;
        if (partial)
        {
            int rw = rx1 - rx0, rows = ry1 - ry0;
            EnsurePixels(4L * rw * rows);
            var subset = new SKRectI(rx0, 0, rx1, info.Height);
            // ZeroInitialized.Yes: Skia then leaves the rows of an incomplete image alone instead of filling
            // them, a path that crashed on truncated input (see Note [Truncated JPEG and scanlines]).
            var start = codec.StartScanlineDecode(info, new SKCodecOptions(SKZeroInitialized.Yes, subset));
            if (start == SKCodecResult.Success)
            {
                if (ry0 > 0 && !codec.SkipScanlines(ry0))
                    return DecodeResult.Bad(BadSampleReason.TruncatedImage, $"image data ends before row {ry0} of {info.Height}");
                int got = codec.GetScanlines(Marshal.UnsafeAddrOfPinnedArrayElement(_pixels, 0), rows, 4 * rw);
                if (got != rows)
                    return DecodeResult.Bad(BadSampleReason.TruncatedImage, $"image data ends at row {ry0 + got} of {info.Height} (premature end)");
                return DecodeResult.Ok;
            }
            if (start == SKCodecResult.IncompleteInput)
                return DecodeResult.Bad(BadSampleReason.TruncatedImage, "image data ends early (premature end)");
            if (start == SKCodecResult.ErrorInInput)
                return DecodeResult.Bad(BadSampleReason.CorruptImage, $"scanline decoder refused the image ({start})");
            // Anything else (e.g. an unsupported subset): decode the whole image below.
        }
        rx0 = 0;
        rx1 = info.Width;
        EnsurePixels(4L * info.Width * info.Height);
        var result = codec.GetPixels(info, Marshal.UnsafeAddrOfPinnedArrayElement(_pixels, 0), info.RowBytes, new SKCodecOptions(SKZeroInitialized.Yes));
        return result switch
        {
            SKCodecResult.Success => DecodeResult.Ok,
            SKCodecResult.IncompleteInput => DecodeResult.Bad(BadSampleReason.TruncatedImage, "image data ends early (premature end)"),
            _ => DecodeResult.Bad(BadSampleReason.CorruptImage, $"decoder failed: {result}"),
        };
    }

    private void EnsurePixels(long bytes)
    {
        if (bytes > Array.MaxLength) throw new InvalidOperationException($"decode buffer of {bytes} bytes is too large");
        if (_pixels.Length < bytes) _pixels = GC.AllocateUninitializedArray<byte>((int)Math.Max(bytes, 1 << 20), pinned: true);
    }

    /// <summary>
    /// Folds normalisation and this sample's lighting offset into out = p · scale + bias per output channel; in
    /// <paramref name="pixelUnits"/> (uint8 output) the lighting offset only, in 0–255 units: the device normalises.
    /// </summary>
    private void SetNormalisation(TransformOptions t, bool pixelUnits)
    {
        var n = t.Normalization;
        float range = n.PixelRange;
        for (int c = 0; c < t.Channels; c++)
        {
            int src = t.Channels == 1 ? 0 : n.Order == ChannelOrder.Rgb ? c : 2 - c;
            _sourceChannel[c] = src;
            float light = t.Channels == 3 ? _light[src] : 0f;
            _scale[c] = pixelUnits ? 1f : range / 255f / n.Std[c];
            _bias[c] = pixelUnits ? light * 255f : (light * range - n.Mean[c]) / n.Std[c];
        }
    }

    /// <summary>
    /// Folds colour jitter (M, t on [0, 1] RGB), lighting and normalisation into one affine map per output
    /// channel on 0–255 source pixels: out[c] = Σ_k A[c,k]·p[k] + b[c]; in <paramref name="pixelUnits"/> without the
    /// normalisation (out in 0–255 units, for uint8 output).
    /// </summary>
    private void SetAffineNormalisation(TransformOptions t, bool pixelUnits)
    {
        var n = t.Normalization;
        float range = n.PixelRange;
        var luma = ColorJitter.Luma;
        Span<double> row = stackalloc double[3];
        for (int c = 0; c < t.Channels; c++)
        {
            // Row of the jittered RGB this output channel reads: one source channel, or luma for one channel.
            row.Clear();
            double offset = 0;
            for (int j = 0; j < 3; j++)
            {
                double weight = t.Channels == 1 ? luma[j] : j == (n.Order == ChannelOrder.Rgb ? c : 2 - c) ? 1 : 0;
                if (weight == 0) continue;
                for (int k = 0; k < 3; k++) row[k] += weight * _jitterM[3 * j + k];
                offset += weight * (_jitterT[j] + (t.Channels == 3 ? _light[j] : 0));
            }
            for (int k = 0; k < 3; k++) _matrix[3 * c + k] = (float)(pixelUnits ? row[k] : row[k] / 255.0 * range / n.Std[c]);
            _bias[c] = (float)(pixelUnits ? offset * 255 : (offset * range - n.Mean[c]) / n.Std[c]);
        }
    }

    /// <summary>Mean RGB in [0, 1] of an RGBA region, from every 4th pixel of every 4th row.</summary>
    private static void MeanRgb(ReadOnlySpan<byte> region, int width, int height, int stride, Span<double> mean)
    {
        long r = 0, g = 0, b = 0, count = 0;
        for (int y = 0; y < height; y += 4)
        {
            var rowBytes = region.Slice(y * stride, 4 * width);
            for (int x = 0; x < width; x += 4, count++)
            {
                r += rowBytes[4 * x];
                g += rowBytes[4 * x + 1];
                b += rowBytes[4 * x + 2];
            }
        }
        mean[0] = r / (255.0 * count);
        mean[1] = g / (255.0 * count);
        mean[2] = b / (255.0 * count);
    }

    private static string Magic(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes[..Math.Min(4, bytes.Length)]);
}
