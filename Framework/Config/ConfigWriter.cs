using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;

namespace Kiln.Config;

/// <summary>
/// Writes config records back as YAML (snake_case keys, properties in declaration order): the
/// resolved config that a run prints at start and stores beside its checkpoints. Reading the output
/// back gives an equal config.
/// </summary>
public static class ConfigWriter
{
    public static string ToYaml(object config)
    {
        var sb = new StringBuilder();
        WriteRecord(sb, config, 0);
        return sb.ToString();
    }

    private static void WriteRecord(StringBuilder sb, object record, int indent)
    {
        foreach (var p in record.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length > 0 || !p.CanWrite) continue;
            var value = p.GetValue(record);
            sb.Append(' ', indent).Append(ConfigNames.KeyOf(p)).Append(':');
            WriteValue(sb, value, indent);
        }
    }

    private static void WriteValue(StringBuilder sb, object? value, int indent)
    {
        switch (value)
        {
            case null:
                sb.Append(" null\n");
                break;
            case IDictionary dict:
                if (dict.Count == 0) { sb.Append(" {}\n"); break; }
                sb.Append('\n');
                foreach (DictionaryEntry e in dict)
                {
                    sb.Append(' ', indent + 2).Append(Scalar(e.Key)).Append(':');
                    WriteValue(sb, e.Value, indent + 2);
                }
                break;
            case IEnumerable list and not string:
                var items = list.Cast<object?>().ToList();
                if (items.All(i => i is null || IsScalar(i)))
                {
                    sb.Append(" [").Append(string.Join(", ", items.Select(Scalar))).Append("]\n");
                    break;
                }
                sb.Append('\n');
                foreach (var item in items)
                {
                    sb.Append(' ', indent + 2).Append("-\n");
                    WriteRecord(sb, item!, indent + 4);
                }
                break;
            default:
                if (IsScalar(value)) sb.Append(' ').Append(Scalar(value)).Append('\n');
                else
                {
                    sb.Append('\n');
                    WriteRecord(sb, value, indent + 2);
                }
                break;
        }
    }

    private static bool IsScalar(object v) => v is string || v.GetType().IsPrimitive || v.GetType().IsEnum || v is decimal;

    private static string Scalar(object? v) => v switch
    {
        null => "null",
        string s => Quote(s),
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        Enum e => ConfigNames.SnakeCase(e.ToString()),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => Quote(v.ToString() ?? ""),
    };

    /// <summary>Double-quotes every string, so no value is re-read as a number, bool or null.</summary>
    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
