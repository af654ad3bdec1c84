namespace Kiln.Data;

/// <summary>
/// A batch on the host: contiguous float32 (N·V, C, H, W) pixels (<see cref="Data"/>), or with
/// <see cref="BatchFormat.UInt8Nhwc"/> uint8 (N·V, H, W, C) pixels still to be normalised (<see cref="Bytes"/>,
/// see Note [Uint8 batches]), where V is the views per sample (10 for ten-crop, 2 per scale for multi-scale,
/// else 1), labels and keys per sample. A dense batch
/// (<see cref="IsDense"/>) holds images of different sizes instead: see <see cref="DenseViews"/>. The pixel array is pinned (allocated with
/// <c>GC.AllocateArray(pinned: true)</c>) so a backend can register it for DMA. Dispose returns it to the
/// loader's pool; an undisposed batch is simply collected.
/// </summary>
public sealed class HostBatch : IDisposable
{
    private readonly Action<HostBatch>? _return;

    internal HostBatch(float[] data, int capacity, int views, int channels, int size, Action<HostBatch>? returnToPool, TransformOptions? transform = null)
        : this(BatchFormat.Float32Nchw, data, [], capacity, views, channels, size, returnToPool, transform)
    {
    }

    /// <summary>A uint8 (N·V, H, W, C) batch; its transform gives the normalisation still to apply.</summary>
    internal HostBatch(byte[] bytes, int capacity, int views, int channels, int size, Action<HostBatch>? returnToPool, TransformOptions transform)
        : this(BatchFormat.UInt8Nhwc, [], bytes, capacity, views, channels, size, returnToPool, transform)
    {
    }

    private HostBatch(BatchFormat format, float[] data, byte[] bytes, int capacity, int views, int channels, int size, Action<HostBatch>? returnToPool, TransformOptions? transform)
    {
        Format = format;
        Data = data;
        Bytes = bytes;
        Labels = new int[capacity];
        Keys = new string[capacity];
        ImageSizes = new (int, int)[capacity];
        Transform = transform;
        Views = views;
        Channels = channels;
        Height = Width = size;
        _return = returnToPool;
    }

    /// <summary>Which of <see cref="Data"/> and <see cref="Bytes"/> holds the pixels.</summary>
    public BatchFormat Format { get; }
    /// <summary>Float32 pixels, (Count·Views, C, H, W); only the first <see cref="Count"/>·Views images are valid. Empty for a uint8 batch.</summary>
    public float[] Data { get; }
    /// <summary>Uint8 pixels, (Count·Views, H, W, C), not normalised (see Note [Uint8 batches]). Empty for a float32 batch.</summary>
    public byte[] Bytes { get; }
    /// <summary>Class index per sample (length ≥ Count).</summary>
    public int[] Labels { get; }
    /// <summary>Sample key per sample, for logging (length ≥ Count).</summary>
    public string[] Keys { get; }
    /// <summary>Width and height of each sample's source image (length ≥ Count).</summary>
    public (int Width, int Height)[] ImageSizes { get; }
    /// <summary>The transform that made the pixels (null for a batch made by hand).</summary>
    public TransformOptions? Transform { get; }
    /// <summary>Dense evaluation: every sample has its own view sizes, and <see cref="Pixels"/>/<see cref="Shape"/> do not apply.</summary>
    public bool IsDense => Transform?.Mode == CropMode.Dense;
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

    /// <summary>The valid pixels of a float32 batch.</summary>
    public Span<float> Pixels => Format == BatchFormat.Float32Nchw
        ? Data.AsSpan(0, Count * Views * Channels * Height * Width)
        : throw new InvalidOperationException("HostBatch.Pixels: this batch holds uint8 (N, H, W, C) pixels; use PixelBytes, or Kiln.Training.BatchInput for the network input");

    /// <summary>The valid pixels of a uint8 batch: (Count·Views, H, W, C).</summary>
    public Span<byte> PixelBytes => Format == BatchFormat.UInt8Nhwc
        ? Bytes.AsSpan(0, Count * Views * Channels * Height * Width)
        : throw new InvalidOperationException("HostBatch.PixelBytes: this batch holds float32 (N, C, H, W) pixels; use Pixels");

    /// <summary>The shape of the network input: (Count·Views, C, H, W) (<see cref="Pixels"/>, or <see cref="PixelBytes"/> once normalised).</summary>
    public int[] Shape => [Count * Views, Channels, Height, Width];

    /// <summary>
    /// A dense batch's sample <paramref name="i"/>: per scale, the offset into <see cref="Data"/> (or <see cref="Bytes"/>,
    /// which then hold (2, h, w, C)) and the input shape (2, C, h, w) of the image at that scale and its mirror image
    /// (sizes from <see cref="Geometry.DenseView"/>).
    /// </summary>
    public IReadOnlyList<(int Offset, int[] Shape)> DenseViews(int i)
    {
        if (!IsDense) throw new InvalidOperationException("DenseViews: not a dense batch");
        if ((uint)i >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(i), $"sample {i} of a batch of {Count}");
        var t = Transform!;
        var (width, height) = ImageSizes[i];
        var views = new List<(int, int[])>(t.Scales.Length);
        int offset = i * t.SampleElements;
        foreach (int q in t.Scales)
        {
            var v = Geometry.DenseView(width, height, q, t.DenseMaxAspect);
            views.Add((offset, [2, Channels, v.Height, v.Width]));
            offset += 2 * Channels * v.Height * v.Width;
        }
        return views;
    }

    public void Dispose() => _return?.Invoke(this);
}
