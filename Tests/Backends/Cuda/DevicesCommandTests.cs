using Kiln.Cli.Commands;

namespace Kiln.Tests.Backends.Cuda;

public sealed class DevicesCommandTests
{
    [Fact]
    public void Devices_ListsLibrariesAndGpusOrWhyNone_ExitsZero()
    {
        var output = new StringWriter();
        int code = DevicesCommand.Run(new DevicesOptions(), output);
        string text = output.ToString();
        Assert.Equal(0, code);
        Assert.Contains("CUDA driver:", text);
        Assert.Contains("NVRTC:", text);
        Assert.Contains("cuBLAS:", text);
        Assert.Contains("cuDNN:", text);
        if (CudaTestEnvironment.NoDeviceReason is null) Assert.Contains("cuda:0", text);
        else
        {
            Assert.Contains("No usable CUDA GPU:", text);
            Assert.True(text.Contains("libcuda", StringComparison.Ordinal) || text.Contains("no CUDA device", StringComparison.Ordinal), text);
        }
        if (CudaTestEnvironment.NoNvrtcReason is null) Assert.Matches(@"NVRTC:\s+1\d\.\d", text);
    }

    [Fact]
    public void Devices_Verbose_ListsEveryPlaceTried()
    {
        if (CudaTestEnvironment.NoDeviceReason is null) Assert.Skip("a CUDA device is present; nothing is missing to list");
        var output = new StringWriter();
        Assert.Equal(0, DevicesCommand.Run(new DevicesOptions { Verbose = true }, output));
        Assert.Contains("tried:", output.ToString());
    }

    [Fact]
    public void Devices_AsProcessVerb_ExitsZero()
    {
        var stdout = new StringWriter();
        var saved = Console.Out;
        int code;
        try
        {
            Console.SetOut(stdout);
            code = Kiln.Cli.Program.Main(["devices"]);
        }
        finally
        {
            Console.SetOut(saved);
        }
        Assert.Equal(0, code);
        Assert.Contains("NVRTC:", stdout.ToString());
    }
}
