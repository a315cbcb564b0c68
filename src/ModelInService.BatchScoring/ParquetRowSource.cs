using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using Parquet;
using Parquet.Schema;

namespace ModelInService.BatchScoring;

/// <summary>
/// Reads Parquet with Parquet.Net one row group at a time (only the requested columns), handed on in chunks. A corrupt
/// or truncated file stops the run with the file, the row group and its rows.
/// </summary>
internal sealed class ParquetRowSource : IRowSource
{
    private readonly ParquetReader _reader;
    private readonly DataField[] _fields;

    private ParquetRowSource(string path, ParquetReader reader)
    {
        FilePath = path;
        _reader = reader;
        _fields = reader.Schema.GetDataFields();
        ColumnNames = Array.ConvertAll(_fields, f => f.Name);
        TotalRows = reader.RowGroups.Sum(g => g.RowCount);
    }

    public string FilePath { get; }

    public IReadOnlyList<string> ColumnNames { get; }

    public long? TotalRows { get; }

    public static async Task<ParquetRowSource> OpenAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            var reader = await ParquetReader.CreateAsync(path, null, cancellationToken).ConfigureAwait(false);
            return new ParquetRowSource(path, reader);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            var length = new FileInfo(path).Length;
            throw new BatchInputException(path, string.Create(CultureInfo.InvariantCulture, $"footer (file length {length} bytes)"),
                "not a readable Parquet file (corrupt or truncated): " + ex.Message, ex);
        }
    }

    public async IAsyncEnumerable<RowChunk> ReadAsync(IReadOnlyList<string> columns, long skipRows, ChunkSize size, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var fields = new DataField[columns.Count];
        for (var c = 0; c < fields.Length; c++)
        {
            fields[c] = Array.Find(_fields, f => f.Name == columns[c])
                ?? throw new BatchInputException(FilePath, "schema", $"no column '{columns[c]}' (the columns are: {string.Join(", ", ColumnNames)})", null);
            if (fields[c].IsArray)
            {
                throw new BatchInputException(FilePath, "schema", $"column '{columns[c]}' is a list; map scalar columns only", null);
            }
        }

        var chunkRows = size.Rows;
        long groupStart = 0;
        var total = Math.Max(1, TotalRows ?? 1);
        for (var g = 0; g < _reader.RowGroupCount; g++)
        {
            var groupRows = _reader.RowGroups[g].RowCount;
            if (groupStart + groupRows <= skipRows)
            {
                groupStart += groupRows;
                continue;
            }

            var data = await ReadGroupAsync(g, groupStart, (int)groupRows, fields, cancellationToken).ConfigureAwait(false);
            var from = (int)Math.Max(0, skipRows - groupStart);
            for (var start = from; start < groupRows; start += chunkRows)
            {
                var count = (int)Math.Min(chunkRows, groupRows - start);
                var sliced = new SourceColumn[data.Length];
                for (var c = 0; c < data.Length; c++)
                {
                    sliced[c] = data[c](start, count);
                }

                yield return new RowChunk(groupStart + start, count, sliced, null, (double)(groupStart + start + count) / total);
            }

            groupStart += groupRows;
        }
    }

    private async Task<Func<int, int, SourceColumn>[]> ReadGroupAsync(int group, long groupStart, int rows, DataField[] fields, CancellationToken cancellationToken)
    {
        try
        {
            using var groupReader = _reader.OpenRowGroupReader(group);
            var result = new Func<int, int, SourceColumn>[fields.Length];
            for (var c = 0; c < fields.Length; c++)
            {
                result[c] = await ReadColumnAsync(groupReader, fields[c], rows, cancellationToken).ConfigureAwait(false);
            }

            return result;
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not BatchInputException)
        {
            throw new BatchInputException(FilePath,
                string.Create(CultureInfo.InvariantCulture, $"row group {group} (rows {groupStart + 1} to {groupStart + rows})"),
                "the row group could not be read (corrupt or truncated file): " + ex.Message, ex);
        }
    }

    private async Task<Func<int, int, SourceColumn>> ReadColumnAsync(ParquetRowGroupReader reader, DataField field, int rows, CancellationToken cancellationToken)
    {
        var type = field.ClrType;
        if (type == typeof(string) || type == typeof(ReadOnlyMemory<char>))
        {
            var values = new string?[rows];
            await reader.ReadAsync(field, values.AsMemory(), null, cancellationToken).ConfigureAwait(false);
            return (start, count) => new TextColumn(values.AsSpan(start, count).ToArray());
        }

        if (type == typeof(bool))
        {
            var (values, nulls) = await ReadStructAsync<bool>(reader, field, rows, cancellationToken).ConfigureAwait(false);
            return (start, count) => new BoolColumn(values.AsSpan(start, count).ToArray(), nulls?.AsSpan(start, count).ToArray());
        }

        return type switch
        {
            _ when type == typeof(float) => await NumbersAsync<float>(reader, field, rows, cancellationToken).ConfigureAwait(false),
            _ when type == typeof(double) => await NumbersAsync<double>(reader, field, rows, cancellationToken).ConfigureAwait(false),
            _ when type == typeof(int) => await NumbersAsync<int>(reader, field, rows, cancellationToken).ConfigureAwait(false),
            _ when type == typeof(long) => await NumbersAsync<long>(reader, field, rows, cancellationToken).ConfigureAwait(false),
            _ when type == typeof(short) => await NumbersAsync<short>(reader, field, rows, cancellationToken).ConfigureAwait(false),
            _ when type == typeof(byte) => await NumbersAsync<byte>(reader, field, rows, cancellationToken).ConfigureAwait(false),
            _ when type == typeof(decimal) => await NumbersAsync<decimal>(reader, field, rows, cancellationToken).ConfigureAwait(false),
            _ => throw new BatchInputException(FilePath, "schema", $"column '{field.Name}' has type {type.Name}, which cannot feed a model", null),
        };
    }

    private static async Task<Func<int, int, SourceColumn>> NumbersAsync<T>(ParquetRowGroupReader reader, DataField field, int rows, CancellationToken cancellationToken)
        where T : struct, INumber<T>
    {
        var (values, nulls) = await ReadStructAsync<T>(reader, field, rows, cancellationToken).ConfigureAwait(false);
        return (start, count) => new NumberColumn<T>(values.AsSpan(start, count).ToArray(), nulls?.AsSpan(start, count).ToArray());
    }

    private static async Task<(T[] Values, bool[]? Nulls)> ReadStructAsync<T>(ParquetRowGroupReader reader, DataField field, int rows, CancellationToken cancellationToken)
        where T : struct
    {
        if (!field.IsNullable)
        {
            var plain = new T[rows];
            await reader.ReadAsync(field, plain.AsMemory(), null, cancellationToken).ConfigureAwait(false);
            return (plain, null);
        }

        var nullable = new T?[rows];
        await reader.ReadAsync(field, nullable.AsMemory(), null, cancellationToken).ConfigureAwait(false);
        var values = new T[rows];
        var nulls = new bool[rows];
        for (var i = 0; i < rows; i++)
        {
            if (nullable[i] is { } value)
            {
                values[i] = value;
            }
            else
            {
                nulls[i] = true;
            }
        }

        return (values, nulls);
    }

    public ValueTask DisposeAsync() => _reader.DisposeAsync();
}
