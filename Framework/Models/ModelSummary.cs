using System.Globalization;
using System.Text;

namespace Kiln.Models;

/// <summary>A paper-style table of a planned network: layer, input and output sizes, kernel/stride, parameters, multiply-adds, with totals.</summary>
public static class ModelSummary
{
    public static string Format(NetworkPlan plan)
    {
        var rows = new List<string[]> { new[] { "layer", "type", "input", "output", "kernel/stride", "params", "mult-adds" } };
        foreach (var l in plan.Layers)
        {
            string input = l.InputShapes.Count switch
            {
                0 => "",
                1 => Size(l.InputShapes[0]),
                _ => $"{l.InputShapes.Count} inputs",
            };
            rows.Add([
                l.Name + (l.InEvaluation ? "" : " (aux)"), l.Type, input, Size(l.OutputShape), l.Kernel,
                l.ParameterCount == 0 ? "" : l.ParameterCount.ToString("N0", CultureInfo.InvariantCulture),
                l.MultiplyAdds == 0 ? "" : Si(l.MultiplyAdds),
            ]);
        }
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var sb = new StringBuilder();
        sb.AppendLine($"{plan.Name}: input {Size(plan.InputShape)}{(plan.Description is null ? "" : " — " + plan.Description)}");
        if (plan.Source is not null) sb.AppendLine($"source: {plan.Source}");
        for (int i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            var line = string.Join("  ", r.Select((cell, c) => c >= 5 ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c])));
            sb.AppendLine(line.TrimEnd());
            if (i == 0) sb.AppendLine(new string('-', widths.Sum() + 2 * (widths.Length - 1)));
        }
        sb.AppendLine($"parameters: {plan.InferenceParameterCount.ToString("N0", CultureInfo.InvariantCulture)} in evaluation" +
            (plan.ParameterCount != plan.InferenceParameterCount ? $", {plan.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} with auxiliary heads" : ""));
        sb.AppendLine($"multiply-adds: {Si(plan.MultiplyAdds)} per image ({plan.MultiplyAdds.ToString("N0", CultureInfo.InvariantCulture)})");
        sb.AppendLine("heads: " + string.Join(", ", plan.Heads.Select((h, i) => $"{h.Layer} {Size(plan.Layers[h.LayerIndex].OutputShape)}{(i == 0 ? " (main)" : $" weight {h.LossWeight.ToString(CultureInfo.InvariantCulture)}")}")));
        return sb.ToString();
    }

    private static string Size(int[] s) => s.Length == 0 ? "?" : string.Join("x", s);

    private static string Si(long v) => v >= 1_000_000_000 ? $"{v / 1e9:F2} G" : v >= 1_000_000 ? $"{v / 1e6:F1} M" : v >= 1000 ? $"{v / 1e3:F1} K" : v.ToString(CultureInfo.InvariantCulture);
}
