namespace Kiln.Backends.Cuda;

/// <summary>Policy for cuDNN convolutions on one device. TF32 follows <see cref="CudaBackend.AllowTf32"/> (one switch for GEMMs and convolutions; off = CUDNN_FMA_MATH).</summary>
public sealed class CudnnConvOptions
{
    /// <summary>Only algorithms cuDNN reports as deterministic (bitwise reproducible runs; can be slower); also selects CUDNN_POOLING_MAX_DETERMINISTIC.</summary>
    public bool Deterministic { get; set; }

    /// <summary>Largest workspace one convolution may take from the caching allocator.</summary>
    public long WorkspaceBudgetBytes { get; set; } = 512L << 20;

    /// <summary>Time the algorithms once per shape (cudnnFind*Ex) instead of taking cuDNN's heuristic ranking (Get*_v7).
    /// Ignored when <see cref="Deterministic"/>: timing noise could choose differently on the next run.</summary>
    public bool Benchmark { get; set; } = true;
}
