using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;

namespace ModelInService.BatchScoring;

/// <summary>
/// Builds <typeparamref name="TInput"/> objects from chunk columns: each settable property gets its column by the
/// mapping, else by name (ignoring case and underscores). A null or unparsable value rejects the row with a reason.
/// </summary>
internal sealed class InputBinder<[DynamicallyAccessedMembers(InputBinder.Members)] TInput>
{
    private readonly Func<TInput> _create;
    private readonly MemberBinding[] _members;

    private InputBinder(Func<TInput> create, MemberBinding[] members, IReadOnlyList<string> columns)
    {
        _create = create;
        _members = members;
        Columns = columns;
    }

    /// <summary>The input columns, in chunk order; the id column is first.</summary>
    public IReadOnlyList<string> Columns { get; }

    public static InputBinder<TInput> Create(IReadOnlyList<string> available, string idColumn, IDictionary<string, string> mapping, string filePath)
    {
        var type = typeof(TInput);
        if (type.IsValueType || type.GetConstructor(Type.EmptyTypes) is null)
        {
            throw new ArgumentException($"{type.Name} needs a public parameterless constructor and settable properties to be bound from columns.");
        }

        Func<TInput> create = Activator.CreateInstance<TInput>;
        var columns = new List<string> { idColumn };
        var members = new List<MemberBinding>();
        foreach (var unknown in mapping.Keys.Where(k => type.GetProperty(k) is null))
        {
            throw new ArgumentException($"ColumnMapping names '{unknown}', which is not a property of {type.Name}.");
        }

        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.SetMethod is not { IsPublic: true })
            {
                continue;
            }

            var required = property.GetCustomAttribute<ModelInputAttribute>() is not null;
            var elementType = property.PropertyType.IsArray ? property.PropertyType.GetElementType()! : null;
            string[] sources;
            if (mapping.TryGetValue(property.Name, out var mapped))
            {
                sources = mapped.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            }
            else if (elementType is null && Match(available, property.Name) is { } match)
            {
                sources = [match];
            }
            else if (required)
            {
                throw new BatchInputException(filePath, "header",
                    $"no column for {type.Name}.{property.Name} (columns: {string.Join(", ", available)}); add ColumnMapping[\"{property.Name}\"] = \"column\"" +
                    (elementType is null ? "" : " (comma-separated columns for an array)"), null);
            }
            else
            {
                continue;
            }

            foreach (var source in sources)
            {
                if (!available.Contains(source))
                {
                    throw new BatchInputException(filePath, "header", $"no column '{source}' for {type.Name}.{property.Name} (columns: {string.Join(", ", available)})", null);
                }
            }

            var indices = new int[sources.Length];
            for (var i = 0; i < sources.Length; i++)
            {
                var at = columns.IndexOf(sources[i]);
                if (at < 0)
                {
                    at = columns.Count;
                    columns.Add(sources[i]);
                }

                indices[i] = at;
            }

            members.Add(MemberBinding.For(property, elementType, indices, sources));
        }

        return new InputBinder<TInput>(create, [.. members], columns);
    }

    private static string? Match(IReadOnlyList<string> available, string name)
    {
        var normalized = Normalize(name);
        return available.FirstOrDefault(c => string.Equals(c, name, StringComparison.OrdinalIgnoreCase))
            ?? available.FirstOrDefault(c => Normalize(c) == normalized);
    }

    private static string Normalize(string name) => name.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal).ToUpperInvariant();

    /// <summary>Binds row <paramref name="row"/> of <paramref name="chunk"/>; null and a reason when it is rejected.</summary>
    public TInput? Bind(RowChunk chunk, int row, out string? reason)
    {
        var input = _create();
        foreach (var member in _members)
        {
            reason = member.Bind(input, chunk, row);
            if (reason is not null)
            {
                return default;
            }
        }

        reason = null;
        return input;
    }

    private abstract class MemberBinding
    {
        public abstract string? Bind(TInput target, RowChunk chunk, int row);

        public static MemberBinding For(PropertyInfo property, Type? elementType, int[] indices, string[] sources)
        {
            if (elementType is not null)
            {
                return elementType == typeof(float) ? new ArrayBinding<float>(property, indices, sources)
                    : elementType == typeof(double) ? new ArrayBinding<double>(property, indices, sources)
                    : elementType == typeof(long) ? new ArrayBinding<long>(property, indices, sources)
                    : elementType == typeof(int) ? new ArrayBinding<int>(property, indices, sources)
                    : throw new ArgumentException($"{property.DeclaringType!.Name}.{property.Name}: arrays of {elementType.Name} cannot be bound from columns.");
            }

            if (indices.Length != 1)
            {
                throw new ArgumentException($"ColumnMapping[\"{property.Name}\"] lists {indices.Length} columns, but the property is not an array.");
            }

            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var nullable = type != property.PropertyType || !type.IsValueType;
            return type == typeof(float) ? new ScalarBinding<float>(property, indices[0], sources[0], nullable)
                : type == typeof(double) ? new ScalarBinding<double>(property, indices[0], sources[0], nullable)
                : type == typeof(long) ? new ScalarBinding<long>(property, indices[0], sources[0], nullable)
                : type == typeof(int) ? new ScalarBinding<int>(property, indices[0], sources[0], nullable)
                : type == typeof(bool) ? new ScalarBinding<bool>(property, indices[0], sources[0], nullable)
                : type == typeof(string) ? new StringBinding(property, indices[0], sources[0])
                : throw new ArgumentException($"{property.DeclaringType!.Name}.{property.Name}: type {property.PropertyType.Name} cannot be bound from a column.");
        }

        protected static string NotANumber(string source, SourceColumn column, int row) =>
            string.Create(CultureInfo.InvariantCulture, $"column '{source}': '{column.GetString(row)}' is not a number");

        protected static string Null(string source) => $"column '{source}' is null";

        protected static string Unconvertible(string source, string reason) => $"column '{source}': {reason}";
    }

    private sealed class ScalarBinding<T>(PropertyInfo property, int index, string source, bool nullable) : MemberBinding
        where T : struct
    {
        private readonly Action<TInput, T?>? _setNullable = nullable ? Setter<T?>(property) : null;
        private readonly Action<TInput, T>? _set = nullable ? null : Setter<T>(property);

        public override string? Bind(TInput target, RowChunk chunk, int row)
        {
            var column = chunk.Columns[index];
            if (column.IsNull(row))
            {
                if (_setNullable is null)
                {
                    return Null(source);
                }

                _setNullable(target, null);
                return null;
            }

            if (!column.TryGetDouble(row, out var number))
            {
                return NotANumber(source, column, row);
            }

            if (NumberConversion.TryConvert<T>(number, out var value) is { } reason)
            {
                return Unconvertible(source, reason);
            }

            if (_set is not null)
            {
                _set(target, value);
            }
            else
            {
                _setNullable!(target, value);
            }

            return null;
        }
    }

    private sealed class StringBinding(PropertyInfo property, int index, string source) : MemberBinding
    {
        private readonly Action<TInput, string?> _set = Setter<string?>(property);
        private readonly bool _required = property.GetCustomAttribute<ModelInputAttribute>() is not null;

        public override string? Bind(TInput target, RowChunk chunk, int row)
        {
            var value = chunk.Columns[index].GetString(row);
            if (value is null && _required)
            {
                return Null(source);
            }

            _set(target, value);
            return null;
        }
    }

    private sealed class ArrayBinding<T>(PropertyInfo property, int[] indices, string[] sources) : MemberBinding
        where T : struct
    {
        private readonly Action<TInput, T[]> _set = Setter<T[]>(property);

        public override string? Bind(TInput target, RowChunk chunk, int row)
        {
            var values = new T[indices.Length];
            for (var i = 0; i < indices.Length; i++)
            {
                var column = chunk.Columns[indices[i]];
                if (column.IsNull(row))
                {
                    return Null(sources[i]);
                }

                if (!column.TryGetDouble(row, out var number))
                {
                    return NotANumber(sources[i], column, row);
                }

                if (NumberConversion.TryConvert<T>(number, out values[i]) is { } reason)
                {
                    return Unconvertible(sources[i], reason);
                }
            }

            _set(target, values);
            return null;
        }
    }

    // The property's own setter as an open-instance delegate: a direct call under the JIT and Native AOT alike (a
    // compiled expression tree would be interpreted there). Value types, which cannot bind one, are refused by Create.
    private static Action<TInput, TValue> Setter<TValue>(PropertyInfo property) =>
        property.SetMethod!.CreateDelegate<Action<TInput, TValue>>();
}

/// <summary>What <see cref="InputBinder{TInput}"/> reflects on (kept by the trimmer).</summary>
internal static class InputBinder
{
    public const DynamicallyAccessedMemberTypes Members = DynamicallyAccessedMemberTypes.PublicParameterlessConstructor | DynamicallyAccessedMemberTypes.PublicProperties;
}
