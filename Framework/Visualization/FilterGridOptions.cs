namespace Kiln.Visualization;

/// <summary>Layout of a <see cref="FilterGrid"/> picture.</summary>
public sealed record FilterGridOptions
{
    public FilterGridMode Mode { get; init; } = FilterGridMode.Auto;
    /// <summary>Channel order of the network's input: BGR filters (Caffe-trained) are reordered so they show in their true colours.</summary>
    public Kiln.Data.ChannelOrder InputOrder { get; init; } = Kiln.Data.ChannelOrder.Rgb;
    /// <summary>Pixels per filter cell side (filters are enlarged by an integer factor to about this size).</summary>
    public int CellSize { get; init; } = 44;
    /// <summary>Gap between cells, in pixels.</summary>
    public int Gap { get; init; } = 2;
    /// <summary>Cells per row; 0 picks about the square root of the count.</summary>
    public int Columns { get; init; }
    /// <summary>At most this many filters are drawn (the first ones).</summary>
    public int MaxFilters { get; init; } = 256;
    /// <summary>At most this many input channels per filter in <see cref="FilterGridMode.PerChannel"/>.</summary>
    public int MaxChannels { get; init; } = 32;
}
