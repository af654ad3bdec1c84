using CommandLine;
using Kiln.Cli.Commands;

namespace Kiln.Cli;

/// <summary>
/// The <c>kiln</c> executable: parses a verb and hands it to its command. Commands return an exit
/// code; exceptions become a one-line message (the stack with --verbose), never a crash dump.
/// </summary>
public static class Program
{
    /// <summary>Every verb's options type; each has a matching <c>Run</c> in <see cref="Commands"/>.</summary>
    private static readonly Type[] Verbs =
    [
        typeof(BenchOptions),
        typeof(DemoOptions),
        typeof(DevicesOptions),
        typeof(WeightsOptions),
        typeof(PackOptions),
        typeof(SummaryOptions),
        typeof(TrainOptions),
        typeof(EvalOptions),
        typeof(SweepOptions),
        typeof(VizOptions),
        typeof(VerifyOptions),
    ];

    public static int Main(string[] args)
    {
        var parser = new Parser(s =>
        {
            s.HelpWriter = Console.Error;
            s.CaseInsensitiveEnumValues = true;
            s.AllowMultiInstance = true;
        });
        var result = parser.ParseArguments(BenchOptions.NormalizeArgs(args), Verbs);
        return result.MapResult(
            (object options) => Run(options),
            errors => errors.IsVersion() || errors.IsHelp() ? 0 : 2);
    }

    private static int Run(object options)
    {
        bool verbose = options is CommonOptions { Verbose: true };
        try
        {
            return options switch
            {
                BenchOptions o => BenchCommand.Run(o),
                DemoOptions o => DemoCommand.Run(o),
                DevicesOptions o => DevicesCommand.Run(o, Console.Out),
                WeightsOptions o => WeightsCommand.Run(o, Console.Out, name => Kiln.Models.ModelZoo.Create(name)),
                PackOptions o => PackCommand.Run(o),
                SummaryOptions o => SummaryCommand.Run(o),
                TrainOptions o => TrainCommand.Run(o),
                EvalOptions o => EvalCommand.Run(o, Console.Out),
                SweepOptions o => SweepCommand.Run(o, Console.Out),
                VizOptions o => VizCommand.Run(o, Console.Out),
                VerifyOptions o => VerifyCommand.Run(o, Console.Out),
                _ => throw new InvalidOperationException($"no command for {options.GetType().Name}"),
            };
        }
        catch (Kiln.Cli.Training.RunStopException e)
        {
            Console.Error.WriteLine($"kiln: {e.Message}");
            return e.ExitCode;
        }
        catch (Exception e) when (!verbose)
        {
            Console.Error.WriteLine($"kiln: {e.Message}");
            return 1;
        }
    }
}
