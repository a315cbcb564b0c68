using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ModelInService.BatchScoring;

/// <summary>
/// Scores a Parquet or CSV file with a predictor into PostgreSQL or a file: read, bind, predict and write overlap
/// through bounded channels, so memory stays bounded whatever the file size. Rows that fail validation are rejected
/// with a reason and the run goes on; an unreadable input stops it with a <see cref="BatchInputException"/>.
/// </summary>
/// <remarks>Thread-safe; one instance can run any number of jobs. Register it with <c>services.AddSingleton&lt;BatchScorer&gt;()</c>.</remarks>
public sealed partial class BatchScorer
{
    /// <summary>The name of the meter the instruments are created on.</summary>
    public const string MeterName = "ModelInService.BatchScoring";

    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Counter<long> _rowsWritten;
    private readonly Counter<long> _rowsRejected;
    private readonly Histogram<double> _chunkWrite;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="logger">Where the run's start, end and rejects are logged; none when null.</param>
    /// <param name="meterFactory">Creates the meter of <c>mis.batch.*</c> instruments; a standalone meter when null.</param>
    /// <param name="timeProvider">The clock of <c>scored_at</c>; the system clock when null.</param>
    public BatchScorer(ILogger<BatchScorer>? logger = null, IMeterFactory? meterFactory = null, TimeProvider? timeProvider = null)
    {
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        var meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _rowsWritten = meter.CreateCounter<long>("mis.batch.rows_written", "{row}", "Rows predicted and written by batch scoring.");
        _rowsRejected = meter.CreateCounter<long>("mis.batch.rows_rejected", "{row}", "Rows rejected by batch scoring (validation failures).");
        _chunkWrite = meter.CreateHistogram<double>("mis.batch.chunk_write.duration", "s", "Time to write and commit one chunk.");
    }

    /// <summary>Scores <see cref="BatchScoringOptions.InputPath"/> into the destination the options name.</summary>
    /// <typeparam name="TInput">The model's input type: public parameterless constructor, settable properties bound from columns.</typeparam>
    /// <typeparam name="TOutput">The model's output type: its readable properties become output columns (arrays as <c>name_0</c>, <c>name_1</c>...).</typeparam>
    /// <param name="predictor">The model.</param>
    /// <param name="options">What to read and where to write; validated first.</param>
    /// <param name="progress">Told after each committed chunk; may be null.</param>
    /// <param name="cancellationToken">Stops the run; committed chunks stay, and a rerun of the job resumes after them (PostgreSQL).</param>
    /// <returns>The counts of this run.</returns>
    /// <exception cref="ArgumentException">The options are invalid, or a type cannot be bound.</exception>
    /// <exception cref="BatchInputException">The input is unreadable or lacks a column.</exception>
    public async Task<BatchScoringResult> ScoreAsync<TInput, TOutput>(IPredictor<TInput, TOutput> predictor, BatchScoringOptions options,
        IProgress<BatchScoringProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predictor);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var stopwatch = Stopwatch.StartNew();

        var source = await RowSources.OpenAsync(options.InputPath, options.InputFormat, options.CsvSeparator, cancellationToken).ConfigureAwait(false);
        await using var sourceScope = source.ConfigureAwait(false);
        if (!source.ColumnNames.Contains(options.IdColumn))
        {
            throw new BatchInputException(options.InputPath, "header", $"no id column '{options.IdColumn}' (the columns are: {string.Join(", ", source.ColumnNames)}); set IdColumn", null);
        }

        var binder = InputBinder<TInput>.Create(source.ColumnNames, options.IdColumn, options.ColumnMapping, options.InputPath);
        IScoreSink<TOutput> sink = options.ToPostgres ? new PostgresSink<TOutput>(options) : new FileSink<TOutput>(options);
        await using var sinkScope = sink.ConfigureAwait(false);
        var skipped = await sink.OpenAsync(cancellationToken).ConfigureAwait(false);
        Log.Starting(_logger, options.InputPath, options.ToPostgres ? options.PostgresTable! : options.OutputPath!, skipped);

        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = failed.Token;
        var scored = Channel.CreateBounded<Task<ScoredChunk<TOutput>>>(new BoundedChannelOptions(options.EffectiveChunksInFlight) { SingleReader = true, SingleWriter = true });
        var producer = Task.Run(async () =>
        {
            try
            {
                await foreach (var chunk in source.ReadAsync(binder.Columns, skipped, options.ChunkRows, token).ConfigureAwait(false))
                {
                    await scored.Writer.WriteAsync(Task.Run(() => PredictAsync(predictor, binder, chunk, token), token), token).ConfigureAwait(false);
                }

                scored.Writer.Complete();
            }
            catch (Exception ex)
            {
                scored.Writer.Complete(ex);
            }
        }, CancellationToken.None);

        long written = 0, rejected = 0, chunks = 0, done = skipped;
        try
        {
            await foreach (var pending in scored.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                var chunk = await pending.ConfigureAwait(false);
                var writeStarted = Stopwatch.GetTimestamp();
                await sink.WriteAsync(chunk, token).ConfigureAwait(false);
                _chunkWrite.Record(Stopwatch.GetElapsedTime(writeStarted).TotalSeconds);
                _rowsWritten.Add(chunk.Outputs.Count);
                _rowsRejected.Add(chunk.Rejects.Count);
                foreach (var reject in chunk.Rejects)
                {
                    Log.Rejected(_logger, reject.Row + 1, reject.Id, reject.Reason);
                }

                written += chunk.Outputs.Count;
                rejected += chunk.Rejects.Count;
                done += chunk.InputRows;
                chunks++;
                if (options.MaxRejectedRows >= 0 && rejected > options.MaxRejectedRows)
                {
                    throw new InvalidOperationException($"{rejected} rows were rejected, more than MaxRejectedRows ({options.MaxRejectedRows}): fix the input or raise the limit. The chunks before this one are committed.");
                }

                if (progress is not null)
                {
                    var elapsed = stopwatch.Elapsed;
                    var fraction = source.TotalRows is > 0 and var total ? (double)done / total : chunk.InputFraction;
                    progress.Report(new BatchScoringProgress(done, written, rejected, source.TotalRows, fraction, elapsed, (written + rejected) / Math.Max(elapsed.TotalSeconds, 1e-9)));
                }
            }

            await producer.ConfigureAwait(false);
            await sink.CompleteAsync(token).ConfigureAwait(false);
        }
        catch
        {
            // Stop the reader and the chunks still predicting; what is committed stays committed.
            await failed.CancelAsync().ConfigureAwait(false);
            await producer.ConfigureAwait(false);
            while (scored.Reader.TryRead(out var pending))
            {
                await pending.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            }

            throw;
        }

        var result = new BatchScoringResult(written, rejected, skipped, chunks, stopwatch.Elapsed);
        Log.Done(_logger, written, rejected, skipped, result.Elapsed.TotalSeconds, result.RowsPerSecond);
        return result;
    }

    private ScoredChunk<TOutput> PredictAsyncResult<TOutput>(long firstRow, int rows, string[] ids, IReadOnlyList<TOutput> outputs, List<RejectedRow> rejects, double fraction) =>
        new(firstRow, rows, ids, outputs, rejects, _time.GetUtcNow(), fraction);

    private async Task<ScoredChunk<TOutput>> PredictAsync<TInput, TOutput>(IPredictor<TInput, TOutput> predictor, InputBinder<TInput> binder, RowChunk chunk, CancellationToken cancellationToken)
    {
        var inputs = new List<TInput>(chunk.Count);
        var ids = new List<string>(chunk.Count);
        var rows = new List<long>(chunk.Count);
        var rejects = new List<RejectedRow>();
        var idColumn = chunk.Columns[0];
        for (var i = 0; i < chunk.Count; i++)
        {
            var id = idColumn.GetString(i);
            if (id is null)
            {
                rejects.Add(new RejectedRow(chunk.FirstRow + i, null, $"{chunk.Where(i)}: the id column is empty"));
                continue;
            }

            var input = binder.Bind(chunk, i, out var reason);
            if (reason is not null)
            {
                rejects.Add(new RejectedRow(chunk.FirstRow + i, id, $"{chunk.Where(i)}: {reason}"));
                continue;
            }

            inputs.Add(input!);
            ids.Add(id);
            rows.Add(chunk.FirstRow + i);
        }

        // The predictor validates every row first and names the first invalid one: reject it and predict the rest.
        while (true)
        {
            try
            {
                var outputs = inputs.Count == 0 ? [] : await predictor.PredictBatchAsync(inputs, cancellationToken).ConfigureAwait(false);
                rejects.Sort((a, b) => a.Row.CompareTo(b.Row));
                return PredictAsyncResult(chunk.FirstRow, chunk.Count, ids.ToArray(), outputs, rejects, chunk.InputFraction);
            }
            catch (ModelInputException ex) when (ex.Index >= 0 && ex.Index < inputs.Count)
            {
                rejects.Add(new RejectedRow(rows[ex.Index], ids[ex.Index], $"{chunk.Where((int)(rows[ex.Index] - chunk.FirstRow))}: {ex.MemberName} {ex.Reason}"));
                inputs.RemoveAt(ex.Index);
                ids.RemoveAt(ex.Index);
                rows.RemoveAt(ex.Index);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Batch scoring {Input} into {Destination}; {Skipped} rows already done by earlier runs")]
        public static partial void Starting(ILogger logger, string input, string destination, long skipped);

        [LoggerMessage(2, LogLevel.Warning, "Rejected input row {Row} (id {Id}): {Reason}")]
        public static partial void Rejected(ILogger logger, long row, string? id, string reason);

        [LoggerMessage(3, LogLevel.Information, "Batch scoring done: {Written} rows written, {Rejected} rejected, {Skipped} done before; {Seconds:0.00} s, {RowsPerSecond:N0} rows/s")]
        public static partial void Done(ILogger logger, long written, long rejected, long skipped, double seconds, double rowsPerSecond);
    }
}
