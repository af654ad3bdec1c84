namespace Kiln.Data;

/// <summary>
/// A batch on the host: contiguous float32 (N·V, C, H, W) pixels, where V is the views per sample
/// (10 for ten-crop, else 1), labels and keys per sample. The pixel array is pinned (allocated with
/// <c>GC.AllocateArray(pinned: true)</c>) so a backend can register it for DMA. Dispose returns it to the
/// loader's pool; an undisposed batch is simply collected.
/// </summary>
public sealed class HostBatch : IDisposable
{
    private readonly Action<HostBatch>? _return;

    internal HostBatch(float[] data, int capacity, int views, int channels, int size, Action<HostBatch>? returnToPool)
    {
        Data = data;
        Labels = new int[capacity];
        Keys = new string[capacity];
        Views = views;
        Channels = channels;
        Height = Width = size;
        _return = returnToPool;
    }

    /// <summary>Pixels, (Count·Views, C, H, W); only the first <see cref="Count"/>·Views images are valid.</summary>
    public float[] Data { get; }
    /// <summary>Class index per sample (length ≥ Count).</summary>
    public int[] Labels { get; }
    /// <summary>Sample key per sample, for logging (length ≥ Count).</summary>
    public string[] Keys { get; }
    /// <summary>Samples in this batch; the last batch of an evaluation epoch may be short.</summary>
    public int Count { get; internal set; }
    public int Views { get; }
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    /// <summary>Index of this batch in the epoch.</summary>
    public long Index { get; internal set; }
    /// <summary>The position to resume from after this batch.</summary>
    public LoaderPosition Next { get; internal set; }

    /// <summary>The valid pixels.</summary>
    public Span<float> Pixels => Data.AsSpan(0, Count * Views * Channels * Height * Width);

    /// <summary>The shape of <see cref="Pixels"/>: (Count·Views, C, H, W).</summary>
    public int[] Shape => [Count * Views, Channels, Height, Width];

    public void Dispose() => _return?.Invoke(this);
}
