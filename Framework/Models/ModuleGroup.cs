using Kiln.Nn;

namespace Kiln.Models;

/// <summary>A named container in the module tree (<c>layer1</c>, <c>layer1.0</c>); it holds children and is never run itself.</summary>
internal sealed class ModuleGroup : Module
{
    public override Tensor Forward(Tensor x) =>
        throw new InvalidOperationException("a module group only names its children; run the Network that holds it");

    public void Add(string name, Module module) => RegisterModule(name, module);
}
