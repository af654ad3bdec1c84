// normalize.cu — decoded images to network input on the GPU, so normalisation leaves the CPU.
//   normalize_forward_u8_f32(const u8* x, float* y, const float* mean, const float* invStd,
//                            const u8* flip, int N, int H, int W, int C, float scale)
//     x: (N, H, W, C) uint8, contiguous (as decoded);  y: (N, C, H, W) float32, contiguous.
//     mean, invStd: (C) float32 on the device, in the units of x * scale (e.g. scale = 1/255 and ImageNet
//     mean 0.485.. / 1/std 1/0.229..). flip: (N) uint8, 1 = mirror that image horizontally; may be null.
//     y[n, c, h, w] = (x[n, h, flip[n] ? W-1-w : w, c] * scale - mean[c]) * invStd[c]
// Launch: 1-D over N*C*H*W output elements (coalesced writes), block 256, grid-stride.
#include "common.cuh"

extern "C" __global__ void normalize_forward_u8_f32(const u8* x, float* y, const float* mean, const float* invStd,
                                                    const u8* flip, int N, int H, int W, int C, float scale)
{
    const i64 hw = (i64)H * W, chw = (i64)C * hw, total = (i64)N * chw;
    KILN_GRID_STRIDE(i, total)
    {
        i64 n = i / chw, r = i - n * chw;
        int c = (int)(r / hw);
        i64 p = r - (i64)c * hw;
        int h = (int)(p / W), w = (int)(p - (i64)h * W);
        int ws = (flip != 0 && flip[n]) ? W - 1 - w : w;
        float v = (float)x[((n * H + h) * W + ws) * C + c];
        y[i] = (v * scale - mean[c]) * invStd[c];
    }
}
