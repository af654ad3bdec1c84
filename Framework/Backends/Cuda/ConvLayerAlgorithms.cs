using System.Text;
using Kiln.Backends.Cuda.Interop;
using Kiln.Core.Ops;

namespace Kiln.Backends.Cuda;

/// <summary>
/// The cuDNN algorithms one convolution layer runs with, per pass (see Note [Per-layer algorithm log]):
/// the layer's dotted name, its input x (N, C, H, W), weight w (K, C/groups, R, S) and geometry, and for
/// each pass the cached choice, or null when that pass has not run for this shape (the first layer's
/// backward data, whose input needs no gradient).
/// </summary>
public sealed record ConvLayerAlgorithms(string Layer, int[] Input, int[] Weight, Conv2dParams Geometry,
    ConvPassAlgorithm? Forward, ConvPassAlgorithm? BackwardData, ConvPassAlgorithm? BackwardFilter)
{
    // Note [Per-layer algorithm log]
    // Layer names never reach the backend: ops see tensors, and the algorithm cache (Note [Convolution
    // algorithm cache]) is keyed by shape and policy. The per-layer view is therefore a join done after
    // the fact: the network lists its convolutions with the shapes a step gives them (Network.ConvLayers),
    // each (shape, pass) becomes the ConvAlgoKey the op would have used, and the key is looked up in the
    // cache. Layers of equal shape share one entry, so they report the same algorithms, which is exactly
    // what ran. A pass that never ran for a shape has no entry and is reported as such. Build is pure
    // (the cache is a lookup function), so the join is tested on the CPU with a fake cache.

    /// <summary>Joins layers to the algorithm cache through <paramref name="lookup"/> (null: no entry), with the policy the ops would use.</summary>
    internal static List<ConvLayerAlgorithms> Build(IEnumerable<(string Name, int[] Input, int[] Weight, Conv2dParams Geometry)> layers, DType dtype,
        CudnnConvOptions options, bool allowTf32, Func<ConvAlgoKey, ConvAlgoChoice?> lookup)
    {
        var rows = new List<ConvLayerAlgorithms>();
        foreach (var (name, x, w, p) in layers)
        {
            ConvPassAlgorithm? Find(ConvPass pass) =>
                lookup(ConvAlgoKey.Of(pass, dtype, x, w, p, options, allowTf32)) is { } c
                    ? new ConvPassAlgorithm(AlgoName(pass, c.Algo), ((cudnnMathType_t)c.MathType).ToString(), c.WorkspaceBytes)
                    : null;
            rows.Add(new ConvLayerAlgorithms(name, x, w, p, Find(ConvPass.Forward), Find(ConvPass.BackwardData), Find(ConvPass.BackwardFilter)));
        }
        return rows;
    }

    /// <summary>cuDNN's name for algorithm <paramref name="algo"/> of <paramref name="pass"/>'s enum.</summary>
    internal static string AlgoName(ConvPass pass, int algo) => pass switch
    {
        ConvPass.Forward => ((cudnnConvolutionFwdAlgo_t)algo).ToString(),
        ConvPass.BackwardData => ((cudnnConvolutionBwdDataAlgo_t)algo).ToString(),
        _ => ((cudnnConvolutionBwdFilterAlgo_t)algo).ToString(),
    };

    private const string NotRun = "(not run)";

    /// <summary>One log line: name, shapes, geometry, then the three algorithms.</summary>
    public override string ToString() =>
        $"{Layer}: x {Tensor.ShapeString(Input)} w {Tensor.ShapeString(Weight)} {Geometry}: forward {Forward?.Algorithm ?? NotRun}, " +
        $"backward data {BackwardData?.Algorithm ?? NotRun}, backward filter {BackwardFilter?.Algorithm ?? NotRun}";

    /// <summary>
    /// The table for the run directory (<c>cudnn-layers.txt</c>): a comment line naming the device, a header, then one
    /// tab-separated row per layer with algorithm, math type and workspace bytes per pass ("-" where a pass did not run).
    /// </summary>
    public static string FormatTable(string device, IEnumerable<ConvLayerAlgorithms> rows)
    {
        var sb = new StringBuilder();
        sb.Append("# kiln cuDNN algorithms per convolution layer | ").Append(device).Append('\n');
        sb.Append("layer\tinput\tweight\tgeometry\tforward\tforward_math\tforward_workspace_bytes\t")
          .Append("backward_data\tbackward_data_math\tbackward_data_workspace_bytes\t")
          .Append("backward_filter\tbackward_filter_math\tbackward_filter_workspace_bytes\n");
        foreach (var r in rows)
        {
            sb.Append(r.Layer).Append('\t').Append(Tensor.ShapeString(r.Input)).Append('\t').Append(Tensor.ShapeString(r.Weight))
              .Append('\t').Append(r.Geometry);
            foreach (var c in (ConvPassAlgorithm?[])[r.Forward, r.BackwardData, r.BackwardFilter])
                sb.Append('\t').Append(c?.Algorithm ?? "-").Append('\t').Append(c?.MathType ?? "-").Append('\t')
                  .Append(c is null ? "-" : c.WorkspaceBytes.ToString(System.Globalization.CultureInfo.InvariantCulture));
            sb.Append('\n');
        }
        return sb.ToString();
    }
}
