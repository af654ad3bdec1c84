using System.Runtime.CompilerServices;
using System.Collections.Concurrent;
using Kiln.Backends.Cuda.Interop;
using Kiln.Core.Ops;

namespace Kiln.Backends.Cuda;

// Note [Convolution algorithm cache]
// cuDNN offers several algorithms per pass; which is fastest depends on the layer's shape and the GPU.
// The first call for a ConvAlgoKey (pass, dtype, shapes, geometry, policy) asks cuDNN once: with
// CudnnConvOptions.Benchmark (and not Deterministic), cudnnFind*AlgorithmEx times every algorithm on the real buffers with a
// workspace of the budget (falling back to the Get*_v7 heuristic if that workspace cannot be had);
// otherwise Get*_v7 ranks them without running anything. CudnnPlans.PickAlgo takes the first entry that
// succeeded, fits the budget, is deterministic when asked, and respects the TF32 policy (strict FP32
// also skips Winograd: Note [Strict FP32 excludes Winograd]). The choice is
// cached in memory for the backend's lifetime (DescribeConvAlgorithms lists it per shape, ConvAlgorithmsByLayer
// per layer (Note [Per-layer algorithm log]), and SaveConvAlgorithms/LoadConvAlgorithms keep it in a file,
// e.g. in the run directory, for a resumed run or an evaluation on the same GPU model and cuDNN); every
// later call with the key reuses it and takes the stated workspace from the caching allocator.

public sealed unsafe partial class CudaBackend
{
    private readonly ConcurrentDictionary<ConvAlgoKey, ConvAlgoChoice> _convAlgos = new();

    /// <summary>Policy for cuDNN convolutions (determinism, workspace budget, benchmarking; TF32 is <see cref="AllowTf32"/>). Part of the algorithm cache key.</summary>
    public CudnnConvOptions ConvOptions { get; } = new();

    /// <summary>The algorithm chosen per convolution shape and pass so far (see Note [Convolution algorithm cache]).</summary>
    internal IReadOnlyDictionary<ConvAlgoKey, ConvAlgoChoice> ConvAlgorithms => _convAlgos;

    /// <summary>
    /// One line per convolution shape and pass seen so far, with the algorithm cuDNN was asked to run, its
    /// math type and workspace: for the per-layer log of the trainer and for `--verbose` bug reports.
    /// </summary>
    public IReadOnlyList<string> DescribeConvAlgorithms() =>
        _convAlgos.OrderBy(kv => kv.Key.ToString(), StringComparer.Ordinal).Select(kv => $"{kv.Key}: {AlgoName(kv.Key.Pass, kv.Value.Algo)}, " +
            $"{(cudnnMathType_t)kv.Value.MathType}, workspace {kv.Value.WorkspaceBytes} B, {(kv.Value.Measured ? "timed by cudnnFind*Ex" : "cuDNN heuristic")}").ToList();

    /// <summary>What the cached algorithms are valid for: the GPU, its compute capability and the cuDNN version.</summary>
    internal string ConvAlgoDeviceTag()
    {
        _ = CudnnHandle;   // loads cuDNN
        return $"{Info.Name} sm_{Info.ComputeCapabilityMajor}{Info.ComputeCapabilityMinor} cudnn {Cudnn.cudnnGetVersion()}";
    }

    /// <summary>Writes the algorithm cache to <paramref name="path"/> (e.g. in the run directory, so a resumed run skips the search).</summary>
    public void SaveConvAlgorithms(string path)
    {
        byte[] text = System.Text.Encoding.UTF8.GetBytes(ConvAlgoCacheFile.Format(ConvAlgoDeviceTag(), _convAlgos));
        Kiln.Serialization.AtomicFile.Write(path, s => s.Write(text));   // a crash mid-write leaves the old file
    }

    /// <summary>
    /// Adds the entries of a file written by <see cref="SaveConvAlgorithms"/> on the same GPU model and cuDNN version
    /// (others are ignored); returns how many were taken. Entries already chosen in this process win.
    /// </summary>
    public int LoadConvAlgorithms(string path)
    {
        if (!File.Exists(path)) return 0;
        int added = 0;
        foreach (var (key, choice) in ConvAlgoCacheFile.Parse(File.ReadAllText(path), ConvAlgoDeviceTag(), path))
            if (_convAlgos.TryAdd(key, choice)) added++;
        return added;
    }

    private static string AlgoName(ConvPass pass, int algo) => ConvLayerAlgorithms.AlgoName(pass, algo);

    /// <summary>
    /// The algorithms each convolution layer runs with, joined from the cache (Note [Per-layer algorithm log]). Layers are
    /// (dotted name, x (N, C, H, W), w (K, C/groups, R, S), geometry), e.g. from <c>Network.ConvLayers</c>, in
    /// <paramref name="dtype"/> under the current policy (TF32, determinism, workspace budget). Call it after a training
    /// step, when every pass has run; a pass that has not is null in its row.
    /// </summary>
    public IReadOnlyList<ConvLayerAlgorithms> ConvAlgorithmsByLayer(IEnumerable<(string Name, int[] Input, int[] Weight, Conv2dParams Geometry)> layers,
        DType dtype = DType.Float32) =>
        ConvLayerAlgorithms.Build(layers, dtype, ConvOptions, AllowTf32, key => _convAlgos.TryGetValue(key, out var c) ? c : null);

    /// <summary>The four descriptors of one convolution call; disposing frees them all.</summary>
    private sealed class ConvDescriptors : IDisposable
    {
        public required CudnnTensorDescriptorHandle X { get; init; }
        public required CudnnFilterDescriptorHandle W { get; init; }
        public required CudnnTensorDescriptorHandle Y { get; init; }
        public required CudnnConvolutionDescriptorHandle Conv { get; init; }
        public required string Detail { get; init; }

        public void Dispose()
        {
            X.Dispose();
            W.Dispose();
            Y.Dispose();
            Conv.Dispose();
        }
    }

    /// <summary>Descriptors for x (N, C, H, W), w (K, C/groups, R, S), y (N, K, P, Q); checks cuDNN's output size against y's.</summary>
    private ConvDescriptors DescribeConv(Tensor x, Tensor w, Tensor y, Conv2dParams p)
    {
        string detail = $"conv2d x {x.ShapeString()} w {w.ShapeString()} y {y.ShapeString()} {x.DType.Name()} {p}";
        foreach (var t in (Tensor[])[x, w, y])
        {
            if (t.Rank != 4) throw new ArgumentException($"CUDA conv2d needs rank-4 tensors: {detail}");
            if (!t.IsContiguous) throw new InvalidOperationException($"CUDA conv2d needs contiguous NCHW tensors: {detail}");
            if (t.DType != x.DType) throw new ArgumentException($"CUDA conv2d needs one dtype: {detail}");
        }
        var type = CudnnType(x);
        CudnnTensorDescriptorHandle? xd = null, yd = null;
        CudnnFilterDescriptorHandle? wd = null;
        CudnnConvolutionDescriptorHandle? cd = null;
        try
        {
            xd = DescribeTensor(x);
            yd = DescribeTensor(y);
            Cudnn.Check(Cudnn.cudnnCreateFilterDescriptor(out wd));
            CheckCudnn(Cudnn.cudnnSetFilter4dDescriptor(wd.Value, type, cudnnTensorFormat_t.CUDNN_TENSOR_NCHW, w.Size(0), w.Size(1), w.Size(2), w.Size(3)),
                "cudnnSetFilter4dDescriptor", detail);
            Cudnn.Check(Cudnn.cudnnCreateConvolutionDescriptor(out cd));
            var compute = x.DType == DType.Float64 ? cudnnDataType_t.CUDNN_DATA_DOUBLE : cudnnDataType_t.CUDNN_DATA_FLOAT;
            CheckCudnn(Cudnn.cudnnSetConvolution2dDescriptor(cd.Value, p.PadH, p.PadW, p.StrideH, p.StrideW, p.DilationH, p.DilationW,
                cudnnConvolutionMode_t.CUDNN_CROSS_CORRELATION, compute), "cudnnSetConvolution2dDescriptor", detail);
            if (p.Groups != 1)
                CheckCudnn(Cudnn.cudnnSetConvolutionGroupCount(cd.Value, p.Groups), "cudnnSetConvolutionGroupCount", detail);
            CheckCudnn(Cudnn.cudnnSetConvolutionMathType(cd.Value, (cudnnMathType_t)CudnnPlans.SearchMathType(AllowTf32, x.DType)),
                "cudnnSetConvolutionMathType", detail);
            CheckCudnn(Cudnn.cudnnGetConvolution2dForwardOutputDim(cd.Value, xd.Value, wd.Value, out int n, out int k, out int pp, out int q),
                "cudnnGetConvolution2dForwardOutputDim", detail);
            if (n != y.Size(0) || k != y.Size(1) || pp != y.Size(2) || q != y.Size(3))
                throw new InvalidOperationException($"cuDNN computes output ({n}, {k}, {pp}, {q}) for {detail}");
            return new ConvDescriptors { X = xd, W = wd, Y = yd, Conv = cd, Detail = detail };
        }
        catch
        {
            xd?.Dispose();
            yd?.Dispose();
            wd?.Dispose();
            cd?.Dispose();
            throw;
        }
    }

    private static void CheckCudnn(cudnnStatus_t status, string call, string detail)
    {
        if (status != cudnnStatus_t.CUDNN_STATUS_SUCCESS) throw Cudnn.Error(status, call, detail);
    }

    public void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y, Conv2dParams p)
    {
        var handle = CudnnHandle;
        MakeCurrent();
        using var d = DescribeConv(x, w, y, p);
        var choice = ChooseConvAlgo(ConvPass.Forward, d, x, w, y, p);
        using var workspace = choice.WorkspaceBytes > 0 ? Allocator.Allocate(choice.WorkspaceBytes) : null;
        ConvScalars(x, out var s);
        CheckCudnn(Cudnn.cudnnSetConvolutionMathType(d.Conv.Value, (cudnnMathType_t)choice.MathType), "cudnnSetConvolutionMathType", d.Detail);
        CheckCudnn(Cudnn.cudnnConvolutionForward(handle.Value, s.One, d.X.Value, (nint)Ptr(x), d.W.Value, (nint)Ptr(w), d.Conv.Value,
            (cudnnConvolutionFwdAlgo_t)choice.Algo, (nint)(workspace?.Pointer ?? 0), (nuint)choice.WorkspaceBytes, s.Zero, d.Y.Value, (nint)Ptr(y)),
            "cudnnConvolutionForward", $"{d.Detail}, algo {(cudnnConvolutionFwdAlgo_t)choice.Algo}, workspace {choice.WorkspaceBytes} B");
        if (bias is null) return;
        if (bias.Rank != 1 || bias.Size(0) != y.Size(1) || bias.DType != y.DType)
            throw new ArgumentException($"CUDA conv2d: bias must be ({y.Size(1)}) {y.DType.Name()}, got {bias}");
        using var bd = DescribeTensor(bias);   // (1, K, 1, 1), broadcast over N, P, Q
        CheckCudnn(Cudnn.cudnnAddTensor(handle.Value, s.One, bd.Value, (nint)ContiguousPtr(bias, "conv2d bias"), s.One, d.Y.Value, (nint)Ptr(y)),
            "cudnnAddTensor", $"bias {bias.ShapeString()} into {d.Detail}");
        GC.KeepAlive(handle);
    }

    public void Conv2dBackwardData(Tensor w, Tensor dy, Tensor dx, Conv2dParams p)
    {
        var handle = CudnnHandle;
        MakeCurrent();
        using var d = DescribeConv(dx, w, dy, p);
        var choice = ChooseConvAlgo(ConvPass.BackwardData, d, dx, w, dy, p);
        using var workspace = choice.WorkspaceBytes > 0 ? Allocator.Allocate(choice.WorkspaceBytes) : null;
        ConvScalars(dx, out var s);
        CheckCudnn(Cudnn.cudnnSetConvolutionMathType(d.Conv.Value, (cudnnMathType_t)choice.MathType), "cudnnSetConvolutionMathType", d.Detail);
        CheckCudnn(Cudnn.cudnnConvolutionBackwardData(handle.Value, s.One, d.W.Value, (nint)Ptr(w), d.Y.Value, (nint)Ptr(dy), d.Conv.Value,
            (cudnnConvolutionBwdDataAlgo_t)choice.Algo, (nint)(workspace?.Pointer ?? 0), (nuint)choice.WorkspaceBytes, s.Zero, d.X.Value, (nint)Ptr(dx)),
            "cudnnConvolutionBackwardData", $"{d.Detail}, algo {(cudnnConvolutionBwdDataAlgo_t)choice.Algo}, workspace {choice.WorkspaceBytes} B");
        GC.KeepAlive(handle);
    }

    public void Conv2dBackwardWeights(Tensor x, Tensor dy, Tensor? dw, Tensor? dbias, Conv2dParams p)
    {
        var handle = CudnnHandle;
        MakeCurrent();
        ConvScalars(x, out var s);
        if (dw is not null)
        {
            using var d = DescribeConv(x, dw, dy, p);
            var choice = ChooseConvAlgo(ConvPass.BackwardFilter, d, x, dw, dy, p);
            using var workspace = choice.WorkspaceBytes > 0 ? Allocator.Allocate(choice.WorkspaceBytes) : null;
            CheckCudnn(Cudnn.cudnnSetConvolutionMathType(d.Conv.Value, (cudnnMathType_t)choice.MathType), "cudnnSetConvolutionMathType", d.Detail);
            CheckCudnn(Cudnn.cudnnConvolutionBackwardFilter(handle.Value, s.One, d.X.Value, (nint)Ptr(x), d.Y.Value, (nint)Ptr(dy), d.Conv.Value,
                (cudnnConvolutionBwdFilterAlgo_t)choice.Algo, (nint)(workspace?.Pointer ?? 0), (nuint)choice.WorkspaceBytes, s.Zero, d.W.Value, (nint)Ptr(dw)),
                "cudnnConvolutionBackwardFilter", $"{d.Detail}, algo {(cudnnConvolutionBwdFilterAlgo_t)choice.Algo}, workspace {choice.WorkspaceBytes} B");
        }
        if (dbias is not null)
        {
            if (dbias.Rank != 1 || dbias.Size(0) != dy.Size(1) || dbias.DType != dy.DType)
                throw new ArgumentException($"CUDA conv2d: dbias must be ({dy.Size(1)}) {dy.DType.Name()}, got {dbias}");
            using var dyd = DescribeTensor(dy);
            using var bd = DescribeTensor(dbias);
            CheckCudnn(Cudnn.cudnnConvolutionBackwardBias(handle.Value, s.One, dyd.Value, (nint)ContiguousPtr(dy, "conv2d bias backward"), s.Zero, bd.Value,
                (nint)ContiguousPtr(dbias, "conv2d bias backward")), "cudnnConvolutionBackwardBias", $"dy {dy.ShapeString()} db {dbias.ShapeString()}");
        }
        GC.KeepAlive(handle);
    }

    /// <summary>Host scalars 1 and 0 in the tensor's cuDNN scaling type (float for float32, double for float64).</summary>
    private struct CudnnScalars
    {
        public float One32, Zero32;
        public double One64, Zero64;
        public bool F64;

        /// <summary>Pointers into this struct: only valid while it stays on the caller's stack.</summary>
        public readonly void* One => F64 ? Unsafe.AsPointer(ref Unsafe.AsRef(in One64)) : Unsafe.AsPointer(ref Unsafe.AsRef(in One32));
        public readonly void* Zero => F64 ? Unsafe.AsPointer(ref Unsafe.AsRef(in Zero64)) : Unsafe.AsPointer(ref Unsafe.AsRef(in Zero32));
    }

    private static void ConvScalars(Tensor t, out CudnnScalars s)
    {
        if (t.DType is not (DType.Float32 or DType.Float64))
            throw new InvalidOperationException($"cuDNN ops on CUDA support float32 and float64, got {t.DType.Name()} {t.ShapeString()}");
        s = new CudnnScalars { One32 = 1, Zero32 = 0, One64 = 1, Zero64 = 0, F64 = t.DType == DType.Float64 };
    }

    /// <summary>
    /// The cached algorithm for this call's key, finding it on first use (Note [Convolution algorithm cache]).
    /// x, w, y are the forward's roles: for backward data x is dx, for backward filter w is dw.
    /// </summary>
    private ConvAlgoChoice ChooseConvAlgo(ConvPass pass, ConvDescriptors d, Tensor x, Tensor w, Tensor y, Conv2dParams p)
    {
        var key = ConvAlgoKey.Of(pass, x, w, p, ConvOptions, AllowTf32);
        if (_convAlgos.TryGetValue(key, out var cached)) return cached;
        // Deterministic runs take the heuristic: a timed search can pick another algorithm on the next
        // run (timing noise), and another algorithm rounds differently (PyTorch's cudnn.benchmark caveat).
        var candidates = QueryConvAlgorithms(pass, d, x, w, y, timed: ConvOptions.Benchmark && !ConvOptions.Deterministic, out bool measured);
        int pick = CudnnPlans.PickAlgo(pass, candidates, ConvOptions.Deterministic, AllowTf32 || x.DType != DType.Float32, ConvOptions.WorkspaceBudgetBytes);
        if (pick < 0)
            throw new InvalidOperationException($"cuDNN offers no usable algorithm for {key} (budget {ConvOptions.WorkspaceBudgetBytes} B; " +
                $"raise ConvOptions.WorkspaceBudgetBytes or turn off Deterministic): {CudnnPlans.Describe(candidates)}");
        var chosen = candidates[pick];
        int mathType = CudnnPlans.RunMathType(chosen, AllowTf32, x.DType);
        // The workspace as cuDNN states it for this algorithm and math type (Get_v7 entries may not carry it).
        long bytes = ConvWorkspaceBytes(pass, d, chosen.Algo, mathType);
        var choice = new ConvAlgoChoice(chosen.Algo, mathType, Math.Max(bytes, chosen.MemoryBytes), measured);
        return _convAlgos.GetOrAdd(key, choice);
    }

    /// <summary>
    /// cuDNN's candidates for this call, best first: timed by cudnnFind*AlgorithmEx on the call's buffers (it overwrites y,
    /// dx or dw) when <paramref name="timed"/> and a search workspace of the budget can be had, else cudnnGet*_v7's
    /// heuristic ranking, which runs nothing. <paramref name="measured"/> says which. Entries carry their own status.
    /// </summary>
    private ConvAlgoCandidate[] QueryConvAlgorithms(ConvPass pass, ConvDescriptors d, Tensor x, Tensor w, Tensor y, bool timed, out bool measured)
    {
        var handle = CudnnHandle.Value;
        int max = pass switch
        {
            ConvPass.Forward => Query(Cudnn.cudnnGetConvolutionForwardAlgorithmMaxCount(handle, out int m0), m0, "cudnnGetConvolutionForwardAlgorithmMaxCount", d),
            ConvPass.BackwardData => Query(Cudnn.cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, out int m1), m1, "cudnnGetConvolutionBackwardDataAlgorithmMaxCount", d),
            _ => Query(Cudnn.cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, out int m2), m2, "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount", d),
        };
        max = Math.Clamp(max, 1, 64);
        // The three perf structs share one 48-byte layout (cudnn.md §4), so one buffer serves every pass.
        var perf = new cudnnConvolutionFwdAlgoPerf_t[max];
        int returned = 0;
        measured = false;
        fixed (cudnnConvolutionFwdAlgoPerf_t* pp = perf)
        {
            if (timed && TryAllocateSearchWorkspace(out var workspace))
            {
                using (workspace)
                {
                    nint ws = (nint)workspace!.Pointer;
                    nuint wsBytes = (nuint)workspace.SizeBytes;
                    var status = pass switch
                    {
                        ConvPass.Forward => Cudnn.cudnnFindConvolutionForwardAlgorithmEx(handle, d.X.Value, (nint)Ptr(x), d.W.Value, (nint)Ptr(w), d.Conv.Value,
                            d.Y.Value, (nint)Ptr(y), max, out returned, pp, ws, wsBytes),
                        ConvPass.BackwardData => Cudnn.cudnnFindConvolutionBackwardDataAlgorithmEx(handle, d.W.Value, (nint)Ptr(w), d.Y.Value, (nint)Ptr(y),
                            d.Conv.Value, d.X.Value, (nint)Ptr(x), max, out returned, (cudnnConvolutionBwdDataAlgoPerf_t*)pp, ws, wsBytes),
                        _ => Cudnn.cudnnFindConvolutionBackwardFilterAlgorithmEx(handle, d.X.Value, (nint)Ptr(x), d.Y.Value, (nint)Ptr(y), d.Conv.Value,
                            d.W.Value, (nint)Ptr(w), max, out returned, (cudnnConvolutionBwdFilterAlgoPerf_t*)pp, ws, wsBytes),
                    };
                    CheckCudnn(status, $"cudnnFindConvolution{pass}AlgorithmEx", $"{d.Detail}, search workspace {workspace.SizeBytes} B");
                    measured = true;
                }
            }
            else
            {
                var status = pass switch
                {
                    ConvPass.Forward => Cudnn.cudnnGetConvolutionForwardAlgorithm_v7(handle, d.X.Value, d.W.Value, d.Conv.Value, d.Y.Value, max, out returned, pp),
                    ConvPass.BackwardData => Cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, d.W.Value, d.Y.Value, d.Conv.Value, d.X.Value, max,
                        out returned, (cudnnConvolutionBwdDataAlgoPerf_t*)pp),
                    _ => Cudnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, d.X.Value, d.Y.Value, d.Conv.Value, d.W.Value, max,
                        out returned, (cudnnConvolutionBwdFilterAlgoPerf_t*)pp),
                };
                CheckCudnn(status, $"cudnnGetConvolution{pass}Algorithm_v7", d.Detail);
            }
        }
        returned = Math.Clamp(returned, 0, max);
        var candidates = new ConvAlgoCandidate[returned];
        for (int i = 0; i < returned; i++)
            candidates[i] = new ConvAlgoCandidate((int)perf[i].algo, (int)perf[i].status, (long)perf[i].memory,
                perf[i].determinism == cudnnDeterminism_t.CUDNN_DETERMINISTIC, (int)perf[i].mathType, perf[i].time);
        return candidates;
    }

    /// <summary>cuDNN's workspace for running <paramref name="algo"/> of <paramref name="pass"/> with <paramref name="mathType"/> (set on the descriptor here).</summary>
    private long ConvWorkspaceBytes(ConvPass pass, ConvDescriptors d, int algo, int mathType)
    {
        var handle = CudnnHandle.Value;
        CheckCudnn(Cudnn.cudnnSetConvolutionMathType(d.Conv.Value, (cudnnMathType_t)mathType), "cudnnSetConvolutionMathType", d.Detail);
        nuint bytes;
        var status = pass switch
        {
            ConvPass.Forward => Cudnn.cudnnGetConvolutionForwardWorkspaceSize(handle, d.X.Value, d.W.Value, d.Conv.Value, d.Y.Value,
                (cudnnConvolutionFwdAlgo_t)algo, out bytes),
            ConvPass.BackwardData => Cudnn.cudnnGetConvolutionBackwardDataWorkspaceSize(handle, d.W.Value, d.Y.Value, d.Conv.Value, d.X.Value,
                (cudnnConvolutionBwdDataAlgo_t)algo, out bytes),
            _ => Cudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, d.X.Value, d.Y.Value, d.Conv.Value, d.W.Value,
                (cudnnConvolutionBwdFilterAlgo_t)algo, out bytes),
        };
        CheckCudnn(status, $"cudnnGetConvolution{pass}WorkspaceSize", $"{d.Detail}, algo {AlgoName(pass, algo)}");
        return (long)bytes;
    }

    // ------------------------------------------------------------ diagnostics (tests)

    /// <summary>
    /// Every algorithm cuDNN lists for this pass and shape, with its status, under the current policy: cudnnGet*_v7's
    /// heuristic list, then (when <paramref name="timed"/>) the timed search of cudnnFind*Ex, which runs each algorithm on
    /// these buffers and so overwrites y, dx or dw. x, w, y are the forward's roles (dx for backward data, dw for backward
    /// filter). Chooses and caches nothing.
    /// </summary>
    internal List<ConvAlgoCandidate> ListConvAlgorithms(ConvPass pass, Tensor x, Tensor w, Tensor y, Conv2dParams p, bool timed)
    {
        MakeCurrent();
        using var d = DescribeConv(x, w, y, p);
        var all = QueryConvAlgorithms(pass, d, x, w, y, timed: false, out _).ToList();
        if (timed)
        {
            var found = QueryConvAlgorithms(pass, d, x, w, y, timed: true, out bool measured);
            if (measured) all.AddRange(found);
        }
        return all;
    }

    /// <summary>
    /// Makes this pass on this shape, under the current policy, run <paramref name="algo"/> (with the policy's math type:
    /// FMA in strict FP32) until the returned scope is disposed, which puts the previous cache entry back: the ordinary
    /// Conv2dForward/BackwardData/BackwardWeights then run it. The workspace is cuDNN's stated size for that algorithm;
    /// one cuDNN cannot run for the shape fails here or at the call, with the algorithm in the message.
    /// </summary>
    internal IDisposable ForceConvAlgorithm(ConvPass pass, Tensor x, Tensor w, Tensor y, Conv2dParams p, int algo)
    {
        MakeCurrent();
        using var d = DescribeConv(x, w, y, p);
        var key = ConvAlgoKey.Of(pass, x, w, p, ConvOptions, AllowTf32);
        int mathType = CudnnPlans.SearchMathType(AllowTf32, x.DType);
        long bytes = ConvWorkspaceBytes(pass, d, algo, mathType);
        bool had = _convAlgos.TryGetValue(key, out var previous);
        _convAlgos[key] = new ConvAlgoChoice(algo, mathType, bytes, Measured: false);
        return new ForcedConvAlgorithm(() =>
        {
            if (had) _convAlgos[key] = previous;
            else _convAlgos.TryRemove(key, out _);
        });
    }

    private sealed class ForcedConvAlgorithm(Action restore) : IDisposable
    {
        private Action? _restore = restore;

        public void Dispose() => Interlocked.Exchange(ref _restore, null)?.Invoke();
    }

    private static int Query(cudnnStatus_t status, int value, string call, ConvDescriptors d)
    {
        CheckCudnn(status, call, d.Detail);
        return value;
    }

    /// <summary>A workspace of the budget for cudnnFind*Ex, or false when the device cannot spare it (then the heuristic is used).</summary>
    private bool TryAllocateSearchWorkspace(out DeviceBuffer? workspace)
    {
        workspace = null;
        long bytes = ConvOptions.WorkspaceBudgetBytes;
        if (bytes <= 0) return false;
        try
        {
            workspace = Allocator.Allocate(bytes);
            return true;
        }
        catch (CudaException e) when (e.Status == (int)CUresult.CUDA_ERROR_OUT_OF_MEMORY)
        {
            return false;
        }
    }
}
