using System.Globalization;

namespace Kiln.Config;

/// <summary>
/// Parameter substitution in network files. A value that is exactly <c>$name</c> becomes the
/// parameter's value (any kind: number, name, true/false); each <c>${expr}</c> inside a value is
/// replaced by the value of an integer expression over parameters: literals, <c>+ - * / %</c>,
/// comparisons, <c>&amp;&amp; || !</c>, parentheses and <c>cond ? a : b</c>. Nothing else:
/// a network file never runs code.
/// </summary>
public static class ParamExpression
{
    /// <summary>Substitutes <paramref name="text"/>; <paramref name="lookup"/> gives a parameter's value or null if unknown. Throws <see cref="FormatException"/> with the reason.</summary>
    public static string Substitute(string text, Func<string, string?> lookup)
    {
        if (!text.Contains('$')) return text;
        if (text.Length > 1 && text[0] == '$' && text[1] != '{' && IsIdentifier(text.AsSpan(1)))
            return lookup(text[1..]) ?? throw new FormatException($"unknown parameter '{text[1..]}'");
        var sb = new System.Text.StringBuilder();
        int i = 0;
        while (i < text.Length)
        {
            int start = text.IndexOf("${", i, StringComparison.Ordinal);
            if (start < 0) { sb.Append(text, i, text.Length - i); break; }
            sb.Append(text, i, start - i);
            int end = text.IndexOf('}', start);
            if (end < 0) throw new FormatException($"'${{' without a closing '}}' in '{text}'");
            var (value, isBool) = new Parser(text.Substring(start + 2, end - start - 2), lookup).ParseAll();
            sb.Append(isBool ? (value != 0 ? "true" : "false") : value.ToString(CultureInfo.InvariantCulture));
            i = end + 1;
        }
        var result = sb.ToString();
        if (result.Contains('$')) throw new FormatException($"'$' must start '$name' (a whole value) or '${{expression}}', in '{text}'");
        return result;
    }

    private static bool IsIdentifier(ReadOnlySpan<char> s)
    {
        if (s.Length == 0 || !(char.IsLetter(s[0]) || s[0] == '_')) return false;
        foreach (char c in s)
            if (!(char.IsLetterOrDigit(c) || c == '_')) return false;
        return true;
    }

    private sealed class Parser(string src, Func<string, string?> lookup)
    {
        private int _pos;

        public (long, bool) ParseAll()
        {
            var v = Ternary();
            Skip();
            if (_pos != src.Length) throw Error($"unexpected '{src[_pos..]}'");
            return v;
        }

        private FormatException Error(string what) => new($"expression '{src}': {what}");

        private void Skip() { while (_pos < src.Length && src[_pos] == ' ') _pos++; }

        private bool Eat(string token)
        {
            Skip();
            if (string.CompareOrdinal(src, _pos, token, 0, token.Length) != 0) return false;
            // keep "<" from eating the first half of "<=", "!" of "!=", etc.
            if (token.Length == 1 && _pos + 1 < src.Length && "<>!=&|".Contains(token[0]) && src[_pos + 1] == '=' && token != "=") return false;
            _pos += token.Length;
            return true;
        }

        private (long V, bool B) Ternary()
        {
            var c = Or();
            if (!Eat("?")) return c;
            var a = Ternary();
            if (!Eat(":")) throw Error("'?' without ':'");
            var b = Ternary();
            return c.V != 0 ? a : b;
        }

        private (long V, bool B) Or()
        {
            var a = And();
            while (Eat("||")) { var b = And(); a = ((a.V != 0 || b.V != 0) ? 1 : 0, true); }
            return a;
        }

        private (long V, bool B) And()
        {
            var a = Compare();
            while (Eat("&&")) { var b = Compare(); a = ((a.V != 0 && b.V != 0) ? 1 : 0, true); }
            return a;
        }

        private (long V, bool B) Compare()
        {
            var a = Sum();
            foreach (var op in (string[])["==", "!=", "<=", ">=", "<", ">"])
            {
                if (!Eat(op)) continue;
                var b = Sum();
                bool r = op switch
                {
                    "==" => a.V == b.V,
                    "!=" => a.V != b.V,
                    "<=" => a.V <= b.V,
                    ">=" => a.V >= b.V,
                    "<" => a.V < b.V,
                    _ => a.V > b.V,
                };
                return (r ? 1 : 0, true);
            }
            return a;
        }

        private (long V, bool B) Sum()
        {
            var a = Product();
            while (true)
            {
                if (Eat("+")) a = (checked(a.V + Product().V), false);
                else if (Eat("-")) a = (checked(a.V - Product().V), false);
                else return a;
            }
        }

        private (long V, bool B) Product()
        {
            var a = Unary();
            while (true)
            {
                if (Eat("*")) a = (checked(a.V * Unary().V), false);
                else if (Eat("/")) { long d = Unary().V; a = (d == 0 ? throw Error("division by zero") : a.V / d, false); }
                else if (Eat("%")) { long d = Unary().V; a = (d == 0 ? throw Error("division by zero") : a.V % d, false); }
                else return a;
            }
        }

        private (long V, bool B) Unary()
        {
            if (Eat("-")) return (-Unary().V, false);
            if (Eat("!")) return (Unary().V == 0 ? 1 : 0, true);
            return Primary();
        }

        private (long V, bool B) Primary()
        {
            Skip();
            if (Eat("("))
            {
                var v = Ternary();
                if (!Eat(")")) throw Error("missing ')'");
                return v;
            }
            int start = _pos;
            if (_pos < src.Length && char.IsDigit(src[_pos]))
            {
                while (_pos < src.Length && char.IsDigit(src[_pos])) _pos++;
                return (long.Parse(src.AsSpan(start, _pos - start), CultureInfo.InvariantCulture), false);
            }
            while (_pos < src.Length && (char.IsLetterOrDigit(src[_pos]) || src[_pos] == '_')) _pos++;
            if (_pos == start) throw Error(_pos < src.Length ? $"unexpected '{src[_pos]}'" : "unexpected end");
            string name = src[start.._pos];
            if (name == "true") return (1, true);
            if (name == "false") return (0, true);
            string value = lookup(name) ?? throw Error($"unknown parameter '{name}'");
            if (value is "true" or "false") return (value == "true" ? 1 : 0, true);
            if (long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n)) return (n, false);
            throw Error($"parameter '{name}' is '{value}', not an integer or true/false");
        }
    }
}
