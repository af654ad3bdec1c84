namespace Kiln.Backends.Cuda;

public sealed unsafe partial class CudaBackend
{
    /// <summary>
    /// Launcher of normalize_forward_u8_f32 (see <see cref="Kiln.Core.Ops.Op.NormalizeImages"/>): x (N, H, W, C) uint8 → y (N, C, H, W) float32 with
    /// y = (x * scale - mean[c]) * invStd[c], mirrored horizontally where flip[n] != 0.
    /// mean, invStd: (C) float32 on this device; flip: (N) uint8 on this device, or null.
    /// </summary>
    public void NormalizeImages(Tensor x, Tensor y, Tensor mean, Tensor invStd, Tensor? flip, float scale)
    {
        var (n, h, w, c) = Kiln.Core.Ops.Op.CheckNormalizeImagesArguments(x, y, mean, invStd, flip);
        ulong px = ContiguousPtr(x, "normalize"), py = ContiguousPtr(y, "normalize"),
              pm = ContiguousPtr(mean, "normalize"), ps = ContiguousPtr(invStd, "normalize"),
              pf = flip is null ? 0 : ContiguousPtr(flip, "normalize");
        void** args = stackalloc void*[10];
        args[0] = &px;
        args[1] = &py;
        args[2] = &pm;
        args[3] = &ps;
        args[4] = &pf;
        args[5] = &n;
        args[6] = &h;
        args[7] = &w;
        args[8] = &c;
        args[9] = &scale;
        Launch1D("normalize.cu", "normalize_forward_u8_f32", y.NumElements, args);
    }
}
