using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>
    /// Per-sample cross-entropy from logits (N, C) and int32 labels (N) against the smoothed target
    /// q = (1 − ε)·onehot + ε/C: loss_i = logsumexp(x_i) − Σ_j q_j x_ij. Throws on a label outside [0, C).
    /// </summary>
    void CrossEntropyForward(Tensor logits, Tensor labels, double smoothing, Tensor loss);

    /// <summary>dlogits_ij = (softmax(x_i)_j − q_j) · dloss_i.</summary>
    void CrossEntropyBackward(Tensor logits, Tensor labels, double smoothing, Tensor dloss, Tensor dlogits);
}

/// <summary>How a per-sample loss is reduced.</summary>
public enum Reduction { Mean, Sum, None }

public static partial class Op
{
    /// <summary>
    /// Cross-entropy of logits (N, C) against int32 class labels (N), with optional label smoothing ε
    /// (Szegedy et al. 2016: the target puts 1 − ε on the label and ε/C on every class).
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor labels, double labelSmoothing = 0, Reduction reduction = Reduction.Mean)
    {
        RequireFloating("cross_entropy", logits);
        RequireRank("cross_entropy", logits, 2, "(N, C) of logits");
        if (labels.DType != DType.Int32)
            throw new ArgumentException($"cross_entropy: labels must be int32, got {labels.DType.Name()} {labels.ShapeString()}");
        if (labels.Rank != 1 || labels.Size(0) != logits.Size(0))
            throw new ArgumentException($"cross_entropy: labels {labels.ShapeString()} do not match logits {logits.ShapeString()}; expected ({logits.Size(0)})");
        if (labelSmoothing is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"label smoothing must be in [0, 1], got {labelSmoothing}");
        var backend = Backend.Of(logits, labels);
        var cx = ContiguousNoGrad(logits);
        var cl = ContiguousNoGrad(labels);
        var loss = Tensor.Empty([logits.Size(0)], logits.DType, logits.Device);
        backend.CrossEntropyForward(cx, cl, labelSmoothing, loss);
        var perSample = Tape.Record(nameof(CrossEntropy), loss, [logits], dloss =>
        {
            var dx = Tensor.EmptyLike(cx);
            backend.CrossEntropyBackward(cx, cl, labelSmoothing, dloss, dx);
            return [dx];
        });
        return reduction switch
        {
            Reduction.Mean => Mean(perSample),
            Reduction.Sum => Sum(perSample),
            _ => perSample,
        };
    }
}
