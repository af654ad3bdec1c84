namespace Kiln.Visualization;

/// <summary>Tensors read back to the host as float32, whatever their device and floating dtype (pictures are drawn on the host).</summary>
internal static class Host
{
    public static float[] Floats(Tensor t)
    {
        if (t.DType == DType.Float32 && t.Device == Device.Cpu) return t.ToArray<float>();
        using var cpu = t.Device == Device.Cpu ? t.Alias() : t.To(Device.Cpu);
        if (cpu.DType == DType.Float32) return cpu.ToArray<float>();
        using var f = cpu.To(DType.Float32);
        return f.ToArray<float>();
    }
}
