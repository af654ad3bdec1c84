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
    ];

    public static TheoryData<string> Names => new(All.Select(c => c.Name));

    public static OpCase Get(string name) => All.Single(c => c.Name == name);
}
