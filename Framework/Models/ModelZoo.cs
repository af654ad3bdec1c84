using System.Reflection;
using Kiln.Config;

namespace Kiln.Models;

/// <summary>
/// The networks of <c>configs/models/</c>, embedded in the Framework assembly so that
/// <c>ModelZoo.Create("resnet50")</c> works from any directory. Every method also takes a path to
/// a network file (anything ending in .yaml/.yml or naming an existing file).
/// </summary>
public static class ModelZoo
{
    private const string Prefix = "Kiln.Models.";

    /// <summary>Names of the zoo's networks, sorted.</summary>
    public static IReadOnlyList<string> Names { get; } =
        typeof(ModelZoo).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".yaml", StringComparison.Ordinal))
            .Select(n => n[Prefix.Length..^".yaml".Length])
            .Order(StringComparer.Ordinal)
            .ToArray();

    /// <summary>Reads a zoo network by name, or a network file by path.</summary>
    public static NetworkSpec Spec(string nameOrPath)
    {
        if (nameOrPath.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || nameOrPath.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || File.Exists(nameOrPath))
        {
            if (!File.Exists(nameOrPath)) throw new FileNotFoundException($"network file '{nameOrPath}' does not exist", nameOrPath);
            return NetworkSpecReader.ReadFile(nameOrPath);
        }
        using var stream = typeof(ModelZoo).Assembly.GetManifestResourceStream(Prefix + nameOrPath + ".yaml")
            ?? throw new ArgumentException($"no zoo network '{nameOrPath}' (zoo: {string.Join(", ", Names)}); a file path must exist or end in .yaml");
        using var reader = new StreamReader(stream);
        return NetworkSpecReader.Read(reader.ReadToEnd(), $"configs/models/{nameOrPath}.yaml");
    }

    /// <summary>Shapes, parameter counts and multiply-adds, without allocating the network.</summary>
    public static NetworkPlan Plan(string nameOrPath, int[]? input = null, IReadOnlyDictionary<string, string>? parameters = null) =>
        NetworkPlanner.Plan(Spec(nameOrPath), input, parameters);

    /// <summary>Builds a network (initialised from <see cref="RandomGenerator.Global"/>).</summary>
    public static Network Create(string nameOrPath, int[]? input = null, IReadOnlyDictionary<string, string>? parameters = null) =>
        Plan(nameOrPath, input, parameters).Build();
}
