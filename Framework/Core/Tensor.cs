using System.Runtime.InteropServices;
using Kiln.Core.Autograd;

namespace Kiln.Core;

/// <summary>
/// An n-dimensional array on a device, with autograd bookkeeping. Shape and strides are in elements;
/// the layout is whatever the strides say (ops state what they need, usually contiguous NCHW).
/// A tensor owns one reference to its <see cref="Storage"/>; views share the storage.
/// Disposal is deterministic: dispose it, or create it inside a <see cref="TensorScope"/>.
/// </summary>
public sealed class Tensor : IDisposable
{
    private readonly int[] _shape;
    private readonly long[] _strides;
    private Storage? _storage;
    private bool _requiresGrad;
    internal TensorScope? Scope;

    internal Tensor(Storage storage, long offset, int[] shape, long[] strides, DType dtype)
    {
        _storage = storage;
        Offset = offset;
        _shape = shape;
        _strides = strides;
        DType = dtype;
        NumElements = CountElements(shape);
        TensorScope.Current?.Add(this);
    }

    public DType DType { get; }
    public Device Device => Storage.Device;
    public ReadOnlySpan<int> Shape => _shape;
    public ReadOnlySpan<long> Strides => _strides;
    public int Rank => _shape.Length;
    public long NumElements { get; }
    /// <summary>Offset of the first element into the storage, in elements.</summary>
    public long Offset { get; }
    public bool IsDisposed => _storage is null;

    public Storage Storage => _storage ?? throw new ObjectDisposedException(nameof(Tensor),
        $"tensor {ShapeString(_shape)} {DType.Name()} was disposed (its scope ended, or Dispose was called)");

    /// <summary>Size of dimension <paramref name="dim"/>; negative counts from the end.</summary>
    public int Size(int dim) => _shape[NormalizeDim(dim)];

    /// <summary>The gradient accumulated by <see cref="Backward"/>; set on leaves that require grad.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The node that produced this tensor, or null for a leaf.</summary>
    public Node? GradFn { get; internal set; }

    /// <summary>Whether gradients flow to this tensor. Settable on leaves only.</summary>
    public bool RequiresGrad
    {
        get => _requiresGrad || GradFn is not null;
        set
        {
            if (GradFn is not null && !value)
                throw new InvalidOperationException("requires_grad cannot be turned off on a non-leaf tensor; use Detach()");
            if (value && !DType.IsFloating())
                throw new InvalidOperationException($"only floating tensors can require grad, this one is {DType.Name()}");
            _requiresGrad = value;
        }
    }

    public bool IsLeaf => GradFn is null;

    public bool IsContiguous
    {
        get
        {
            long expected = 1;
            for (int i = _shape.Length - 1; i >= 0; i--)
            {
                if (_shape[i] != 1 && _strides[i] != expected) return false;
                expected *= _shape[i];
            }
            return true;
        }
    }

    // ---------------------------------------------------------------- creation

    /// <summary>An uninitialised contiguous tensor.</summary>
    public static Tensor Empty(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null)
    {
        var dev = device ?? Device.Cpu;
        var shapeArr = shape.ToArray();
        foreach (int d in shapeArr)
            if (d < 0) throw new ArgumentException($"negative dimension in shape {ShapeString(shapeArr)}");
        long bytes = checked(CountElements(shapeArr) * dtype.Size());
        var storage = Backend.For(dev).Allocate(bytes);
        return new Tensor(storage, 0, shapeArr, ContiguousStrides(shapeArr), dtype);
    }

    public static Tensor EmptyLike(Tensor t) => Empty(t.Shape, t.DType, t.Device);

    public static Tensor Zeros(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null) =>
        Full(shape, 0, dtype, device);

    public static Tensor Ones(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null) =>
        Full(shape, 1, dtype, device);

    public static Tensor ZerosLike(Tensor t) => Full(t.Shape, 0, t.DType, t.Device);

    public static Tensor Full(ReadOnlySpan<int> shape, double value, DType dtype = DType.Float32, Device? device = null)
    {
        var t = Empty(shape, dtype, device);
        Backend.Of(t).Fill(t, value);
        return t;
    }

    /// <summary>A scalar (rank-0) tensor.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32, Device? device = null) => Full([], value, dtype, device);

    /// <summary>Copies <paramref name="data"/> into a new tensor of the given shape.</summary>
    public static Tensor FromArray<T>(T[] data, ReadOnlySpan<int> shape, Device? device = null) where T : unmanaged =>
        FromSpan<T>(data, shape, device);

    public static Tensor FromSpan<T>(ReadOnlySpan<T> data, ReadOnlySpan<int> shape, Device? device = null) where T : unmanaged
    {
        long n = CountElements(shape.ToArray());
        if (n != data.Length)
            throw new ArgumentException($"{data.Length} values cannot fill shape {ShapeString(shape)} ({n} elements)");
        var t = Empty(shape, DTypeExtensions.Of<T>(), device);
        Backend.Of(t).CopyFromHost(MemoryMarshal.AsBytes(data), t);
        return t;
    }

    /// <summary>Copies the elements, in row-major order, to a new array.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        if (DTypeExtensions.Of<T>() != DType)
            throw new InvalidOperationException($"tensor is {DType.Name()}, asked for {typeof(T).Name}");
        var src = IsContiguous ? this : Contiguous();
        try
        {
            var result = new T[checked((int)NumElements)];
            Backend.Of(src).CopyToHost(src, MemoryMarshal.AsBytes(result.AsSpan()));
            return result;
        }
        finally
        {
            if (!ReferenceEquals(src, this)) src.Dispose();
        }
    }

    /// <summary>The value of a one-element tensor, as a double.</summary>
    public double Item()
    {
        if (NumElements != 1) throw new InvalidOperationException($"Item() needs one element, tensor has shape {ShapeString(_shape)}");
        // Read the one element on the host: device backends need not cast every dtype pair.
        using var host = Device.Equals(Device.Cpu) ? null : To(Device.Cpu);
        using var t = (host ?? this).To(DType.Float64);
        return t.ToArray<double>()[0];
    }

    /// <summary>A copy with another dtype (or this tensor's data copied, if the dtype is the same). No gradient.</summary>
    public Tensor To(DType dtype)
    {
        var dst = Empty(Shape, dtype, Device);
        Backend.Of(this).Copy(this, dst);
        return dst;
    }

    /// <summary>A copy on another device. No gradient.</summary>
    public Tensor To(Device device)
    {
        if (device == Device) return Contiguous().Detach();
        var src = IsContiguous ? this : Contiguous();
        var dst = Empty(Shape, DType, device);
        var host = new byte[checked(src.NumElements * DType.Size())];
        Backend.Of(src).CopyToHost(src, host);
        Backend.Of(dst).CopyFromHost(host, dst);
        if (!ReferenceEquals(src, this)) src.Dispose();
        return dst;
    }

    // ---------------------------------------------------------------- views

    /// <summary>A view that shares this tensor's storage with another shape and strides. No gradient.</summary>
    internal Tensor View(int[] shape, long[] strides, long offset)
    {
        Storage.AddRef();
        return new Tensor(Storage, offset, shape, strides, DType);
    }

    /// <summary>A new tensor object for the same memory and shape. No gradient; the storage lives until both are disposed.</summary>
    public Tensor Alias() => View(_shape, _strides, Offset);

    /// <summary>The same data without autograd history.</summary>
    public Tensor Detach() => Alias();

    /// <summary>This tensor if it is contiguous (as a new object), else a contiguous copy. Records autograd.</summary>
    public Tensor Contiguous() => Ops.Op.Contiguous(this);

    /// <summary>Reshape; one dimension may be -1. A view when contiguous. Records autograd.</summary>
    public Tensor Reshape(params int[] shape) => Ops.Op.Reshape(this, shape);

    // ---------------------------------------------------------------- autograd

    /// <summary>Computes gradients of this scalar with respect to every leaf that requires grad.</summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false) => Engine.Backward(this, gradient, retainGraph);

    /// <summary>Removes this tensor from the scope it was created in, so the scope's end does not dispose it.</summary>
    public Tensor MoveOutOfScope()
    {
        Scope?.Remove(this);
        Scope = null;
        return this;
    }

    public void Dispose()
    {
        var s = _storage;
        if (s is null) return;
        _storage = null;
        GradFn = null;
        if (_overwritten) Interlocked.Decrement(ref s.OverwrittenRefs);
        s.Release();
    }

    private bool _overwritten;

    /// <summary>An in-place op wrote its result over this tensor, which nothing reads any more (Note [In-place ReLU and add]).</summary>
    internal void MarkOverwritten()
    {
        if (_overwritten) return;
        _overwritten = true;
        Interlocked.Increment(ref Storage.OverwrittenRefs);
    }

    // ---------------------------------------------------------------- helpers

    public int NormalizeDim(int dim)
    {
        int d = dim < 0 ? dim + _shape.Length : dim;
        if (d < 0 || d >= _shape.Length)
            throw new ArgumentOutOfRangeException(nameof(dim), $"dimension {dim} is out of range for shape {ShapeString(_shape)}");
        return d;
    }

    public string ShapeString() => ShapeString(_shape);

    public static string ShapeString(ReadOnlySpan<int> shape) => "(" + string.Join(", ", shape.ToArray()) + ")";

    public bool SameShape(Tensor other) => Shape.SequenceEqual(other.Shape);

    /// <summary>Product of the dimensions.</summary>
    public static long CountElementsOf(ReadOnlySpan<int> shape) => CountElements(shape);

    internal static long CountElements(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (int d in shape) n = checked(n * d);
        return n;
    }

    internal static long[] ContiguousStrides(int[] shape)
    {
        var strides = new long[shape.Length];
        long s = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = s;
            s *= shape[i];
        }
        return strides;
    }

    public override string ToString() => $"Tensor{ShapeString(_shape)} {DType.Name()} {(IsDisposed ? "disposed" : Device.ToString())}";
}
