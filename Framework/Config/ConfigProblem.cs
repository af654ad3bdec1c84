namespace Kiln.Config;

/// <summary>One mistake in a run config: file, 1-based line and column, the key path, and what is wrong.</summary>
public sealed record ConfigProblem(string File, int Line, int Column, string KeyPath, string Message)
{
    public override string ToString() =>
        KeyPath.Length == 0 ? $"{File}:{Line}:{Column}: {Message}" : $"{File}:{Line}:{Column}: {KeyPath}: {Message}";
}
