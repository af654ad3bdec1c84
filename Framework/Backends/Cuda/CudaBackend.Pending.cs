namespace Kiln.Backends.Cuda;

/// <summary>
/// The GEMM-backed ops (MatMul, Linear), SGD on one parameter, and named errors for the ops that
/// issue #6 puts on the GPU (cuDNN convolution, pooling, LRN, batch norm, softmax; our kernels for
/// the rest). Nothing here falls back to the CPU silently.
/// </summary>
public sealed partial class CudaBackend
{
    private static NotSupportedException NotYet(string op) =>
        new($"{op} is not implemented on CUDA yet (issue #6); run this model on the CPU (--device cpu)");

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

    public void RenormFilters(Tensor w, double maxRms) => throw NotYet("renorm_filters");
    public void SoftmaxForward(Tensor x, Tensor y, int outer, int channels, int inner, bool log) => throw NotYet(log ? "log_softmax" : "softmax");
    public void SoftmaxBackward(Tensor y, Tensor dy, Tensor dx, int outer, int channels, int inner, bool log) => throw NotYet(log ? "log_softmax" : "softmax");
    public void CrossEntropyForward(Tensor logits, Tensor labels, double smoothing, Tensor loss) => throw NotYet("cross_entropy");
    public void CrossEntropyBackward(Tensor logits, Tensor labels, double smoothing, Tensor dloss, Tensor dlogits) => throw NotYet("cross_entropy");
    public void DropoutForward(Tensor x, Tensor y, Tensor mask, double p, ulong seed, ulong offset) => throw NotYet("dropout");
    public void Concat(Tensor[] inputs, int dim, Tensor y) => throw NotYet("concat");
    public void Narrow(Tensor src, int dim, int start, Tensor dst) => throw NotYet("narrow");
    public void MaxoutForward(Tensor x, Tensor y, int outer, int channels, int inner, int groupSize) => throw NotYet("maxout");
    public void MaxoutBackward(Tensor x, Tensor dy, Tensor dx, int outer, int channels, int inner, int groupSize) => throw NotYet("maxout");
    public void L2NormalizeForward(Tensor x, Tensor y, int outer, int channels, int inner, double eps) => throw NotYet("l2_normalize");
    public void L2NormalizeBackward(Tensor x, Tensor y, Tensor dy, Tensor dx, int outer, int channels, int inner, double eps) => throw NotYet("l2_normalize");
    public void Conv2dForward(Tensor x, Tensor weight, Tensor? bias, Tensor y, Conv2dParams p) => throw NotYet("conv2d");
    public void Conv2dBackwardData(Tensor dy, Tensor weight, Tensor dx, Conv2dParams p) => throw NotYet("conv2d");
    public void Conv2dBackwardWeights(Tensor x, Tensor dy, Tensor? dweight, Tensor? dbias, Conv2dParams p) => throw NotYet("conv2d");
    public void MaxPool2dForward(Tensor x, Tensor y, Pool2dParams p) => throw NotYet("max_pool2d");
    public void MaxPool2dBackward(Tensor x, Tensor y, Tensor dy, Tensor dx, Pool2dParams p) => throw NotYet("max_pool2d");
    public void AvgPool2dForward(Tensor x, Tensor y, Pool2dParams p) => throw NotYet("avg_pool2d");
    public void AvgPool2dBackward(Tensor dy, Tensor dx, Pool2dParams p) => throw NotYet("avg_pool2d");
    public void LocalResponseNormForward(Tensor x, Tensor y, Tensor scale, int size, double alpha, double beta, double k) => throw NotYet("local_response_norm");
    public void LocalResponseNormBackward(Tensor x, Tensor y, Tensor scale, Tensor dy, Tensor dx, int size, double alpha, double beta, double k) => throw NotYet("local_response_norm");
    public void BatchNorm2dForwardTraining(Tensor x, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar, double momentum, double eps, Tensor y, Tensor saveMean, Tensor saveInvStd) => throw NotYet("batch_norm2d");
    public void BatchNorm2dForwardInference(Tensor x, Tensor? weight, Tensor? bias, Tensor mean, Tensor variance, double eps, Tensor y) => throw NotYet("batch_norm2d");
    public void BatchNorm2dBackward(Tensor x, Tensor dy, Tensor? weight, Tensor saveMean, Tensor saveInvStd, Tensor? dx, Tensor? dweight, Tensor? dbias) => throw NotYet("batch_norm2d");
    public void BatchNorm2dBackwardInference(Tensor x, Tensor dy, Tensor? weight, Tensor mean, Tensor variance, double eps, Tensor? dx, Tensor? dweight, Tensor? dbias) => throw NotYet("batch_norm2d");
}
