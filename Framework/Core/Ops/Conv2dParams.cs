namespace Kiln.Core.Ops;

/// <summary>
/// Geometry of a 2-D convolution besides the tensors: stride, zero padding and dilation per spatial
/// dimension (height, width), and the number of groups. Output size per dimension:
/// P = (H + 2*padH - dilationH*(R-1) - 1) / strideH + 1 (and likewise Q from W, S).
/// </summary>
public sealed record Conv2dParams
{
    public Conv2dParams((int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups = 1)
    {
        (StrideH, StrideW) = stride;
        (PadH, PadW) = padding;
        (DilationH, DilationW) = dilation;
        Groups = groups;
        if (StrideH < 1 || StrideW < 1) throw new ArgumentException($"conv2d: stride must be at least 1, got ({StrideH}, {StrideW})");
        if (PadH < 0 || PadW < 0) throw new ArgumentException($"conv2d: padding must be non-negative, got ({PadH}, {PadW})");
        if (DilationH < 1 || DilationW < 1) throw new ArgumentException($"conv2d: dilation must be at least 1, got ({DilationH}, {DilationW})");
        if (Groups < 1) throw new ArgumentException($"conv2d: groups must be at least 1, got {Groups}");
    }

    public Conv2dParams(int stride = 1, int padding = 0, int dilation = 1, int groups = 1)
        : this((stride, stride), (padding, padding), (dilation, dilation), groups) { }

    public int StrideH { get; }
    public int StrideW { get; }
    public int PadH { get; }
    public int PadW { get; }
    public int DilationH { get; }
    public int DilationW { get; }
    public int Groups { get; }

    /// <summary>True for a 1x1 filter with stride 1 and no padding: the convolution is a plain GEMM on the input.</summary>
    public bool IsPointwise(int r, int s) => r == 1 && s == 1 && StrideH == 1 && StrideW == 1 && PadH == 0 && PadW == 0;

    /// <summary>
    /// Checks x (N, C, H, W) and weight (K, C/groups, R, S) against each other and these parameters and
    /// returns the output shape (N, K, P, Q). Messages name the shapes.
    /// </summary>
    public int[] OutputShape(ReadOnlySpan<int> x, ReadOnlySpan<int> weight)
    {
        string xs = Tensor.ShapeString(x), ws = Tensor.ShapeString(weight);
        if (x.Length != 4) throw new ArgumentException($"conv2d: needs a rank-4 input (N, C, H, W), got {xs}");
        if (weight.Length != 4) throw new ArgumentException($"conv2d: needs a rank-4 weight (K, C/groups, R, S), got {ws}");
        int c = x[1], k = weight[0];
        if (c % Groups != 0 || k % Groups != 0)
            throw new ArgumentException($"conv2d: groups={Groups} must divide the input channels ({c} in {xs}) and the output channels ({k} in weight {ws})");
        if (weight[1] * Groups != c)
            throw new ArgumentException(Groups == 1
                ? $"conv2d: weight {ws} needs input with {weight[1]} channels, got {xs}"
                : $"conv2d: weight {ws} with groups={Groups} needs input with {weight[1] * Groups} channels, got {xs}");
        int p = OutputSize(x[2], weight[2], PadH, DilationH, StrideH);
        int q = OutputSize(x[3], weight[3], PadW, DilationW, StrideW);
        if (p < 1 || q < 1)
            throw new ArgumentException($"conv2d: input {xs} is too small for weight {ws} with {this}: output would be {p}x{q}");
        return [x[0], k, p, q];
    }

    private static int OutputSize(int size, int filter, int pad, int dilation, int stride)
    {
        int span = dilation * (filter - 1) + 1;
        return size + 2 * pad < span ? 0 : (size + 2 * pad - span) / stride + 1;
    }

    public override string ToString() =>
        $"stride ({StrideH}, {StrideW}) padding ({PadH}, {PadW}) dilation ({DilationH}, {DilationW}) groups {Groups}";
}
