using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>
    /// c (m, n) = alpha * op(a) * op(b) + beta * c for contiguous 2-D tensors of one float dtype, with
    /// op(x) = xᵀ when its flag is set (cuBLAS's gemm, row-major). Sizes were checked by the op.
    /// </summary>
    void MatMul(Tensor a, Tensor b, Tensor c, bool transA, bool transB, double alpha = 1, double beta = 0);
}

public static partial class Op
{
    /// <summary>
    /// Matrix product of 2-D tensors: op(a) (m, k) times op(b) (k, n) = (m, n), where op transposes
    /// when <paramref name="transA"/> / <paramref name="transB"/> is set (no transposed copy is made).
    /// </summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transA = false, bool transB = false)
    {
        RequireFloating("matmul", a);
        RequireRank("matmul", a, 2, "(rows, cols)");
        RequireRank("matmul", b, 2, "(rows, cols)");
        if (a.DType != b.DType) throw new ArgumentException($"matmul: dtypes differ, a {a.DType.Name()} and b {b.DType.Name()}");
        int m = a.Size(transA ? 1 : 0), ka = a.Size(transA ? 0 : 1);
        int kb = b.Size(transB ? 1 : 0), n = b.Size(transB ? 0 : 1);
        if (ka != kb)
            throw new ArgumentException(
                $"matmul: a {a.ShapeString()}{(transA ? "ᵀ" : "")} is ({m}, {ka}) but b {b.ShapeString()}{(transB ? "ᵀ" : "")} is ({kb}, {n}): inner sizes differ");
        var y = Gemm(a, b, transA, transB);
        return Tape.Record(nameof(MatMul), y, [a, b], dy =>
        {
            // C = op(A) op(B): dop(A) = dC op(B)ᵀ, dop(B) = op(A)ᵀ dC; a transposed input takes the transpose.
            Tensor? da = !a.RequiresGrad ? null : transA ? Gemm(b, dy, transB, true) : Gemm(dy, b, false, !transB);
            Tensor? db = !b.RequiresGrad ? null : transB ? Gemm(dy, a, true, transA) : Gemm(a, dy, !transA, false);
            return [da, db];
        });
    }

    /// <summary>op(a) · op(b) into a new tensor, without autograd; non-contiguous inputs are copied first.</summary>
    internal static Tensor Gemm(Tensor a, Tensor b, bool transA, bool transB)
    {
        var backend = Backend.Of(a, b);
        var (ca, cb) = (ContiguousNoGrad(a), ContiguousNoGrad(b));
        try
        {
            var y = Tensor.Empty([a.Size(transA ? 1 : 0), b.Size(transB ? 0 : 1)], a.DType, a.Device);
            backend.MatMul(ca, cb, y, transA, transB);
            return y;
        }
        finally
        {
            DisposeIfCopy(ca, a);
            DisposeIfCopy(cb, b);
        }
    }
}
