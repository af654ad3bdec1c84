namespace Kiln.Data;

/// <summary>What <see cref="MnistPacker.Pack"/> wrote.</summary>
public sealed record MnistPackResult(int TrainSamples, int TestSamples, string TrainShards, string TestShards, int ShardsWritten, int ShardsKept);
