using Kiln.Backends.Cpu;
using Kiln.Nn;

namespace Kiln.Serialization;

/// <summary>
/// A module's state (parameters, then buffers such as batch-norm running statistics and the int64
/// num_batches_tracked) as a safetensors file with PyTorch's state-dict names, so
/// <c>safetensors.torch.load_file</c> + <c>load_state_dict</c> read it, and torchvision weights
/// converted to safetensors load here.
/// </summary>
public static class ModelWeights
{
    /// <summary>Metadata key/value Hugging Face tools expect in PyTorch weight files.</summary>
    public static readonly KeyValuePair<string, string> FormatPt = new("format", "pt");

    /// <summary>Writes the module's state atomically; <c>format: pt</c> is added to the metadata unless set.</summary>
    public static void Save(Module module, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var meta = new Dictionary<string, string>(StringComparer.Ordinal) { [FormatPt.Key] = FormatPt.Value };
        if (metadata is not null)
            foreach (var (k, v) in metadata) meta[k] = v;
        Safetensors.Save(path, module.StateDict(), meta);
    }

    /// <summary>Loads a file into the module (see <see cref="Module.LoadStateDict"/> for strict and non-strict).</summary>
    public static LoadReport Load(Module module, string path, bool strict = true)
    {
        using var file = SafetensorsFile.Open(path);
        return Load(module, file, strict);
    }

    /// <summary>
    /// Loads an open file into the module. Names, shapes and dtypes are checked from the header
    /// alone; then each matching tensor is read straight into the module's tensor (CPU) or through a
    /// CPU tensor freed at once (other devices), so memory stays at one tensor beyond the model.
    /// </summary>
    public static LoadReport Load(Module module, SafetensorsFile file, bool strict = true)
    {
        var sources = file.Entries
            .Select(e => new StateSource(e.Name, e.Shape.ToArray(), e.DType.ToKiln(), e.DType.ToKiln()?.Name() ?? e.DType.Code()))
            .ToList();
        return StateDictLoader.Load(module, sources, (name, target) => LoadInto(file, file[name], target), strict, file.Name);
    }

    /// <summary>Reads straight into a CPU parameter's memory; elsewhere through a CPU tensor.</summary>
    private static void LoadInto(SafetensorsFile file, SafetensorsEntry entry, Tensor target)
    {
        if (target.Device.Type == DeviceType.Cpu && target.IsContiguous)
        {
            file.ReadBytes(entry, CpuBackend.Bytes(target));
            return;
        }
        using var host = file.Load(entry);
        StateDictLoader.CopyInto(host, target);
    }
}
