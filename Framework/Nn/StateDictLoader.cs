using Kiln.Core.Autograd;

namespace Kiln.Nn;

/// <summary>A tensor offered to a module by a state dict or a file: described first, fetched only if it matches.</summary>
internal readonly record struct StateSource(string Name, long[] Shape, DType? DType, string DTypeName)
{
    public string Describe() => "(" + string.Join(", ", Shape) + ") " + DTypeName;
}

/// <summary>
/// Note [Loading state]. Every name, shape and dtype is compared before any value is copied, so a
/// strict load either loads everything or nothing and lists every problem in one error. Values are
/// copied into the module's existing tensors, on their device, so parameters keep their identity
/// (optimisers and views that hold them stay valid). Dtypes must match exactly: a float64 file does
/// not load into float32 parameters silently; convert it first (<c>kiln weights convert --to f32</c>).
/// An I/O error while copying (a file truncated after its header was checked) leaves the module
/// partly loaded; the exception says so by naming the tensor.
/// </summary>
internal static class StateDictLoader
{
    public static LoadReport Load(Module module, IReadOnlyList<StateSource> sources, Action<string, Tensor> copyInto,
                                  bool strict, string sourceName)
    {
        var targets = module.StateDict().ToList();
        var sourceByName = new Dictionary<string, StateSource>(StringComparer.Ordinal);
        foreach (var s in sources)
            if (!sourceByName.TryAdd(s.Name, s)) throw new ArgumentException($"{sourceName}: tensor '{s.Name}' appears twice");
        var targetNames = new HashSet<string>(targets.Select(t => t.Name), StringComparer.Ordinal);

        var missing = new List<TensorMismatch>();
        var mismatched = new List<TensorMismatch>();
        var matched = new List<(string Name, Tensor Target)>();
        foreach (var (name, target) in targets)
        {
            string model = Describe(target);
            if (!sourceByName.TryGetValue(name, out var source)) missing.Add(new TensorMismatch(name, null, model));
            else if (source.DType != target.DType || !SameShape(source.Shape, target.Shape)) mismatched.Add(new TensorMismatch(name, source.Describe(), model));
            else matched.Add((name, target));
        }
        var unexpected = sources.Where(s => !targetNames.Contains(s.Name)).Select(s => new TensorMismatch(s.Name, s.Describe(), null)).ToList();

        bool exact = missing.Count == 0 && unexpected.Count == 0 && mismatched.Count == 0;
        if (strict && !exact)
            throw new StateDictMismatchException(sourceName, module.GetType().Name, new LoadReport([], missing, unexpected, mismatched));

        var loaded = new List<string>(matched.Count);
        using (GradMode.NoGrad())
        {
            foreach (var (name, target) in matched)
            {
                copyInto(name, target);
                loaded.Add(name);
            }
        }
        module.NotifyStateLoaded();
        return new LoadReport(loaded, missing, unexpected, mismatched);
    }

    /// <summary>Copies values into an existing tensor of the same shape and dtype, across devices if needed.</summary>
    internal static void CopyInto(Tensor source, Tensor target)
    {
        if (source.Device == target.Device)
        {
            Backend.Of(target).Copy(source, target);
            return;
        }
        using var moved = source.To(target.Device);
        Backend.Of(target).Copy(moved, target);
    }

    private static bool SameShape(long[] a, ReadOnlySpan<int> b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (a[i] != b[i]) return false;
        return true;
    }

    internal static string Describe(Tensor t) => t.ShapeString() + " " + t.DType.Name();

    internal static StateSource Of(string name, Tensor t)
    {
        var shape = new long[t.Rank];
        for (int i = 0; i < shape.Length; i++) shape[i] = t.Shape[i];
        return new StateSource(name, shape, t.DType, t.DType.Name());
    }
}
