using System.Globalization;
using Kiln.Config;

namespace Kiln.Models;

/// <summary>
/// A layer's own keys after parameter substitution, read with their expected kinds. Each read marks
/// the key as known; wrong kinds and missing keys are recorded as problems (the read then returns
/// the default so that planning can go on and find more), and <see cref="ReportUnknown"/> names
/// every key the layer type did not read.
/// </summary>
internal sealed class LayerArgs(IReadOnlyList<KeyValuePair<string, SpecValue>> values, Action<SourceLocation, string> problem, SourceLocation where)
{
    private readonly HashSet<string> _read = [];

    private SpecValue? Get(string key)
    {
        _read.Add(key);
        foreach (var (k, v) in values)
            if (k == key) return v;
        return null;
    }

    public bool Has(string key)
    {
        _read.Add(key);
        return values.Any(kv => kv.Key == key);
    }

    private void Missing(string key, string kind) => problem(where, $"missing key '{key}' ({kind})");

    private void Wrong(SpecValue v, string key, string kind) => problem(v.Where, $"key '{key}' needs {kind}, got '{v}'");

    public int Int(string key, int? fallback, int min = int.MinValue)
    {
        var v = Get(key);
        if (v is null)
        {
            if (fallback is null) Missing(key, "an integer");
            return fallback ?? Math.Max(1, min);
        }
        if (!v.IsList && int.TryParse(v.Text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n))
        {
            if (n >= min) return n;
            problem(v.Where, $"key '{key}' must be at least {min}, got {n}");
            return Math.Max(1, min);
        }
        Wrong(v, key, "an integer");
        return fallback ?? Math.Max(1, min);
    }

    /// <summary>An integer (square) or [h, w].</summary>
    public (int H, int W) Pair(string key, (int, int)? fallback, int min)
    {
        var v = Get(key);
        if (v is null)
        {
            if (fallback is null) Missing(key, "an integer or [h, w]");
            return fallback ?? (Math.Max(1, min), Math.Max(1, min));
        }
        static bool Parse(SpecValue s, out int n) { n = 0; return !s.IsList && int.TryParse(s.Text, NumberStyles.Integer, CultureInfo.InvariantCulture, out n); }
        (int, int)? result = null;
        if (Parse(v, out int a)) result = (a, a);
        else if (v.IsList && v.Items!.Count == 2 && Parse(v.Items[0], out int h) && Parse(v.Items[1], out int w)) result = (h, w);
        if (result is null) { Wrong(v, key, "an integer or [h, w]"); return fallback ?? (Math.Max(1, min), Math.Max(1, min)); }
        if (result.Value.Item1 < min || result.Value.Item2 < min)
        {
            problem(v.Where, $"key '{key}' must be at least {min}, got {v}");
            return fallback ?? (Math.Max(1, min), Math.Max(1, min));
        }
        return result.Value;
    }

    public double Double(string key, double fallback)
    {
        var v = Get(key);
        if (v is null) return fallback;
        if (!v.IsList && double.TryParse(v.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return d;
        Wrong(v, key, "a number");
        return fallback;
    }

    public double? OptionalDouble(string key) => Has(key) ? Double(key, 0) : null;

    public bool Bool(string key, bool fallback)
    {
        var v = Get(key);
        if (v is null) return fallback;
        if (v.Text is "true" or "false") return v.Text == "true";
        Wrong(v, key, "true or false");
        return fallback;
    }

    public string Choice(string key, string fallback, params string[] allowed)
    {
        var v = Get(key);
        if (v is null) return fallback;
        if (!v.IsList && allowed.Contains(v.Text)) return v.Text!;
        Wrong(v, key, "one of " + string.Join(", ", allowed));
        return fallback;
    }

    public void ReportUnknown(string type)
    {
        foreach (var (k, v) in values)
            if (!_read.Contains(k))
                problem(v.Where, $"unknown key '{k}' for layer type '{type}' (known: {string.Join(", ", _read.Order())})");
    }
}
