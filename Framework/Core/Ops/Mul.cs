using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>y = a ⊙ b, all contiguous, same shape.</summary>
    void Mul(Tensor a, Tensor b, Tensor y);
}

public static partial class Op
{
    /// <summary>Elementwise a ⊙ b (same shape).</summary>
    public static Tensor Mul(Tensor a, Tensor b)
    {
        var backend = Backend.Of(a, b);
        RequireSameShape("mul", a, b);
        var (ca, cb) = (ContiguousNoGrad(a), ContiguousNoGrad(b));
        var y = Tensor.EmptyLike(ca);
        backend.Mul(ca, cb, y);
        return Tape.Record(nameof(Mul), y, [a, b], dy =>
        {
            Tensor? da = null, db = null;
            if (a.RequiresGrad) { da = Tensor.EmptyLike(dy); backend.Mul(dy, cb, da); }
            if (b.RequiresGrad) { db = Tensor.EmptyLike(dy); backend.Mul(dy, ca, db); }
            return [da, db];
        });
    }
}
