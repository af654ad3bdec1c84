using System.Text;
using System.Text.RegularExpressions;

namespace Kiln.Data;

/// <summary>
/// Turns a shard specification into a list of shard paths, and checks at start that each one exists
/// and is readable, so a typo fails before any model is built. A spec is one of:
/// <list type="bullet">
/// <item>a brace range or list: <c>train-{000000..001281}.tar</c>, <c>{train,extra}-{0..9}.tar</c>
/// (zero-padded when the lower bound is);</item>
/// <item>a glob in the file name: <c>shards/train-*.tar</c> (sorted ordinally);</item>
/// <item>a list file: <c>@shards.txt</c> or a path ending in <c>.txt</c>, one spec per line, relative to
/// the list file's folder; blank lines and <c>#</c> comments are skipped.</item>
/// </list>
/// Several specs may be joined with <c>;</c>.
/// </summary>
public static partial class ShardList
{
    /// <summary>Expands <paramref name="spec"/> and checks every shard; throws naming the spec and path on any problem.</summary>
    public static IReadOnlyList<string> Resolve(string spec)
    {
        var paths = Expand(spec);
        if (paths.Count == 0)
            throw new FileNotFoundException($"shard spec '{spec}' matched no shards");
        foreach (var path in paths)
            CheckReadable(path, spec);
        return paths;
    }

    /// <summary>Expands braces, globs and list files without touching the shards themselves.</summary>
    public static IReadOnlyList<string> Expand(string spec)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        var result = new List<string>();
        foreach (var part in spec.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            ExpandOne(part, Directory.GetCurrentDirectory(), result);
        return result;
    }

    /// <summary>Bash-style brace expansion: numeric ranges <c>{a..b}</c> and lists <c>{x,y}</c>, nested and repeated.</summary>
    public static IReadOnlyList<string> ExpandBraces(string pattern)
    {
        int open = pattern.IndexOf('{');
        if (open < 0) return [pattern];
        int depth = 0, close = -1;
        for (int i = open; i < pattern.Length; i++)
        {
            if (pattern[i] == '{') depth++;
            else if (pattern[i] == '}' && --depth == 0) { close = i; break; }
        }
        if (close < 0) throw new ArgumentException($"shard spec '{pattern}': unbalanced '{{'");
        string head = pattern[..open], body = pattern[(open + 1)..close], tail = pattern[(close + 1)..];
        var alternatives = new List<string>();
        var range = RangeRegex().Match(body);
        if (range.Success)
        {
            string lo = range.Groups[1].Value, hi = range.Groups[2].Value;
            long a = long.Parse(lo), b = long.Parse(hi);
            int width = lo.Length > 1 && lo[0] == '0' || hi.Length > 1 && hi[0] == '0' ? Math.Max(lo.Length, hi.Length) : 0;
            if (Math.Abs(b - a) > 10_000_000)
                throw new ArgumentException($"shard spec '{pattern}': range {lo}..{hi} is too long");
            long step = a <= b ? 1 : -1;
            for (long v = a; ; v += step)
            {
                alternatives.Add(v.ToString().PadLeft(width, '0'));
                if (v == b) break;
            }
        }
        else
        {
            depth = 0;
            int start = 0;
            for (int i = 0; i < body.Length; i++)
            {
                if (body[i] == '{') depth++;
                else if (body[i] == '}') depth--;
                else if (body[i] == ',' && depth == 0) { alternatives.Add(body[start..i]); start = i + 1; }
            }
            alternatives.Add(body[start..]);
            if (alternatives.Count == 1)
                throw new ArgumentException($"shard spec '{pattern}': '{{{body}}}' is neither a range a..b nor a list a,b");
        }
        var result = new List<string>();
        foreach (var alt in alternatives)
            foreach (var expanded in ExpandBraces(head + alt + tail))
                result.Add(expanded);
        return result;
    }

    private static void ExpandOne(string spec, string baseDir, List<string> result)
    {
        bool listFile = spec.StartsWith('@') || spec.EndsWith(".txt", StringComparison.OrdinalIgnoreCase);
        if (listFile)
        {
            string listPath = Path.GetFullPath(spec.TrimStart('@'), baseDir);
            if (!File.Exists(listPath))
                throw new FileNotFoundException($"shard list file not found: {listPath}", listPath);
            string listDir = Path.GetDirectoryName(listPath)!;
            foreach (var raw in File.ReadLines(listPath))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line.StartsWith('#')) continue;
                ExpandOne(line, listDir, result);
            }
            return;
        }
        foreach (var path in ExpandBraces(spec))
        {
            string full = Path.GetFullPath(path, baseDir);
            string name = Path.GetFileName(full);
            if (name.AsSpan().IndexOfAny('*', '?') < 0)
            {
                result.Add(full);
                continue;
            }
            string dir = Path.GetDirectoryName(full)!;
            if (!Directory.Exists(dir))
                throw new DirectoryNotFoundException($"shard glob '{spec}': folder not found: {dir}");
            var matches = Directory.GetFiles(dir, name);
            if (matches.Length == 0)
                throw new FileNotFoundException($"shard glob '{spec}' matched no files in {dir}");
            Array.Sort(matches, StringComparer.Ordinal);
            result.AddRange(matches);
        }
    }

    private static void CheckReadable(string path, string spec)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException(
                Directory.Exists(path) ? $"shard is a folder, not a tar file: {path} (from '{spec}')" : $"shard not found: {path} (from '{spec}')", path);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
            if (stream.Length == 0)
                throw new InvalidDataException($"shard is empty (0 bytes): {path}");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new UnauthorizedAccessException($"shard is not readable: {path} ({e.Message})", e);
        }
    }

    [GeneratedRegex(@"^(-?\d+)\.\.(-?\d+)$")]
    private static partial Regex RangeRegex();
}
