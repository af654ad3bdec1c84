namespace Kiln.Core.Autograd;

/// <summary>Records ops eagerly as they run.</summary>
public static class Tape
{
    /// <summary>
    /// Attaches a backward function to <paramref name="output"/> if grad mode is on and any input
    /// requires grad; returns <paramref name="output"/>.
    /// </summary>
    public static Tensor Record(string name, Tensor output, Tensor[] inputs, Func<Tensor, Tensor?[]> backward)
    {
        if (!GradMode.IsEnabled) return output;
        bool any = false;
        foreach (var x in inputs) any |= x.RequiresGrad;
        if (!any) return output;
        output.GradFn = new Node(name, inputs, backward);
        return output;
    }
}
