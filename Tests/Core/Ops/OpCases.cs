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
    ];

    public static TheoryData<string> Names => new(All.Select(c => c.Name));

    public static OpCase Get(string name) => All.Single(c => c.Name == name);
}
