namespace Kiln.Tests.Core.Ops;

/// <summary>
/// The op table. Adding an op means adding its lines here; the gradient check, the float32 check
/// and (on a GPU) the CUDA parity check all iterate over it.
/// </summary>
public static class OpCases
{
    private static OpInput In(params int[] shape) => new(shape);
    private static OpInput In(Sampling s, params int[] shape) => new(shape, s);

    public static readonly OpCase[] All =
    [
        new("relu", [In(Sampling.AwayFromZero, 2, 3, 4, 5)], x => Op.Relu(x[0])),
        new("relu_odd_tail", [In(Sampling.AwayFromZero, 3, 37)], x => Op.Relu(x[0])),
        new("relu_parallel", [In(Sampling.AwayFromZero, 2, 3, 419, 419)], x => Op.Relu(x[0])), // 1,053,366 elements: above the parallel threshold (2^20), odd tail
        new("add", [In(2, 3, 4), In(2, 3, 4)], x => Op.Add(x[0], x[1])),
        new("add_same_input", [In(3, 5)], x => Op.Add(x[0], x[0])),
        new("scale", [In(4, 6)], x => Op.Scale(x[0], -2.5)),
        new("sum", [In(3, 4, 5)], x => Op.Sum(x[0])),
        new("mean", [In(3, 4, 5)], x => Op.Mean(x[0])),
        new("reshape", [In(2, 3, 4)], x => Op.Reshape(x[0], 4, -1)),
        new("flatten", [In(2, 3, 2, 2)], x => Op.Flatten(x[0])),
        new("mul", [In(2, 3, 4), In(2, 3, 4)], x => Op.Mul(x[0], x[1])),
        new("softmax", [In(4, 7)], x => Op.Softmax(x[0])),
        new("softmax_dim1_nchw", [In(2, 5, 2, 3)], x => Op.Softmax(x[0], dim: 1)),
        new("log_softmax", [In(4, 7)], x => Op.LogSoftmax(x[0])),
        new("log_softmax_dim1_nchw", [In(2, 5, 3, 2)], x => Op.LogSoftmax(x[0], dim: 1)),
        new("cross_entropy", [In(6, 5), new OpInput([6], Sampling.Labels, Classes: 5)], x => Op.CrossEntropy(x[0], x[1])),
        new("cross_entropy_smoothing", [In(6, 5), new OpInput([6], Sampling.Labels, Classes: 5)], x => Op.CrossEntropy(x[0], x[1], labelSmoothing: 0.1)),
        new("cross_entropy_sum", [In(3, 4), new OpInput([3], Sampling.Labels, Classes: 4)], x => Op.CrossEntropy(x[0], x[1], reduction: Reduction.Sum)),
        new("cross_entropy_none", [In(3, 4), new OpInput([3], Sampling.Labels, Classes: 4)], x => Op.CrossEntropy(x[0], x[1], reduction: Reduction.None)),
        new("dropout", [In(4, 50)], x => Op.Dropout(x[0], 0.3, training: true, new RandomGenerator(7))),
        new("dropout_eval", [In(4, 5)], x => Op.Dropout(x[0], 0.5, training: false, new RandomGenerator(7))),
        new("concat", [In(2, 3, 2, 2), In(2, 1, 2, 2), In(2, 4, 2, 2)], x => Op.Concat([x[0], x[1], x[2]])),
        new("concat_dim0", [In(2, 3), In(1, 3)], x => Op.Concat([x[0], x[1]], dim: 0)),
        new("narrow", [In(2, 6, 3)], x => Op.Narrow(x[0], 1, 2, 3)),
        new("maxout_channels", [In(Sampling.Distinct, 2, 6, 2, 3)], x => Op.Maxout(x[0], 3)),
        new("maxout_features", [In(Sampling.Distinct, 3, 8)], x => Op.Maxout(x[0], 2)),
        new("l2_normalize", [In(3, 6)], x => Op.L2Normalize(x[0])),
        new("l2_normalize_nchw", [In(2, 4, 2, 2)], x => Op.L2Normalize(x[0], dim: 1)),

        // Pooling. Max pooling samples distinct values so every window has one clear winner.
        new("maxpool2d_k3s2", [In(Sampling.Distinct, 2, 2, 7, 7)], x => Op.MaxPool2d(x[0], 3, 2)),
        new("maxpool2d_k2s2", [In(Sampling.Distinct, 1, 3, 6, 6)], x => Op.MaxPool2d(x[0], 2, 2)),
        new("maxpool2d_k3s2_ceil", [In(Sampling.Distinct, 1, 2, 10, 7)], x => Op.MaxPool2d(x[0], 3, 2, ceilMode: true)),
        new("maxpool2d_k2s2_ceil_odd", [In(Sampling.Distinct, 1, 2, 5, 7)], x => Op.MaxPool2d(x[0], 2, 2, ceilMode: true)),
        new("maxpool2d_k3s1_p1", [In(Sampling.Distinct, 1, 2, 5, 6)], x => Op.MaxPool2d(x[0], 3, 1, 1)),
        new("maxpool2d_k3s2_p1_ceil", [In(Sampling.Distinct, 1, 2, 6, 7)], x => Op.MaxPool2d(x[0], 3, 2, 1, ceilMode: true)),
        new("maxpool2d_k1s2_sample", [In(2, 3, 7, 6)], x => Op.MaxPool2d(x[0], 1, 2)),              // Note [1x1 pooling]
        new("maxpool2d_k1s3_ceil_sample", [In(1, 2, 8, 7)], x => Op.MaxPool2d(x[0], 1, 3, ceilMode: true)),
        new("avgpool2d_k2s2", [In(2, 2, 4, 6)], x => Op.AvgPool2d(x[0], 2, 2)),
        new("avgpool2d_k3s2_p1", [In(1, 2, 7, 7)], x => Op.AvgPool2d(x[0], 3, 2, 1)),
        new("avgpool2d_k3s2_p1_excludepad", [In(1, 2, 7, 7)], x => Op.AvgPool2d(x[0], 3, 2, 1, countIncludePad: false)),
        new("avgpool2d_k3s2_p1_ceil", [In(1, 2, 6, 7)], x => Op.AvgPool2d(x[0], 3, 2, 1, ceilMode: true)),
        new("avgpool2d_k3s2_p1_ceil_excludepad", [In(1, 2, 6, 7)], x => Op.AvgPool2d(x[0], 3, 2, 1, ceilMode: true, countIncludePad: false)),
        new("avgpool2d_k2s2_ceil_odd", [In(1, 2, 5, 7)], x => Op.AvgPool2d(x[0], 2, 2, ceilMode: true)),
        new("avgpool2d_k3s1_p1", [In(1, 2, 5, 6)], x => Op.AvgPool2d(x[0], 3, 1, 1)),
        new("global_avg_pool2d", [In(2, 3, 4, 5)], x => Op.GlobalAvgPool2d(x[0])),

        // Local response normalisation. Alphas are far above AlexNet's 1e-4 so the cross-channel
        // term of the gradient is large enough for the check to see.
        new("lrn_n5_k2_divided", [In(2, 7, 3, 3)], x => Op.LocalResponseNorm(x[0], 5, 0.5, 0.75, 2, LrnAlphaScaling.DividedBySize)),
        new("lrn_n5_k2_aswritten", [In(2, 7, 3, 3)], x => Op.LocalResponseNorm(x[0], 5, 0.1, 0.75, 2, LrnAlphaScaling.AsWritten)),
        new("lrn_n3_k1_divided", [In(1, 6, 2, 3)], x => Op.LocalResponseNorm(x[0], 3, 0.9, 0.75, 1, LrnAlphaScaling.DividedBySize)),
        new("lrn_n3_k1_aswritten", [In(1, 6, 2, 3)], x => Op.LocalResponseNorm(x[0], 3, 0.3, 0.6, 1, LrnAlphaScaling.AsWritten)),
        new("lrn_n5_fewer_channels", [In(2, 3, 2, 2)], x => Op.LocalResponseNorm(x[0], 5, 1.0, 0.75, 1)),
        new("lrn_n3_two_channels", [In(2, 2, 2, 2)], x => Op.LocalResponseNorm(x[0], 3, 0.6, 0.75, 2, LrnAlphaScaling.AsWritten)),
        new("lrn_n4_even_window", [In(1, 6, 2, 2)], x => Op.LocalResponseNorm(x[0], 4, 1.0, 0.75, 1)),
        new("lrn_n5_alexnet_paper", [In(1, 6, 3, 2)], x => Op.LocalResponseNorm(x[0], 5, 1e-4, 0.75, 2, LrnAlphaScaling.AsWritten)),

        // Batch norm. Running statistics are buffers made inside the case, so every evaluation starts from the same ones.
        new("batchnorm2d_train_affine", [In(3, 2, 2, 3), In(2), In(2)],
            x => Op.BatchNorm2d(x[0], x[1], x[2], Tensor.Zeros([2], x[0].DType, x[0].Device), Tensor.Ones([2], x[0].DType, x[0].Device), training: true)),
        new("batchnorm2d_train_noaffine", [In(2, 3, 3, 2)], x => Op.BatchNorm2d(x[0], null, null, null, null, training: true)),
        new("batchnorm2d_train_weight_only", [In(2, 2, 1, 3), In(2)], x => Op.BatchNorm2d(x[0], x[1], null, null, null, training: true, eps: 1e-3)),
        new("batchnorm2d_eval_affine", [In(2, 3, 2, 2), In(3), In(3)],
            x => Op.BatchNorm2d(x[0], x[1], x[2], RunningStats([0.1, -0.2, 0.3], x[0]), RunningStats([0.5, 1.5, 2.0], x[0]), training: false)),
        new("batchnorm2d_eval_noaffine", [In(2, 3, 2, 2)],
            x => Op.BatchNorm2d(x[0], null, null, RunningStats([0.1, -0.2, 0.3], x[0]), RunningStats([0.5, 1.5, 2.0], x[0]), training: false)),
        // Batch norm with its ReLU inside (Note [Batch norm with ReLU]).
        new("batchnorm2d_relu_train", [In(3, 2, 2, 3), In(2), In(2)],
            x => Op.BatchNorm2d(x[0], x[1], x[2], Tensor.Zeros([2], x[0].DType, x[0].Device), Tensor.Ones([2], x[0].DType, x[0].Device), true, 0.1, 1e-5, relu: true)),
        new("batchnorm2d_relu_eval", [In(2, 3, 2, 2), In(3), In(3)],
            x => Op.BatchNorm2d(x[0], x[1], x[2], RunningStats([0.1, -0.2, 0.3], x[0]), RunningStats([0.5, 1.5, 2.0], x[0]), false, 0.1, 1e-5, relu: true)),
        new("matmul", [In(3, 4), In(4, 5)], x => Op.MatMul(x[0], x[1])),
        new("matmul_transa", [In(4, 3), In(4, 5)], x => Op.MatMul(x[0], x[1], transA: true)),
        new("matmul_transb", [In(3, 4), In(5, 4)], x => Op.MatMul(x[0], x[1], transB: true)),
        new("matmul_transab", [In(4, 3), In(5, 4)], x => Op.MatMul(x[0], x[1], transA: true, transB: true)),
        new("linear", [In(3, 5), In(4, 5), In(4)], x => Op.Linear(x[0], x[1], x[2])),
        new("linear_no_bias", [In(2, 7), In(3, 7)], x => Op.Linear(x[0], x[1])),
        new("conv2d", [In(2, 3, 5, 5), In(4, 3, 3, 3), In(4)], x => Op.Conv2d(x[0], x[1], x[2], padding: 1)),
        new("conv2d_stride2_pad1_odd", [In(3, 2, 7, 6), In(3, 2, 3, 3), In(3)], x => Op.Conv2d(x[0], x[1], x[2], stride: 2, padding: 1)),
        new("conv2d_dilation2_no_bias", [In(1, 2, 7, 7), In(2, 2, 3, 3)], x => Op.Conv2d(x[0], x[1], dilation: 2, padding: 1)),
        new("conv2d_groups2", [In(2, 4, 5, 5), In(6, 2, 3, 3), In(6)], x => Op.Conv2d(x[0], x[1], x[2], padding: 1, groups: 2)),
        new("conv2d_1x1", [In(2, 3, 4, 4), In(5, 3, 1, 1), In(5)], x => Op.Conv2d(x[0], x[1], x[2])),
        new("conv2d_1x1_groups2_no_bias", [In(1, 4, 3, 3), In(2, 2, 1, 1)], x => Op.Conv2d(x[0], x[1], groups: 2)),
        new("conv2d_1x1_stride2", [In(2, 3, 5, 5), In(4, 3, 1, 1), In(4)], x => Op.Conv2d(x[0], x[1], x[2], stride: 2)),
        new("conv2d_rect", [In(1, 3, 5, 7), In(2, 3, 2, 3)], x => Op.Conv2d(x[0], x[1], null, stride: (2, 1), padding: (1, 0), dilation: (1, 2))),
        new("conv2d_11x11_stride4", [In(1, 3, 19, 19), In(2, 3, 11, 11), In(2)], x => Op.Conv2d(x[0], x[1], x[2], stride: 4, padding: 2)),
        new("conv2d_wide_rows", [In(2, 2, 3, 21), In(2, 2, 3, 3), In(2)], x => Op.Conv2d(x[0], x[1], x[2], padding: 1)),
        new("conv2d_stride2_wide_rows", [In(1, 2, 5, 37), In(2, 2, 3, 3)], x => Op.Conv2d(x[0], x[1], null, stride: 2, padding: 1)),
        new("conv2d_batch5", [In(5, 2, 4, 4), In(3, 2, 3, 3), In(3)], x => Op.Conv2d(x[0], x[1], x[2], padding: 1)),
        // More than 32 output channels: the weight gradient's GEMM is not transposed (Note [Transposed weight gradient]).
        new("conv2d_k34", [In(2, 2, 4, 5), In(34, 2, 3, 3), In(34)], x => Op.Conv2d(x[0], x[1], x[2], padding: 1)),
        new("conv2d_k34_groups2", [In(1, 4, 4, 4), In(68, 2, 3, 3)], x => Op.Conv2d(x[0], x[1], null, padding: 1, groups: 2)),
        // Row lengths around the vector widths of im2col's and col2im's row copies (8 and 16 floats, 4 and 8 doubles).
        new("conv2d_rows12", [In(1, 2, 3, 12), In(2, 2, 3, 3)], x => Op.Conv2d(x[0], x[1], null, padding: 1)),
        new("conv2d_rows33", [In(1, 1, 3, 33), In(2, 1, 1, 3), In(2)], x => Op.Conv2d(x[0], x[1], x[2], stride: (1, 1), padding: (0, 1), dilation: (1, 1))),
    ];

    /// <summary>Running statistics in the dtype and on the device of <paramref name="like"/> (so the table also runs on CUDA).</summary>
    private static Tensor RunningStats(double[] values, Tensor like)
    {
        using var t = Tensor.FromArray(values, [values.Length], like.Device);
        return t.To(like.DType);
    }

    public static TheoryData<string> Names => new(All.Select(c => c.Name));

    public static OpCase Get(string name) => All.Single(c => c.Name == name);
}
