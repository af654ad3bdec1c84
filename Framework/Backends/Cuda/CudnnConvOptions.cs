namespace Kiln.Backends.Cuda;

/// <summary>Policy for cuDNN convolutions on one device.</summary>
public sealed class CudnnConvOptions
{
    /// <summary>Let float32 convolutions use TF32 tensor cores (sm_80+), as PyTorch does by default for cuDNN. False = strict FP32 (CUDNN_FMA_MATH).</summary>
    public bool AllowTf32 { get; set; } = true;

    /// <summary>Only algorithms cuDNN reports as deterministic (bitwise reproducible runs; can be slower).</summary>
    public bool Deterministic { get; set; }

    /// <summary>Largest workspace one convolution may take from the caching allocator.</summary>
    public long WorkspaceBudgetBytes { get; set; } = 512L << 20;

    /// <summary>Time the algorithms once per shape (cudnnFind*Ex) instead of taking cuDNN's heuristic ranking (Get*_v7).</summary>
    public bool Benchmark { get; set; } = true;
}
