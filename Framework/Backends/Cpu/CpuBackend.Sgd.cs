namespace Kiln.Backends.Cpu;

public sealed partial class CpuBackend
{
    public void SgdUpdate(Tensor w, Tensor g, Tensor? v, double lr, double momentum, double weightDecay, bool nesterov, MomentumForm form)
    {
        if (IsF32(w)) SgdKernel(Data<float>(w), Data<float>(g), v is null ? default : Data<float>(v), lr, momentum, weightDecay, nesterov, form);
        else if (w.DType == DType.Float64) SgdKernel(Data<double>(w), Data<double>(g), v is null ? default : Data<double>(v), lr, momentum, weightDecay, nesterov, form);
        else throw Unsupported("sgd", w);
    }

    private static void SgdKernel<T>(Span<T> w, Span<T> g, Span<T> v, double lrD, double muD, double wdD, bool nesterov, MomentumForm form)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T lr = T.CreateTruncating(lrD), mu = T.CreateTruncating(muD), wd = T.CreateTruncating(wdD), one = T.One;
        bool hasV = !v.IsEmpty;
        for (int i = 0; i < w.Length; i++)
        {
            T grad = g[i] + wd * w[i];
            if (!hasV)
            {
                w[i] -= lr * grad;
                continue;
            }
            if (form == MomentumForm.PyTorch)
            {
                T vel = mu * v[i] + grad;
                v[i] = vel;
                w[i] -= lr * (nesterov ? grad + mu * vel : vel);
            }
            else
            {
                T old = v[i];
                T vel = mu * old - lr * grad;
                v[i] = vel;
                w[i] += nesterov ? (one + mu) * vel - mu * old : vel;
            }
        }
    }

    public void RenormFilters(Tensor w, double maxRms)
    {
        if (IsF32(w)) RenormKernel(Data<float>(w), w.Size(0), maxRms);
        else if (w.DType == DType.Float64) RenormKernel(Data<double>(w), w.Size(0), maxRms);
        else throw Unsupported("renorm", w);
    }

    private static void RenormKernel<T>(Span<T> w, int rows, double maxRms) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int len = w.Length / rows;
        for (int r = 0; r < rows; r++)
        {
            var row = w.Slice(r * len, len);
            double ss = 0;
            foreach (T x in row) ss += double.CreateTruncating(x * x);
            double rms = Math.Sqrt(ss / len);
            if (rms > maxRms)
            {
                T s = T.CreateTruncating(maxRms / rms);
                for (int i = 0; i < len; i++) row[i] *= s;
            }
        }
    }
}
