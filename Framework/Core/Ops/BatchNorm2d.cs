using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>
    /// Training-mode batch norm of contiguous x (N, C, H, W) with per-channel batch statistics over
    /// (N, H, W): y = (x - mean) * invStd * weight + bias with the biased variance, invStd =
    /// 1 / sqrt(var + eps). Writes saveMean and saveInvStd (C) for the backward, and, when given,
    /// updates running stats (C) in place: running = (1 - momentum) * running + momentum * batch, with
    /// the unbiased variance for runningVar. Null weight/bias mean 1/0. cuDNN's
    /// cudnnBatchNormalizationForwardTraining shape (its exponentialAverageFactor is momentum).
    /// </summary>
    void BatchNorm2dForwardTraining(Tensor x, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd);

    /// <summary>Evaluation-mode batch norm: y = (x - mean) / sqrt(variance + eps) * weight + bias with given (C) statistics (cudnnBatchNormalizationForwardInference).</summary>
    void BatchNorm2dForwardInference(Tensor x, Tensor? weight, Tensor? bias, Tensor mean, Tensor variance, double eps, Tensor y);

    /// <summary>
    /// Training-mode backward (cudnnBatchNormalizationBackward): with xhat = (x - saveMean) * saveInvStd
    /// and M = N*H*W, dx = weight * invStd / M * (M dy - Σ dy - xhat Σ dy xhat), dweight = Σ dy xhat,
    /// dbias = Σ dy. Null outputs are not computed.
    /// </summary>
    void BatchNorm2dBackward(Tensor x, Tensor dy, Tensor? weight, Tensor saveMean, Tensor saveInvStd,
        Tensor? dx, Tensor? dweight, Tensor? dbias);

    /// <summary>Evaluation-mode backward, the plain per-channel affine map's: dx = dy * weight / sqrt(variance + eps), dweight = Σ dy xhat, dbias = Σ dy.</summary>
    void BatchNorm2dBackwardInference(Tensor x, Tensor dy, Tensor? weight, Tensor mean, Tensor variance, double eps,
        Tensor? dx, Tensor? dweight, Tensor? dbias);

    /// <summary>
    /// <see cref="BatchNorm2dForwardTraining"/> then ReLU: y = max(bn(x), 0), the same values as the two ops (Note [Batch
    /// norm with ReLU]). This default runs them one after the other; a backend may fuse them.
    /// </summary>
    void BatchNorm2dReluForwardTraining(Tensor x, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar,
        double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd)
    {
        BatchNorm2dForwardTraining(x, weight, bias, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd);
        ReluForward(y, y);
    }

    /// <summary>
    /// The backward of <see cref="BatchNorm2dReluForwardTraining"/>, y its output: <see cref="BatchNorm2dBackward"/> of
    /// dz = y &gt; 0 ? dy : 0, the same values as the two ops' backward. This default makes dz; a backend may fuse.
    /// </summary>
    void BatchNorm2dReluBackward(Tensor x, Tensor y, Tensor dy, Tensor? weight, Tensor saveMean, Tensor saveInvStd,
        Tensor? dx, Tensor? dweight, Tensor? dbias)
    {
        using var dz = Tensor.EmptyLike(dy);   // dz: (N, C, H, W)
        ReluBackward(y, dy, dz);
        BatchNorm2dBackward(x, dz, weight, saveMean, saveInvStd, dx, dweight, dbias);
    }
}

public static partial class Op
{
    /// <summary>
    /// Batch normalisation over the channels of a contiguous (N, C, H, W) tensor, as PyTorch's
    /// <c>F.batch_norm</c>. With <paramref name="training"/>, normalises with the batch's mean and biased
    /// variance and, when running statistics are given, updates them in place:
    /// running = (1 - momentum) * running + momentum * batch, using the unbiased variance for
    /// <paramref name="runningVar"/> (PyTorch, cuDNN). Otherwise normalises with the running statistics,
    /// which are then required. <paramref name="weight"/> and <paramref name="bias"/> (C) are optional
    /// (non-affine when null). Running statistics are buffers: contiguous (C), no gradient. All (C)
    /// tensors have x's dtype and device. Momentum is a fixed factor in [0, 1] (PyTorch's cumulative
    /// average, momentum=None, is not offered). The training backward is the full batch-statistics
    /// formula from the saved mean and inverse std; the evaluation backward is that of the fixed
    /// per-channel affine map.
    /// </summary>
    public static Tensor BatchNorm2d(Tensor x, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar,
        bool training, double momentum = 0.1, double eps = 1e-5) =>
        BatchNorm2d(x, weight, bias, runningMean, runningVar, training, momentum, eps, relu: false);

    // Note [Batch norm with ReLU]
    // ResNets follow most batch norms with a ReLU. Run apart, the ReLU reads and writes the whole activation once
    // more in each direction (ResNet-20's 16x32x32 stage at batch 128: 0.6 ms forward, 0.5 ms backward, per pair).
    // Fused, the ReLU is applied to each plane as batch norm writes it, and the backward masks dy plane by plane
    // (dz = y > 0 ? dy : 0, with y the fused output) as the batch-norm backward reads it; the values are those of
    // the two ops, bit for bit, since the same products and sums are formed from the same dz. The fused op's
    // backward reads its output, so nothing may be written over it (it is not in Op.CanOverwrite's list).
    // Network.Run fuses a batch norm whose one reader is a ReLU (Note [In-place ReLU and add]'s switch).

    /// <summary>
    /// <see cref="BatchNorm2d(Tensor, Tensor?, Tensor?, Tensor?, Tensor?, bool, double, double)"/> followed by a ReLU when
    /// <paramref name="relu"/>: y = max(bn(x), 0), one op (Note [Batch norm with ReLU]).
    /// </summary>
    public static Tensor BatchNorm2d(Tensor x, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar,
        bool training, double momentum, double eps, bool relu)
    {
        const string op = "batch_norm2d";
        RequireFloating(op, x);
        RequireRank(op, x, 4, "(N, C, H, W)");
        int channels = x.Size(1);
        long perChannel = (long)x.Size(0) * x.Size(2) * x.Size(3);
        CheckChannelVector(op, "weight", weight, x);
        CheckChannelVector(op, "bias", bias, x);
        CheckChannelVector(op, "running_mean", runningMean, x);
        CheckChannelVector(op, "running_var", runningVar, x);
        if ((runningMean is null) != (runningVar is null))
            throw new ArgumentException($"{op}: give both running_mean and running_var or neither");
        foreach (var r in (ReadOnlySpan<Tensor?>)[runningMean, runningVar])
            if (r is not null && (!r.IsContiguous || r.RequiresGrad))
                throw new ArgumentException($"{op}: running statistics are updated in place and must be contiguous buffers without gradient, got {r}");
        if (!(eps > 0) || !(momentum >= 0 && momentum <= 1))
            throw new ArgumentException($"{op}: needs eps > 0 and momentum in [0, 1], got eps {eps}, momentum {momentum}");
        if (training && perChannel < 2)
            throw new ArgumentException($"{op}: training needs more than one value per channel, got input {x.ShapeString()}");
        if (!training && runningMean is null)
            throw new ArgumentException($"{op}: evaluation mode needs running_mean and running_var (input {x.ShapeString()})");

        var backend = Backend.Of(x);
        var cx = ContiguousNoGrad(x);
        var cw = weight is null ? null : ContiguousNoGrad(weight);
        var cb = bias is null ? null : ContiguousNoGrad(bias);
        var y = Tensor.EmptyLike(cx);
        var inputs = new List<Tensor>(3) { x };
        if (weight is not null) inputs.Add(weight);
        if (bias is not null) inputs.Add(bias);
        bool recording = GradMode.IsEnabled && inputs.Exists(t => t.RequiresGrad);

        // Saved for backward. Training: the batch mean and inverse std. Evaluation: snapshots of the
        // running statistics, so the backward sees what this forward used even if they change later.
        Tensor? mean = null, second = null;
        if (training)
        {
            mean = Tensor.Empty([channels], x.DType, x.Device);
            second = Tensor.Empty([channels], x.DType, x.Device);
            if (relu) backend.BatchNorm2dReluForwardTraining(cx, cw, cb, runningMean, runningVar, momentum, eps, y, mean, second);
            else backend.BatchNorm2dForwardTraining(cx, cw, cb, runningMean, runningVar, momentum, eps, y, mean, second);
        }
        else
        {
            backend.BatchNorm2dForwardInference(cx, cw, cb, runningMean!, runningVar!, eps, y);
            if (relu) backend.ReluForward(y, y);
            if (recording)
            {
                mean = runningMean!.To(runningMean.DType);
                second = runningVar!.To(runningVar.DType);
            }
        }
        if (!recording)
        {
            DisposeBatchNormTemporaries(x, weight, bias, cx, cw, cb, mean, second);
            return y;
        }
        int[] shape = x.Shape.ToArray();
        return Tape.Record(relu ? "BatchNorm2dRelu" : nameof(BatchNorm2d), y, [.. inputs], dy =>
        {
            var cdy = ContiguousNoGrad(dy);
            var dx = x.RequiresGrad ? Tensor.Empty(shape, dy.DType, dy.Device) : null;
            var dw = weight is { RequiresGrad: true } ? Tensor.Empty([channels], dy.DType, dy.Device) : null;
            var db = bias is { RequiresGrad: true } ? Tensor.Empty([channels], dy.DType, dy.Device) : null;
            if (training && relu) backend.BatchNorm2dReluBackward(cx, y, cdy, cw, mean!, second!, dx, dw, db);
            else if (training) backend.BatchNorm2dBackward(cx, cdy, cw, mean!, second!, dx, dw, db);
            else
            {
                var dz = cdy;
                if (relu)
                {
                    dz = Tensor.EmptyLike(cdy);
                    backend.ReluBackward(y, cdy, dz);
                }
                backend.BatchNorm2dBackwardInference(cx, dz, cw, mean!, second!, eps, dx, dw, db);
                if (relu) dz.Dispose();
            }
            DisposeIfCopy(cdy, dy);
            var grads = new List<Tensor?>(3) { dx };
            if (weight is not null) grads.Add(dw);
            if (bias is not null) grads.Add(db);
            return [.. grads];
        });
    }

    private static void CheckChannelVector(string op, string name, Tensor? t, Tensor x)
    {
        if (t is null) return;
        if (t.Rank != 1 || t.Size(0) != x.Size(1))
            throw new ArgumentException($"{op}: {name} must have shape ({x.Size(1)}) for input {x.ShapeString()}, got {t.ShapeString()}");
        if (t.DType != x.DType)
            throw new ArgumentException($"{op}: {name} is {t.DType.Name()}, input {x.ShapeString()} is {x.DType.Name()}");
        if (t.Device != x.Device)
            throw new ArgumentException($"{op}: {name} is on {t.Device}, input {x.ShapeString()} on {x.Device}");
    }

    private static void DisposeBatchNormTemporaries(Tensor x, Tensor? weight, Tensor? bias, Tensor cx, Tensor? cw, Tensor? cb, Tensor? mean, Tensor? second)
    {
        DisposeIfCopy(cx, x);
        if (cw is not null) DisposeIfCopy(cw, weight!);
        if (cb is not null) DisposeIfCopy(cb, bias!);
        mean?.Dispose();
        second?.Dispose();
    }
}
