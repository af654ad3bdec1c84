using System.Globalization;
using System.Text;
using Kiln.Core.Autograd;
using Kiln.Nn;

namespace Kiln.Visualization;

/// <summary>
/// Per-layer health of a network over a set of images: dead feature maps (never positive, so a ReLU
/// after them never passes a gradient), mean activation, and weight and gradient L2 norms.
/// </summary>
public static class LayerStats
{
    /// <summary>
    /// Runs every batch (N, C, H, W) through <paramref name="stack"/> without gradients and gathers each
    /// layer's statistics. Gradient norms are those of the weights' current <c>Grad</c> (see
    /// <see cref="AccumulateGradients"/>), or null when none.
    /// </summary>
    public static IReadOnlyList<LayerStatistics> Compute(FeatureStack stack, IEnumerable<Tensor> batches)
    {
        int layers = stack.Layers.Count;
        var positive = new bool[layers][];
        var sum = new double[layers];
        var count = new long[layers];
        var shapes = new int[layers][];
        bool anyBatch = false;
        foreach (var batch in batches)
        {
            anyBatch = true;
            using var scope = TensorScope.Begin();
            using var noGrad = GradMode.NoGrad();
            var x = batch;
            for (int i = 0; i < layers; i++)
            {
                x = stack.Layers[i].Forward(x);
                shapes[i] = x.Shape[1..].ToArray();
                var v = Host.Floats(x);
                int n = x.Size(0), c = x.Size(1), plane = (int)(x.NumElements / Math.Max(1, n * c));
                positive[i] ??= new bool[c];
                for (int img = 0; img < n; img++)
                    for (int ch = 0; ch < c; ch++)
                    {
                        var span = v.AsSpan((img * c + ch) * plane, plane);
                        double s = 0;
                        bool pos = false;
                        foreach (float a in span)
                        {
                            s += a;
                            pos |= a > 0;
                        }
                        sum[i] += s;
                        positive[i][ch] |= pos;
                    }
                count[i] += v.Length;
            }
        }
        if (!anyBatch) throw new ArgumentException("layer stats: no images given");
        var rows = new List<LayerStatistics>(layers);
        for (int i = 0; i < layers; i++)
        {
            var l = stack.Layers[i];
            rows.Add(new LayerStatistics(l.Name, l.Kind.ToString().ToLowerInvariant(), shapes[i], positive[i].Length,
                positive[i].Count(p => !p), sum[i] / Math.Max(1, count[i]),
                l.Weight is null ? null : Norm(l.Weight), l.Weight?.Grad is null ? null : Norm(l.Weight.Grad)));
        }
        return rows;
    }

    /// <summary>
    /// Rows for the parameterised modules of <paramref name="model"/> that the stack does not cover
    /// (fully connected layers, ...): weight and gradient norms only.
    /// </summary>
    public static IReadOnlyList<LayerStatistics> ParameterRows(Module model, FeatureStack stack)
    {
        var covered = stack.Layers.Where(l => l.Weight is not null).Select(l => l.Name + ".weight").ToHashSet();
        var rows = new List<LayerStatistics>();
        foreach (var (name, p) in model.NamedParameters())
        {
            if (!name.EndsWith(".weight", StringComparison.Ordinal) || covered.Contains(name)) continue;
            rows.Add(new LayerStatistics(name[..^".weight".Length], "weights", p.Shape.ToArray(), 0, 0, double.NaN,
                Norm(p.Value), p.Grad is null ? null : Norm(p.Grad)));
        }
        return rows;
    }

    /// <summary>
    /// Forward and backward passes of the cross-entropy loss of <paramref name="model"/> (in evaluation
    /// mode) over labelled batches, accumulating the parameters' gradients as the mean over batches.
    /// Clears previous gradients first.
    /// </summary>
    public static void AccumulateGradients(Module model, IEnumerable<(Tensor Images, Tensor Labels)> batches)
    {
        model.ZeroGrad();
        bool wasTraining = model.IsTraining;
        model.Eval();
        int n = 0;
        try
        {
            foreach (var (images, labels) in batches)
            {
                using var scope = TensorScope.Begin();
                var loss = Op.CrossEntropy(model.Forward(images), labels);
                loss.Backward();
                n++;
            }
        }
        finally
        {
            model.Train(wasTraining);
        }
        if (n > 1)
            foreach (var p in model.Parameters())
                if (p.Grad is not null)
                {
                    using var scaled = Op.Scale(p.Grad, 1.0 / n);
                    Backend.Of(p.Grad).Copy(scaled, p.Grad);
                }
    }

    /// <summary>L2 norm of a tensor.</summary>
    public static double Norm(Tensor t)
    {
        var v = Host.Floats(t);
        double s = 0;
        foreach (float a in v) s += (double)a * a;
        return Math.Sqrt(s);
    }

    /// <summary>A plain-text table, one row per layer, columns aligned.</summary>
    public static string FormatTable(IEnumerable<LayerStatistics> rows)
    {
        var ci = CultureInfo.InvariantCulture;
        var table = new List<string[]> { new[] { "layer", "kind", "output", "maps", "dead", "dead %", "mean act", "|W|", "|dW|" } };
        foreach (var r in rows)
            table.Add([
                r.Layer, r.Kind, "(" + string.Join(", ", r.OutputShape) + ")",
                r.Maps == 0 ? "" : r.Maps.ToString(ci), r.Maps == 0 ? "" : r.DeadMaps.ToString(ci),
                r.Maps == 0 ? "" : (100 * r.DeadFraction).ToString("0.0", ci),
                double.IsNaN(r.MeanActivation) ? "" : r.MeanActivation.ToString("G4", ci),
                r.WeightNorm?.ToString("G4", ci) ?? "", r.GradNorm?.ToString("G4", ci) ?? "",
            ]);
        var widths = Enumerable.Range(0, table[0].Length).Select(j => table.Max(row => row[j].Length)).ToArray();
        var sb = new StringBuilder();
        foreach (var row in table)
        {
            for (int j = 0; j < row.Length; j++)
            {
                bool left = j < 3;
                sb.Append(left ? row[j].PadRight(widths[j]) : row[j].PadLeft(widths[j]));
                if (j + 1 < row.Length) sb.Append("  ");
            }
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
