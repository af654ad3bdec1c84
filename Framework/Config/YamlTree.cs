using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Kiln.Config;

/// <summary>A parsed YAML node with where it was written.</summary>
public abstract record YamlTreeNode(int Line, int Column)
{
    /// <summary>Where the node came from when not from the config file itself (a --set override).</summary>
    public string? Origin { get; init; }
}

public sealed record YamlTreeScalar(string Value, bool Quoted, int Line, int Column) : YamlTreeNode(Line, Column);

public sealed record YamlTreeSequence(List<YamlTreeNode> Items, int Line, int Column) : YamlTreeNode(Line, Column);

public sealed record YamlTreeMapping(List<(YamlTreeScalar Key, YamlTreeNode Value)> Entries, int Line, int Column) : YamlTreeNode(Line, Column);

/// <summary>
/// Reads YAML into <see cref="YamlTreeNode"/>s from YamlDotNet's event parser (which is iterative, so
/// deep input cannot overflow the stack). Refuses nesting deeper than <see cref="MaxDepth"/> and
/// documents that expand (through aliases) to more than <see cref="MaxNodes"/> nodes: an
/// alias bomb ("billion laughs") gets a clear error, not an out-of-memory crash.
/// </summary>
public static class YamlTree
{
    public const int MaxDepth = 64;
    public const int MaxNodes = 100_000;

    /// <summary>The first document's root (null for an empty document). Throws <see cref="ConfigException"/>.</summary>
    public static YamlTreeNode? Parse(string text, string file)
    {
        var parser = new Parser(new StringReader(text));
        var anchors = new Dictionary<string, (YamlTreeNode Node, int Size)>();
        int nodes = 0;
        try
        {
            parser.Consume<StreamStart>();
            if (parser.Accept<StreamEnd>(out _)) return null;
            parser.Consume<DocumentStart>();
            if (parser.Accept<DocumentEnd>(out _)) return null;
            var root = ReadNode(parser, anchors, 0, ref nodes, file);
            return root;
        }
        catch (YamlException e)
        {
            throw new ConfigException([new ConfigProblem(file, (int)e.Start.Line, (int)e.Start.Column, "", "YAML syntax: " + e.Message)]);
        }
    }

    private static YamlTreeNode ReadNode(IParser parser, Dictionary<string, (YamlTreeNode Node, int Size)> anchors, int depth, ref int nodes, string file)
    {
        var start = parser.Current!.Start;
        if (depth > MaxDepth) throw Refuse(file, start, $"nesting deeper than {MaxDepth} levels is refused");
        if (++nodes > MaxNodes) throw Refuse(file, start, $"the document expands to more than {MaxNodes} nodes (an alias bomb?); refused");
        YamlTreeNode node;
        string? anchor = null;
        int before = nodes;
        if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            if (!anchors.TryGetValue(alias.Value.Value, out var target))
                throw Refuse(file, start, $"alias *{alias.Value.Value} has no anchor before it");
            nodes += target.Size; // what the alias stands for counts in full: expansion is what a bomb exploits
            if (nodes > MaxNodes) throw Refuse(file, start, $"the document expands to more than {MaxNodes} nodes through aliases (an alias bomb?); refused");
            return target.Node;
        }
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            anchor = scalar.Anchor.IsEmpty ? null : scalar.Anchor.Value;
            node = new YamlTreeScalar(scalar.Value, scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted, (int)start.Line, (int)start.Column);
        }
        else if (parser.TryConsume<SequenceStart>(out var seqStart))
        {
            anchor = seqStart.Anchor.IsEmpty ? null : seqStart.Anchor.Value;
            var items = new List<YamlTreeNode>();
            while (!parser.TryConsume<SequenceEnd>(out _)) items.Add(ReadNode(parser, anchors, depth + 1, ref nodes, file));
            node = new YamlTreeSequence(items, (int)start.Line, (int)start.Column);
        }
        else if (parser.TryConsume<MappingStart>(out var mapStart))
        {
            anchor = mapStart.Anchor.IsEmpty ? null : mapStart.Anchor.Value;
            var entries = new List<(YamlTreeScalar, YamlTreeNode)>();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var keyStart = parser.Current!.Start;
                var key = ReadNode(parser, anchors, depth + 1, ref nodes, file);
                if (key is not YamlTreeScalar k) throw Refuse(file, keyStart, "mapping keys must be plain scalars");
                entries.Add((k, ReadNode(parser, anchors, depth + 1, ref nodes, file)));
            }
            node = new YamlTreeMapping(entries, (int)start.Line, (int)start.Column);
        }
        else throw Refuse(file, start, $"unexpected YAML event {parser.Current?.GetType().Name}");
        if (anchor is not null) anchors[anchor] = (node, nodes - before);
        return node;
    }

    private static ConfigException Refuse(string file, Mark at, string message) =>
        new([new ConfigProblem(file, (int)at.Line, (int)at.Column, "", message)]);
}
