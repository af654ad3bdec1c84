namespace Kiln.Config;

/// <summary>One mistake in a network file: where, in which layer (if any), and what.</summary>
public sealed record NetworkProblem(SourceLocation Where, string? Layer, string Message)
{
    public override string ToString() => Layer is null ? $"{Where}: {Message}" : $"{Where}: layer '{Layer}': {Message}";
}
