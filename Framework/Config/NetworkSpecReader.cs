using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Kiln.Config;

/// <summary>
/// Reads a network file (YAML) into a <see cref="NetworkSpec"/>: checks the structure (known keys,
/// value kinds, blocks, outputs) and keeps the line of everything, so later stages can report
/// mistakes where they were written. Layer-specific keys are left to the model builder, which knows
/// the layer types. All problems found are reported together in one <see cref="NetworkDefinitionException"/>.
/// </summary>
public static class NetworkSpecReader
{
    private static readonly string[] TopKeys = ["name", "description", "source", "input", "params", "blocks", "layers", "outputs"];
    private static readonly string[] BlockKeys = ["params", "layers"];
    private static readonly string[] OutputKeys = ["layer", "weight"];

    /// <summary>Reads a network file from disk.</summary>
    public static NetworkSpec ReadFile(string path) => Read(System.IO.File.ReadAllText(path), path);

    /// <summary>Parses <paramref name="yaml"/>; <paramref name="file"/> names it in messages.</summary>
    public static NetworkSpec Read(string yaml, string file)
    {
        var problems = DuplicateKeys(yaml, file);
        if (problems.Count > 0) throw new NetworkDefinitionException(problems);
        YamlMappingNode root;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode m)
                throw new NetworkDefinitionException([new(new(file, 1), null, "a network file must be a YAML mapping with at least 'layers'")]);
            root = m;
        }
        catch (YamlException e)
        {
            string message = e.InnerException is ArgumentException ? $"duplicate key ({e.Message})" : e.Message;
            throw new NetworkDefinitionException([new(new(file, (int)e.Start.Line), null, $"YAML: {message}")]);
        }

        var reader = new Reader(file, problems);  // problems is empty here
        var spec = reader.Network(root);
        if (problems.Count > 0) throw new NetworkDefinitionException(problems);
        return spec;
    }

    private sealed class Frame(bool isMapping)
    {
        public bool IsMapping { get; } = isMapping;
        public bool ExpectKey { get; set; } = true;
        public HashSet<string> Keys { get; } = [];
    }

    /// <summary>
    /// Every duplicate key in the document. YamlDotNet's loader stops at the first one, so the
    /// event stream is scanned first to report them all at once; syntax errors are left to the loader.
    /// </summary>
    private static List<NetworkProblem> DuplicateKeys(string yaml, string file)
    {
        var problems = new List<NetworkProblem>();
        var stack = new Stack<Frame>();
        void Slot(string? key, Mark start)
        {
            if (stack.Count == 0 || !stack.Peek().IsMapping) return;
            var top = stack.Peek();
            if (top.ExpectKey && key is not null && !top.Keys.Add(key))
                problems.Add(new(new(file, (int)start.Line), null, $"duplicate key '{key}'"));
            top.ExpectKey = !top.ExpectKey;
        }
        try
        {
            var parser = new Parser(new StringReader(yaml));
            while (parser.MoveNext())
            {
                switch (parser.Current)
                {
                    case YamlDotNet.Core.Events.Scalar sc: Slot(sc.Value, sc.Start); break;
                    case YamlDotNet.Core.Events.AnchorAlias a: Slot(null, a.Start); break;
                    case YamlDotNet.Core.Events.MappingStart m: Slot(null, m.Start); stack.Push(new Frame(true)); break;
                    case YamlDotNet.Core.Events.SequenceStart q: Slot(null, q.Start); stack.Push(new Frame(false)); break;
                    case YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd: stack.Pop(); break;
                }
            }
        }
        catch (YamlException)
        {
            // reported with its line by the loader
        }
        return problems;
    }

    private sealed class Reader(string file, List<NetworkProblem> problems)
    {
        private SourceLocation At(YamlNode n) => new(file, (int)n.Start.Line);

        private void Problem(YamlNode n, string? layer, string message) => problems.Add(new(At(n), layer, message));

        /// <summary>The mapping's entries with string keys; reports duplicates and keys outside <paramref name="known"/>.</summary>
        private List<(string Key, YamlNode KeyNode, YamlNode Value)> Entries(YamlMappingNode m, string? layer, string what, string[]? known)
        {
            var result = new List<(string, YamlNode, YamlNode)>();
            var seen = new HashSet<string>();
            foreach (var (k, v) in m.Children)
            {
                if (k is not YamlScalarNode { Value: { } key })
                {
                    Problem(k, layer, $"{what}: keys must be plain names");
                    continue;
                }
                if (!seen.Add(key)) { Problem(k, layer, $"{what}: duplicate key '{key}'"); continue; }
                if (known is not null && !known.Contains(key))
                {
                    Problem(k, layer, $"{what}: unknown key '{key}' (known: {string.Join(", ", known)})");
                    continue;
                }
                result.Add((key, k, v));
            }
            return result;
        }

        public NetworkSpec Network(YamlMappingNode root)
        {
            string? name = null, description = null, source = null;
            SpecValue? input = null;
            var pars = new List<KeyValuePair<string, SpecValue>>();
            var blocks = new List<BlockSpec>();
            List<LayerSpec>? layers = null;
            var outputs = new List<OutputSpec>();
            foreach (var (key, _, v) in Entries(root, null, "network", TopKeys))
            {
                switch (key)
                {
                    case "name": name = Text(v, null, key); break;
                    case "description": description = Text(v, null, key); break;
                    case "source": source = Text(v, null, key); break;
                    case "input": input = Value(v, null, key); break;
                    case "params":
                        if (v is YamlMappingNode pm)
                        {
                            foreach (var (pk, _, pv) in Entries(pm, null, "params", null))
                                if (Value(pv, null, pk) is { } sv) pars.Add(new(pk, sv));
                        }
                        else Problem(v, null, "params: expected a mapping of name: default value");
                        break;
                    case "blocks":
                        if (v is YamlMappingNode bm)
                            foreach (var (bk, bkNode, bv) in Entries(bm, null, "blocks", null)) blocks.Add(Block(bk, bkNode, bv));
                        else Problem(v, null, "blocks: expected a mapping of block name: definition");
                        break;
                    case "layers": layers = Layers(v, null); break;
                    case "outputs": outputs = Outputs(v); break;
                }
            }
            if (layers is null) problems.Add(new(new(file, (int)root.Start.Line), null, "the network has no 'layers'"));
            return new NetworkSpec
            {
                File = file,
                Name = name,
                Description = description,
                Source = source,
                Input = input,
                Params = pars,
                Blocks = blocks,
                Layers = layers ?? [],
                Outputs = outputs,
            };
        }

        private BlockSpec Block(string name, YamlNode keyNode, YamlNode v)
        {
            var pars = new List<KeyValuePair<string, SpecValue?>>();
            List<LayerSpec>? layers = null;
            if (v is not YamlMappingNode m)
            {
                Problem(v, null, $"block '{name}': expected a mapping with 'params' and 'layers'");
                return new(name, pars, [], At(keyNode));
            }
            foreach (var (key, _, bv) in Entries(m, null, $"block '{name}'", BlockKeys))
            {
                if (key == "layers") { layers = Layers(bv, null); continue; }
                switch (bv)
                {
                    case YamlSequenceNode seq:
                        foreach (var item in seq.Children)
                            if (item is YamlScalarNode { Value: { Length: > 0 } p }) pars.Add(new(p, null));
                            else Problem(item, null, $"block '{name}': parameter names must be plain names");
                        break;
                    case YamlMappingNode pm:
                        foreach (var (pk, _, pv) in Entries(pm, null, $"block '{name}' params", null))
                            pars.Add(new(pk, pv is YamlScalarNode { Value: null or "" or "null" or "~" } ? null : Value(pv, null, pk)));
                        break;
                    default:
                        Problem(bv, null, $"block '{name}': params must be a list of names or a mapping of name: default");
                        break;
                }
            }
            if (layers is null) Problem(keyNode, null, $"block '{name}' has no 'layers'");
            return new(name, pars, layers ?? [], At(keyNode));
        }

        private List<LayerSpec> Layers(YamlNode v, string? parent)
        {
            var result = new List<LayerSpec>();
            if (v is not YamlSequenceNode seq)
            {
                Problem(v, parent, "'layers' must be a list");
                return result;
            }
            foreach (var item in seq.Children)
            {
                if (item is YamlMappingNode m) result.Add(Layer(m));
                else Problem(item, parent, "each layer must be a mapping with a 'type' or a 'block'");
            }
            return result;
        }

        private LayerSpec Layer(YamlMappingNode m)
        {
            string? name = (m.Children.TryGetValue(new YamlScalarNode("name"), out var nn) && nn is YamlScalarNode ns) ? ns.Value : null;
            string label = name ?? $"(unnamed, line {m.Start.Line})";
            string? type = null, block = null;
            IReadOnlyList<SpecValue>? inputs = null;
            SpecValue? repeat = null, when = null;
            var args = new List<KeyValuePair<string, SpecValue>>();
            var options = new List<KeyValuePair<string, SpecValue>>();
            List<LayerSpec>? layers = null;
            foreach (var (key, keyNode, v) in Entries(m, name, "layer", null))
            {
                switch (key)
                {
                    case "type": type = Text(v, label, key); break;
                    case "block": block = Text(v, label, key); break;
                    case "name": name = Text(v, label, key); break;
                    case "inputs":
                        var iv = Value(v, label, key);
                        inputs = iv is null ? null : iv.IsList ? iv.Items : [iv];
                        break;
                    case "repeat": repeat = Value(v, label, key); break;
                    case "when": when = Value(v, label, key); break;
                    case "args":
                        if (v is YamlMappingNode am)
                        {
                            foreach (var (ak, _, av) in Entries(am, label, "args", null))
                                if (Value(av, label, ak) is { } sv) args.Add(new(ak, sv));
                        }
                        else Problem(v, label, "'args' must be a mapping of parameter: value");
                        break;
                    case "layers": layers = Layers(v, label); break;
                    default:
                        if (Value(v, label, key) is { } ov) options.Add(new(key, ov));
                        break;
                }
            }
            if (type is null == block is null)
                Problem(m, label, type is null ? "needs a 'type' (a layer) or a 'block' (an instance of a block)" : "has both 'type' and 'block'");
            if (block is null && (args.Count > 0 || repeat is not null))
                Problem(m, label, "'args' and 'repeat' belong to block instances ('block: ...')");
            if (block is not null && options.Count > 0)
                Problem(m, label, $"unknown key '{options[0].Key}' for a block instance (known: block, name, inputs, args, repeat, when)");
            if ((type == "sequential") != (layers is not null))
                Problem(m, label, type == "sequential" ? "a sequential needs 'layers'" : "only 'type: sequential' takes 'layers'");
            return new LayerSpec
            {
                Type = type,
                Block = block,
                Name = name,
                Inputs = inputs,
                Repeat = repeat,
                When = when,
                Args = args,
                Options = options,
                Layers = layers,
                Where = At(m),
            };
        }

        private List<OutputSpec> Outputs(YamlNode v)
        {
            var result = new List<OutputSpec>();
            if (v is not YamlSequenceNode seq)
            {
                Problem(v, null, "'outputs' must be a list of layer names or {layer, weight} mappings, main head first");
                return result;
            }
            foreach (var item in seq.Children)
            {
                if (item is YamlScalarNode { Value: { } s }) { result.Add(new(s, 1, At(item))); continue; }
                if (item is not YamlMappingNode m) { Problem(item, null, "an output is a layer name or {layer, weight}"); continue; }
                string? layer = null;
                double weight = 1;
                foreach (var (key, _, ov) in Entries(m, null, "output", OutputKeys))
                {
                    if (key == "layer") layer = Text(ov, null, key);
                    else if (Text(ov, null, key) is { } w)
                    {
                        if (!double.TryParse(w, NumberStyles.Float, CultureInfo.InvariantCulture, out weight))
                            Problem(ov, null, $"output weight must be a number, got '{w}'");
                    }
                }
                if (layer is null) Problem(m, null, "an output needs 'layer'");
                else result.Add(new(layer, weight, At(m)));
            }
            return result;
        }

        private string? Text(YamlNode v, string? layer, string key)
        {
            if (v is YamlScalarNode { Value: { } s }) return s;
            Problem(v, layer, $"'{key}' must be a single value, got a {(v is YamlSequenceNode ? "list" : "mapping")}");
            return null;
        }

        private SpecValue? Value(YamlNode v, string? layer, string key)
        {
            switch (v)
            {
                case YamlScalarNode s:
                    return SpecValue.Scalar(s.Value ?? "", At(s));
                case YamlSequenceNode seq:
                    var items = new List<SpecValue>();
                    foreach (var c in seq.Children)
                        if (Value(c, layer, key) is { } cv) items.Add(cv);
                    return new SpecValue(null, items, At(seq));
                default:
                    Problem(v, layer, $"'{key}' must be a value or a list, got a mapping");
                    return null;
            }
        }
    }
}
