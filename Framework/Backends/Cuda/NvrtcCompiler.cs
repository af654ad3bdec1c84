using System.Runtime.InteropServices;
using System.Text;
using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

/// <summary>One compiled kernel file: a cubin for a real <c>sm_XY</c>, or NUL-terminated PTX for a virtual <c>compute_XY</c>.</summary>
internal sealed record KernelImage(string FileName, string Arch, byte[] Image, bool IsCubin, string Log);

/// <summary>
/// Kiln's NVRTC front end: compiles one source with in-memory headers for one architecture and returns
/// the image. Needs no GPU and no libcuda. A failed compile throws <see cref="NvrtcCompileException"/>
/// with NVRTC's full program log.
/// </summary>
internal static unsafe class NvrtcCompiler
{
    private static (int Major, int Minor)? s_version;
    private static int[]? s_archs;

    /// <summary>Whether libnvrtc can be loaded; the reason (every place tried) when not.</summary>
    internal static bool IsAvailable(out string? whyNot) => NativeLibraries.TryLoad(NativeLibraries.Nvrtc, out _, out whyNot);

    /// <summary>The loaded NVRTC's version.</summary>
    internal static (int Major, int Minor) Version
    {
        get
        {
            if (s_version is { } v) return v;
            Nvrtc.Check(Nvrtc.nvrtcVersion(out int major, out int minor));
            s_version = (major, minor);
            return (major, minor);
        }
    }

    /// <summary>SM versions this NVRTC can target (e.g. 35 … 90 for 11.8), ascending.</summary>
    internal static int[] SupportedArchs
    {
        get
        {
            if (s_archs is { } a) return a;
            Nvrtc.Check(Nvrtc.nvrtcGetNumSupportedArchs(out int count));
            var archs = new int[count];
            fixed (int* p = archs) Nvrtc.Check(Nvrtc.nvrtcGetSupportedArchs(p));
            return s_archs = archs;
        }
    }

    /// <summary>
    /// The target for a device of compute capability major.minor: <c>sm_XY</c> (cubin, no driver JIT) when
    /// this NVRTC knows it; PTX for the newest <c>compute_XY</c> it knows when the device is newer (the
    /// driver JITs it); null with a reason when the device is older than anything NVRTC supports.
    /// </summary>
    internal static string? ChooseArch(int major, int minor, IReadOnlyList<int> supported, out string? whyNot)
    {
        int sm = major * 10 + minor;
        whyNot = null;
        if (supported.Contains(sm)) return $"sm_{sm}";
        if (supported.Count > 0 && sm > supported[^1]) return $"compute_{supported[^1]}";
        // Same major, lower minor: a cubin for sm_X0 runs on sm_XY (minor-compatible).
        var sameMajor = supported.Where(a => a / 10 == major && a < sm).ToArray();
        if (sameMajor.Length > 0) return $"sm_{sameMajor[^1]}";
        whyNot = $"compute capability {major}.{minor} is not supported by NVRTC {Version.Major}.{Version.Minor} (supports {string.Join(", ", supported)})";
        return null;
    }

    /// <summary>Compiles <paramref name="source"/> for <paramref name="arch"/> with <paramref name="options"/> (the arch option is added here).</summary>
    internal static KernelImage Compile(string fileName, string source, IReadOnlyList<(string Name, string Text)> headers,
                                        string arch, IReadOnlyList<string> options)
    {
        var allOptions = new List<string>(options.Count + 1) { $"--gpu-architecture={arch}" };
        allOptions.AddRange(options);

        using var strings = new Utf8Strings();
        byte* src = strings.Add(source);
        byte* name = strings.Add(fileName);
        byte** headerTexts = stackalloc byte*[Math.Max(headers.Count, 1)];
        byte** headerNames = stackalloc byte*[Math.Max(headers.Count, 1)];
        for (int i = 0; i < headers.Count; i++)
        {
            headerTexts[i] = strings.Add(headers[i].Text);
            headerNames[i] = strings.Add(headers[i].Name);
        }
        byte** opts = stackalloc byte*[allOptions.Count];
        for (int i = 0; i < allOptions.Count; i++) opts[i] = strings.Add(allOptions[i]);

        Nvrtc.Check(Nvrtc.nvrtcCreateProgram(out var program, src, name, headers.Count, headerTexts, headerNames));
        using (program)
        {
            var status = Nvrtc.nvrtcCompileProgram(program, allOptions.Count, opts);
            string log = ReadLog(program);
            if (status != nvrtcResult.NVRTC_SUCCESS)
                throw new NvrtcCompileException((int)status, status.ToString(), Nvrtc.ErrorString(status),
                    "nvrtcCompileProgram", fileName, arch, allOptions, log);

            bool cubin = arch.StartsWith("sm_", StringComparison.Ordinal);
            byte[] image;
            if (cubin)
            {
                Nvrtc.Check(Nvrtc.nvrtcGetCUBINSize(program, out nuint size));
                image = new byte[(int)size];
                fixed (byte* p = image) Nvrtc.Check(Nvrtc.nvrtcGetCUBIN(program, p));
            }
            else
            {
                Nvrtc.Check(Nvrtc.nvrtcGetPTXSize(program, out nuint size));   // includes the NUL cuModuleLoadData needs
                image = new byte[(int)size];
                fixed (byte* p = image) Nvrtc.Check(Nvrtc.nvrtcGetPTX(program, p));
            }
            return new KernelImage(fileName, arch, image, cubin, log);
        }
    }

    private static string ReadLog(NvrtcProgramHandle program)
    {
        Nvrtc.Check(Nvrtc.nvrtcGetProgramLogSize(program, out nuint size));
        if (size <= 1) return "";
        var buffer = new byte[(int)size];
        fixed (byte* p = buffer) Nvrtc.Check(Nvrtc.nvrtcGetProgramLog(program, p));
        return Encoding.UTF8.GetString(buffer, 0, buffer.Length - 1).TrimEnd();
    }

    /// <summary>NUL-terminated UTF-8 copies in native memory, freed together.</summary>
    private sealed class Utf8Strings : IDisposable
    {
        private readonly List<nint> _blocks = [];

        public byte* Add(string s)
        {
            int n = Encoding.UTF8.GetByteCount(s);
            byte* p = (byte*)NativeMemory.Alloc((nuint)n + 1);
            _blocks.Add((nint)p);
            Encoding.UTF8.GetBytes(s, new Span<byte>(p, n));
            p[n] = 0;
            return p;
        }

        public void Dispose()
        {
            foreach (var b in _blocks) NativeMemory.Free((void*)b);
            _blocks.Clear();
        }
    }
}
