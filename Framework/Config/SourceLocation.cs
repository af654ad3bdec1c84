namespace Kiln.Config;

/// <summary>A place in a config file: the file's name (or zoo resource) and a 1-based line.</summary>
public readonly record struct SourceLocation(string File, int Line)
{
    public override string ToString() => $"{File}:{Line}";
}
