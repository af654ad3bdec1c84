using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>
    /// Cross-channel LRN of contiguous x (N, C, H, W): scale = k + alpha * Σ a² over channels
    /// [c - size/2, c + (size-1)/2] ∩ [0, C), and y = x * scale^-beta. <paramref name="alpha"/> is
    /// the coefficient of each squared term, already divided by size where the convention says so
    /// (cuDNN's lrnAlpha is alpha * size). The scale (N, C, H, W) is written for the backward.
    /// </summary>
    void LocalResponseNormForward(Tensor x, Tensor y, Tensor scale, int size, double alpha, double beta, double k);

    /// <summary>
    /// dx = dy * scale^-beta - 2 alpha beta * x * Σ dy[c'] y[c'] / scale[c'] over the channels c' whose
    /// window holds c (Caffe's lrn_layer formula). All (N, C, H, W), contiguous.
    /// </summary>
    void LocalResponseNormBackward(Tensor x, Tensor y, Tensor scale, Tensor dy, Tensor dx, int size, double alpha, double beta, double k);
}

public static partial class Op
{
    /// <summary>
    /// Local response normalisation across channels of a contiguous (N, C, H, W) tensor (AlexNet,
    /// GoogLeNet): b = a / (k + alpha' * Σ a²)^beta, the sum over the channel window
    /// [c - size/2, c + (size-1)/2] clipped to [0, C) (PyTorch's window; symmetric for odd sizes).
    /// alpha' = alpha / size with <see cref="LrnAlphaScaling.DividedBySize"/> (the default: Caffe,
    /// PyTorch, cuDNN) or alpha' = alpha with <see cref="LrnAlphaScaling.AsWritten"/> (the AlexNet
    /// paper's formula, where its alpha = 1e-4 means 5e-4 in Caffe's convention for size 5).
    /// Other defaults are PyTorch's. Requires size ≥ 1, alpha ≥ 0 and k &gt; 0 (so the base is positive).
    /// </summary>
    public static Tensor LocalResponseNorm(Tensor x, int size, double alpha = 1e-4, double beta = 0.75, double k = 1.0,
        LrnAlphaScaling scaling = LrnAlphaScaling.DividedBySize)
    {
        const string op = "local_response_norm";
        RequireFloating(op, x);
        RequireRank(op, x, 4, "(N, C, H, W)");
        if (size < 1 || !(alpha >= 0) || !(k > 0) || !double.IsFinite(alpha) || !double.IsFinite(beta) || !double.IsFinite(k))
            throw new ArgumentException($"{op}: needs size >= 1, finite alpha >= 0 and k > 0, finite beta; got size {size}, alpha {alpha}, beta {beta}, k {k} for input {x.ShapeString()}");
        double a = scaling switch
        {
            LrnAlphaScaling.DividedBySize => alpha / size,
            LrnAlphaScaling.AsWritten => alpha,
            _ => throw new ArgumentOutOfRangeException(nameof(scaling), scaling, $"{op}: unknown alpha scaling"),
        };
        var backend = Backend.Of(x);
        var cx = ContiguousNoGrad(x);
        var y = Tensor.EmptyLike(cx);
        var scale = Tensor.EmptyLike(cx); // (N, C, H, W), saved for backward
        backend.LocalResponseNormForward(cx, y, scale, size, a, beta, k);
        Tape.Record(nameof(LocalResponseNorm), y, [x], dy =>
        {
            var cdy = ContiguousNoGrad(dy);
            var dx = Tensor.EmptyLike(cx);
            backend.LocalResponseNormBackward(cx, y, scale, cdy, dx, size, a, beta, k);
            DisposeIfCopy(cdy, dy);
            return [dx];
        });
        if (y.GradFn is null)
        {
            scale.Dispose();
            DisposeIfCopy(cx, x);
        }
        return y;
    }
}
