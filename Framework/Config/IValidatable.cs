namespace Kiln.Config;

/// <summary>A config section that checks its own values (ranges, combinations).</summary>
public interface IValidatable
{
    /// <summary>Each problem as (key relative to this section, message); empty when valid.</summary>
    IEnumerable<(string Key, string Message)> Validate();
}
