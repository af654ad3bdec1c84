namespace Kiln.Data;

/// <summary>Too much of the data is bad to keep training; the message carries the counts by reason and the worst shards.</summary>
public sealed class DataBudgetExceededException(string message, DataHealth health) : Exception(message)
{
    public DataHealth Health { get; } = health;
}
