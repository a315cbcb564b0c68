using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using NpgsqlTypes;

namespace ModelInService.BatchScoring;

/// <summary>One output column taken from <typeparamref name="TOutput"/>: a scalar property, or one element of an array property.</summary>
internal abstract class OutputColumn<TOutput>(string name)
{
    public string Name { get; } = name;

    public abstract string PostgresType { get; }

    public abstract Type ClrType { get; }

    public abstract Task WriteAsync(Npgsql.NpgsqlBinaryImporter importer, TOutput output, CancellationToken cancellationToken);

    public abstract string? Text(TOutput output);

    public abstract Array Collect(IReadOnlyList<TOutput> outputs);
}

internal sealed class OutputColumn<TOutput, T>(string name, Func<TOutput, T> get, NpgsqlDbType dbType, string postgresType) : OutputColumn<TOutput>(name)
{
    public override string PostgresType => postgresType;

    public override Type ClrType => typeof(T);

    public override Task WriteAsync(Npgsql.NpgsqlBinaryImporter importer, TOutput output, CancellationToken cancellationToken) =>
        get(output) is { } value ? importer.WriteAsync(value, dbType, cancellationToken) : importer.WriteNullAsync(cancellationToken);

    public override string? Text(TOutput output) => get(output) switch
    {
        null => null,
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        var other => other.ToString(),
    };

    public override Array Collect(IReadOnlyList<TOutput> outputs)
    {
        var values = new T[outputs.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = get(outputs[i]);
        }

        return values;
    }
}

/// <summary>The output columns of <typeparamref name="TOutput"/>: readable scalar properties, and arrays expanded to <c>name_0</c>, <c>name_1</c>... by the first row's length.</summary>
internal static class OutputSchema<TOutput>
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
            if (type.IsArray && Scalar(type.GetElementType()!) is not null)
            {
                var length = ((Array?)property.GetValue(first))?.Length ?? 0;
                for (var i = 0; i < length; i++)
                {
                    columns.Add(Element(property, i, $"{name}_{i}"));
                }
            }
            else if (Scalar(Nullable.GetUnderlyingType(type) ?? type) is not null)
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

    private static (NpgsqlDbType, string)? Scalar(Type type) =>
        type == typeof(float) ? (NpgsqlDbType.Real, "real")
        : type == typeof(double) ? (NpgsqlDbType.Double, "double precision")
        : type == typeof(long) ? (NpgsqlDbType.Bigint, "bigint")
        : type == typeof(int) ? (NpgsqlDbType.Integer, "integer")
        : type == typeof(bool) ? (NpgsqlDbType.Boolean, "boolean")
        : type == typeof(string) ? (NpgsqlDbType.Text, "text")
        : null;

    private static OutputColumn<TOutput> Column(PropertyInfo property, string name)
    {
        var parameter = Expression.Parameter(typeof(TOutput));
        var getter = Expression.Lambda(Expression.Property(parameter, property), parameter).Compile();
        var (dbType, pgType) = Scalar(Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType)!.Value;
        return (OutputColumn<TOutput>)Activator.CreateInstance(
            typeof(OutputColumn<,>).MakeGenericType(typeof(TOutput), property.PropertyType), name, getter, dbType, pgType)!;
    }

    private static OutputColumn<TOutput> Element(PropertyInfo property, int index, string name)
    {
        var parameter = Expression.Parameter(typeof(TOutput));
        var element = property.PropertyType.GetElementType()!;
        var getter = Expression.Lambda(Expression.ArrayIndex(Expression.Property(parameter, property), Expression.Constant(index)), parameter).Compile();
        var (dbType, pgType) = Scalar(element)!.Value;
        return (OutputColumn<TOutput>)Activator.CreateInstance(
            typeof(OutputColumn<,>).MakeGenericType(typeof(TOutput), element), name, getter, dbType, pgType)!;
    }

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

/// <summary>A predicted chunk: input rows [<see cref="FirstRow"/>, <see cref="FirstRow"/> + <see cref="InputRows"/>) as outputs and rejects.</summary>
internal sealed record ScoredChunk<TOutput>(long FirstRow, int InputRows, string[] Ids, IReadOnlyList<TOutput> Outputs, List<RejectedRow> Rejects, DateTimeOffset ScoredAt, double InputFraction);

/// <summary>A row that failed validation.</summary>
internal sealed record RejectedRow(long Row, string? Id, string Reason);
