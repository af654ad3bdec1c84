using System.Globalization;
using CommandLine;
using Kiln.Models;

namespace Kiln.Cli.Commands;

[Verb("summary", HelpText = "Print a network's layers with input and output sizes, kernels, parameters and multiply-adds.")]
public sealed class SummaryOptions : CommonOptions
{
    [Value(0, MetaName = "model", HelpText = "A zoo name (resnet50, googlenet, ...) or a network file (.yaml).")]
    public string Model { get; set; } = "";

    [Option("input", HelpText = "Input size CxHxW (default: the network's own).")]
    public string? Input { get; set; }

    [Option("set", Separator = ',', HelpText = "Network parameters, name=value[,name=value] (e.g. classes=10,stride_in_3x3=false).")]
    public IEnumerable<string> Set { get; set; } = [];

    [Option("list", HelpText = "List the zoo's networks with parameters and multiply-adds instead.")]
    public bool List { get; set; }
}

/// <summary><c>kiln summary</c>: the network's table from shape inference alone; nothing is allocated.</summary>
public static class SummaryCommand
{
    public static int Run(SummaryOptions o)
    {
        o.Apply();
        if (o.List)
        {
            foreach (var name in ModelZoo.Names)
            {
                var p = ModelZoo.Plan(name);
                Console.WriteLine($"{name,-18} {string.Join("x", p.InputShape),-10} {p.InferenceParameterCount.ToString("N0", CultureInfo.InvariantCulture),14} params  {p.MultiplyAdds / 1e9,7:F3} G mult-adds");
            }
            return 0;
        }
        if (o.Model.Length == 0) throw new ArgumentException("name a zoo network or a network file, or use --list");
        var plan = ModelZoo.Plan(o.Model, o.Input is null ? null : ParseShape(o.Input), ParseSettings(o.Set));
        Console.Write(ModelSummary.Format(plan));
        return 0;
    }

    /// <summary>"3x224x224" to [3, 224, 224].</summary>
    public static int[] ParseShape(string text)
    {
        var parts = text.Split('x');
        var dims = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out dims[i]) || dims[i] < 1)
                throw new ArgumentException($"--input needs CxHxW with positive sizes, e.g. 3x224x224, got '{text}'");
        return dims;
    }

    public static Dictionary<string, string> ParseSettings(IEnumerable<string> settings)
    {
        var result = new Dictionary<string, string>();
        foreach (var s in settings)
        {
            int eq = s.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--set needs name=value, got '{s}'");
            result[s[..eq]] = s[(eq + 1)..];
        }
        return result;
    }
}
