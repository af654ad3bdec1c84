namespace Kiln.Backends.Cuda;

/// <summary>
/// The GEMM-backed ops (MatMul, Linear) and SGD on one parameter. Every other op has its own partial file
/// (cuDNN: Conv2d, Pool2d, LocalResponseNorm, BatchNorm2d, Softmax; our kernels: the rest). Nothing falls
/// back to the CPU silently.
/// </summary>
public sealed partial class CudaBackend
{
    public void MatMul(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha = 1, double beta = 0) =>
        Sgemm(a, transA, b, transB, c, (float)alpha, (float)beta);

    public void LinearForward(Tensor x, Tensor weight, Tensor? bias, Tensor y)
    {
        // y (N, out) = x (N, in) · Wᵀ; then y += ones (N, 1) · b (1, out), a rank-1 GEMM.
        Sgemm(x, false, weight, true, y);
        if (bias is null) return;
        using var ones = Tensor.Full([x.Size(0), 1], 1, y.DType, Device);
        using var row = AsMatrix(bias, 1, bias.Size(0));
        Sgemm(ones, false, row, false, y, 1, 1);
    }

    public void LinearBackwardBias(Tensor dy, Tensor db)
    {
        // db (out, 1) = dyᵀ (out, N) · ones (N, 1): the column sums of dy.
        using var ones = Tensor.Full([dy.Size(0), 1], 1, dy.DType, Device);
        using var column = AsMatrix(db, db.Size(0), 1);
        Sgemm(dy, true, ones, false, column);
    }

    /// <summary>A (rows, cols) view of a contiguous vector, with no autograd history.</summary>
    private static Tensor AsMatrix(Tensor t, int rows, int cols) => t.View([rows, cols], [cols, 1], t.Offset);

    public void SgdUpdate(Tensor w, Tensor g, Tensor? v, double lr, double momentum, double weightDecay, bool nesterov, MomentumForm form)
    {
        // TODO(#6): let Sgd hand every parameter to the multi-parameter launch at once.
        var velocity = v ?? Tensor.Zeros(w.Shape, w.DType, Device);
        try
        {
            SgdUpdate([new SgdParameter(w, g, velocity, (float)lr, (float)weightDecay)], (float)momentum,
                form == MomentumForm.Caffe ? SgdMomentumForm.Caffe : SgdMomentumForm.PyTorch, nesterov);
        }
        finally
        {
            if (v is null) velocity.Dispose();
        }
    }
}
