using Kiln.Cli;

namespace Kiln.Tests.Cli;

/// <summary>Runs <c>kiln</c> in-process through <see cref="Program.Main"/>, capturing its output (use inside <see cref="ConsoleCollection"/>).</summary>
internal static class KilnCli
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        using var o = new StringWriter();
        using var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        try
        {
            int code = Program.Main(args);
            return (code, o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }
}
