using System.Runtime.InteropServices;

namespace Kiln.Data.Interop;

/// <summary>
/// The TurboJPEG 2.1 decompression API of the system's SIMD libjpeg-turbo (<c>libturbojpeg.so.0</c>, Debian
/// package <c>libturbojpeg0</c>), prototypes from libjpeg-turbo 2.1's <c>turbojpeg.h</c>. The library is
/// optional: <see cref="TurboJpegLibrary.TryLoad"/> says whether it loaded, and <see cref="ImageDecoder"/>
/// falls back to SkiaSharp without it.
///
/// Note [TurboJPEG errors]: libjpeg reports fatal errors through an <c>error_exit</c> callback that must not
/// return; TurboJPEG 2.1 installs its own, which <c>longjmp</c>s to a <c>setjmp</c> inside the same TurboJPEG
/// function, and that function returns -1. No jump ever crosses managed frames, so the API is safe to call
/// from C#. Warnings (e.g. "premature end of data segment") do not stop decoding unless
/// <see cref="TJFLAG_STOPONWARNING"/> is set, but the call still returns -1 with
/// <see cref="tjGetErrorCode"/> = <see cref="TJERR_WARNING"/>. Error strings live in the handle
/// (<see cref="tjGetErrorStr2"/>), so one handle per thread gives per-thread messages.
/// </summary>
internal static unsafe partial class TurboJpeg
{
    internal const string Lib = TurboJpegLibrary.SoName;

    internal const int TJPF_RGB = 0, TJPF_RGBX = 2, TJPF_GRAY = 6, TJPF_RGBA = 7, TJPF_CMYK = 11;
    internal const int TJCS_RGB = 0, TJCS_YCbCr = 1, TJCS_GRAY = 2, TJCS_CMYK = 3, TJCS_YCCK = 4;
    internal const int TJFLAG_FASTUPSAMPLE = 256, TJFLAG_FASTDCT = 2048, TJFLAG_ACCURATEDCT = 4096, TJFLAG_STOPONWARNING = 8192;
    internal const int TJERR_WARNING = 0, TJERR_FATAL = 1;

    [StructLayout(LayoutKind.Sequential)]
    internal struct TjScalingFactor // tjscalingfactor
    {
        public int num;
        public int denom;
    }

    // tjhandle tjInitDecompress(void);  NULL on failure (then tjGetErrorStr2(NULL) says why).
    [LibraryImport(Lib)] internal static partial TurboJpegHandle tjInitDecompress();

    // int tjDecompressHeader3(tjhandle, const unsigned char *jpegBuf, unsigned long jpegSize, int *width, int *height, int *jpegSubsamp, int *jpegColorspace);
    [LibraryImport(Lib)]
    internal static partial int tjDecompressHeader3(TurboJpegHandle handle, byte* jpegBuf, CULong jpegSize,
        out int width, out int height, out int jpegSubsamp, out int jpegColorspace);

    // tjscalingfactor *tjGetScalingFactors(int *numScalingFactors);  a static table, NULL on error.
    [LibraryImport(Lib)] internal static partial TjScalingFactor* tjGetScalingFactors(out int numScalingFactors);

    // int tjDecompress2(tjhandle, const unsigned char *jpegBuf, unsigned long jpegSize, unsigned char *dstBuf, int width, int pitch, int height, int pixelFormat, int flags);
    [LibraryImport(Lib)]
    internal static partial int tjDecompress2(TurboJpegHandle handle, byte* jpegBuf, CULong jpegSize, byte* dstBuf,
        int width, int pitch, int height, int pixelFormat, int flags);

    // char *tjGetErrorStr2(tjhandle handle);  handle may be NULL (errors of tjInit*).
    [LibraryImport(Lib)] internal static partial nint tjGetErrorStr2(nint handle);

    // int tjGetErrorCode(tjhandle handle);  TJERR_WARNING or TJERR_FATAL for the last error on the handle.
    [LibraryImport(Lib)] internal static partial int tjGetErrorCode(TurboJpegHandle handle);

    // int tjDestroy(tjhandle handle);  0 on success.
    [LibraryImport(Lib)] internal static partial int tjDestroy(nint handle);

    /// <summary>The library's message for the last error on <paramref name="handle"/> (or of tjInit* for 0).</summary>
    internal static string ErrorString(nint handle) => Marshal.PtrToStringUTF8(tjGetErrorStr2(handle)) ?? "(no message)";

    /// <summary>"warning: message" or "error: message" for the last failed call on <paramref name="handle"/>; for bad-sample details.</summary>
    internal static string LastError(TurboJpegHandle handle) =>
        $"{(tjGetErrorCode(handle) == TJERR_WARNING ? "warning" : "error")}: {ErrorString(handle.DangerousGetHandle())}";

    /// <summary>A new decompressor; throws <see cref="TurboJpegException"/> when TurboJPEG cannot make one.</summary>
    internal static TurboJpegHandle CreateDecompressor()
    {
        var handle = tjInitDecompress();
        if (handle.IsInvalid)
        {
            handle.Dispose();
            throw new TurboJpegException(TJERR_FATAL, ErrorString(0), nameof(tjInitDecompress) + "()");
        }
        return handle;
    }

    /// <summary>The scaling factors the decompressor supports (2/1 … 1/8 in 2.1), read once.</summary>
    internal static TjScalingFactor[] ScalingFactors => s_factors ??= ReadScalingFactors();
    private static TjScalingFactor[]? s_factors;

    private static TjScalingFactor[] ReadScalingFactors()
    {
        var table = tjGetScalingFactors(out int n);
        if (table is null || n <= 0)
            throw new TurboJpegException(TJERR_FATAL, ErrorString(0), "tjGetScalingFactors(out n)");
        return new ReadOnlySpan<TjScalingFactor>(table, n).ToArray();
    }

    /// <summary>TJSCALED: ceil(dimension · num / denom).</summary>
    internal static int Scaled(int dimension, TjScalingFactor f) => (int)(((long)dimension * f.num + f.denom - 1) / f.denom);
}

/// <summary>A TurboJPEG decompressor (<c>tjhandle</c>); one per worker thread, freed with <c>tjDestroy</c>.</summary>
internal sealed class TurboJpegHandle : SafeHandle
{
    public TurboJpegHandle() : base(0, ownsHandle: true) { }
    public override bool IsInvalid => handle == 0;
    protected override bool ReleaseHandle() => TurboJpeg.tjDestroy(handle) == 0;
}
