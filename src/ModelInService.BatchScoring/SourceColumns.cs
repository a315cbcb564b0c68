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

/// <summary>Parses numbers from text.</summary>
internal static class Numbers
{
    /// <summary>
    /// Parses an invariant-culture number (<see cref="NumberStyles.Float"/>: leading/trailing white space, exponent);
    /// unlike <see cref="double.TryParse(ReadOnlySpan{char}, NumberStyles, IFormatProvider?, out double)"/> alone, a
    /// NUL character anywhere (which .NET's parser ignores at the end) makes it not a number.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out double value)
    {
        if (text.Contains('\0'))
        {
            value = 0;
            return false;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }
}

/// <summary>Text values; an empty field is null.</summary>
internal sealed class TextColumn(string?[] values) : SourceColumn
{
    public override bool IsNull(int row) => string.IsNullOrEmpty(values[row]);

    public override bool TryGetDouble(int row, out double value) =>
        Numbers.TryParse(values[row], out value);

    public override string? GetString(int row) => string.IsNullOrEmpty(values[row]) ? null : values[row];
}

/// <summary>
/// CSV fields of one column for one chunk, kept as characters in one buffer (start and length per row) instead of a
/// string per field: numbers are parsed from the span, and a string is made only when one is asked for (an id, a
/// categorical value, a message). An empty field is null, as in <see cref="TextColumn"/>.
/// </summary>
internal sealed class CsvTextColumn : SourceColumn
{
    /// <summary>Where each row's field ends in <see cref="_chars"/>; rows are set in order, so a field starts where the previous one ends.</summary>
    private readonly int[] _ends;
    private char[] _chars;
    private int _used;
    private int _rows;

    public CsvTextColumn(int rows, int capacity)
    {
        _ends = new int[rows];
        _chars = new char[Math.Max(16, capacity)];
    }

    /// <summary>The characters the column holds (for the reader's next buffer size).</summary>
    public int CharCount => _used;

    /// <summary>Appends the next row's field (rows are added in order, 0, 1, 2, ...).</summary>
    public void Add(ReadOnlySpan<char> value)
    {
        if (_used + value.Length > _chars.Length)
        {
            Array.Resize(ref _chars, Math.Max(_chars.Length * 2, _used + value.Length));
        }

        value.CopyTo(_chars.AsSpan(_used));
        _used += value.Length;
        _ends[_rows++] = _used;
    }

    private ReadOnlySpan<char> Span(int row)
    {
        var start = row == 0 ? 0 : _ends[row - 1];
        return _chars.AsSpan(start, _ends[row] - start);
    }

    public override bool IsNull(int row) => Span(row).IsEmpty;

    public override bool TryGetDouble(int row, out double value) =>
        Numbers.TryParse(Span(row), out value);

    public override string? GetString(int row) => Span(row) is { IsEmpty: false } span ? new string(span) : null;
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

    /// <summary>Reads the given columns from input row <paramref name="skipRows"/> on, in chunks of at most <paramref name="size"/>.</summary>
    IAsyncEnumerable<RowChunk> ReadAsync(IReadOnlyList<string> columns, long skipRows, ChunkSize size, CancellationToken cancellationToken);
}

/// <summary>
/// How big a chunk may get: <paramref name="Rows"/> rows, or (CSV) as many rows as fit in <paramref name="Bytes"/> bytes of
/// kept text, whichever comes first. A chunk always holds at least one row, however wide.
/// </summary>
internal readonly record struct ChunkSize(int Rows, long Bytes)
{
    /// <summary>The kept characters (UTF-16) a chunk may hold.</summary>
    public long Chars => Math.Max(1, Bytes / sizeof(char));
}

internal static class RowSources
{
    public static async Task<IRowSource> OpenAsync(string path, BatchFileFormat format, char separator, CancellationToken cancellationToken) =>
        BatchScoringOptions.Resolve(format, path) == BatchFileFormat.Parquet
            ? await ParquetRowSource.OpenAsync(path, cancellationToken).ConfigureAwait(false)
            : CsvRowSource.Open(path, separator);
}
