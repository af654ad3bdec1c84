using Kiln.Core.Autograd;

namespace Kiln.Core.Ops;

public static partial class Op
{
    /// <summary><paramref name="x"/> itself as a new tensor object if contiguous, else a contiguous copy.</summary>
    public static Tensor Contiguous(Tensor x)
    {
        if (x.IsContiguous) return Tape.Record(nameof(Contiguous), x.Alias(), [x], dy => [dy.Alias()]);
        var y = Tensor.EmptyLike(x);
        Backend.Of(x).Copy(x, y);
        return Tape.Record(nameof(Contiguous), y, [x], dy => [dy.Alias()]);
    }

    /// <summary>Reshape with at most one -1. A view when <paramref name="x"/> is contiguous.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        var target = ResolveShape(x, shape);
        var src = x.IsContiguous ? x : Contiguous(x);
        var y = src.View(target, Tensor.ContiguousStrides(target), src.Offset);
        if (!ReferenceEquals(src, x)) src.Dispose();
        var inShape = x.Shape.ToArray();
        return Tape.Record(nameof(Reshape), y, [x], dy => [Reshape(dy.IsContiguous ? dy : Contiguous(dy), inShape)]);
    }

    /// <summary>Flattens dimensions from <paramref name="startDim"/> on: (N, C, H, W) to (N, C*H*W).</summary>
    public static Tensor Flatten(Tensor x, int startDim = 1)
    {
        int s = x.NormalizeDim(startDim);
        var shape = new int[s + 1];
        for (int i = 0; i < s; i++) shape[i] = x.Size(i);
        shape[s] = -1;
        return Reshape(x, shape);
    }

    private static int[] ResolveShape(Tensor x, int[] shape)
    {
        var result = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < result.Length; i++)
        {
            if (result[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"reshape {Tensor.ShapeString(shape)}: only one dimension may be -1");
                infer = i;
            }
            else if (result[i] < 0) throw new ArgumentException($"reshape {Tensor.ShapeString(shape)}: negative dimension");
            else known *= result[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || x.NumElements % known != 0)
                throw new ArgumentException($"reshape {x.ShapeString()} to {Tensor.ShapeString(shape)}: {x.NumElements} elements do not divide");
            result[infer] = (int)(x.NumElements / known);
        }
        if (Tensor.CountElements(result) != x.NumElements)
            throw new ArgumentException($"reshape {x.ShapeString()} ({x.NumElements} elements) to {Tensor.ShapeString(shape)}: element counts differ");
        return result;
    }
}
