namespace Kiln.Config;

/// <summary>
/// A network file that cannot be read or built. Carries every problem found (not just the first),
/// each with its file, line and layer; the message lists them one per line.
/// </summary>
public sealed class NetworkDefinitionException(IReadOnlyList<NetworkProblem> problems)
    : Exception(Format(problems))
{
    public IReadOnlyList<NetworkProblem> Problems { get; } = problems;

    private static string Format(IReadOnlyList<NetworkProblem> problems) =>
        problems.Count == 1
            ? problems[0].ToString()
            : $"{problems.Count} problems in the network definition:\n  " + string.Join("\n  ", problems);
}
