namespace Kiln.Config;

/// <summary>
/// A value as written in a network file: a scalar's text (parameters not yet substituted) or a
/// list of values, with where it was written. Typing happens where the value is used.
/// </summary>
public sealed record SpecValue(string? Text, IReadOnlyList<SpecValue>? Items, SourceLocation Where)
{
    public bool IsList => Items is not null;

    public static SpecValue Scalar(string text, SourceLocation where) => new(text, null, where);

    public override string ToString() => IsList ? "[" + string.Join(", ", Items!) + "]" : Text!;
}
