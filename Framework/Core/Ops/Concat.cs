using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public partial interface IBackend
{
    /// <summary>y = the inputs laid side by side along <paramref name="dim"/> (all contiguous; y preallocated).</summary>
    void Concat(Tensor[] inputs, int dim, Tensor y);

    /// <summary>dst = src[..., start : start + dst.Size(dim), ...] along <paramref name="dim"/> (contiguous).</summary>
    void Narrow(Tensor src, int dim, int start, Tensor dst);
}

public static partial class Op
{
    /// <summary>Concatenates along <paramref name="dim"/> (default 1, channels: Inception modules).</summary>
    public static Tensor Concat(Tensor[] inputs, int dim = 1)
    {
        if (inputs.Length == 0) throw new ArgumentException("concat of no tensors");
        var first = inputs[0];
        int d = first.NormalizeDim(dim);
        var shape = first.Shape.ToArray();
        int total = 0;
        foreach (var t in inputs)
        {
            bool ok = t.Rank == first.Rank && t.DType == first.DType && t.Device == first.Device;
            for (int i = 0; ok && i < t.Rank; i++) ok = i == d || t.Size(i) == first.Size(i);
            if (!ok)
                throw new ArgumentException(
                    $"concat along dim {d}: shapes {string.Join(", ", inputs.Select(x => x.ShapeString() + " " + x.DType.Name()))} differ outside that dimension");
            total += t.Size(d);
        }
        shape[d] = total;
        var backend = Backend.Of(first);
        var cs = inputs.Select(ContiguousNoGrad).ToArray();
        var y = Tensor.Empty(shape, first.DType, first.Device);
        backend.Concat(cs, d, y);
        for (int i = 0; i < cs.Length; i++) DisposeIfCopy(cs[i], inputs[i]);
        var sizes = inputs.Select(t => t.Size(d)).ToArray();
        return Tape.Record(nameof(Concat), y, inputs, dy =>
        {
            var grads = new Tensor?[inputs.Length];
            int start = 0;
            for (int i = 0; i < inputs.Length; i++)
            {
                if (inputs[i].RequiresGrad)
                {
                    grads[i] = Tensor.Empty(inputs[i].Shape, dy.DType, dy.Device);
                    backend.Narrow(dy, d, start, grads[i]!);
                }
                start += sizes[i];
            }
            return grads;
        });
    }

    /// <summary>A contiguous copy of x[..., start : start + length, ...] along <paramref name="dim"/>.</summary>
    public static Tensor Narrow(Tensor x, int dim, int start, int length)
    {
        int d = x.NormalizeDim(dim);
        if (start < 0 || length < 0 || start + length > x.Size(d))
            throw new ArgumentOutOfRangeException(nameof(start), $"narrow [{start}, {start + length}) of dim {d} of {x.ShapeString()}");
        var shape = x.Shape.ToArray();
        shape[d] = length;
        var backend = Backend.Of(x);
        var cx = ContiguousNoGrad(x);
        var y = Tensor.Empty(shape, x.DType, x.Device);
        backend.Narrow(cx, d, start, y);
        DisposeIfCopy(cx, x);
        return Tape.Record(nameof(Narrow), y, [x], dy =>
        {
            var dx = Tensor.Empty(x.Shape, dy.DType, dy.Device);
            var before = shape.ToArray(); before[d] = start;
            var after = shape.ToArray(); after[d] = x.Size(d) - start - length;
            using var zb = Tensor.Zeros(before, dy.DType, dy.Device);
            using var za = Tensor.Zeros(after, dy.DType, dy.Device);
            backend.Concat([zb, dy, za], d, dx);
            return [dx];
        });
    }
}
