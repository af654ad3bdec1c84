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
    ];

    public static TheoryData<string> Names => new(All.Select(c => c.Name));

    public static OpCase Get(string name) => All.Single(c => c.Name == name);
}
