using System.Globalization;
using System.Numerics;

namespace ModelInService.BatchScoring;

/// <summary>One column of a chunk, as read: typed values (Parquet) or text (CSV).</summary>
internal abstract class SourceColumn
{
    public abstract bool IsNull(int row);

    /// <summary>The value as a double; false when it is not a number (text that does not parse).</summary>
    public abstract bool TryGetDouble(int row, out double value);

    /// <summary>The value as text (numbers in invariant culture), or null.</summary>
    public abstract string? GetString(int row);
}

/// <summary>Text values; an empty field is null.</summary>
internal sealed class TextColumn(string?[] values) : SourceColumn
{
    public override bool IsNull(int row) => string.IsNullOrEmpty(values[row]);

    public override bool TryGetDouble(int row, out double value) =>
        double.TryParse(values[row], NumberStyles.Float, CultureInfo.InvariantCulture, out value);

    public override string? GetString(int row) => string.IsNullOrEmpty(values[row]) ? null : values[row];
}

/// <summary>A column read with a numeric type (Parquet).</summary>
internal abstract class NumberColumn : SourceColumn
{
}

/// <summary>Numbers read from a typed column, with their nulls.</summary>
internal sealed class NumberColumn<T>(T[] values, bool[]? nulls) : NumberColumn
    where T : struct, INumber<T>
{
    public override bool IsNull(int row) => nulls is not null && nulls[row];

    public override bool TryGetDouble(int row, out double value)
    {
        value = double.CreateTruncating(values[row]);
        return !IsNull(row);
    }

    public override string? GetString(int row) => IsNull(row) ? null : values[row].ToString(null, CultureInfo.InvariantCulture);
}

/// <summary>Booleans read from a typed column (1 and 0 as numbers).</summary>
internal sealed class BoolColumn(bool[] values, bool[]? nulls) : SourceColumn
{
    public override bool IsNull(int row) => nulls is not null && nulls[row];

    public override bool TryGetDouble(int row, out double value)
    {
        value = values[row] ? 1 : 0;
        return !IsNull(row);
    }

    public override string? GetString(int row) => IsNull(row) ? null : values[row] ? "true" : "false";
}

/// <summary>A slice of the input: <see cref="Count"/> rows starting at input row <see cref="FirstRow"/> (0-based).</summary>
internal sealed class RowChunk(long firstRow, int count, SourceColumn[] columns, long[]? lineNumbers, double inputFraction)
{
    public long FirstRow { get; } = firstRow;

    public int Count { get; } = count;

    /// <summary>The requested columns, in the order they were asked for.</summary>
    public SourceColumn[] Columns { get; } = columns;

    /// <summary>The CSV line of each row (for messages), or null.</summary>
    public long[]? LineNumbers { get; } = lineNumbers;

    public double InputFraction { get; } = inputFraction;

    public string Where(int row) => LineNumbers is { } lines
        ? string.Create(CultureInfo.InvariantCulture, $"row {FirstRow + row + 1} (line {lines[row]})")
        : string.Create(CultureInfo.InvariantCulture, $"row {FirstRow + row + 1}");
}

/// <summary>Reads an input file in chunks of rows, holding at most one chunk (CSV) or one row group (Parquet) at a time.</summary>
internal interface IRowSource : IAsyncDisposable
{
    string FilePath { get; }

    IReadOnlyList<string> ColumnNames { get; }

    long? TotalRows { get; }

    /// <summary>Reads the given columns from input row <paramref name="skipRows"/> on.</summary>
    IAsyncEnumerable<RowChunk> ReadAsync(IReadOnlyList<string> columns, long skipRows, int chunkRows, CancellationToken cancellationToken);
}

internal static class RowSources
{
    public static async Task<IRowSource> OpenAsync(string path, BatchFileFormat format, char separator, CancellationToken cancellationToken) =>
        BatchScoringOptions.Resolve(format, path) == BatchFileFormat.Parquet
            ? await ParquetRowSource.OpenAsync(path, cancellationToken).ConfigureAwait(false)
            : CsvRowSource.Open(path, separator);
}
