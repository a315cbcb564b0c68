using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using nietras.SeparatedValues;
using Npgsql;
using NpgsqlTypes;

namespace ModelInService.BatchScoring;

/// <summary>
/// One output column of a scored chunk, held column-wise (one typed array per column): written to PostgreSQL value by
/// value without boxing, to Parquet as the array, to CSV formatted from spans.
/// </summary>
internal abstract class ColumnData(string name)
{
    public string Name { get; } = name;

    public abstract string PostgresType { get; }

    /// <summary>The element type (float, double, long, int, bool or string).</summary>
    public abstract Type ClrType { get; }

    /// <summary>Whether a value may be null (a nullable output member, a missing map key).</summary>
    public abstract bool HasNulls { get; }

    /// <summary>The values, one per written row (nulls as default values, see <see cref="HasNulls"/>).</summary>
    public abstract Array Values { get; }

    public abstract void Write(NpgsqlBinaryImporter importer, int row);

    /// <summary>Whether row <paramref name="row"/> holds NaN or an infinity (float and double columns; never for a null).</summary>
    public abstract bool IsNonFinite(int row, out double value);

    /// <summary>A column of the rows <paramref name="keep"/>[0..<paramref name="count"/>), in that order.</summary>
    public abstract ColumnData Keep(int[] keep, int count);

    public abstract void Format(SepWriter.Col col, int row);

    /// <summary>A column of no values for a model element type, or null when it cannot be written.</summary>
    public static ColumnData? Empty(string name, ModelElementType type) => type switch
    {
        ModelElementType.Float32 => new ColumnData<float>(name, [], null),
        ModelElementType.Float64 => new ColumnData<double>(name, [], null),
        ModelElementType.Int64 => new ColumnData<long>(name, [], null),
        ModelElementType.Int32 => new ColumnData<int>(name, [], null),
        ModelElementType.Bool => new ColumnData<bool>(name, [], null),
        ModelElementType.String => new ColumnData<string?>(name, [], null),
        _ => null,
    };

    /// <summary>A column of no values for a CLR element type, or null when it cannot be written.</summary>
    public static ColumnData? Empty(string name, Type type, bool nullable) =>
        type == typeof(float) ? new ColumnData<float>(name, [], nullable ? [] : null)
        : type == typeof(double) ? new ColumnData<double>(name, [], nullable ? [] : null)
        : type == typeof(long) ? new ColumnData<long>(name, [], nullable ? [] : null)
        : type == typeof(int) ? new ColumnData<int>(name, [], nullable ? [] : null)
        : type == typeof(bool) ? new ColumnData<bool>(name, [], nullable ? [] : null)
        : type == typeof(string) ? new ColumnData<string?>(name, [], null)
        : null;

    /// <summary>The PostgreSQL type of an element type, or null when it cannot be written.</summary>
    public static (NpgsqlDbType DbType, string Name)? PostgresTypeOf(Type type) =>
        type == typeof(float) ? (NpgsqlDbType.Real, "real")
        : type == typeof(double) ? (NpgsqlDbType.Double, "double precision")
        : type == typeof(long) ? (NpgsqlDbType.Bigint, "bigint")
        : type == typeof(int) ? (NpgsqlDbType.Integer, "integer")
        : type == typeof(bool) ? (NpgsqlDbType.Boolean, "boolean")
        : type == typeof(string) ? (NpgsqlDbType.Text, "text")
        : null;
}

/// <summary>A column of <typeparamref name="T"/> values, with an optional null mask.</summary>
internal sealed class ColumnData<T>(string name, T[] values, bool[]? nulls) : ColumnData(name)
{
    private static readonly (NpgsqlDbType DbType, string Name) Database = PostgresTypeOf(typeof(T))
        ?? throw new NotSupportedException($"Cannot write values of type {typeof(T).Name}.");

    public override string PostgresType => Database.Name;

    public override Type ClrType => typeof(T);

    public override bool HasNulls => nulls is not null || typeof(T) == typeof(string);

    public override Array Values => values;

    public T[] Typed => values;

    private bool IsNull(int row) => (nulls is not null && nulls[row]) || values[row] is null;

    public override bool IsNonFinite(int row, out double value)
    {
        value = typeof(T) == typeof(float) ? (float)(object)values[row]!
            : typeof(T) == typeof(double) ? (double)(object)values[row]!
            : 0;
        return !double.IsFinite(value) && !IsNull(row);
    }

    public override ColumnData Keep(int[] keep, int count)
    {
        var kept = new T[count];
        var keptNulls = nulls is null ? null : new bool[count];
        for (var i = 0; i < count; i++)
        {
            kept[i] = values[keep[i]];
            if (keptNulls is not null)
            {
                keptNulls[i] = nulls![keep[i]];
            }
        }

        return new ColumnData<T>(Name, kept, keptNulls);
    }

    public override void Write(NpgsqlBinaryImporter importer, int row)
    {
        // Synchronous: the importer buffers and only blocks when its buffer is flushed to the socket, once per
        // several thousand values; an awaited call per value cost more than the value itself.
        if (IsNull(row))
        {
            importer.WriteNull();
        }
        else
        {
            importer.Write(values[row], Database.DbType);
        }
    }

    public override void Format(SepWriter.Col col, int row)
    {
        if (IsNull(row))
        {
            col.Set("");
        }
        else if (typeof(T) == typeof(float))
        {
            col.Format((float)(object)values[row]!);
        }
        else if (typeof(T) == typeof(double))
        {
            col.Format((double)(object)values[row]!);
        }
        else if (typeof(T) == typeof(long))
        {
            col.Format((long)(object)values[row]!);
        }
        else if (typeof(T) == typeof(int))
        {
            col.Format((int)(object)values[row]!);
        }
        else if (typeof(T) == typeof(bool))
        {
            col.Set((bool)(object)values[row]! ? "true" : "false");
        }
        else
        {
            col.Set(Convert.ToString(values[row], CultureInfo.InvariantCulture));
        }
    }
}

/// <summary>One output column taken from <typeparamref name="TOutput"/>: a scalar property, or one element of an array property.</summary>
internal abstract class OutputColumn<TOutput>(string name)
{
    public string Name { get; } = name;

    /// <summary>The column's values for <paramref name="outputs"/>.</summary>
    public abstract ColumnData Collect(IReadOnlyList<TOutput> outputs);
}

/// <summary>A non-nullable value or a string.</summary>
internal sealed class PlainOutputColumn<TOutput, T>(string name, Func<TOutput, T> get) : OutputColumn<TOutput>(name)
{
    public override ColumnData Collect(IReadOnlyList<TOutput> outputs)
    {
        var values = new T[outputs.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = get(outputs[i]);
        }

        return new ColumnData<T>(Name, values, null);
    }
}

/// <summary>A <see cref="Nullable{T}"/> value: the nulls go to the column's mask.</summary>
internal sealed class NullableOutputColumn<TOutput, T>(string name, Func<TOutput, T?> get) : OutputColumn<TOutput>(name)
    where T : struct
{
    public override ColumnData Collect(IReadOnlyList<TOutput> outputs)
    {
        var values = new T[outputs.Count];
        bool[]? nulls = null;
        for (var i = 0; i < values.Length; i++)
        {
            if (get(outputs[i]) is { } value)
            {
                values[i] = value;
            }
            else
            {
                (nulls ??= new bool[values.Length])[i] = true;
            }
        }

        return new ColumnData<T>(Name, values, nulls);
    }
}

/// <summary>The output columns of <typeparamref name="TOutput"/>: readable scalar properties, and arrays expanded to <c>name_0</c>, <c>name_1</c>... by the first row's length.</summary>
internal static class OutputSchema<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] TOutput>
{
    public static IReadOnlyList<OutputColumn<TOutput>> From(TOutput first)
    {
        var columns = new List<OutputColumn<TOutput>>();
        foreach (var property in typeof(TOutput).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetMethod is not { IsPublic: true } || property.GetIndexParameters().Length > 0)
            {
                continue;
            }

            var name = SnakeCase(property.Name);
            var type = property.PropertyType;
            if (type.IsArray && ColumnData.PostgresTypeOf(type.GetElementType()!) is not null)
            {
                var length = ((Array?)property.GetValue(first))?.Length ?? 0;
                for (var i = 0; i < length; i++)
                {
                    columns.Add(Element(property, i, $"{name}_{i}"));
                }
            }
            else if (ColumnData.PostgresTypeOf(Nullable.GetUnderlyingType(type) ?? type) is not null)
            {
                columns.Add(Column(property, name));
            }
        }

        if (columns.Count == 0)
        {
            throw new ArgumentException($"{typeof(TOutput).Name} has no readable property of a type that can be written (numbers, bool, string, arrays of numbers).");
        }

        return columns;
    }

    /// <summary>The scalar columns of <typeparamref name="TOutput"/> with no values (array members need a row to know their length).</summary>
    public static ColumnData[] Empty()
    {
        var columns = new List<ColumnData>();
        foreach (var property in typeof(TOutput).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetMethod is not { IsPublic: true } || property.GetIndexParameters().Length > 0 || property.PropertyType.IsArray)
            {
                continue;
            }

            var underlying = Nullable.GetUnderlyingType(property.PropertyType);
            if (ColumnData.Empty(SnakeCase(property.Name), underlying ?? property.PropertyType, underlying is not null) is { } column)
            {
                columns.Add(column);
            }
        }

        return [.. columns];
    }

    /// <summary>Collects every column of <paramref name="outputs"/>.</summary>
    public static ColumnData[] Collect(IReadOnlyList<OutputColumn<TOutput>> columns, IReadOnlyList<TOutput> outputs)
    {
        var data = new ColumnData[columns.Count];
        for (var c = 0; c < data.Length; c++)
        {
            data[c] = columns[c].Collect(outputs);
        }

        return data;
    }

    // Closed instantiations over the writable column types (ColumnData.PostgresTypeOf), no MakeGenericType, and the
    // property's getter as a delegate, no expression tree: the same code runs compiled under Native AOT.
    private static OutputColumn<TOutput> Column(PropertyInfo property, string name)
    {
        var type = property.PropertyType;
        var underlying = Nullable.GetUnderlyingType(type);
        return (underlying ?? type) switch
        {
            var t when t == typeof(float) => underlying is null ? Plain<float>(property, name) : OfNullable<float>(property, name),
            var t when t == typeof(double) => underlying is null ? Plain<double>(property, name) : OfNullable<double>(property, name),
            var t when t == typeof(long) => underlying is null ? Plain<long>(property, name) : OfNullable<long>(property, name),
            var t when t == typeof(int) => underlying is null ? Plain<int>(property, name) : OfNullable<int>(property, name),
            var t when t == typeof(bool) => underlying is null ? Plain<bool>(property, name) : OfNullable<bool>(property, name),
            var t when t == typeof(string) => Plain<string?>(property, name),
            _ => throw new ArgumentException($"{typeof(TOutput).Name}.{property.Name}: {type.Name} cannot be written to a column."),
        };
    }

    private static OutputColumn<TOutput> Element(PropertyInfo property, int index, string name)
    {
        var element = property.PropertyType.GetElementType()!;
        return element == typeof(float) ? ElementOf<float>(property, index, name)
            : element == typeof(double) ? ElementOf<double>(property, index, name)
            : element == typeof(long) ? ElementOf<long>(property, index, name)
            : element == typeof(int) ? ElementOf<int>(property, index, name)
            : element == typeof(bool) ? ElementOf<bool>(property, index, name)
            : element == typeof(string) ? ElementOf<string?>(property, index, name)
            : throw new ArgumentException($"{typeof(TOutput).Name}.{property.Name}: arrays of {element.Name} cannot be written to columns.");
    }

    private static PlainOutputColumn<TOutput, T> Plain<T>(PropertyInfo property, string name) => new(name, Getter<T>(property));

    private static NullableOutputColumn<TOutput, T> OfNullable<T>(PropertyInfo property, string name)
        where T : struct => new(name, Getter<T?>(property));

    private static PlainOutputColumn<TOutput, T> ElementOf<T>(PropertyInfo property, int index, string name)
    {
        var array = Getter<T[]>(property);
        return new(name, output => array(output)[index]);
    }

    // An open-instance delegate over the getter for classes; a struct's getter needs its receiver by reference, so
    // value types read through reflection (correct everywhere, slower; model outputs are classes in practice).
    private static Func<TOutput, T> Getter<T>(PropertyInfo property) =>
        typeof(TOutput).IsValueType
            ? output => (T)property.GetValue(output)!
            : property.GetMethod!.CreateDelegate<Func<TOutput, T>>();

    internal static string SnakeCase(string name)
    {
        var builder = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0 && !char.IsUpper(name[i - 1]))
            {
                builder.Append('_');
            }

            builder.Append(char.ToLowerInvariant(name[i]));
        }

        return builder.ToString();
    }
}

/// <summary>
/// A predicted chunk: input rows [<see cref="FirstRow"/>, <see cref="FirstRow"/> + <see cref="InputRows"/>) as
/// <see cref="Rows"/> written rows (ids and output columns) and rejects.
/// </summary>
internal sealed record ScoredChunk(long FirstRow, int InputRows, string[] Ids, ColumnData[] Columns, List<RejectedRow> Rejects, DateTimeOffset ScoredAt, double InputFraction)
{
    public int Rows => Ids.Length;
}

/// <summary>A row that failed validation.</summary>
internal sealed record RejectedRow(long Row, string? Id, string Reason);
