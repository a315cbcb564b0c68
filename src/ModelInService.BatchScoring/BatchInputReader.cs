using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace ModelInService.BatchScoring;

/// <summary>How <see cref="BatchInputReader.ReadAsync{TInput}(string, BatchReadOptions?, BatchReadCounts?, CancellationToken)"/> reads a file.</summary>
public sealed class BatchReadOptions
{
    /// <summary>Gets or sets the file's format; <see cref="BatchFileFormat.Auto"/> (by extension) by default.</summary>
    public BatchFileFormat Format { get; set; }

    /// <summary>Gets or sets the CSV separator; a comma by default.</summary>
    public char CsvSeparator { get; set; } = ',';

    /// <summary>Gets the member to column mapping, as <see cref="BatchScoringOptions.ColumnMapping"/>.</summary>
    public IDictionary<string, string> ColumnMapping { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets or sets the rows read at a time; 8,192 by default.</summary>
    public int ChunkRows { get; set; } = 8192;

    /// <summary>Gets or sets the most text a CSV chunk keeps before it ends early, as <see cref="BatchScoringOptions.MaxChunkBytes"/>; 16 MiB by default.</summary>
    public long MaxChunkBytes { get; set; } = BatchScoringOptions.DefaultMaxChunkBytes;
}

/// <summary>The counts of a read, filled in as it goes.</summary>
public sealed class BatchReadCounts
{
    private readonly List<string> _firstReasons = [];

    /// <summary>Gets the rows bound and returned.</summary>
    public long Rows { get; internal set; }

    /// <summary>Gets the rows skipped because a value was null or not a number.</summary>
    public long Skipped { get; internal set; }

    /// <summary>Gets the reasons of the first 10 skipped rows.</summary>
    public IReadOnlyList<string> FirstSkipReasons => _firstReasons;

    internal void Skip(string reason)
    {
        Skipped++;
        if (_firstReasons.Count < 10)
        {
            _firstReasons.Add(reason);
        }
    }
}

/// <summary>
/// Reads a Parquet or CSV file as typed rows, bound like batch scoring binds them, skipping and counting invalid rows:
/// the input of <c>IModelMonitor.BuildReferenceAsync</c> (<c>mis reference</c>).
/// </summary>
public static class BatchInputReader
{
    /// <summary>Streams the rows of <paramref name="path"/> as <typeparamref name="TInput"/>, one chunk in memory at a time.</summary>
    /// <typeparam name="TInput">The model's input type (public parameterless constructor, settable properties).</typeparam>
    /// <param name="path">The CSV or Parquet file.</param>
    /// <param name="options">How to read it; defaults when null.</param>
    /// <param name="counts">Filled in with the rows returned and skipped; may be null.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <returns>The valid rows, in file order.</returns>
    /// <exception cref="BatchInputException">The file is unreadable or lacks a column.</exception>
    public static async IAsyncEnumerable<TInput> ReadAsync<[DynamicallyAccessedMembers(InputBinder.Members)] TInput>(string path, BatchReadOptions? options = null, BatchReadCounts? counts = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new BatchReadOptions();
        if (options.ChunkRows < 1)
        {
            throw new ArgumentException($"ChunkRows is {options.ChunkRows}: set it to 1 or more.", nameof(options));
        }

        if (options.MaxChunkBytes is < 64 << 10 or > 1L << 30)
        {
            throw new ArgumentException($"MaxChunkBytes is {options.MaxChunkBytes}: set it between 65,536 (64 KiB) and 1,073,741,824 (1 GiB).", nameof(options));
        }

        counts ??= new BatchReadCounts();
        var source = await RowSources.OpenAsync(path, options.Format, options.CsvSeparator, cancellationToken).ConfigureAwait(false);
        await using var sourceScope = source.ConfigureAwait(false);
        if (source.ColumnNames.Count == 0)
        {
            throw new BatchInputException(path, "header", "the file has no columns", null);
        }

        // The binder reads a key column first; any column will do when there is no key.
        var binder = InputBinder<TInput>.Create(source.ColumnNames, source.ColumnNames[0], options.ColumnMapping, path);
        await foreach (var chunk in source.ReadAsync(binder.Columns, 0, new ChunkSize(options.ChunkRows, options.MaxChunkBytes), cancellationToken).ConfigureAwait(false))
        {
            for (var i = 0; i < chunk.Count; i++)
            {
                var row = binder.Bind(chunk, i, out var reason);
                if (reason is not null)
                {
                    counts.Skip($"{chunk.Where(i)}: {reason}");
                    continue;
                }

                counts.Rows++;
                yield return row!;
            }
        }
    }
}
