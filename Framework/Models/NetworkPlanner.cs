using System.Globalization;
using Kiln.Config;
using Kiln.Nn;

namespace Kiln.Models;

/// <summary>
/// Turns a <see cref="NetworkSpec"/> into a <see cref="NetworkPlan"/>: instantiates blocks (parameter
/// substitution, <c>repeat</c> with generated names), resolves input names, checks each layer's keys
/// and infers every shape, all without tensors. Collects every problem it can find and throws them
/// together; a layer whose input is already broken is skipped rather than reported again.
/// </summary>
public static class NetworkPlanner
{
    /// <summary>The layer types a network file can use.</summary>
    public static readonly string[] LayerTypes =
    [
        "conv", "linear", "batchnorm", "relu", "dropout", "lrn", "maxpool", "avgpool", "global_avgpool",
        "concat", "add", "flatten", "softmax", "maxout", "pad_shortcut", "sequential",
    ];

    /// <summary>
    /// Plans <paramref name="spec"/> for inputs of size <paramref name="input"/> (C, H, W; default: the
    /// file's <c>input</c>), with network parameters overridden by <paramref name="overrides"/>.
    /// </summary>
    public static NetworkPlan Plan(NetworkSpec spec, int[]? input = null, IReadOnlyDictionary<string, string>? overrides = null) =>
        new Planner(spec).Run(input, overrides);

    private const int Broken = int.MinValue;

    private sealed class Namer(string prefix, bool indexed)
    {
        public string Prefix { get; } = prefix;
        public bool Indexed { get; } = indexed;
        public int Next { get; set; }
    }

    private sealed class Scope
    {
        public Scope? Parent { get; init; }
        public required string Prefix { get; init; }
        public required Namer Namer { get; init; }
        public required Dictionary<string, string> Env { get; init; }
        public Dictionary<string, int> Local { get; } = [];
        public string Context { get; init; } = "";
    }

    private sealed class Planner(NetworkSpec spec)
    {
        private readonly List<NetworkProblem> _problems = [];
        private readonly List<LayerPlan> _layers = [];
        private readonly HashSet<int> _broken = [];
        private readonly Dictionary<string, int> _names = [];
        private readonly Dictionary<string, SourceLocation> _nameWhere = [];
        private readonly Dictionary<string, int> _autoCounters = [];
        private readonly Dictionary<string, BlockSpec> _blocks = [];
        private readonly Stack<string> _instantiating = new();
        private int[] _input = [];

        private void Problem(SourceLocation where, string? layer, string message) => _problems.Add(new(where, layer, message));

        public NetworkPlan Run(int[]? input, IReadOnlyDictionary<string, string>? overrides)
        {
            var top = new SourceLocation(spec.File, 1);
            var env = new Dictionary<string, string>();
            foreach (var (k, v) in spec.Params)
            {
                if (v.IsList) Problem(v.Where, null, $"network parameter '{k}' must be a single value");
                else env[k] = v.Text!;
            }
            foreach (var (k, v) in overrides ?? new Dictionary<string, string>())
            {
                if (!env.ContainsKey(k))
                    Problem(top, null, $"unknown network parameter '{k}' (known: {string.Join(", ", env.Keys)})");
                env[k] = v;
            }
            foreach (var b in spec.Blocks)
            {
                if (!_blocks.TryAdd(b.Name, b)) Problem(b.Where, null, $"duplicate block '{b.Name}'");
            }

            _input = input ?? ReadInput(top);
            var root = new Scope { Prefix = "", Namer = new Namer("", false), Env = env };
            int last = Expand(spec.Layers, root, -1);

            var heads = new List<NetworkHead>();
            if (spec.Outputs.Count == 0)
            {
                if (last >= 0) heads.Add(new(_layers[last].Name, last, 1));
            }
            foreach (var o in spec.Outputs)
            {
                if (!_names.TryGetValue(o.Layer, out int id))
                    Problem(o.Where, null, $"output '{o.Layer}' names no layer");
                else if (id < 0)
                    Problem(o.Where, null, $"output '{o.Layer}' is the network input, not a layer");
                else heads.Add(new(o.Layer, id, o.Weight));
            }
            if (_layers.Count == 0) Problem(top, null, "the network has no layers");
            CheckModuleNames();
            if (_problems.Count > 0) throw new NetworkDefinitionException(_problems);

            MarkEvaluation(heads[0].LayerIndex);
            return new NetworkPlan(spec, _input, _layers, heads);
        }

        private int[] ReadInput(SourceLocation top)
        {
            var v = spec.Input;
            if (v is null)
            {
                Problem(top, null, "no 'input' size, e.g. input: [3, 224, 224] (or give one when building)");
                return [3, 224, 224];
            }
            var items = v.IsList ? v.Items! : [v];
            var dims = new List<int>();
            foreach (var i in items)
            {
                if (!i.IsList && int.TryParse(i.Text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int d) && d > 0) dims.Add(d);
                else Problem(i.Where, null, $"'input' needs positive integers [C, H, W], got '{i}'");
            }
            if (dims.Count != 3 && dims.Count != 1) Problem(v.Where, null, $"'input' needs [C, H, W] (or [F]), got {v}");
            return dims.Count is 1 or 3 ? dims.ToArray() : [3, 224, 224];
        }

        private void MarkEvaluation(int i)
        {
            if (i < 0 || _layers[i].InEvaluation) return;
            _layers[i].InEvaluation = true;
            foreach (int j in _layers[i].InputIds) MarkEvaluation(j);
        }

        private void CheckModuleNames()
        {
            var owners = _layers.Where(l => l.CreateModule is not null).ToDictionary(l => l.Name, l => l, StringComparer.Ordinal);
            foreach (var l in owners.Values)
            {
                if (l.Name.Split('.').Any(s => s.Length == 0))
                    Problem(l.Where, l.Name, "a layer name has an empty part between dots");
                for (int dot = l.Name.IndexOf('.'); dot > 0; dot = l.Name.IndexOf('.', dot + 1))
                    if (owners.TryGetValue(l.Name[..dot], out var outer))
                        Problem(l.Where, l.Name, $"its name lies inside layer '{outer.Name}' ({outer.Where}), which has parameters of its own");
            }
        }

        private string Sub(SpecValue v, Scope scope, string? layer) => Sub(v.Text!, v.Where, scope.Env, layer, scope.Context);

        private string Sub(string text, SourceLocation where, Dictionary<string, string> env, string? layer, string context)
        {
            try
            {
                return ParamExpression.Substitute(text, n => env.GetValueOrDefault(n));
            }
            catch (FormatException e)
            {
                Problem(where, layer, e.Message + context);
                return text;
            }
        }

        private SpecValue? SubValue(SpecValue v, Scope scope, string layer)
        {
            if (!v.IsList)
            {
                int before = _problems.Count;
                var t = Sub(v, scope, layer);
                return _problems.Count == before ? v with { Text = t } : null;
            }
            var items = new List<SpecValue>();
            foreach (var i in v.Items!)
            {
                var s = SubValue(i, scope, layer);
                if (s is null) return null;
                items.Add(s);
            }
            return v with { Items = items };
        }

        private void Register(string name, int id, SourceLocation where, string context)
        {
            if (_names.ContainsKey(name))
            {
                Problem(where, name, $"duplicate layer name (first at {_nameWhere[name]}){context}");
                return;
            }
            _names[name] = id;
            _nameWhere[name] = where;
        }

        private int Lookup(string reference, Scope scope, SourceLocation where, string layer)
        {
            for (var s = scope; s is not null; s = s.Parent)
            {
                if (s.Local.TryGetValue(reference, out int id)) return id;
                if (_names.TryGetValue(s.Prefix + reference, out id)) return id;
            }
            if (reference == "input") return -1;
            Problem(where, layer, $"input '{reference}' does not exist: no earlier layer has that name{scope.Context}");
            return Broken;
        }

        private int Expand(IReadOnlyList<LayerSpec> list, Scope scope, int prev)
        {
            foreach (var l in list)
            {
                string label = l.Name is null ? l.Type ?? l.Block ?? "?" : scope.Namer.Prefix + Sub(l.Name, l.Where, scope.Env, null, scope.Context);
                var inputs = l.Inputs is null
                    ? [prev]
                    : l.Inputs.Select(i => i.IsList ? NestedList(i, label) : Lookup(Sub(i, scope, label), scope, i.Where, label)).ToArray();
                if (inputs.Length == 0) { Problem(l.Where, label, "'inputs' is empty"); inputs = [Broken]; }

                if (l.When is not null)
                {
                    string w = l.When.IsList ? "" : Sub(l.When, scope, label);
                    if (w is not ("true" or "false")) Problem(l.When.Where, label, $"'when' needs true or false, got '{l.When}'{scope.Context}");
                    else if (w == "false")
                    {
                        // A layer left out stands for its input, so references to it pass through (an absent shortcut projection).
                        if (l.Name is not null) Register(label, inputs[0], l.Where, scope.Context);
                        prev = inputs[0];
                        continue;
                    }
                }

                if (l.Block is not null) prev = ExpandBlock(l, label, scope, inputs);
                else if (l.Type == "sequential")
                {
                    if (l.Name is null) { Problem(l.Where, null, "a sequential needs a 'name' (its layers are named name.0, name.1, ...)"); prev = Broken; continue; }
                    var child = new Scope { Parent = scope, Prefix = label + ".", Namer = new Namer(label + ".", true), Env = scope.Env, Context = scope.Context };
                    prev = Expand(l.Layers!, child, inputs[0]);
                    Register(label, prev, l.Where, scope.Context);
                }
                else
                {
                    string name = l.Name is not null ? label
                        : scope.Namer.Indexed ? scope.Namer.Prefix + (scope.Namer.Next++).ToString(CultureInfo.InvariantCulture)
                        : AutoName(scope.Namer.Prefix, l.Type ?? "layer");
                    prev = PlanLayer(name, l, scope, inputs);
                    Register(name, prev, l.Where, scope.Context);
                }
            }
            return prev;
        }

        private int NestedList(SpecValue v, string layer)
        {
            Problem(v.Where, layer, $"'inputs' takes layer names, got the list {v}");
            return Broken;
        }

        private string AutoName(string prefix, string type)
        {
            string key = prefix + type;
            int n = _autoCounters.GetValueOrDefault(key);
            _autoCounters[key] = n + 1;
            return $"{prefix}{type}_{n}";
        }

        private int ExpandBlock(LayerSpec l, string label, Scope scope, int[] inputs)
        {
            if (!_blocks.TryGetValue(l.Block!, out var block))
            {
                Problem(l.Where, label, $"unknown block '{l.Block}' (defined: {string.Join(", ", _blocks.Keys)})");
                return Broken;
            }
            if (_instantiating.Contains(block.Name))
            {
                Problem(l.Where, label, $"block '{block.Name}' instantiates itself");
                return Broken;
            }
            if (inputs.Length != 1) Problem(l.Where, label, $"a block instance takes one input, got {inputs.Length}");
            int count = 1;
            if (l.Repeat is not null)
            {
                string r = l.Repeat.IsList ? "" : Sub(l.Repeat, scope, label);
                if (!int.TryParse(r, NumberStyles.Integer, CultureInfo.InvariantCulture, out count) || count < 1)
                {
                    Problem(l.Repeat.Where, label, $"'repeat' needs a positive integer, got '{l.Repeat}'{scope.Context}");
                    return Broken;
                }
            }
            foreach (var (k, v) in l.Args)
                if (!block.Params.Any(p => p.Key == k))
                    Problem(v.Where, label, $"block '{block.Name}' has no parameter '{k}' (its parameters: {string.Join(", ", block.Params.Select(p => p.Key))})");

            int current = inputs[0];
            for (int r = 0; r < count; r++)
            {
                var callerEnv = new Dictionary<string, string>(scope.Env);
                if (l.Repeat is not null) callerEnv["index"] = r.ToString(CultureInfo.InvariantCulture);
                var env = new Dictionary<string, string>(scope.Env);
                env.Remove("index");
                foreach (var (p, def) in block.Params)
                {
                    var arg = l.Args.FirstOrDefault(a => a.Key == p).Value;
                    var v = arg ?? def;
                    if (v is null) { Problem(l.Where, label, $"block '{block.Name}' needs argument '{p}'"); continue; }
                    if (v.IsList) { Problem(v.Where, label, $"argument '{p}' must be a single value"); continue; }
                    env[p] = Sub(v.Text!, v.Where, arg is null ? scope.Env : callerEnv, label, scope.Context);
                }
                bool named = l.Name is not null;
                string instance = named ? (l.Repeat is null ? label : $"{label}.{r}") : scope.Namer.Prefix;
                var child = new Scope
                {
                    Parent = scope,
                    Prefix = named ? instance + "." : scope.Prefix,
                    Namer = named ? new Namer(instance + ".", false) : scope.Namer,
                    Env = env,
                    Context = $" (in block '{block.Name}' used at {l.Where}{(named ? $" as '{instance}'" : "")}){scope.Context}",
                };
                child.Local["in"] = current;
                _instantiating.Push(block.Name);
                current = Expand(block.Layers, child, current);
                _instantiating.Pop();
                if (named && l.Repeat is not null) Register(instance, current, l.Where, scope.Context);
            }
            if (l.Name is not null) Register(label, current, l.Where, scope.Context);
            return current;
        }

        private int PlanLayer(string name, LayerSpec l, Scope scope, int[] inputIds)
        {
            int id = _layers.Count;
            var type = l.Type!;
            var plan = new LayerPlan(name, type, l.Where)
            {
                InputIds = inputIds,
                Inputs = inputIds.Select(i => i == -1 ? "input" : i >= 0 ? _layers[i].Name : "?").ToArray(),
            };
            _layers.Add(plan);
            if (!LayerTypes.Contains(type))
            {
                Problem(l.Where, name, $"unknown layer type '{type}' (known: {string.Join(", ", LayerTypes)}){scope.Context}");
                _broken.Add(id);
                return id;
            }
            var options = new List<KeyValuePair<string, SpecValue>>();
            foreach (var (k, v) in l.Options)
                if (SubValue(v, scope, name) is { } s) options.Add(new(k, s));
            int before = _problems.Count;
            var args = new LayerArgs(options, (where, message) => Problem(where, name, message + scope.Context), l.Where);
            if (inputIds.Any(i => i != -1 && (i < 0 || _broken.Contains(i))))
            {
                _broken.Add(id);
                return id;
            }
            plan.InputShapes = inputIds.Select(i => i == -1 ? _input : _layers[i].OutputShape).ToArray();
            LayerTypePlanner.Fill(plan, args, (message) => Problem(l.Where, name, message + scope.Context));
            args.ReportUnknown(type);
            if (_problems.Count > before) _broken.Add(id);
            return id;
        }
    }
}
