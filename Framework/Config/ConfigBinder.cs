using System.Collections;
using System.Globalization;
using System.Reflection;

namespace Kiln.Config;

/// <summary>
/// Binds a <see cref="YamlTreeNode"/> onto config records (classes with a parameterless constructor
/// and settable or init properties, keys in snake_case). Unknown keys, duplicate keys, wrong types and
/// out-of-range values (through <see cref="IValidatable"/>) are collected and thrown together in one
/// <see cref="ConfigException"/>, each with file, line, column, key path and, for near misses, a
/// "did you mean". A typo must not train for a week on defaults.
/// </summary>
public sealed class ConfigBinder
{
    private const int MaxProblems = 100;
    private readonly string _file;
    private readonly List<ConfigProblem> _problems = [];

    private ConfigBinder(string file) => _file = file;

    /// <summary>Binds <paramref name="root"/> (null: all defaults) onto a new <typeparamref name="T"/>.</summary>
    public static T Bind<T>(YamlTreeNode? root, string file) where T : new()
    {
        var binder = new ConfigBinder(file);
        var result = root is null ? new T() : (T)binder.BindValue(typeof(T), root, "", null)!;
        if (root is null) binder.ValidateTree(result!, "", null);
        if (binder._problems.Count > 0)
            throw new ConfigException(binder._problems.OrderBy(p => p.File == file ? 0 : 1).ThenBy(p => p.Line).ThenBy(p => p.Column).ToList());
        return result;
    }

    private void Problem(YamlTreeNode? at, string path, string message)
    {
        if (_problems.Count >= MaxProblems) return;
        _problems.Add(new ConfigProblem(at?.Origin ?? _file, at?.Line ?? 1, at?.Column ?? 1, path, message));
    }

    private object? BindValue(Type type, YamlTreeNode node, string path, object? existing)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (node is YamlTreeScalar { Quoted: false, Value: "null" or "~" or "" } && (underlying is not null || !type.IsValueType))
            return null;
        type = underlying ?? type;

        if (type == typeof(string) || type.IsPrimitive || type.IsEnum || type == typeof(decimal))
        {
            if (node is not YamlTreeScalar scalar)
            {
                Problem(node, path, $"expected {Describe(type)}, got a {(node is YamlTreeSequence ? "list" : "mapping")}");
                return existing;
            }
            return ParseScalar(type, scalar, path) ?? existing;
        }
        if (TryElementType(type, out var element))
        {
            if (node is not YamlTreeSequence seq)
            {
                Problem(node, path, $"expected a list of {Describe(element)}");
                return existing;
            }
            var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(element))!;
            for (int i = 0; i < seq.Items.Count; i++) list.Add(BindValue(element, seq.Items[i], $"{path}[{i}]", null));
            if (type.IsArray)
            {
                var array = Array.CreateInstance(element, list.Count);
                list.CopyTo(array, 0);
                return array;
            }
            return list;
        }
        if (TryDictionaryValueType(type, out var valueType))
        {
            if (node is not YamlTreeMapping map)
            {
                Problem(node, path, $"expected a mapping of names to {Describe(valueType)}");
                return existing;
            }
            var dict = (IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(typeof(string), valueType))!;
            foreach (var (k, v) in map.Entries)
            {
                if (dict.Contains(k.Value)) { Problem(k, Join(path, k.Value), "duplicate key"); continue; }
                dict[k.Value] = BindValue(valueType, v, Join(path, k.Value), null);
            }
            return dict;
        }
        return BindRecord(type, node, path);
    }

    private object? BindRecord(Type type, YamlTreeNode node, string path)
    {
        if (node is not YamlTreeMapping map)
        {
            Problem(node, path, $"expected a mapping (section {(path.Length == 0 ? "root" : path)})");
            return Activator.CreateInstance(type);
        }
        var target = Activator.CreateInstance(type) ?? throw new InvalidOperationException($"cannot create {type.Name}");
        var props = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite && p.GetIndexParameters().Length == 0)
            .ToDictionary(ConfigNames.KeyOf);
        var seen = new HashSet<string>();
        foreach (var (key, value) in map.Entries)
        {
            string keyPath = Join(path, key.Value);
            if (!seen.Add(key.Value)) { Problem(key, keyPath, "duplicate key"); continue; }
            if (!props.TryGetValue(key.Value, out var prop))
            {
                var hint = ConfigNames.Suggest(key.Value, props.Keys);
                Problem(key, keyPath, hint is null
                    ? $"unknown key; {(path.Length == 0 ? "top-level" : $"'{path}'")} keys are: {string.Join(", ", props.Keys)}"
                    : $"unknown key; did you mean '{hint}'?");
                continue;
            }
            prop.SetValue(target, BindValue(prop.PropertyType, value, keyPath, prop.GetValue(target)));
        }
        ValidateTree(target, path, map, validateChildren: false);
        // Sections left out of the file keep their defaults, which must still be valid (a required key).
        foreach (var (key, prop) in props)
            if (!seen.Contains(key) && prop.GetValue(target) is { } child && IsRecord(child.GetType()))
                ValidateTree(child, Join(path, key), map);
        return target;
    }

    /// <summary>Runs <see cref="IValidatable.Validate"/> and reports at the key's line when the key was written.</summary>
    private void ValidateTree(object target, string path, YamlTreeMapping? map, bool validateChildren = true)
    {
        if (target is IValidatable v)
            foreach (var (key, message) in v.Validate())
            {
                YamlTreeNode? at = map;
                string first = key.Split('.', '[')[0];
                if (map is not null)
                    foreach (var (k, value) in map.Entries)
                        if (k.Value == first) at = value;
                Problem(at, Join(path, key), message);
            }
        if (!validateChildren) return;
        foreach (var p in target.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
            if (p.GetIndexParameters().Length == 0 && p.GetValue(target) is { } child && IsRecord(child.GetType()))
                ValidateTree(child, Join(path, ConfigNames.KeyOf(p)), map);
    }

    private static bool IsRecord(Type t) => t.IsClass && t != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(t);

    private object? ParseScalar(Type type, YamlTreeScalar s, string path)
    {
        var c = CultureInfo.InvariantCulture;
        string v = s.Value.Trim();
        object? result = null;
        if (type == typeof(string)) return s.Value;
        if (type == typeof(bool))
        {
            if (v is "true" or "True" or "TRUE" or "yes" or "on") result = true;
            else if (v is "false" or "False" or "FALSE" or "no" or "off") result = false;
        }
        else if (type == typeof(int) && int.TryParse(v.Replace("_", ""), NumberStyles.Integer, c, out int i)) result = i;
        else if (type == typeof(long) && long.TryParse(v.Replace("_", ""), NumberStyles.Integer, c, out long l)) result = l;
        else if (type == typeof(ulong) && ulong.TryParse(v.Replace("_", ""), NumberStyles.Integer, c, out ulong u)) result = u;
        else if (type == typeof(double) && double.TryParse(v.Replace("_", ""), NumberStyles.Float, c, out double d) && double.IsFinite(d)) result = d;
        else if (type == typeof(float) && float.TryParse(v, NumberStyles.Float, c, out float f) && float.IsFinite(f)) result = f;
        else if (type.IsEnum)
        {
            var names = Enum.GetNames(type).ToDictionary(ConfigNames.SnakeCase, n => n);
            var match = names.Keys.FirstOrDefault(k => string.Equals(k, v, StringComparison.OrdinalIgnoreCase) || string.Equals(names[k], v, StringComparison.OrdinalIgnoreCase));
            if (match is not null) return Enum.Parse(type, names[match]);
            var hint = ConfigNames.Suggest(v, names.Keys);
            Problem(s, path, $"'{v}' is not one of {string.Join(", ", names.Keys)}" + (hint is null ? "" : $"; did you mean '{hint}'?"));
            return null;
        }
        if (result is null) Problem(s, path, $"expected {Describe(type)}, got '{s.Value}'");
        return result;
    }

    private static string Describe(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        if (t == typeof(int) || t == typeof(long) || t == typeof(ulong)) return "an integer";
        if (t == typeof(double) || t == typeof(float)) return "a number";
        if (t == typeof(bool)) return "true or false";
        if (t == typeof(string)) return "a string";
        if (t.IsEnum) return "one of " + string.Join(", ", Enum.GetNames(t).Select(ConfigNames.SnakeCase));
        return "a mapping";
    }

    private static bool TryElementType(Type t, out Type element)
    {
        if (t.IsArray) { element = t.GetElementType()!; return true; }
        if (t.IsGenericType && t.GetGenericTypeDefinition() is var g && (g == typeof(List<>) || g == typeof(IReadOnlyList<>) || g == typeof(IList<>) || g == typeof(IEnumerable<>)))
        {
            element = t.GetGenericArguments()[0];
            return true;
        }
        element = typeof(object);
        return false;
    }

    private static bool TryDictionaryValueType(Type t, out Type value)
    {
        if (t.IsGenericType && t.GetGenericTypeDefinition() is var g && (g == typeof(Dictionary<,>) || g == typeof(IReadOnlyDictionary<,>) || g == typeof(IDictionary<,>))
            && t.GetGenericArguments()[0] == typeof(string))
        {
            value = t.GetGenericArguments()[1];
            return true;
        }
        value = typeof(object);
        return false;
    }

    private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";
}
