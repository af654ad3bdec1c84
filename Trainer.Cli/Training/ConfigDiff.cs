namespace Kiln.Cli.Training;

/// <summary>
/// Differences between two resolved configs (as written by ConfigWriter), by key path. Keys that
/// change only cadence or bookkeeping (logging, evaluation and checkpoint intervals, run directory,
/// threads, workers, batch prefetch) are reported as harmless; every other difference refuses a resume unless
/// --allow-config-change is given (fault scenario RS-3).
/// </summary>
public static class ConfigDiff
{
    private static readonly string[] HarmlessPrefixes =
    [
        "logging.", "training.eval_every", "training.checkpoint_every", "training.checkpoint_every_steps",
        "training.keep_checkpoints", "training.run_dir", "training.threads", "data.workers", "training.max_consecutive_skips",
        "training.cuda.prefetch",
    ];

    public static bool IsHarmless(string key) => HarmlessPrefixes.Any(p => key == p || (p.EndsWith('.') && key.StartsWith(p, StringComparison.Ordinal)));

    /// <summary>(key, value in the checkpoint, value now) for every key that differs; "(absent)" where missing.</summary>
    public static List<(string Key, string Before, string After)> Compare(string beforeYaml, string afterYaml)
    {
        var a = Flatten(beforeYaml);
        var b = Flatten(afterYaml);
        var diffs = new List<(string, string, string)>();
        foreach (var key in a.Keys.Union(b.Keys).Order(StringComparer.Ordinal))
        {
            string x = a.GetValueOrDefault(key, "(absent)"), y = b.GetValueOrDefault(key, "(absent)");
            if (x != y) diffs.Add((key, x, y));
        }
        return diffs;
    }

    /// <summary>key.path → scalar text of ConfigWriter's YAML (list items of records are numbered).</summary>
    public static Dictionary<string, string> Flatten(string yaml)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var stack = new List<(int Indent, string Key)>();
        var listIndex = new Dictionary<string, int>();
        foreach (var raw in yaml.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#')) continue;
            int indent = line.Length - line.TrimStart().Length;
            string t = line.Trim();
            while (stack.Count > 0 && stack[^1].Indent >= indent) stack.RemoveAt(stack.Count - 1);
            string parent = string.Join('.', stack.Select(s => s.Key));
            if (t == "-")
            {
                int i = listIndex.GetValueOrDefault(parent);
                listIndex[parent] = i + 1;
                stack.Add((indent, i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                continue;
            }
            int colon = t.IndexOf(':');
            if (colon < 0) continue;
            string key = t[..colon], value = t[(colon + 1)..].Trim();
            string path = parent.Length == 0 ? key : parent + "." + key;
            if (value.Length == 0) stack.Add((indent, key));
            else result[path] = value;
        }
        return result;
    }
}
