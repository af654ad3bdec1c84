using System.Security.Cryptography;
using System.Text;

namespace Kiln.Config;

/// <summary>Reads a run config file, applies <c>--set key.path=value</c> overrides, binds and validates it.</summary>
public static class RunConfigLoader
{
    /// <summary>Loads <paramref name="path"/> with overrides; every problem is reported at once in a <see cref="ConfigException"/>.</summary>
    public static RunConfig Load(string path, IEnumerable<string>? overrides = null)
    {
        if (!File.Exists(path))
            throw new ConfigException([new ConfigProblem(path, 1, 1, "", $"config file not found (working directory {Environment.CurrentDirectory})")]);
        return Parse(File.ReadAllText(path), path, overrides);
    }

    /// <summary>Binds YAML text; <paramref name="file"/> names it in messages.</summary>
    public static RunConfig Parse(string yaml, string file, IEnumerable<string>? overrides = null) =>
        Parse<RunConfig>(yaml, file, overrides);

    public static T Parse<T>(string yaml, string file, IEnumerable<string>? overrides = null) where T : new()
    {
        var root = YamlTree.Parse(yaml, file);
        foreach (var o in overrides ?? []) root = ApplyOverride(root, o);
        return ConfigBinder.Bind<T>(root, file);
    }

    /// <summary>Sets key.path to the YAML value after '=' (so lists work: optimizer.param_groups=[...]); creates missing mappings.</summary>
    public static YamlTreeNode ApplyOverride(YamlTreeNode? root, string assignment)
    {
        string origin = $"--set {assignment}";
        int eq = assignment.IndexOf('=');
        if (eq <= 0)
            throw new ConfigException([new ConfigProblem(origin, 1, 1, "", "expected key.path=value")]);
        string[] keys = assignment[..eq].Trim().Split('.');
        if (keys.Any(string.IsNullOrWhiteSpace))
            throw new ConfigException([new ConfigProblem(origin, 1, 1, assignment[..eq], "empty key in the path")]);
        var value = YamlTree.Parse(assignment[(eq + 1)..], origin) ?? new YamlTreeScalar("", false, 1, 1);
        value = Tag(value, origin);
        return Set(root as YamlTreeMapping ?? new YamlTreeMapping([], 1, 1), keys, 0, value, origin);
    }

    private static YamlTreeMapping Set(YamlTreeMapping map, string[] keys, int i, YamlTreeNode value, string origin)
    {
        var entries = new List<(YamlTreeScalar Key, YamlTreeNode Value)>(map.Entries);
        int index = entries.FindIndex(e => e.Key.Value == keys[i]);
        YamlTreeNode newValue;
        if (i == keys.Length - 1) newValue = value;
        else
        {
            var child = index >= 0 ? entries[index].Value as YamlTreeMapping : null;
            if (index >= 0 && child is null)
                throw new ConfigException([new ConfigProblem(origin, 1, 1, string.Join('.', keys[..(i + 1)]), "is a value, not a section: cannot set a key inside it")]);
            newValue = Set(child ?? new YamlTreeMapping([], 1, 1) { Origin = origin }, keys, i + 1, value, origin);
        }
        var keyNode = index >= 0 ? entries[index].Key : new YamlTreeScalar(keys[i], false, 1, 1) { Origin = origin };
        if (index >= 0) entries[index] = (keyNode, newValue);
        else entries.Add((keyNode, newValue));
        return map with { Entries = entries };
    }

    private static YamlTreeNode Tag(YamlTreeNode n, string origin) => n switch
    {
        YamlTreeScalar s => s with { Origin = origin },
        YamlTreeSequence q => q with { Items = q.Items.Select(i => Tag(i, origin)).ToList(), Origin = origin },
        YamlTreeMapping m => m with { Entries = m.Entries.Select(e => ((YamlTreeScalar)Tag(e.Key, origin), Tag(e.Value, origin))).ToList(), Origin = origin },
        _ => n,
    };

    /// <summary>SHA-256 of the resolved config's YAML: checkpoints store it to detect a changed config on resume.</summary>
    public static string Hash(RunConfig config) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ConfigWriter.ToYaml(config))));
}
