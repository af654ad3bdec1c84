using System.Runtime.InteropServices;
using Kiln.Backends.Cuda.Interop;

namespace Kiln.Backends.Cuda;

/// <summary>How momentum enters the SGD update (see Kernels/sgd.cu).</summary>
internal enum SgdMomentumForm
{
    /// <summary>v = mu*v - lr*(g + wd*w); w += v.</summary>
    Caffe = 0,
    /// <summary>v = mu*v + (g + wd*w); w -= lr*v.</summary>
    PyTorch = 1,
}

/// <summary>One parameter of a fused SGD step: weight, gradient, velocity (same shape, float32), and its effective lr and weight decay (base times multiplier).</summary>
internal readonly record struct SgdParameter(Tensor Weight, Tensor Grad, Tensor Velocity, float LearningRate, float WeightDecay);

public sealed unsafe partial class CudaBackend
{
    /// <summary>Device-side description of one parameter; matches <c>struct SgdSlot</c> in sgd.cu (40 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct SgdSlot
    {
        public ulong W, G, V;
        public long N;
        public float Lr, Wd;
    }

    /// <summary>gridDim.y limit: parameters per launch.</summary>
    private const int MaxSlotsPerLaunch = 65535;

    /// <summary>
    /// Updates every parameter in one launch (per 65535 parameters): weights and velocities in place.
    /// The slot table is uploaded from a managed array: pageable host-to-device copies are staged before
    /// the call returns, so no synchronisation is needed.
    /// </summary>
    internal void SgdUpdate(IReadOnlyList<SgdParameter> parameters, float momentum, SgdMomentumForm form, bool nesterov)
    {
        if (parameters.Count == 0) return;
        var slots = new SgdSlot[parameters.Count];
        long maxN = 0;
        for (int i = 0; i < slots.Length; i++)
        {
            var p = parameters[i];
            foreach (var t in (Tensor[])[p.Weight, p.Grad, p.Velocity])
                if (t.DType != DType.Float32 || !t.SameShape(p.Weight))
                    throw new ArgumentException($"sgd: parameter {i} needs float32 weight, grad and velocity of one shape, got {p.Weight}, {p.Grad}, {p.Velocity}");
            slots[i] = new SgdSlot
            {
                W = ContiguousPtr(p.Weight, "sgd"),
                G = ContiguousPtr(p.Grad, "sgd"),
                V = ContiguousPtr(p.Velocity, "sgd"),
                N = p.Weight.NumElements,
                Lr = p.LearningRate,
                Wd = p.WeightDecay,
            };
            maxN = Math.Max(maxN, slots[i].N);
        }
        if (maxN == 0) return;
        using var table = Allocator.Allocate(slots.Length * sizeof(SgdSlot));
        MakeCurrent();
        fixed (SgdSlot* s = slots)
            CudaDriver.Check(CudaDriver.cuMemcpyHtoDAsync_v2(table.Pointer, s, (nuint)(slots.Length * sizeof(SgdSlot)), Stream));
        nint f = Function("sgd.cu", "sgd_update_multi_f32");
        int formValue = (int)form, nesterovValue = nesterov ? 1 : 0;
        // Grid-stride, so any grid is correct; keep the total number of blocks near what fills the GPU
        // rather than giving every small bias vector as many blocks as the largest weight.
        int perLaunch = Math.Min(slots.Length, MaxSlotsPerLaunch);
        uint gridX = (uint)Math.Min(GridFor(maxN), Math.Max(Info.MultiprocessorCount * 2L, Info.MultiprocessorCount * 32L / perLaunch));
        void** args = stackalloc void*[4];
        for (int start = 0; start < slots.Length; start += MaxSlotsPerLaunch)
        {
            ulong first = table.Pointer + (ulong)(start * sizeof(SgdSlot));
            args[0] = &first;
            args[1] = &momentum;
            args[2] = &formValue;
            args[3] = &nesterovValue;
            Launch(f, "sgd_update_multi_f32", gridX, (uint)Math.Min(MaxSlotsPerLaunch, slots.Length - start), BlockSize, args);
        }
    }
}
