namespace Kiln.Config;

/// <summary>A config that cannot be used; <see cref="Problems"/> lists every mistake found, in file order.</summary>
public sealed class ConfigException(IReadOnlyList<ConfigProblem> problems)
    : Exception(problems.Count == 1
        ? problems[0].ToString()
        : $"{problems.Count} problems in the config:\n  " + string.Join("\n  ", problems))
{
    public IReadOnlyList<ConfigProblem> Problems { get; } = problems;
}
