using System.Globalization;
using CommandLine;
using Kiln.Core;
using Kiln.Nn;
using Kiln.Serialization;

namespace Kiln.Cli.Commands;

[Verb("weights", HelpText = "Weight files (safetensors): weights inspect FILE | convert IN OUT --to f32 | export CHECKPOINT OUT | import IN OUT [--model NAME].")]
public sealed class WeightsOptions : CommonOptions
{
    [Value(0, MetaName = "action", Required = true, HelpText = "inspect, convert, export or import.")]
    public string Action { get; set; } = "";

    [Value(1, MetaName = "input", Required = true, HelpText = "A safetensors file (export: also a checkpoint directory holding model.safetensors).")]
    public string Input { get; set; } = "";

    [Value(2, MetaName = "output", HelpText = "convert, export, import: the safetensors file to write (atomically).")]
    public string? Output { get; set; }

    [Option("to", HelpText = "Convert floating tensors to f32, f64, f16 or bf16 (integer tensors are kept). import defaults to f32.")]
    public string? To { get; set; }

    [Option("model", HelpText = "import: a zoo model name; the file is loaded into it (strict unless --non-strict) and its full state written.")]
    public string? Model { get; set; }

    [Option("non-strict", HelpText = "import --model: load the tensors that match and keep the model's own values for the rest.")]
    public bool NonStrict { get; set; }

    [Option("metadata", Separator = ',', HelpText = "key=value pairs to add to the written file's metadata.")]
    public IEnumerable<string> Metadata { get; set; } = [];
}

/// <summary>
/// <c>kiln weights</c>: look into and move weight files between Kiln and other frameworks.
/// <list type="bullet">
/// <item><c>inspect FILE</c>: names, dtypes, shapes, value and parameter totals, metadata; reads the header only.</item>
/// <item><c>convert IN OUT --to f32</c>: rewrite with floating tensors converted (F16/BF16 files from the Hub → F32).</item>
/// <item><c>export CHECKPOINT OUT</c>: a checkpoint directory's <c>model.safetensors</c> (or any Kiln weights file), validated,
/// as a plain file for PyTorch (<c>safetensors.torch.load_file</c>), with <c>format: pt</c> metadata; <c>--to</c> converts.</item>
/// <item><c>import IN OUT [--model NAME] [--non-strict]</c>: a foreign safetensors file (e.g. torchvision weights saved with
/// <c>save_file(model.state_dict())</c>) made ready for Kiln: floats as F32; with <c>--model</c>, loaded into that zoo model
/// (every missing, unexpected or mis-shaped tensor reported) and the model's full state written, so a new head keeps its
/// initial values. <c>--model</c> needs the model factory that the zoo provides (<see cref="Run"/>'s <c>models</c>).</item>
/// </list>
/// </summary>
public static class WeightsCommand
{
    /// <summary>Buffers PyTorch keeps next to parameters; not counted as parameters.</summary>
    private static readonly string[] StatisticSuffixes = ["running_mean", "running_var", "num_batches_tracked"];

    public static int Run(WeightsOptions o, TextWriter output, Func<string, Module>? models = null)
    {
        o.Apply();
        switch (o.Action.ToLowerInvariant())
        {
            case "inspect":
                Inspect(o.Input, output);
                return 0;
            case "convert":
                if (o.To is null) throw new ArgumentException("weights convert needs --to f32|f64|f16|bf16");
                Safetensors.Convert(o.Input, RequireOutput(o), ParseDType(o.To), ParseMetadata(o.Metadata));
                output.WriteLine($"wrote {o.Output} (floating tensors as {ParseDType(o.To)})");
                return 0;
            case "export":
                return Export(o, output);
            case "import":
                return Import(o, output, models);
            default:
                throw new ArgumentException($"unknown weights action '{o.Action}'; expected inspect, convert, export or import");
        }
    }

    private static int Export(WeightsOptions o, TextWriter output)
    {
        string input = o.Input;
        if (Directory.Exists(input))
        {
            input = Path.Combine(input, "model.safetensors");
            if (!File.Exists(input)) throw new FileNotFoundException($"checkpoint directory '{o.Input}' has no model.safetensors", input);
        }
        var metadata = ParseMetadata(o.Metadata);
        metadata.TryAdd(ModelWeights.FormatPt.Key, ModelWeights.FormatPt.Value);
        var to = o.To is null ? (SafetensorsDType?)null : ParseDType(o.To);
        Safetensors.Convert(input, RequireOutput(o), to, metadata);
        output.WriteLine($"exported {input} to {o.Output}" + (to is null ? "" : $" (floating tensors as {to})"));
        return 0;
    }

    private static int Import(WeightsOptions o, TextWriter output, Func<string, Module>? models)
    {
        string target = RequireOutput(o);
        var metadata = ParseMetadata(o.Metadata);
        metadata.TryAdd(ModelWeights.FormatPt.Key, ModelWeights.FormatPt.Value);
        if (o.Model is null)
        {
            if (o.NonStrict) throw new ArgumentException("--non-strict applies to import --model only");
            var to = o.To is null ? SafetensorsDType.F32 : ParseDType(o.To);
            Safetensors.Convert(o.Input, target, to, metadata);
            output.WriteLine($"imported {o.Input} to {target} (floating tensors as {to})");
            return 0;
        }
        if (o.To is not null) throw new ArgumentException("--to does not apply to import --model: tensors take the model's dtypes");
        if (models is null)
            throw new InvalidOperationException($"import --model {o.Model} needs the model zoo, which this build does not have yet; import without --model converts the file only");
        using var model = models(o.Model);
        var report = ModelWeights.Load(model, o.Input, strict: !o.NonStrict);
        metadata.TryAdd("model", o.Model);
        ModelWeights.Save(model, target, metadata);
        output.WriteLine($"imported {o.Input} into {o.Model}: {report}");
        output.WriteLine($"wrote {target}");
        return 0;
    }

    /// <summary>Prints a file's tensors and totals from its header (no tensor data is read).</summary>
    public static void Inspect(string path, TextWriter output)
    {
        using var file = SafetensorsFile.Open(path);
        var c = CultureInfo.InvariantCulture;
        long fileBytes = file.DataStart + file.DataLength;
        output.WriteLine(string.Format(c, "file        {0} ({1:N0} bytes: 8 + {2:N0} header + {3:N0} data)", path, fileBytes, file.HeaderLength, file.DataLength));
        output.WriteLine(file.Metadata.Count == 0 ? "metadata    (none)"
            : "metadata    " + string.Join(", ", file.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}")));
        output.WriteLine(string.Format(c, "tensors     {0:N0}", file.Entries.Count));
        output.WriteLine();

        int nameWidth = Math.Max(4, file.Entries.Select(e => e.Name.Length).DefaultIfEmpty(0).Max());
        int shapeWidth = Math.Max(5, file.Entries.Select(e => e.ShapeString.Length).DefaultIfEmpty(0).Max());
        output.WriteLine($"{"name".PadRight(nameWidth)}  {"dtype",-7} {"shape".PadRight(shapeWidth)}  {"values",14}");
        long statistics = 0, values = 0;
        foreach (var e in file.Entries)
        {
            output.WriteLine(string.Format(c, "{0}  {1,-7} {2}  {3,14:N0}", e.Name.PadRight(nameWidth), e.DType, e.ShapeString.PadRight(shapeWidth), e.NumElements));
            values += e.NumElements;
            if (IsStatistic(e.Name)) statistics += e.NumElements;
        }
        output.WriteLine();
        var byDType = file.Entries.GroupBy(e => e.DType).OrderByDescending(g => g.Key)
            .Select(g => string.Format(c, "{0} {1:N0} tensors, {2:N0} values, {3:N0} bytes", g.Key, g.Count(), g.Sum(e => e.NumElements), g.Sum(e => e.ByteLength)));
        output.WriteLine("by dtype    " + string.Join("; ", byDType));
        output.WriteLine(string.Format(c, "values      {0:N0}", values));
        output.WriteLine(string.Format(c, "parameters  {0:N0} (values less {1:N0} in batch-norm statistics: {2})", values - statistics, statistics, string.Join(", ", StatisticSuffixes)));
    }

    private static bool IsStatistic(string name)
    {
        string last = name[(name.LastIndexOf('.') + 1)..];
        return StatisticSuffixes.Contains(last);
    }

    private static string RequireOutput(WeightsOptions o) =>
        o.Output ?? throw new ArgumentException($"weights {o.Action} needs an output file: weights {o.Action} IN OUT");

    internal static SafetensorsDType ParseDType(string text) => text.ToLowerInvariant() switch
    {
        "f32" or "float32" => SafetensorsDType.F32,
        "f64" or "float64" => SafetensorsDType.F64,
        "f16" or "float16" => SafetensorsDType.F16,
        "bf16" or "bfloat16" => SafetensorsDType.BF16,
        _ => throw new ArgumentException($"--to '{text}': expected f32, f64, f16 or bf16"),
    };

    private static Dictionary<string, string> ParseMetadata(IEnumerable<string> pairs)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--metadata '{pair}': expected key=value");
            result[pair[..eq]] = pair[(eq + 1)..];
        }
        return result;
    }
}
