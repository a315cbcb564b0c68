using System.Globalization;
using System.Text;

namespace ModelInService.Tool;

/// <summary>Turns tensor and file names (<c>input:0</c>, <c>p2o.x</c>, <c>x.1</c>, <c>float_input</c>) into C# identifiers.</summary>
internal static class CSharpNames
{
    private static readonly HashSet<string> ObjectMembers = new(StringComparer.Ordinal) { "Equals", "GetHashCode", "GetType", "ToString", "MemberwiseClone", "Finalize", "ReferenceEquals" };

    /// <summary>
    /// A PascalCase identifier: the name split at every character that cannot be part of an identifier and at
    /// underscores, each part capitalized; <c>Tensor</c> in front when it would start with a digit or be empty.
    /// </summary>
    public static string ToPascal(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var sb = new StringBuilder();
        var upper = true;
        foreach (var c in name)
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                sb.Append(upper ? char.ToUpperInvariant(c) : c);
                upper = false;
            }
            else
            {
                upper = true;
            }
        }

        if (sb.Length == 0 || char.IsDigit(sb[0]))
        {
            sb.Insert(0, "Tensor");
        }

        return sb.ToString();
    }

    /// <summary>The C# reserved keywords (all lowercase, so no PascalCase name is one).</summary>
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue",
        "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally",
        "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock",
        "long", "namespace", "new", "null", "object", "operator", "out", "override", "params", "private", "protected",
        "public", "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string",
        "struct", "switch", "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort",
        "using", "virtual", "void", "volatile", "while",
    };

    /// <summary>Whether <paramref name="identifier"/> is a C# identifier (ASCII letters, digits, underscores; not a keyword).</summary>
    public static bool IsValidIdentifier(string identifier) =>
        identifier.Length > 0
        && (char.IsAsciiLetter(identifier[0]) || identifier[0] == '_')
        && identifier.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')
        && !Keywords.Contains(identifier);

    /// <summary>
    /// Member names for <paramref name="names"/>, unique within the class: not the class's own name, not an
    /// <see cref="object"/> member, with <c>2</c>, <c>3</c>... appended on collisions.
    /// </summary>
    public static IReadOnlyList<string> MemberNames(IEnumerable<string> names, string className)
    {
        var used = new HashSet<string>(StringComparer.Ordinal) { className };
        var result = new List<string>();
        foreach (var name in names)
        {
            var baseName = ToPascal(name);
            if (ObjectMembers.Contains(baseName) || !IsValidIdentifier(baseName))
            {
                baseName += "Value";
            }

            var candidate = baseName;
            for (var n = 2; !used.Add(candidate); n++)
            {
                candidate = baseName + n.ToString(CultureInfo.InvariantCulture);
            }

            result.Add(candidate);
        }

        return result;
    }

    /// <summary>A class-name prefix from the model file: its name, or its folder's name when the file is <c>model.onnx</c>.</summary>
    public static string PrefixFromPath(string path)
    {
        var stem = Path.GetFileNameWithoutExtension(path);
        if (string.Equals(stem, "model", StringComparison.OrdinalIgnoreCase))
        {
            var folder = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(path)));
            if (!string.IsNullOrEmpty(folder))
            {
                stem = folder;
            }
        }

        return ToPascal(stem);
    }

    /// <summary>Whether <paramref name="ns"/> is a valid dotted namespace name.</summary>
    public static bool IsValidNamespace(string ns) =>
        !string.IsNullOrEmpty(ns) && ns.Split('.').All(IsValidIdentifier);

    /// <summary>Escapes text for an XML doc comment.</summary>
    public static string Xml(string text) =>
        OneLine(text).Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    /// <summary>
    /// <paramref name="text"/> safe inside a <c>//</c> or <c>///</c> comment line: control characters and the line
    /// terminators C# knows (CR, LF, U+0085, U+2028, U+2029) shown as <c>\uXXXX</c>. A name with a line break otherwise
    /// ends the comment and the rest of it becomes code that does not compile.
    /// </summary>
    public static string OneLine(string text)
    {
        StringBuilder? sb = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsControl(c) || c is '\u2028' or '\u2029')
            {
                sb ??= new StringBuilder(text, 0, i, text.Length + 8);
                sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                sb?.Append(c);
            }
        }

        return sb?.ToString() ?? text;
    }

    /// <summary>A C# string literal for <paramref name="text"/>.</summary>
    public static string Literal(string text)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in text)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                default:
                    if (char.IsControl(c) || char.IsSurrogate(c) || c > 126)
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        return sb.Append('"').ToString();
    }
}
