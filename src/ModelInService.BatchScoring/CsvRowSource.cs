using System.Globalization;
using System.Runtime.CompilerServices;
using nietras.SeparatedValues;

namespace ModelInService.BatchScoring;

/// <summary>
/// Reads CSV with Sep: RFC 4180 quotes (unescaped), a header row, one chunk of text values at a time, each column's
/// fields in one character buffer (<see cref="CsvTextColumn"/>: no string per field). A row with a different number
/// of fields than the header (a truncated or corrupt file) stops the run with the file and line.
/// </summary>
internal sealed class CsvRowSource : IRowSource
{
    private readonly FileStream _stream;
    private readonly SepReader _reader;

    /// <summary>Characters per field seen in the previous chunk, per requested column (sizes the next chunk's buffers).</summary>
    private int[]? _charsPerRow;

    private CsvRowSource(string path, FileStream stream, SepReader reader)
    {
        FilePath = path;
        _stream = stream;
        _reader = reader;
        ColumnNames = reader.Header.ColNames.ToArray();
    }

    public string FilePath { get; }

    public IReadOnlyList<string> ColumnNames { get; }

    public long? TotalRows => null;

    public static CsvRowSource Open(string path, char separator)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            // The column count is checked here rather than by Sep, so that a blank line (a trailing one is common) is
            // skipped like pandas' skip_blank_lines instead of stopping the run as a corrupt file.
            var reader = new SepReaderOptions(new Sep(separator)) { Unescape = true, HasHeader = true, DisableColCountCheck = true }.From(stream);
            if (reader.Header.IsEmpty)
            {
                reader.Dispose();
                throw new BatchInputException(path, "line 1", "the file is empty: a CSV input needs a header row", null);
            }

            return new CsvRowSource(path, stream, reader);
        }
        catch (Exception ex) when (ex is not BatchInputException)
        {
            stream.Dispose();
            throw new BatchInputException(path, "line 1", "the header could not be read: " + ex.Message, ex);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    public async IAsyncEnumerable<RowChunk> ReadAsync(IReadOnlyList<string> columns, long skipRows, ChunkSize size, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var indices = new int[columns.Count];
        for (var c = 0; c < indices.Length; c++)
        {
            indices[c] = IndexOf(columns[c]);
        }

        long row = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (chunk, end) = ReadChunk(indices, ref row, skipRows, size);
            if (chunk is not null)
            {
                yield return chunk;
            }

            if (end)
            {
                yield break;
            }

            await Task.Yield();
        }
    }

    private int IndexOf(string column)
    {
        for (var i = 0; i < ColumnNames.Count; i++)
        {
            if (ColumnNames[i] == column)
            {
                return i;
            }
        }

        throw new BatchInputException(FilePath, "header", $"no column '{column}' (the columns are: {string.Join(", ", ColumnNames)})", null);
    }

    /// <summary>Reads the next chunk: up to <see cref="ChunkSize.Rows"/> rows, ended early once the kept fields reach <see cref="ChunkSize.Chars"/> (wide rows, e.g. long ids, would otherwise make a chunk of 8,192 rows hundreds of MB).</summary>
    private (RowChunk? Chunk, bool End) ReadChunk(int[] indices, ref long row, long skipRows, ChunkSize size)
    {
        var chunkRows = size.Rows;
        _charsPerRow ??= Array.ConvertAll(indices, _ => 8);
        var values = new CsvTextColumn[indices.Length];
        for (var c = 0; c < values.Length; c++)
        {
            // Sized from the previous chunk's fields, but never beyond the budget (the buffer grows if one field is wider).
            values[c] = new CsvTextColumn(chunkRows, (int)Math.Min((long)chunkRows * _charsPerRow[c], size.Chars));
        }

        var lines = new long[chunkRows];
        var count = 0;
        var chars = 0L;
        var end = true;
        var firstRow = -1L;
        var line = 1L;
        try
        {
            while (true)
            {
                if (count == chunkRows || chars >= size.Chars)
                {
                    end = false;
                    break;
                }

                if (!_reader.MoveNext())
                {
                    break;
                }

                var current = _reader.Current;
                line = current.LineNumberFrom;
                if (current.ColCount != ColumnNames.Count)
                {
                    if (current.ColCount == 1 && current[0].Span.IsWhiteSpace())
                    {
                        continue; // a blank line is not a row (nor counted as one, so resuming skips the same rows)
                    }

                    throw new BatchInputException(FilePath, string.Create(CultureInfo.InvariantCulture, $"line {line} (byte offset ~{_stream.Position})"),
                        string.Create(CultureInfo.InvariantCulture, $"found {current.ColCount} column(s) where the header has {ColumnNames.Count}"), null);
                }

                if (row++ < skipRows)
                {
                    continue;
                }

                if (firstRow < 0)
                {
                    firstRow = row - 1;
                }

                for (var c = 0; c < indices.Length; c++)
                {
                    var field = current[indices[c]].Span;
                    values[c].Add(field);
                    chars += field.Length;
                }

                lines[count++] = line;
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or ArgumentOutOfRangeException or IndexOutOfRangeException or NotSupportedException)
        {
            throw new BatchInputException(FilePath, string.Create(CultureInfo.InvariantCulture, $"line {line + 1} (byte offset ~{_stream.Position})"), ex.Message, ex);
        }

        if (count == 0)
        {
            return (null, end);
        }

        var columns = new SourceColumn[indices.Length];
        for (var c = 0; c < columns.Length; c++)
        {
            columns[c] = values[c];
            _charsPerRow[c] = Math.Max(1, (values[c].CharCount + count - 1) / count);
        }

        var fraction = _stream.Length > 0 ? Math.Min(1, (double)_stream.Position / _stream.Length) : 1;
        return (new RowChunk(firstRow, count, columns, lines, fraction), end);
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        return _stream.DisposeAsync();
    }
}
