// sgd.cu — fused SGD update with momentum and weight decay, in place on (w, v).
// Let g' = g + wd * w (weight decay as L2 on the gradient; wd and lr already include the parameter's
// decay and learning-rate multipliers). Two momentum forms:
//   form 0 (Caffe):   v = mu * v - lr * g';  w += v
//        Nesterov:    v_prev = v; v = mu * v - lr * g';  w += (1 + mu) * v - mu * v_prev   (Caffe's NesterovSolver)
//   form 1 (PyTorch): v = mu * v + g';  w -= lr * v            (dampening 0)
//        Nesterov:    v = mu * v + g';  w -= lr * (g' + mu * v)
// With mu = 0 both forms are plain SGD (v is still written; pass a scratch v or any buffer).
//   sgd_update_f32(float* w, const float* g, float* v, i64 n, float lr, float wd, float mu, int form, int nesterov)
//       one parameter; launch 1-D, block 256, grid-stride.
//   sgd_update_multi_f32(const SgdSlot* slots, float mu, int form, int nesterov)
//       every parameter in one launch: blockIdx.y selects the slot (gridDim.y = number of parameters,
//       <= 65535), blockIdx.x/threadIdx.x stride over its elements. slots: device array of SgdSlot,
//       matching C# CudaBackend.SgdSlot (40 bytes).
#include "common.cuh"

struct SgdSlot
{
    float* w;
    const float* g;
    float* v;
    i64 n;
    float lr;
    float wd;
};

__device__ __forceinline__ void sgd_step(float* w, const float* g, float* v, i64 i, float lr, float wd, float mu, int form, int nesterov)
{
    float wi = w[i];
    float gi = g[i] + wd * wi;
    float vp = v[i];
    if (form == 0)
    {
        float vn = mu * vp - lr * gi;
        v[i] = vn;
        w[i] = nesterov ? wi + (1.0f + mu) * vn - mu * vp : wi + vn;
    }
    else
    {
        float vn = mu * vp + gi;
        v[i] = vn;
        w[i] = wi - lr * (nesterov ? gi + mu * vn : vn);
    }
}

extern "C" __global__ void sgd_update_f32(float* w, const float* g, float* v, i64 n, float lr, float wd, float mu, int form, int nesterov)
{
    KILN_GRID_STRIDE(i, n) sgd_step(w, g, v, i, lr, wd, mu, form, nesterov);
}

extern "C" __global__ void sgd_update_multi_f32(const SgdSlot* slots, float mu, int form, int nesterov)
{
    SgdSlot s = slots[blockIdx.y];
    KILN_GRID_STRIDE(i, s.n) sgd_step(s.w, s.g, s.v, i, s.lr, s.wd, mu, form, nesterov);
}
