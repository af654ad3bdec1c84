using Kiln.Core.Ops;
using System.Collections.Concurrent;

namespace Kiln.Core;

/// <summary>
/// The device registry. Backends register a factory from a module initializer (Core never names
/// them); ops find the backend of their input with <c>Backend.Of(tensor)</c>.
/// </summary>
public static class Backend
{
    private static readonly ConcurrentDictionary<DeviceType, Func<int, IBackend>> s_factories = new();
    private static readonly ConcurrentDictionary<Device, IBackend> s_instances = new();

    /// <summary>Registers how to create the backend for devices of one type (idempotent; last wins).</summary>
    public static void Register(DeviceType type, Func<int, IBackend> factory)
    {
        s_factories[type] = factory;
        foreach (var key in s_instances.Keys.Where(k => k.Type == type).ToArray())
            s_instances.TryRemove(key, out _);
    }

    public static bool IsRegistered(DeviceType type) => s_factories.ContainsKey(type);

    /// <summary>The backend for a device, created on first use. Throws with the reason when the device is unusable.</summary>
    public static IBackend For(Device device)
    {
        if (s_instances.TryGetValue(device, out var b)) return b;
        if (!s_factories.TryGetValue(device.Type, out var factory))
            throw new InvalidOperationException($"no backend is registered for device {device}");
        return s_instances.GetOrAdd(device, d => factory(d.Index));
    }

    /// <summary>The backend of a tensor's device.</summary>
    public static IBackend Of(Tensor t) => For(t.Device);

    /// <summary>The common backend of several tensors; throws if they live on different devices.</summary>
    public static IBackend Of(Tensor a, Tensor b)
    {
        if (a.Device != b.Device)
            throw new InvalidOperationException($"tensors on different devices: {a} and {b}; move one with To(device)");
        return For(a.Device);
    }
}
