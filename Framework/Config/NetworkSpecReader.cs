using System.Globalization;

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

    /// <summary>
    /// Parses <paramref name="yaml"/>; <paramref name="file"/> names it in messages. The YAML is read by
    /// <see cref="YamlTree"/>, so deep nesting and alias bombs are refused with the file, line and column,
    /// as for run configs.
    /// </summary>
    public static NetworkSpec Read(string yaml, string file)
    {
        YamlTreeNode? parsed;
        try
        {
            parsed = YamlTree.Parse(yaml, file);
        }
        catch (ConfigException e)
        {
            throw new NetworkDefinitionException(e.Problems.Select(p => new NetworkProblem(new(p.File, p.Line, p.Column), null, p.Message)).ToList());
        }
        if (parsed is not YamlTreeMapping root)
            throw new NetworkDefinitionException([new(new(file, parsed?.Line ?? 1), null, "a network file must be a YAML mapping with at least 'layers'")]);
        var problems = new List<NetworkProblem>();
        DuplicateKeys(root, file, problems, new HashSet<YamlTreeNode>(ReferenceEqualityComparer.Instance));
        if (problems.Count > 0) throw new NetworkDefinitionException(problems);

        var spec = new Reader(file, problems).Network(root);
        if (problems.Count > 0) throw new NetworkDefinitionException(problems);
        return spec;
    }

    /// <summary>
    /// Every duplicate key in the document, in file order, reported on their own before anything else
    /// (a later check would only repeat them). Recursion is bounded by <see cref="YamlTree.MaxDepth"/>;
    /// a node shared through an alias is visited once.
    /// </summary>
    private static void DuplicateKeys(YamlTreeNode node, string file, List<NetworkProblem> problems, HashSet<YamlTreeNode> seen)
    {
        if (!seen.Add(node)) return;
        if (node is YamlTreeSequence seq)
            foreach (var item in seq.Items) DuplicateKeys(item, file, problems, seen);
        if (node is not YamlTreeMapping map) return;
        var keys = new HashSet<string>();
        foreach (var (k, v) in map.Entries)
        {
            if (!keys.Add(k.Value)) problems.Add(new(new(file, k.Line), null, $"duplicate key '{k.Value}'"));
            DuplicateKeys(v, file, problems, seen);
        }
    }

    private sealed class Reader(string file, List<NetworkProblem> problems)
    {
        private SourceLocation At(YamlTreeNode n) => new(file, n.Line);

        private void Problem(YamlTreeNode n, string? layer, string message) => problems.Add(new(At(n), layer, message));

        /// <summary>The mapping's entries (duplicates were refused before); reports keys outside <paramref name="known"/>.</summary>
        private List<(string Key, YamlTreeNode KeyNode, YamlTreeNode Value)> Entries(YamlTreeMapping m, string? layer, string what, string[]? known)
        {
            var result = new List<(string, YamlTreeNode, YamlTreeNode)>();
            foreach (var (k, v) in m.Entries)
            {
                if (known is not null && !known.Contains(k.Value))
                {
                    Problem(k, layer, $"{what}: unknown key '{k.Value}' (known: {string.Join(", ", known)})");
                    continue;
                }
                result.Add((k.Value, k, v));
            }
            return result;
        }

        public NetworkSpec Network(YamlTreeMapping root)
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
                        if (v is YamlTreeMapping pm)
                        {
                            foreach (var (pk, _, pv) in Entries(pm, null, "params", null))
                                if (Value(pv, null, pk) is { } sv) pars.Add(new(pk, sv));
                        }
                        else Problem(v, null, "params: expected a mapping of name: default value");
                        break;
                    case "blocks":
                        if (v is YamlTreeMapping bm)
                            foreach (var (bk, bkNode, bv) in Entries(bm, null, "blocks", null)) blocks.Add(Block(bk, bkNode, bv));
                        else Problem(v, null, "blocks: expected a mapping of block name: definition");
                        break;
                    case "layers": layers = Layers(v, null); break;
                    case "outputs": outputs = Outputs(v); break;
                }
            }
            if (layers is null) problems.Add(new(At(root), null, "the network has no 'layers'"));
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

        private BlockSpec Block(string name, YamlTreeNode keyNode, YamlTreeNode v)
        {
            var pars = new List<KeyValuePair<string, SpecValue?>>();
            List<LayerSpec>? layers = null;
            if (v is not YamlTreeMapping m)
            {
                Problem(v, null, $"block '{name}': expected a mapping with 'params' and 'layers'");
                return new(name, pars, [], At(keyNode));
            }
            foreach (var (key, _, bv) in Entries(m, null, $"block '{name}'", BlockKeys))
            {
                if (key == "layers") { layers = Layers(bv, null); continue; }
                switch (bv)
                {
                    case YamlTreeSequence seq:
                        foreach (var item in seq.Items)
                            if (item is YamlTreeScalar { Value.Length: > 0 } p) pars.Add(new(p.Value, null));
                            else Problem(item, null, $"block '{name}': parameter names must be plain names");
                        break;
                    case YamlTreeMapping pm:
                        foreach (var (pk, _, pv) in Entries(pm, null, $"block '{name}' params", null))
                            pars.Add(new(pk, pv is YamlTreeScalar { Value: "" or "null" or "~" } ? null : Value(pv, null, pk)));
                        break;
                    default:
                        Problem(bv, null, $"block '{name}': params must be a list of names or a mapping of name: default");
                        break;
                }
            }
            if (layers is null) Problem(keyNode, null, $"block '{name}' has no 'layers'");
            return new(name, pars, layers ?? [], At(keyNode));
        }

        private List<LayerSpec> Layers(YamlTreeNode v, string? parent)
        {
            var result = new List<LayerSpec>();
            if (v is not YamlTreeSequence seq)
            {
                Problem(v, parent, "'layers' must be a list");
                return result;
            }
            foreach (var item in seq.Items)
            {
                if (item is YamlTreeMapping m) result.Add(Layer(m));
                else Problem(item, parent, "each layer must be a mapping with a 'type' or a 'block'");
            }
            return result;
        }

        private LayerSpec Layer(YamlTreeMapping m)
        {
            string? name = m.Entries.FirstOrDefault(e => e.Key.Value == "name").Value is YamlTreeScalar ns ? ns.Value : null;
            string label = name ?? $"(unnamed, line {m.Line})";
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
                        if (v is YamlTreeMapping am)
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

        private List<OutputSpec> Outputs(YamlTreeNode v)
        {
            var result = new List<OutputSpec>();
            if (v is not YamlTreeSequence seq)
            {
                Problem(v, null, "'outputs' must be a list of layer names or {layer, weight} mappings, main head first");
                return result;
            }
            foreach (var item in seq.Items)
            {
                if (item is YamlTreeScalar s) { result.Add(new(s.Value, 1, At(item))); continue; }
                if (item is not YamlTreeMapping m) { Problem(item, null, "an output is a layer name or {layer, weight}"); continue; }
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

        private string? Text(YamlTreeNode v, string? layer, string key)
        {
            if (v is YamlTreeScalar s) return s.Value;
            Problem(v, layer, $"'{key}' must be a single value, got a {(v is YamlTreeSequence ? "list" : "mapping")}");
            return null;
        }

        private SpecValue? Value(YamlTreeNode v, string? layer, string key)
        {
            switch (v)
            {
                case YamlTreeScalar s:
                    return SpecValue.Scalar(s.Value, At(s));
                case YamlTreeSequence seq:
                    var items = new List<SpecValue>();
                    foreach (var c in seq.Items)
                        if (Value(c, layer, key) is { } cv) items.Add(cv);
                    return new SpecValue(null, items, At(seq));
                default:
                    Problem(v, layer, $"'{key}' must be a value or a list, got a mapping");
                    return null;
            }
        }
    }
}
