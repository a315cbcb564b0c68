using System.Globalization;

namespace ModelInService.BatchScoring;

/// <summary>How <see cref="ReferenceFile.BuildAsync"/> reads a file into a monitor reference.</summary>
public sealed class ReferenceFileOptions
{
    /// <summary>Gets or sets the file's format; <see cref="BatchFileFormat.Auto"/> (by extension) by default.</summary>
    public BatchFileFormat Format { get; set; }

    /// <summary>Gets or sets the CSV separator; a comma by default.</summary>
    public char CsvSeparator { get; set; } = ',';

    /// <summary>Gets or sets the reference rows per calibration chunk (<see cref="MonitorReferenceBuilder"/>); 1,000 by default.</summary>
    public int ChunkSize { get; set; } = 1000;

    /// <summary>Gets the columns to profile; all of them when empty.</summary>
    public IList<string> Columns { get; } = [];

    /// <summary>Gets the columns to leave out (an id, a timestamp).</summary>
    public ISet<string> Exclude { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Gets the columns profiled as categories even when every value is a number (integer codes, a label).</summary>
    public ISet<string> Categorical { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Gets the columns that must be numbers: a row whose value is not a number is skipped and counted.</summary>
    public ISet<string> Numeric { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Gets or sets the model name recorded in the reference, if any.</summary>
    public string? ModelName { get; set; }
}

/// <summary>What <see cref="ReferenceFile.BuildAsync"/> built.</summary>
/// <param name="Reference">The reference (save it with <see cref="MonitorReference.Save(string)"/>).</param>
/// <param name="Features">The profiled columns with their kind: true for numeric, false for categorical.</param>
/// <param name="SkippedRows">Rows left out as invalid (also recorded in the reference).</param>
/// <param name="FirstSkipReasons">The reasons of the first 10 skipped rows, with their row and CSV line.</param>
public sealed record ReferenceFileResult(MonitorReference Reference, IReadOnlyList<KeyValuePair<string, bool>> Features, long SkippedRows, IReadOnlyList<string> FirstSkipReasons);

/// <summary>
/// Builds a monitor reference (the file <c>MonitoringOptions.ReferencePath</c> loads) from the columns of a Parquet or
/// CSV file, one feature per column named by its header: the reader and error handling of batch scoring without a
/// model or C# type (<c>mis reference</c>, samples/ReferenceTool).
/// </summary>
/// <remarks>
/// A column is numeric when its type is a number (Parquet) or when every non-empty value parses as a number
/// (invariant culture; CSV and Parquet text columns, a first pass over the file), else categorical;
/// <see cref="ReferenceFileOptions.Categorical"/> and <see cref="ReferenceFileOptions.Numeric"/> force the kind.
/// Empty values are missing; NaN and infinities count as missing (<see cref="MonitorReferenceBuilder.AddNumeric"/>).
/// A row whose forced-numeric column holds text is skipped and counted (<see cref="MonitorReference.SkippedRows"/>);
/// a corrupt or truncated file stops with a <see cref="BatchInputException"/> naming the file and where.
/// </remarks>
public static class ReferenceFile
{
    private const int ReadRows = 8192;

    /// <summary>Reads <paramref name="path"/> into a reference.</summary>
    /// <param name="path">The CSV or Parquet file (a header row for CSV).</param>
    /// <param name="options">How to read it; defaults when null.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <returns>The reference and its counts.</returns>
    /// <exception cref="ArgumentException">The options name a column the file does not have, or a column both categorical and numeric.</exception>
    /// <exception cref="BatchInputException">The file is unreadable, or has no rows.</exception>
    public static async Task<ReferenceFileResult> BuildAsync(string path, ReferenceFileOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new ReferenceFileOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ChunkSize, 1);
        foreach (var both in options.Categorical)
        {
            if (options.Numeric.Contains(both))
            {
                throw new ArgumentException($"Column '{both}' is listed both as categorical and as numeric.", nameof(options));
            }
        }

        string[] columns;
        bool[] numeric;
        var source = await RowSources.OpenAsync(path, options.Format, options.CsvSeparator, cancellationToken).ConfigureAwait(false);
        await using (source.ConfigureAwait(false))
        {
            columns = Select(source.ColumnNames, options, path);
            numeric = await KindsAsync(source, columns, options, cancellationToken).ConfigureAwait(false);
        }

        var builder = new MonitorReferenceBuilder(options.ChunkSize);
        var reasons = new List<string>();
        long skipped = 0;
        source = await RowSources.OpenAsync(path, options.Format, options.CsvSeparator, cancellationToken).ConfigureAwait(false);
        await using (source.ConfigureAwait(false))
        {
            await foreach (var chunk in source.ReadAsync(columns, 0, new ChunkSize(ReadRows, BatchScoringOptions.DefaultMaxChunkBytes), cancellationToken).ConfigureAwait(false))
            {
                for (var r = 0; r < chunk.Count; r++)
                {
                    if (Invalid(chunk, r, columns, numeric) is { } reason)
                    {
                        var where = $"{chunk.Where(r)}: {reason}";
                        builder.SkipRow(where);
                        skipped++;
                        if (reasons.Count < 10)
                        {
                            reasons.Add(where);
                        }

                        continue;
                    }

                    for (var c = 0; c < columns.Length; c++)
                    {
                        var column = chunk.Columns[c];
                        if (!numeric[c])
                        {
                            builder.AddCategorical(columns[c], column.GetString(r));
                        }
                        else if (column.IsNull(r))
                        {
                            builder.AddMissing(columns[c]);
                        }
                        else
                        {
                            column.TryGetDouble(r, out var value);
                            builder.AddNumeric(columns[c], value);
                        }
                    }

                    builder.EndRow();
                }
            }
        }

        if (builder.Rows == 0)
        {
            throw new BatchInputException(path, "data", skipped > 0
                ? string.Create(CultureInfo.InvariantCulture, $"every row ({skipped}) was invalid; the first: {reasons[0]}")
                : "the file has no rows: a reference needs data", null);
        }

        var features = new KeyValuePair<string, bool>[columns.Length];
        for (var c = 0; c < columns.Length; c++)
        {
            features[c] = new(columns[c], numeric[c]);
        }

        var format = BatchScoringOptions.Resolve(options.Format, path) == BatchFileFormat.Parquet ? "parquet" : "csv";
        return new ReferenceFileResult(builder.Build(format, options.ModelName), features, skipped, reasons);
    }

    private static string[] Select(IReadOnlyList<string> available, ReferenceFileOptions options, string path)
    {
        foreach (var name in options.Columns.Concat(options.Exclude).Concat(options.Categorical).Concat(options.Numeric))
        {
            if (!available.Contains(name))
            {
                throw new ArgumentException($"{path} has no column '{name}' (the columns are: {string.Join(", ", available)}).", nameof(options));
            }
        }

        var selected = (options.Columns.Count > 0 ? (IEnumerable<string>)options.Columns : available).Where(c => !options.Exclude.Contains(c)).Distinct().ToArray();
        return selected.Length > 0 ? selected : throw new ArgumentException($"No column is left to profile in {path}.", nameof(options));
    }

    /// <summary>Numeric or categorical per column: forced, a numeric column type, or every non-empty text parses (a first pass).</summary>
    private static async Task<bool[]> KindsAsync(IRowSource source, string[] columns, ReferenceFileOptions options, CancellationToken cancellationToken)
    {
        var numeric = new bool[columns.Length];
        var undecided = new List<int>();
        for (var c = 0; c < columns.Length; c++)
        {
            numeric[c] = !options.Categorical.Contains(columns[c]);
            if (numeric[c] && !options.Numeric.Contains(columns[c]))
            {
                undecided.Add(c);
            }
        }

        if (undecided.Count == 0)
        {
            return numeric;
        }

        await foreach (var chunk in source.ReadAsync(columns, 0, new ChunkSize(ReadRows, BatchScoringOptions.DefaultMaxChunkBytes), cancellationToken).ConfigureAwait(false))
        {
            for (var u = undecided.Count - 1; u >= 0; u--)
            {
                var c = undecided[u];
                var column = chunk.Columns[c];
                if (column is NumberColumn)
                {
                    // A typed numeric Parquet column: numeric without looking at the values.
                    undecided.RemoveAt(u);
                    continue;
                }

                for (var r = 0; r < chunk.Count; r++)
                {
                    if (column is BoolColumn || (!column.IsNull(r) && !column.TryGetDouble(r, out _)))
                    {
                        numeric[c] = false;
                        undecided.RemoveAt(u);
                        break;
                    }
                }
            }

            if (undecided.Count == 0)
            {
                break;
            }
        }

        return numeric;
    }

    private static string? Invalid(RowChunk chunk, int row, string[] columns, bool[] numeric)
    {
        for (var c = 0; c < columns.Length; c++)
        {
            var column = chunk.Columns[c];
            if (numeric[c] && !column.IsNull(row) && !column.TryGetDouble(row, out _))
            {
                return $"column '{columns[c]}': '{column.GetString(row)}' is not a number";
            }
        }

        return null;
    }
}
