namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>
    /// True if any element of any of <paramref name="tensors"/> (float32 or float64, contiguous, all on this
    /// device) is NaN or infinite. One answer for the whole list: on CUDA one launch per dtype and one 4-byte
    /// read back, never a host round trip per tensor.
    /// </summary>
    bool AnyNonFinite(IReadOnlyList<Tensor> tensors);
}

public static partial class Op
{
    /// <summary>
    /// True if any element of <paramref name="tensors"/> is NaN or ±Inf (e.g. every gradient before an optimiser
    /// step). Non-contiguous tensors are checked through a contiguous copy; one question per device.
    /// </summary>
    public static bool AnyNonFinite(IEnumerable<Tensor> tensors)
    {
        var copies = new List<Tensor>();
        try
        {
            foreach (var group in tensors.GroupBy(t => t.Device))
            {
                var list = new List<Tensor>();
                foreach (var t in group)
                {
                    RequireFloating("any_non_finite", t);
                    if (t.IsContiguous) list.Add(t);
                    else
                    {
                        var c = ContiguousNoGrad(t);
                        copies.Add(c);
                        list.Add(c);
                    }
                }
                if (Backend.For(group.Key).AnyNonFinite(list)) return true;
            }
            return false;
        }
        finally
        {
            foreach (var c in copies) c.Dispose();
        }
    }
}
