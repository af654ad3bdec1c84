using System.Diagnostics;
using System.Runtime.CompilerServices;
using Kiln.Backends.Cuda.Interop;
using Kiln.Core.Ops;

namespace Kiln.Backends.Cuda;

/// <summary>
/// The CUDA backend for one device: its primary context, one compute stream (every kernel, copy and
/// library call goes there, so ordering is implicit), a caching allocator, the NVRTC kernel cache and,
/// lazily, a cuBLAS handle bound to the stream. Kernel launchers live in the partial files by op
/// (<c>CudaBackend.Relu.cs</c>, ...). Registered with Core lazily: nothing touches the driver until a
/// <c>cuda:N</c> tensor is created.
/// </summary>
public sealed unsafe partial class CudaBackend : IBackend, IDisposable
{
    /// <summary>Block size of the 1-D elementwise launches.</summary>
    internal const int BlockSize = 256;

#pragma warning disable CA2255 // a module initializer is how backends register with Core
    [ModuleInitializer]
    internal static void Register() => Backend.Register(DeviceType.Cuda, Create);
#pragma warning restore CA2255

    /// <summary>The registry's factory: a backend for <c>cuda:index</c>, or an exception saying why there is none.</summary>
    internal static CudaBackend Create(int index)
    {
        if (!CudaDevice.TryCreate(index, out var device, out string? whyNot))
            throw new InvalidOperationException($"cuda:{index} is not usable (use device cpu; `kiln devices` shows what was found): {whyNot}");
        return new CudaBackend(device!);
    }

    private readonly PrimaryContextHandle _context;
    private readonly CudaStreamHandle _stream;
    private readonly Lock _kernelLock = new();
    private readonly Dictionary<string, CudaModuleHandle> _modules = new(StringComparer.Ordinal);
    private readonly Dictionary<string, nint> _functions = new(StringComparer.Ordinal);
    private KernelCache? _kernels;
    private bool _disposed;

    [ThreadStatic] private static nint t_currentContext;

    private CudaBackend(CudaDevice device)
    {
        Info = device;
        Device = Device.Cuda(device.Index);
        _context = PrimaryContextHandle.Retain(device.Index);
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuStreamCreate(out _stream, CudaFlags.CU_STREAM_NON_BLOCKING));
        Allocator = new CudaAllocator(new DriverMemory(this), Device.ToString());
    }

    public Device Device { get; }

    /// <summary>What the driver reports about this GPU.</summary>
    public CudaDevice Info { get; }

    /// <summary>This device's caching allocator (statistics, <see cref="CudaAllocator.EmptyCache"/>).</summary>
    public CudaAllocator Allocator { get; }

    /// <summary>The compute stream's handle value (for library calls bound to it).</summary>
    internal nint Stream => _stream.Value;

    /// <summary>
    /// Makes this device's primary context current on the calling thread. The context is per OS thread
    /// and .NET moves work across threads, so every entry point calls this; it is one compare when the
    /// context already is current.
    /// </summary>
    internal void MakeCurrent()
    {
        nint ctx = _context.Value;
        if (t_currentContext == ctx) return;
        CudaDriver.Check(CudaDriver.cuCtxSetCurrent(ctx));
        t_currentContext = ctx;
    }

    // ------------------------------------------------------------ kernels

    /// <summary>The NVRTC cache for this device's architecture, created on the first kernel launch.</summary>
    internal KernelCache Kernels
    {
        get
        {
            if (_kernels is { } k) return k;
            if (!NvrtcCompiler.IsAvailable(out string? whyNot))
                throw new InvalidOperationException($"{Device}: CUDA kernels are compiled at run time and need NVRTC, which could not be loaded: {whyNot}");
            string arch = NvrtcCompiler.ChooseArch(Info.ComputeCapabilityMajor, Info.ComputeCapabilityMinor, NvrtcCompiler.SupportedArchs, out string? why)
                ?? throw new InvalidOperationException($"{Device} ({Info.Name}): {why}");
            return _kernels = new KernelCache(arch, KernelCache.DefaultDirectory());
        }
    }

    /// <summary>The <c>CUfunction</c> of kernel <paramref name="name"/> in <c>Kernels/<paramref name="file"/></c>, loading the module on first use.</summary>
    internal nint Function(string file, string name)
    {
        lock (_kernelLock)
        {
            if (_functions.TryGetValue(name, out nint f)) return f;
            MakeCurrent();
            if (!_modules.TryGetValue(file, out var module)) _modules[file] = module = LoadModule(Kernels.Get(file));
            byte[] ascii = System.Text.Encoding.ASCII.GetBytes(name + "\0");
            fixed (byte* p = ascii)
            {
                var status = CudaDriver.cuModuleGetFunction(out f, module, p);
                if (status != CUresult.CUDA_SUCCESS) throw CudaDriver.Error(status, $"cuModuleGetFunction({name})", $"kernel {name} in {file}");
            }
            return _functions[name] = f;
        }
    }

    private static CudaModuleHandle LoadModule(KernelImage image)
    {
        const int logSize = 8192;
        byte* errorLog = stackalloc byte[logSize];
        errorLog[0] = 0;
        CUjit_option* options = stackalloc CUjit_option[2];
        void** values = stackalloc void*[2];
        options[0] = CUjit_option.CU_JIT_ERROR_LOG_BUFFER;
        values[0] = errorLog;
        options[1] = CUjit_option.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES;
        values[1] = (void*)(nuint)logSize;
        fixed (byte* p = image.Image)
        {
            var status = CudaDriver.cuModuleLoadDataEx(out var module, p, 2, options, values);
            if (status == CUresult.CUDA_SUCCESS) return module;
            module.Dispose();
            string log = System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)errorLog) ?? "";
            throw CudaDriver.Error(status, "cuModuleLoadDataEx", $"loading {image.FileName} built for {image.Arch}" +
                (status == CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION ? $" (NVRTC {NvrtcCompiler.Version.Major}.{NvrtcCompiler.Version.Minor} is newer than the driver's CUDA {CudaDevice.FormatDriverVersion(CudaDevice.InstalledDriverVersion)})" : "") +
                (log.Length > 0 ? $"; JIT log: {log}" : ""));
        }
    }

    /// <summary>Grid for a grid-stride 1-D launch over <paramref name="n"/> elements: enough blocks to fill the GPU, no more.</summary>
    internal uint GridFor(long n, int block = BlockSize) =>
        (uint)Math.Clamp((n + block - 1) / block, 1, Math.Min(Info.MultiprocessorCount * 32L, Info.MaxGridDimX));

    /// <summary>Launches on the compute stream; <paramref name="args"/> points at one pointer per kernel parameter.</summary>
    internal void Launch(nint function, string name, uint gridX, uint gridY, uint block, void** args, uint sharedBytes = 0)
    {
        MakeCurrent();
        var status = CudaDriver.cuLaunchKernel(function, gridX, gridY, 1, block, 1, 1, sharedBytes, _stream.Value, args, null);
        if (status != CUresult.CUDA_SUCCESS)
            throw CudaDriver.Error(status, $"cuLaunchKernel({name})", $"grid ({gridX}, {gridY}), block {block}");
    }

    /// <summary>A 1-D grid-stride launch of <c>file:name</c> over <paramref name="n"/> elements.</summary>
    internal void Launch1D(string file, string name, long n, void** args)
    {
        if (n == 0) return;
        Launch(Function(file, name), name, GridFor(n), 1, BlockSize, args);
    }

    // ------------------------------------------------------------ tensors

    /// <summary>Device address of a tensor's first element.</summary>
    internal ulong Ptr(Tensor t)
    {
        Debug.Assert(t.Device == Device, $"{Device} kernel got a tensor on {t.Device}");
        return (ulong)t.Storage.Pointer + (ulong)(t.Offset * t.DType.Size());
    }

    /// <summary>Device address of a contiguous tensor (kernels index it flat).</summary>
    internal ulong ContiguousPtr(Tensor t, string op)
    {
        if (!t.IsContiguous)
            throw new InvalidOperationException($"CUDA {op} needs a contiguous tensor, got strides ({string.Join(", ", t.Strides.ToArray())}) for {t.ShapeString()}");
        return Ptr(t);
    }

    /// <summary>Kernel name suffix of a floating dtype.</summary>
    internal static string FloatSuffix(string op, Tensor t) => t.DType switch
    {
        DType.Float32 => "f32",
        DType.Float64 => "f64",
        _ => throw new InvalidOperationException($"{op} on CUDA supports float32 and float64, got {t.DType.Name()} {t.ShapeString()}"),
    };

    // ------------------------------------------------------------ IBackend: memory

    public Storage Allocate(long sizeBytes) => new CudaStorage(Device, Allocator.Allocate(sizeBytes));

    public void CopyFromHost(ReadOnlySpan<byte> src, Tensor dst)
    {
        ulong d = ContiguousPtr(dst, "copy from host");
        long bytes = dst.NumElements * dst.DType.Size();
        if (src.Length != bytes) throw new ArgumentException($"copy of {src.Length} bytes into {dst} of {bytes} bytes");
        if (bytes == 0) return;
        MakeCurrent();
        fixed (byte* s = src)
        {
            CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(d, s, (nuint)bytes, _stream.Value));
            // The span may be page-locked (then the copy is truly asynchronous) and is the caller's
            // again after return: wait. Bulk uploads should use pinned staging buffers instead.
            CudaDriver.Check(CudaDriver.cuStreamSynchronize(_stream.Value));
        }
    }

    public void CopyToHost(Tensor src, Span<byte> dst)
    {
        ulong s = ContiguousPtr(src, "copy to host");
        long bytes = src.NumElements * src.DType.Size();
        if (dst.Length != bytes) throw new ArgumentException($"copy of {src} ({bytes} bytes) into {dst.Length} bytes");
        if (bytes == 0) return;
        MakeCurrent();
        fixed (byte* d = dst)
        {
            CudaDriver.Check(CudaDriver.cuMemcpyDtoHAsync_v2(d, s, (nuint)bytes, _stream.Value));
            CudaDriver.Check(CudaDriver.cuStreamSynchronize(_stream.Value));
        }
        ThrowIfBadLabel();   // Note [Deferred label check]
    }

    public void Copy(Tensor src, Tensor dst)
    {
        if (!src.SameShape(dst)) throw new ArgumentException($"copy {src.ShapeString()} into {dst.ShapeString()}: shapes differ");
        ulong d = ContiguousPtr(dst, "copy");
        if (src.NumElements == 0) return;
        if (src.DType == dst.DType)
        {
            if (src.IsContiguous)
            {
                MakeCurrent();
                CudaDriver.Check(CudaDriver.cuMemcpyDtoDAsync_v2(d, Ptr(src), (nuint)(src.NumElements * src.DType.Size()), _stream.Value));
            }
            else CopyStrided(src, dst);
            return;
        }
        if (!src.IsContiguous)
        {
            using var tmp = Tensor.Empty(src.Shape, src.DType, Device);
            CopyStrided(src, tmp);
            Cast(tmp, dst);
        }
        else Cast(src, dst);
    }

    public void Fill(Tensor t, double value)
    {
        ulong p = ContiguousPtr(t, "fill");
        long n = t.NumElements;
        if (n == 0) return;
        MakeCurrent();
        switch (t.DType)
        {
            case DType.Float32:
                CudaDriver.Check(CudaDriver.cuMemsetD32Async(p, BitConverter.SingleToUInt32Bits((float)value), (nuint)n, _stream.Value));
                break;
            case DType.Int32:
                CudaDriver.Check(CudaDriver.cuMemsetD32Async(p, unchecked((uint)(int)value), (nuint)n, _stream.Value));
                break;
            case DType.UInt8:
                CudaDriver.Check(CudaDriver.cuMemsetD8Async(p, (byte)value, (nuint)n, _stream.Value));
                break;
            case DType.Float64:
            case DType.Int64:
                {
                    // fill_forward_f64 stores the 64 bits it is given: an int64 travels as its bit pattern.
                    double bits = t.DType == DType.Float64 ? value : BitConverter.Int64BitsToDouble((long)value);
                    void** args = stackalloc void*[3];
                    args[0] = &p;
                    args[1] = &bits;
                    args[2] = &n;
                    Launch1D("fill.cu", "fill_forward_f64", n, args);
                    break;
                }
            default:
                throw new InvalidOperationException($"fill on CUDA does not support {t.DType.Name()}");
        }
    }

    public void Synchronize()
    {
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(_stream.Value));
        ThrowIfBadLabel();   // Note [Deferred label check]
    }

    /// <summary>Shape or strides for <c>copy_strided_*</c>, passed by value (matches <c>struct Shape8</c>).</summary>
    [InlineArray(8)]
    internal struct Shape8
    {
        private long _element;
    }

    private void CopyStrided(Tensor src, Tensor dst)
    {
        if (src.Rank > 8) throw new InvalidOperationException($"strided copy on CUDA supports rank <= 8, got {src.ShapeString()}");
        string kernel = src.DType.Size() switch
        {
            1 => "copy_strided_b8",
            4 => "copy_strided_b32",
            8 => "copy_strided_b64",
            _ => throw new InvalidOperationException($"strided copy on CUDA does not support {src.DType.Name()}"),
        };
        Shape8 shape = default, strides = default;
        for (int i = 0; i < src.Rank; i++)
        {
            shape[i] = src.Shape[i];
            strides[i] = src.Strides[i];
        }
        ulong x = (ulong)src.Storage.Pointer, y = Ptr(dst);
        long n = src.NumElements, offset = src.Offset;
        int rank = src.Rank;
        void** args = stackalloc void*[7];
        args[0] = &x;
        args[1] = &y;
        args[2] = &n;
        args[3] = &rank;
        args[4] = &shape;
        args[5] = &strides;
        args[6] = &offset;
        Launch1D("elementwise.cu", kernel, n, args);
    }

    private void Cast(Tensor src, Tensor dst)
    {
        string kernel = (src.DType, dst.DType) switch
        {
            (DType.Float32, DType.Float64) => "cast_forward_f32_f64",
            (DType.Float64, DType.Float32) => "cast_forward_f64_f32",
            (DType.UInt8, DType.Float32) => "cast_forward_u8_f32",
            (DType.Int32, DType.Float32) => "cast_forward_i32_f32",
            _ => throw new InvalidOperationException($"copy from {src.DType.Name()} to {dst.DType.Name()} is not implemented on CUDA"),
        };
        ulong x = Ptr(src), y = Ptr(dst);
        long n = src.NumElements;
        void** args = stackalloc void*[3];
        args[0] = &x;
        args[1] = &y;
        args[2] = &n;
        Launch1D("elementwise.cu", kernel, n, args);
    }

    /// <summary>Waits for queued work, then frees cached memory, modules, the stream and the context reference.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        MakeCurrent();
        CudaDriver.Check(CudaDriver.cuStreamSynchronize(_stream.Value));
        if (_copyStream is { } copy) CudaDriver.Check(CudaDriver.cuStreamSynchronize(copy.Value));
        _labelFlag?.Dispose();
        _cublas?.Dispose();
        _cudnn?.Dispose();
        lock (_kernelLock)
        {
            foreach (var m in _modules.Values) m.Dispose();
            _modules.Clear();
            _functions.Clear();
        }
        Allocator.EmptyCache();
        _copyStream?.Dispose();
        _stream.Dispose();
        _context.Dispose();
        t_currentContext = 0;
    }
}
