namespace Kiln.Training;

/// <summary>One file of a checkpoint and how to write it.</summary>
public sealed record CheckpointFile(string Name, Action<Stream> Write);
