using Kiln.Backends.Cuda;

namespace Kiln.Tests.Backends.Cuda;

/// <summary>Behaviour without a usable GPU (this machine and CI). Each test skips, with the reason, where a GPU is present.</summary>
public sealed class CudaDeviceTests
{
    private static void RequireNoDevice()
    {
        if (CudaTestEnvironment.NoDeviceReason is null) Assert.Skip("a CUDA device is present; this test covers machines without one");
    }

    [Fact]
    public void TryCreate_WithoutGpu_ReturnsFalseWithReason()
    {
        RequireNoDevice();
        Assert.False(CudaDevice.TryCreate(0, out var device, out string? whyNot));
        Assert.Null(device);
        Assert.NotNull(whyNot);
        Assert.True(whyNot.Contains("libcuda", StringComparison.Ordinal) || whyNot.Contains("no CUDA device", StringComparison.Ordinal), whyNot);
        Assert.Equal(0, CudaDevice.DeviceCount);
        Assert.Equal(whyNot, CudaDevice.WhyNoDevice);
    }

    [Fact]
    public void TryCreate_IsCached_AndNeverThrows()
    {
        for (int i = 0; i < 3; i++) CudaDevice.TryCreate(i, out _, out _);
        Assert.False(CudaDevice.TryCreate(-1, out _, out string? why));
        Assert.NotNull(why);
    }

    [Fact]
    public void TensorOnCuda_WithoutGpu_ThrowsClearError()
    {
        RequireNoDevice();
        var e = Assert.Throws<InvalidOperationException>(() => Tensor.Empty([2, 3], DType.Float32, Device.Cuda(0)));
        Assert.Contains("cuda:0 is not usable", e.Message);
        Assert.Contains(CudaDevice.WhyNoDevice!, e.Message);
    }

    [Fact]
    public void CudaBackend_IsRegisteredLazily()
    {
        Assert.True(Backend.IsRegistered(DeviceType.Cuda));
    }
}
