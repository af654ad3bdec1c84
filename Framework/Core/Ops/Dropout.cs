using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>
    /// Inverted dropout: element i is kept when Philox uniform number i of (seed, offset) is ≥ p
    /// (see Note [Random streams]); mask_i = kept ? 1/(1−p) : 0 and y = x ⊙ mask.
    /// The same (seed, offset) gives the same mask on every backend.
    /// </summary>
    void DropoutForward(Tensor x, Tensor y, Tensor mask, double p, ulong seed, ulong offset);
}

public static partial class Op
{
    /// <summary>
    /// Inverted dropout with rate <paramref name="p"/>: in training, zeroes each element with
    /// probability p and scales the rest by 1/(1−p); identity when not training or p = 0.
    /// The mask comes from <paramref name="generator"/>, which advances by the element count.
    /// </summary>
    public static Tensor Dropout(Tensor x, double p, bool training, RandomGenerator generator)
    {
        if (p is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(p), $"dropout rate must be in [0, 1), got {p}");
        if (!training || p == 0) return Tape.Record(nameof(Dropout), x.Alias(), [x], dy => [dy.Alias()]);
        RequireFloating("dropout", x);
        var backend = Backend.Of(x);
        var cx = ContiguousNoGrad(x);
        var y = Tensor.EmptyLike(cx);
        var mask = Tensor.EmptyLike(cx);
        ulong offset = generator.Reserve(x.NumElements);
        backend.DropoutForward(cx, y, mask, p, generator.Seed, offset);
        DisposeIfCopy(cx, x);
        return Tape.Record(nameof(Dropout), y, [x], dy =>
        {
            var dx = Tensor.EmptyLike(dy);
            backend.Mul(dy, mask, dx);
            return [dx];
        });
    }
}
