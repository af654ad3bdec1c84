namespace Kiln.Backends.Cuda;

/// <summary>
/// What cuDNN runs for one pass of one convolution shape: the algorithm (cuDNN's enum name, e.g.
/// <c>CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM</c>), the math type it runs with
/// (<c>CUDNN_FMA_MATH</c> in strict FP32, <c>CUDNN_TENSOR_OP_MATH</c> with TF32) and its workspace.
/// </summary>
public sealed record ConvPassAlgorithm(string Algorithm, string MathType, long WorkspaceBytes);
