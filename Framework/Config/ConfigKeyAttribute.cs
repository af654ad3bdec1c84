namespace Kiln.Config;

/// <summary>Names a config property's YAML key when it is not the property name in snake_case.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ConfigKeyAttribute(string key) : Attribute
{
    public string Key { get; } = key;
}
