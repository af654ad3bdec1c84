namespace Kiln.Training;

/// <summary>The state of one random generator: (seed, offset) is all of it (see Note [Random streams]).</summary>
public sealed record GeneratorState(string Name, ulong Seed, ulong Offset);
