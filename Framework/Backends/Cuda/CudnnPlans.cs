using Kiln.Core.Ops;

namespace Kiln.Backends.Cuda;

/// <summary>Which implementation runs a pooling on CUDA (STYLE §3: chosen by a small function, switched on in forward and backward).</summary>
internal enum PoolEngine
{
    /// <summary>cuDNN's pooling: the geometry is expressible exactly (see Note [cuDNN pooling geometry]).</summary>
    Cudnn,
    /// <summary>Kernels/pool.cu: the CPU backend's rules, for every geometry.</summary>
    Kernel,
}

/// <summary>Which implementation runs local response normalisation on CUDA.</summary>
internal enum LrnEngine
{
    /// <summary>cudnnLRNCrossChannelForward/Backward (odd window, parameters inside cuDNN's limits).</summary>
    Cudnn,
    /// <summary>Kernels/lrn.cu: the CPU backend's formula and window.</summary>
    Kernel,
}

/// <summary>The three cuDNN convolution passes, each with its own algorithm enum and cache entries.</summary>
internal enum ConvPass
{
    Forward,
    BackwardData,
    BackwardFilter,
}

/// <summary>
/// Everything an algorithm choice depends on: the pass, dtype, shapes, geometry and the policy
/// (TF32 allowed, deterministic only, workspace budget). One entry per distinct layer shape.
/// </summary>
internal readonly record struct ConvAlgoKey(
    ConvPass Pass, DType DType, int N, int C, int H, int W, int K, int R, int S,
    int PadH, int PadW, int StrideH, int StrideW, int DilationH, int DilationW, int Groups,
    bool AllowTf32, bool Deterministic, long WorkspaceBudgetBytes)
{
    /// <summary>The key of a call: x (N, C, H, W) and w (K, C/groups, R, S) in the forward's roles (dx for backward data, dw for backward filter).</summary>
    public static ConvAlgoKey Of(ConvPass pass, Tensor x, Tensor w, Conv2dParams p, CudnnConvOptions o, bool allowTf32) =>
        Of(pass, x.DType, x.Shape, w.Shape, p, o, allowTf32);

    /// <summary>The key from shapes alone: x (N, C, H, W), w (K, C/groups, R, S). The three passes of one layer differ only in <paramref name="pass"/>.</summary>
    public static ConvAlgoKey Of(ConvPass pass, DType dtype, ReadOnlySpan<int> x, ReadOnlySpan<int> w, Conv2dParams p, CudnnConvOptions o, bool allowTf32)
    {
        if (x.Length != 4 || w.Length != 4)
            throw new ArgumentException($"conv2d algorithm key: needs x (N, C, H, W) and w (K, C/groups, R, S), got {Tensor.ShapeString(x)} and {Tensor.ShapeString(w)}");
        return new(pass, dtype, x[0], x[1], x[2], x[3], w[0], w[2], w[3],
            p.PadH, p.PadW, p.StrideH, p.StrideW, p.DilationH, p.DilationW, p.Groups,
            allowTf32, o.Deterministic, o.WorkspaceBudgetBytes);
    }

    public override string ToString() =>
        $"conv2d {Pass} {DType.Name()} x ({N}, {C}, {H}, {W}) w ({K}, {C / Groups}, {R}, {S}) pad ({PadH}, {PadW}) stride ({StrideH}, {StrideW}) " +
        $"dilation ({DilationH}, {DilationW}) groups {Groups}{(AllowTf32 ? "" : " strict-fp32")}{(Deterministic ? " deterministic" : "")}";
}

/// <summary>One entry of cuDNN's Find/Get_v7 results, decoupled from the three perf structs (they share a layout).</summary>
internal readonly record struct ConvAlgoCandidate(int Algo, int Status, long MemoryBytes, bool Deterministic, int MathType, float TimeMs);

/// <summary>The cached decision for a key: algorithm number (of the pass's enum), math type to run it with, and its workspace.</summary>
internal readonly record struct ConvAlgoChoice(int Algo, int MathType, long WorkspaceBytes, bool Measured);

/// <summary>Host-side decisions for the cuDNN paths: pure functions, unit-tested without a GPU.</summary>
internal static class CudnnPlans
{
    // Note [cuDNN pooling geometry]
    // cuDNN's pooling output size is floor((size + 2 pad - k) / stride) + 1 with the same padding on both
    // sides (cudnnGetPooling2dForwardOutputDim). Our ceil_mode may add one more window at the bottom/right
    // (Pool2dParams.OutputSize). That window would need extra padding on one side only, which cuDNN cannot
    // describe, and for average pooling a divisor clipped at size + pad (count_include_pad) or at size
    // (exclude), which neither CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING (divides by kh*kw) nor extra
    // symmetric padding reproduces. Without the overhang every window lies inside the padded input, so
    // INCLUDE_PADDING's kh*kw equals the CPU's divisor and EXCLUDE_PADDING counts the same input cells.
    // Hence: cuDNN exactly when the ceil and floor sizes agree in both dimensions; Kernels/pool.cu otherwise.

    /// <summary>cuDNN's pooling output length along one dimension (floor rule, symmetric padding).</summary>
    public static int CudnnPoolOutputSize(int size, int kernel, int stride, int pad) =>
        size + 2 * pad < kernel ? 0 : (size + 2 * pad - kernel) / stride + 1;

    /// <summary>cuDNN when it gives exactly the CPU's result for input (H, W); see Note [cuDNN pooling geometry].</summary>
    public static PoolEngine ChoosePool(Pool2dParams p, int h, int w, DType dtype)
    {
        if (dtype is not (DType.Float32 or DType.Float64)) return PoolEngine.Kernel;   // the kernel names the dtype in its error
        bool exact = p.OutputHeight(h) == CudnnPoolOutputSize(h, p.KernelH, p.StrideH, p.PadH)
                  && p.OutputWidth(w) == CudnnPoolOutputSize(w, p.KernelW, p.StrideW, p.PadW)
                  && p.PadH < p.KernelH && p.PadW < p.KernelW;
        return exact ? PoolEngine.Cudnn : PoolEngine.Kernel;
    }

    // Note [cuDNN LRN conventions]
    // cuDNN: y = x / (k + lrnAlpha / n * Σ x²)^beta over channels [c - floor((n-1)/2), c + n - 1 - floor((n-1)/2)],
    // n in [1, 16], beta >= 0.01, k >= 1e-5. Ours (Op.LocalResponseNorm): the backend receives the per-term
    // coefficient alpha' (already alpha / n under LrnAlphaScaling.DividedBySize, alpha under AsWritten) and
    // the window [c - n/2, c + (n-1)/2]. So lrnAlpha = alpha' * n for both of our conventions, and the windows
    // agree for odd n only (even n: ours reaches one channel further down, cuDNN's one further up).

    /// <summary>cuDNN's lrnAlpha for our per-term coefficient <paramref name="perTermAlpha"/> and window <paramref name="size"/>.</summary>
    public static double CudnnLrnAlpha(double perTermAlpha, int size) => perTermAlpha * size;

    /// <summary>Our channel window of channel c, inclusive (CpuBackend.LocalResponseNorm).</summary>
    public static (int Lo, int Hi) KilnLrnWindow(int c, int size) => (c - size / 2, c + (size - 1) / 2);

    /// <summary>cuDNN's channel window of channel c, inclusive (cudnn.md §3.9).</summary>
    public static (int Lo, int Hi) CudnnLrnWindow(int c, int size) => (c - (size - 1) / 2, c + size - 1 - (size - 1) / 2);

    public const int CudnnLrnMinN = 1, CudnnLrnMaxN = 16;
    public const double CudnnLrnMinK = 1e-5, CudnnLrnMinBeta = 0.01;

    /// <summary>cuDNN when its window and limits reproduce ours exactly; see Note [cuDNN LRN conventions].</summary>
    public static LrnEngine ChooseLrn(int size, double beta, double k, DType dtype) =>
        dtype is DType.Float32 or DType.Float64 && size % 2 == 1 && size is >= CudnnLrnMinN and <= CudnnLrnMaxN
            && beta >= CudnnLrnMinBeta && k >= CudnnLrnMinK
            ? LrnEngine.Cudnn : LrnEngine.Kernel;

    /// <summary>cudnnMathType_t values (Interop/Cudnn.cs).</summary>
    public const int DefaultMath = 0, TensorOpMath = 1, TensorOpMathAllowConversion = 2, FmaMath = 3;

    /// <summary>The math type set on the convolution descriptor before Find/Get: TF32 allowed or strict FMA.</summary>
    public static int SearchMathType(bool allowTf32, DType dtype) =>
        dtype == DType.Float32 && allowTf32 ? TensorOpMath : dtype == DType.Float32 ? FmaMath : DefaultMath;

    // Note [Strict FP32 excludes Winograd]
    // Strict FP32 (AllowTf32 off) promises FP32 rounding, and is what the CPU parity tests run under. cuDNN's
    // Winograd algorithms do not keep it: on an H200 with cuDNN 9.19 (2026-11-26, ConvAlgorithmSweepTests),
    // WINOGRAD_NONFUSED on NiN's 5x5 convolution (96 -> 256, 27x27) was off by 0.06-0.17% norm-wise in each
    // pass, about 1000x FP32 rounding, while every other algorithm matched the CPU. When the timed search picked
    // it for the forward pass, NiN's one-step gradients differed from the CPU's by 3-7% (README, fifth and
    // sixth runs). The transforms' growth with the tile size is the known cause (Lavin & Gray 2016, and cuDNN's
    // frontend tags these engines CUDNN_NUMERICAL_NOTE_WINOGRAD). So strict FP32 skips every Winograd
    // algorithm; with TF32 allowed (the default), whose rounding is coarser anyway, they stay candidates.

    /// <summary>Whether <paramref name="algo"/> of <paramref name="pass"/> is one of cuDNN's Winograd algorithms (cudnn.md §5).</summary>
    public static bool IsWinograd(ConvPass pass, int algo) => pass switch
    {
        ConvPass.Forward => algo is 6 or 7,                  // WINOGRAD, WINOGRAD_NONFUSED
        ConvPass.BackwardData => algo is 4 or 5,             // WINOGRAD, WINOGRAD_NONFUSED
        _ => algo is 4 or 5,                                 // WINOGRAD (not implemented), WINOGRAD_NONFUSED
    };

    /// <summary>
    /// The first acceptable candidate (cuDNN ranks them, fastest first): status success, workspace within
    /// the budget, deterministic when required, never FP32→FP16 down-conversion, and, when strict FP32 is
    /// asked for, no tensor-op math and no Winograd (Note [Strict FP32 excludes Winograd]). -1 when none qualifies.
    /// </summary>
    public static int PickAlgo(ConvPass pass, ReadOnlySpan<ConvAlgoCandidate> candidates, bool deterministic, bool allowTf32, long budgetBytes)
    {
        for (int i = 0; i < candidates.Length; i++)
        {
            var c = candidates[i];
            if (c.Status != 0 || c.MemoryBytes < 0 || c.MemoryBytes > budgetBytes) continue;
            if (deterministic && !c.Deterministic) continue;
            if (c.MathType == TensorOpMathAllowConversion) continue;
            if (!allowTf32 && (c.MathType == TensorOpMath || IsWinograd(pass, c.Algo))) continue;
            return i;
        }
        return -1;
    }

    /// <summary>The math type to run a chosen candidate with: strict FP32 stays FMA whatever the entry says.</summary>
    public static int RunMathType(ConvAlgoCandidate chosen, bool allowTf32, DType dtype) =>
        dtype == DType.Float32 && !allowTf32 ? FmaMath : chosen.MathType;

    /// <summary>One line per candidate, for the error when none qualifies.</summary>
    public static string Describe(ReadOnlySpan<ConvAlgoCandidate> candidates)
    {
        var parts = new List<string>(candidates.Length);
        foreach (var c in candidates)
            parts.Add($"algo {c.Algo}: status {c.Status}, workspace {c.MemoryBytes} B, {(c.Deterministic ? "deterministic" : "non-deterministic")}, math {c.MathType}, {c.TimeMs:G3} ms");
        return parts.Count == 0 ? "(no candidates)" : string.Join("; ", parts);
    }
}
