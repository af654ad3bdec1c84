namespace Kiln.Data;

/// <summary>What a Philox stream is used for; see <see cref="SampleRandom.Stream"/>.</summary>
public enum StreamPurpose : byte
{
    ShardOrder = 1,
    ShuffleBuffer = 2,
    Augment = 3,
}
