using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
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
    public async Task<BatchScoringResult> ScoreAsync<[DynamicallyAccessedMembers(InputBinder.Members)] TInput, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] TOutput>(IPredictor<TInput, TOutput> predictor, BatchScoringOptions options,
        IProgress<BatchScoringProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predictor);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var source = await OpenAsync(options, cancellationToken).ConfigureAwait(false);
        await using var sourceScope = source.ConfigureAwait(false);
        var binder = InputBinder<TInput>.Create(source.ColumnNames, options.IdColumn, options.ColumnMapping, options.InputPath);
        return await RunAsync(source, new TypedChunkScorer<TInput, TOutput>(predictor, binder, _time), options, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Scores <see cref="BatchScoringOptions.InputPath"/> through a model's untyped runner: columns are bound straight
    /// into the input tensors (no object per row) and every output tensor becomes columns.
    /// </summary>
    /// <remarks>
    /// <para>Supported: a batchable model whose inputs are float32, float64, int64, int32 or string tensors batched on
    /// axis 0 with every other dimension fixed (a row of F values comes from F columns, row-major), and whose outputs
    /// are tensors (float32, float64, int64, int32, bool, string) batched on axis 0 with fixed row shapes, or
    /// ZipMap-style sequences of maps. Anything else is refused with a <see cref="NotSupportedException"/> naming the
    /// tensor.</para>
    /// <para>An input's columns: <see cref="BatchScoringOptions.ColumnMapping"/>[input name]; else, for one value per
    /// row, a column of the input's name; else the model's <c>feature_names</c> metadata (one input); else columns
    /// <c>name_0</c>...<c>name_{F-1}</c>; else, for a model with one input, every column but the id in file order when
    /// there are exactly F. Outputs are written as <c>name</c> (one value per row), <c>name_0</c>... (several), or
    /// <c>name_{key}</c> per map key, with characters other than letters, digits and <c>_</c> replaced by <c>_</c>.
    /// Rows with an empty id, a null, a value that is not a number, a non-finite value (float inputs) or a non-integer
    /// (integer inputs) are rejected with the reason.</para>
    /// </remarks>
    /// <param name="runner">The model (<c>AddModel(name, ...)</c> or any registration: <see cref="IModelRunner"/>).</param>
    /// <param name="options">What to read and where to write; validated first. <see cref="BatchScoringOptions.ColumnMapping"/> is keyed by model input name.</param>
    /// <param name="progress">Told after each committed chunk; may be null.</param>
    /// <param name="cancellationToken">Stops the run; committed chunks stay, and a rerun of the job resumes after them (PostgreSQL).</param>
    /// <returns>The counts of this run.</returns>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="NotSupportedException">The model's inputs or outputs cannot be bound from columns; the message says which and why.</exception>
    /// <exception cref="BatchInputException">The input is unreadable or lacks a column.</exception>
    public async Task<BatchScoringResult> ScoreAsync(IModelRunner runner, BatchScoringOptions options,
        IProgress<BatchScoringProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var source = await OpenAsync(options, cancellationToken).ConfigureAwait(false);
        await using var sourceScope = source.ConfigureAwait(false);
        var binding = TensorBinding.Create(runner.Signature, source.ColumnNames, options.IdColumn, options.ColumnMapping, options.InputPath);
        return await RunAsync(source, new TensorChunkScorer(runner, binding, _time, options.NonFiniteOutputs == NonFiniteValuePolicy.Reject), options, progress, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<IRowSource> OpenAsync(BatchScoringOptions options, CancellationToken cancellationToken)
    {
        var source = await RowSources.OpenAsync(options.InputPath, options.InputFormat, options.CsvSeparator, cancellationToken).ConfigureAwait(false);
        if (!source.ColumnNames.Contains(options.IdColumn))
        {
            await source.DisposeAsync().ConfigureAwait(false);
            throw new BatchInputException(options.InputPath, "header", $"no id column '{options.IdColumn}' (the columns are: {string.Join(", ", source.ColumnNames)}); set IdColumn", null);
        }

        return source;
    }

    private async Task<BatchScoringResult> RunAsync(IRowSource source, IChunkScorer scorer, BatchScoringOptions options,
        IProgress<BatchScoringProgress>? progress, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        IScoreSink sink = options.ToPostgres ? new PostgresSink(options) : new FileSink(options);
        await using var sinkScope = sink.ConfigureAwait(false);
        var skipped = await sink.OpenAsync(cancellationToken).ConfigureAwait(false);
        Log.Starting(_logger, options.InputPath, options.ToPostgres ? options.PostgresTable! : options.OutputPath!, skipped);

        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = failed.Token;
        var stages = new StageTimes();
        var scored = Channel.CreateBounded<Task<ScoredChunk>>(new BoundedChannelOptions(options.EffectiveChunksInFlight) { SingleReader = true, SingleWriter = true });
        var producer = Task.Run(async () =>
        {
            try
            {
                var enumerator = source.ReadAsync(scorer.Columns, skipped, options.ChunkSize, token).GetAsyncEnumerator(token);
                await using var enumeratorScope = enumerator.ConfigureAwait(false);
                while (true)
                {
                    var readStarted = Stopwatch.GetTimestamp();
                    if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }

                    StageTimes.Add(ref stages.Read, readStarted);
                    var chunk = enumerator.Current;
                    await scored.Writer.WriteAsync(Task.Run(async () =>
                    {
                        var started = Stopwatch.GetTimestamp();
                        var result = await scorer.ScoreAsync(chunk, token).ConfigureAwait(false);
                        StageTimes.Add(ref stages.Score, started);
                        return result;
                    }, token), token).ConfigureAwait(false);
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
                var waitStarted = Stopwatch.GetTimestamp();
                var chunk = await pending.ConfigureAwait(false);
                StageTimes.Add(ref stages.WaitScore, waitStarted);
                var writeStarted = Stopwatch.GetTimestamp();
                await sink.WriteAsync(chunk, token).ConfigureAwait(false);
                _chunkWrite.Record(Stopwatch.GetElapsedTime(writeStarted).TotalSeconds);
                StageTimes.Add(ref stages.Write, writeStarted);
                _rowsWritten.Add(chunk.Rows);
                _rowsRejected.Add(chunk.Rejects.Count);
                foreach (var reject in chunk.Rejects)
                {
                    Log.Rejected(_logger, reject.Row + 1, reject.Id, reject.Reason);
                }

                written += chunk.Rows;
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
            var completeStarted = Stopwatch.GetTimestamp();
            await sink.CompleteAsync(scorer.EmptyColumns(), token).ConfigureAwait(false);
            StageTimes.Add(ref stages.Write, completeStarted);
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
        Log.Stages(_logger, StageTimes.Seconds(stages.Read), StageTimes.Seconds(stages.Score), StageTimes.Seconds(stages.WaitScore), StageTimes.Seconds(stages.Write));
        return result;
    }

    /// <summary>Time spent per stage (Stopwatch ticks, summed over chunks; the scoring of parallel chunks overlaps).</summary>
    private sealed class StageTimes
    {
        public long Read;
        public long Score;
        public long WaitScore;
        public long Write;

        public static void Add(ref long stage, long started) => Interlocked.Add(ref stage, Stopwatch.GetTimestamp() - started);

        public static double Seconds(long ticks) => (double)ticks / Stopwatch.Frequency;
    }

    /// <summary>Event ids 5000-5099 (docs/operations.md lists every package's range).</summary>
    private static partial class Log
    {
        [LoggerMessage(EventId = 5000, EventName = "BatchScoringStarted", Level = LogLevel.Information, Message = "Batch scoring {Input} into {Destination}; {Skipped} rows already done by earlier runs")]
        public static partial void Starting(ILogger logger, string input, string destination, long skipped);

        [LoggerMessage(EventId = 5001, EventName = "BatchScoringRowRejected", Level = LogLevel.Warning, Message = "Rejected input row {Row} (id {Id}): {Reason}")]
        public static partial void Rejected(ILogger logger, long row, string? id, string reason);

        [LoggerMessage(EventId = 5002, EventName = "BatchScoringDone", Level = LogLevel.Information, Message = "Batch scoring done: {Written} rows written, {Rejected} rejected, {Skipped} done before; {Seconds:0.00} s, {RowsPerSecond:N0} rows/s")]
        public static partial void Done(ILogger logger, long written, long rejected, long skipped, double seconds, double rowsPerSecond);

        [LoggerMessage(EventId = 5003, EventName = "BatchScoringStages", Level = LogLevel.Information, Message = "Batch scoring stages: read {Read:0.00} s, bind and predict {Score:0.00} s (summed over the chunks in flight), writer waiting for predictions {Wait:0.00} s, write and commit {Write:0.00} s")]
        public static partial void Stages(ILogger logger, double read, double score, double wait, double write);
    }
}
