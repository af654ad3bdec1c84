namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>
    /// How many rows of contiguous <paramref name="logits"/> (N, C) rank their int32 label within the top
    /// <paramref name="k1"/>, and within the top <paramref name="k2"/>: a class beats the label if its score is
    /// greater, or equal with a lower class index (so ties count deterministically). Labels outside [0, C) never count.
    /// </summary>
    (int TopK1, int TopK2) CountTopK(Tensor logits, Tensor labels, int k1, int k2);
}
