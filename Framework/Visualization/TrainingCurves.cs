using SkiaSharp;

namespace Kiln.Visualization;

/// <summary>
/// Training curves as one PNG of three panels: loss (training solid, validation dashed), top-1 error and
/// top-5 error (validation dashed, training top-1 solid when logged), against epochs, images seen or
/// steps; several runs overlaid in distinct colours with a legend. Drawn with ScottPlot (see
/// Note [Plot fonts]).
/// </summary>
public static class TrainingCurves
{
    public const int PanelWidth = 600;
    public const int PanelHeight = 450;

    /// <summary>
    /// For the trainer: reads <paramref name="runDir"/>'s metrics and writes <c>curves.png</c> there
    /// (atomically). Returns the path, or null when there is nothing to plot yet.
    /// </summary>
    public static string? WriteForRun(string runDir, CurveAxis axis = CurveAxis.Epochs)
    {
        var run = RunMetrics.Read(runDir);
        if (run.Rows == 0) return null;
        string path = Path.Combine(runDir, "curves.png");
        Save([run], path, axis);
        return path;
    }

    /// <summary>Writes the curves of <paramref name="runs"/> to <paramref name="path"/>; the picture is 3·PanelWidth x PanelHeight.</summary>
    public static void Save(IReadOnlyList<RunMetrics> runs, string path, CurveAxis axis = CurveAxis.Epochs)
    {
        using var bitmap = Render(runs, axis);
        Png.Save(bitmap, path);
    }

    /// <summary>Draws the three panels side by side; the caller disposes the bitmap.</summary>
    public static SKBitmap Render(IReadOnlyList<RunMetrics> runs, CurveAxis axis = CurveAxis.Epochs)
    {
        if (runs.Count == 0) throw new ArgumentException("curves: no runs given");
        var panels = new (string Title, string YLabel, (string Column, bool Dashed, string Label)[] Series)[]
        {
            ("Loss", "cross-entropy loss", [("train_loss", false, "train"), ("val_loss", true, "val")]),
            ("Top-1 error", "top-1 error (%)", [("train_top1_err", false, "train"), ("val_top1_err", true, "val")]),
            ("Top-5 error", "top-5 error (%)", [("val_top5_err", true, "val")]),
        };
        var pixels = new byte[3 * PanelWidth * PanelHeight * 4];
        string? family = PlotFonts.FamilyName;
        var palette = new ScottPlot.Palettes.Category10();
        for (int p = 0; p < panels.Length; p++)
        {
            var plot = new ScottPlot.Plot();
            if (family is not null) plot.Font.Set(family);
            var (title, yLabel, series) = panels[p];
            string xLabel = "";
            bool any = false;
            double yMax = 0;
            for (int r = 0; r < runs.Count; r++)
            {
                var (xs, label) = XValues(runs[r], axis);
                xLabel = label;
                foreach (var (column, dashed, name) in series)
                {
                    var ys = runs[r][column];
                    if (column.EndsWith("_err", StringComparison.Ordinal)) ys = ys.Select(v => 100 * v).ToArray();
                    var (x, y) = Present(xs, ys);
                    if (x.Length == 0) continue;
                    yMax = Math.Max(yMax, y.Max());
                    var line = plot.Add.Scatter(x, y);
                    line.Color = palette.GetColor(r);
                    line.LineWidth = 2;
                    line.MarkerSize = dashed ? 5 : 0;
                    if (dashed) line.LinePattern = ScottPlot.LinePattern.Dashed;
                    line.LegendText = runs.Count == 1 ? name : $"{runs[r].Name} {name}";
                    any = true;
                }
            }
            plot.Title(title);
            plot.XLabel(xLabel);
            plot.YLabel(yLabel);
            if (any)
            {
                // Losses and errors are non-negative and mostly fall: start the y axis at 0, legend top right.
                plot.Axes.AutoScale();
                plot.Axes.SetLimitsY(0, yMax > 0 ? yMax * 1.08 : 1);
                plot.ShowLegend(ScottPlot.Alignment.UpperRight);
            }
            else plot.Add.Annotation("no data");
            var png = plot.GetImageBytes(PanelWidth, PanelHeight, ScottPlot.ImageFormat.Png);
            using var decoded = SKBitmap.Decode(png) ?? throw new InvalidOperationException("curves: ScottPlot returned an undecodable panel");
            using var panel = decoded.Copy(SKColorType.Rgba8888);
            CopyInto(panel, pixels, 3 * PanelWidth, p * PanelWidth);
        }
        var bitmap = new SKBitmap(new SKImageInfo(3 * PanelWidth, PanelHeight, SKColorType.Rgba8888, SKAlphaType.Opaque));
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        return bitmap;
    }

    private static void CopyInto(SKBitmap src, byte[] dst, int dstWidth, int x0)
    {
        var s = src.GetPixelSpan();
        int rowBytes = Math.Min(src.Width, dstWidth - x0) * 4;
        for (int y = 0; y < Math.Min(src.Height, PanelHeight); y++)
            s.Slice(y * src.RowBytes, rowBytes).CopyTo(dst.AsSpan((y * dstWidth + x0) * 4, rowBytes));
    }

    private static (double[] X, string Label) XValues(RunMetrics run, CurveAxis axis)
    {
        var order = axis switch
        {
            CurveAxis.Epochs => new[] { ("epoch", "epoch"), ("images", "images seen"), ("step", "step") },
            CurveAxis.Images => [("images", "images seen"), ("step", "step"), ("epoch", "epoch")],
            _ => [("step", "step"), ("images", "images seen"), ("epoch", "epoch")],
        };
        foreach (var (column, label) in order)
            if (run.Has(column)) return (run[column], label);
        throw new FormatException($"run '{run.Name}' has no epoch, images or step values");
    }

    private static (double[] X, double[] Y) Present(double[] xs, double[] ys)
    {
        var x = new List<double>();
        var y = new List<double>();
        for (int i = 0; i < xs.Length; i++)
            if (!double.IsNaN(xs[i]) && !double.IsNaN(ys[i]) && !double.IsInfinity(ys[i])) { x.Add(xs[i]); y.Add(ys[i]); }
        return ([.. x], [.. y]);
    }
}
