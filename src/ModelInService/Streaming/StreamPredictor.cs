using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using ModelInService.Batching;
using ModelInService.Hosting;
using ModelInService.Monitoring;
using ModelInService.Sessions;

namespace ModelInService.Streaming;

/// <summary>A test hook run before every batch with its rows.</summary>
internal delegate void BatchHook<TChunk>(ReadOnlySpan<StreamStep<TChunk>> rows);

/// <summary>
/// The <see cref="IStreamPredictor{TChunk, TResult}"/> of one streaming model: the open streams (bounded, expired by
/// one timer), and either the sequence batcher (a <see cref="DynamicBatcher{TInput, TOutput}"/> over
/// <see cref="StreamStep{TChunk}"/>s) or one run per chunk on the caller's thread.
/// </summary>
internal sealed class StreamPredictor<TChunk, TResult> : IStreamPredictor<TChunk, TResult>, IStreamingModel, IStartableChain, IDisposable
{
    private readonly ConcurrentDictionary<string, StreamSession> _streams = new(StringComparer.Ordinal);
    private readonly ModelHost _host;
    private readonly StreamingOptions _options;
    private readonly ModelRegistry _registry;
    private readonly StreamingMetrics? _metrics;

    /// <summary>The monitor's recorder (UseMonitoring), decided when the predictor is built; null when the model is not monitored.</summary>
    private readonly PredictionRecorder<TChunk, TResult>? _recorder;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    /// <summary>When the last refusal was logged (long.MinValue: never), and refusals since.</summary>
    private long _refusalLoggedAt = long.MinValue;
    private long _refusedSinceLog;
    private readonly ITimer? _sweeper;
    private readonly long _idleTicks;
    private readonly Lock _gate = new();
    private volatile DynamicBatcher<StreamStep<TChunk>, StepResult<TResult>>? _batcher;
    private int _open;
    private int _disposed;

    public StreamPredictor(ModelRegistry registry, string name, StreamingOptions options, StreamingMetrics? metrics, PredictionRecorder<TChunk, TResult>? recorder, ILogger logger)
    {
        _recorder = recorder;
        _registry = registry;
        _host = registry.Get(name);
        _options = options;
        _metrics = metrics;
        _logger = logger;
        _time = _host.Time;
        ModelName = name;
        if (options.IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            _idleTicks = (long)(options.IdleTimeout.TotalSeconds * _time.TimestampFrequency);
            var period = TimeSpan.FromTicks(Math.Clamp(options.IdleTimeout.Ticks / 4, TimeSpan.TicksPerMillisecond, TimeSpan.TicksPerSecond * 30));
            _sweeper = _time.CreateTimer(static s => ((StreamPredictor<TChunk, TResult>)s!).Sweep(), this, period, period);
        }

        metrics?.Add(this);
    }

    public string ModelName { get; }

    public int OpenStreams => Volatile.Read(ref _open);

    public int MaxStreams => _options.MaxStreams;

    long IStreamingModel.OpenStreams => OpenStreams;

    /// <summary>Bytes of state held by the open streams (their buffers).</summary>
    public long StateBytes
    {
        get
        {
            long bytes = 0;
            foreach (var stream in _streams.Values)
            {
                bytes += stream.State.Length * sizeof(float);
            }

            return bytes;
        }
    }

    /// <summary>The sequence batcher; null when sequence batching is off or before the first chunk.</summary>
    internal DynamicBatcher<StreamStep<TChunk>, StepResult<TResult>>? Batcher => _batcher;

    /// <summary>A test hook: runs before every batch with its rows (to inject a failure for some streams).</summary>
    internal BatchHook<TChunk>? BeforeRun { get; set; }

    public void Start()
    {
        var binder = Binder(_host.Current);
        var batching = !_options.SequenceBatching ? "off (one run per chunk)"
            : binder.Batchable ? FormattableString.Invariant($"on (MaxBatchSize {_options.Batching.MaxBatchSize}, MaxDelay {_options.Batching.MaxDelay.TotalMilliseconds} ms)")
            : $"on, but the model cannot stack streams ({binder.Batching.Reason}): one run per chunk";
        StreamingLog.StreamingModelBound(_logger, ModelName, binder.Describe(), batching);
        if (_options.SequenceBatching)
        {
            _ = GetBatcher();
        }
    }

    public IStreamSession<TChunk, TResult> OpenStream(string streamId)
    {
        ArgumentException.ThrowIfNullOrEmpty(streamId);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var binder = Binder(_host.Current);
        if (_streams.ContainsKey(streamId))
        {
            throw AlreadyOpen(streamId);
        }

        if (Interlocked.Increment(ref _open) > _options.MaxStreams)
        {
            Interlocked.Decrement(ref _open);
            LogRefusal();
            _metrics?.Rejected(ModelName);
            throw new ModelStreamLimitException(ModelName, _options.MaxStreams);
        }

        var state = ArrayPool<float>.Shared.Rent(Math.Max(1, binder.StateFloats));
        binder.Initialize(streamId, state.AsSpan(0, binder.StateFloats));
        var stream = new StreamSession(this, streamId, state, _time.GetTimestamp());
        if (!_streams.TryAdd(streamId, stream))
        {
            Interlocked.Decrement(ref _open);
            ArrayPool<float>.Shared.Return(state);
            throw AlreadyOpen(streamId);
        }

        _metrics?.Opened(ModelName);
        return stream;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _sweeper?.Dispose();
        _metrics?.Remove(this);
    }

    private static StreamingBinder<TChunk, TResult> Binder(ModelRuntime runtime) => (StreamingBinder<TChunk, TResult>)runtime.Binder!;

    private DynamicBatcher<StreamStep<TChunk>, StepResult<TResult>> GetBatcher()
    {
        if (_batcher is { } batcher)
        {
            return batcher;
        }

        lock (_gate)
        {
            if (_batcher is null)
            {
                var executor = new StreamBatchExecutor(this);
                var created = new DynamicBatcher<StreamStep<TChunk>, StepResult<TResult>>(ModelName, _options.Batching, ThreadPlan.For(_host.Options).MaxConcurrency, executor, _time);
                if (_registry.Metrics is { } batchMetrics)
                {
                    created.Statistics.Listener = batchMetrics.ForBatcher(ModelName);
                }

                // The host stops (drains) it at shutdown; health checks and the queue-depth gauge see it.
                _host.Features.Attach(created, _options.Batching);
                _batcher = created;
            }

            return _batcher;
        }
    }


    /// <summary>
    /// Logs a refused stream at most once a minute, with how many were refused since: a client flooding a full model
    /// with connections must not flood the log with one warning each.
    /// </summary>
    private void LogRefusal()
    {
        Interlocked.Increment(ref _refusedSinceLog);
        var now = _time.GetTimestamp();
        var last = Volatile.Read(ref _refusalLoggedAt);
        if ((last != long.MinValue && now - last < _time.TimestampFrequency * 60)
            || Interlocked.CompareExchange(ref _refusalLoggedAt, now, last) != last)
        {
            return;
        }

        StreamingLog.StreamLimitReached(_logger, ModelName, Interlocked.Exchange(ref _refusedSinceLog, 0), _options.MaxStreams);
    }
    /// <summary>Runs one chunk: waits its turn on the stream, runs (batched or alone), commits the next state on success.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TResult> PredictAsync(StreamSession stream, TChunk chunk, PredictionOptions? options, CancellationToken cancellationToken)
    {
        if (!stream.IsOpen)
        {
            throw Closed(stream);
        }

        var started = _time.GetTimestamp();
        if (!stream.Gate.Wait(0, CancellationToken.None))
        {
            await stream.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            if (!stream.IsOpen)
            {
                throw Closed(stream);
            }

            stream.Touch(started);
            var runtime = _host.Current;
            var binder = Binder(runtime);
            try
            {
                binder.Validate(chunk);
            }
            catch (ModelInputException)
            {
                _recorder?.RecordRejected();
                throw;
            }

            // Counted until recorded, so the monitor's final snapshot at shutdown waits for this chunk.
            var pending = _recorder?.BeginPending() ?? -1;
            try
            {
                StepResult<TResult> step;
                if (_options.SequenceBatching)
                {
                    step = await GetBatcher().EnqueueAsync(new StreamStep<TChunk>(stream, chunk), binder.BucketOf(chunk), options, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    step = await RunAloneAsync(new StreamStep<TChunk>(stream, chunk), cancellationToken).ConfigureAwait(false);
                }

                // The chunk succeeded: only now does the stream's state move on, and only now is the chunk recorded.
                stream.Commit(step.Next, binder.StateFloats);
                _recorder?.Record(chunk, step.Result);
                _metrics?.Chunk(ModelName, null, _time.GetElapsedTime(started));
                return step.Result;
            }
            catch (ModelNonFiniteOutputException)
            {
                _recorder?.RecordRejected();
                throw;
            }
            finally
            {
                if (pending >= 0)
                {
                    _recorder!.EndPending(pending);
                }
            }
        }
        catch (Exception ex)
        {
            _metrics?.Chunk(ModelName, ex, _time.GetElapsedTime(started));
            throw;
        }
        finally
        {
            stream.Touch(_time.GetTimestamp());
            stream.Gate.Release();
        }
    }

    private async ValueTask<StepResult<TResult>> RunAloneAsync(StreamStep<TChunk> step, CancellationToken cancellationToken)
    {
        var runtime = await _host.EnterCurrentAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return RunOne(runtime, step, cancellationToken);
        }
        finally
        {
            runtime.Exit();
        }
    }

    private StepResult<TResult> RunOne(ModelRuntime runtime, StreamStep<TChunk> step, CancellationToken cancellationToken) =>
        Run(runtime, new ReadOnlySpan<StreamStep<TChunk>>(ref step), cancellationToken)[0];

    private StepResult<TResult>[] Run(ModelRuntime runtime, ReadOnlySpan<StreamStep<TChunk>> rows, CancellationToken cancellationToken)
    {
        BeforeRun?.Invoke(rows);
        return Binder(runtime).Run(runtime, rows, cancellationToken);
    }

    private async ValueTask CloseAsync(StreamSession stream)
    {
        if (!stream.TryClose(expired: false))
        {
            return;
        }

        Forget(stream, expired: false);

        // Wait for a chunk in flight to finish with the state before freeing it.
        await stream.Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            stream.Free();
        }
        finally
        {
            stream.Gate.Release();
        }
    }

    private void Forget(StreamSession stream, bool expired)
    {
        if (_streams.TryRemove(new KeyValuePair<string, StreamSession>(stream.Id, stream)))
        {
            Interlocked.Decrement(ref _open);
            if (!expired)
            {
                _metrics?.Closed(ModelName);
            }
        }
    }

    /// <summary>The expiry timer: closes the streams idle for <see cref="StreamingOptions.IdleTimeout"/> (never one with a chunk running or waiting).</summary>
    private void Sweep()
    {
        var now = _time.GetTimestamp();
        foreach (var stream in _streams.Values)
        {
            if (now - stream.LastUsed < _idleTicks || !stream.Gate.Wait(0, CancellationToken.None))
            {
                continue;
            }

            try
            {
                if (_time.GetTimestamp() - stream.LastUsed >= _idleTicks && stream.TryClose(expired: true))
                {
                    Forget(stream, expired: true);
                    stream.Free();
                    _metrics?.Expired(ModelName);
                    StreamingLog.StreamExpired(_logger, ModelName, stream.Id, _options.IdleTimeout);
                }
            }
            finally
            {
                stream.Gate.Release();
            }
        }
    }

    private InvalidOperationException AlreadyOpen(string streamId) => new($"A stream with id '{streamId}' of model '{ModelName}' is already open; close it first or use another id.");

    private ModelStreamClosedException Closed(StreamSession stream) => new(ModelName, stream.Id, stream.Closed == 2);

    /// <summary>The handle the caller holds.</summary>
    private sealed class StreamSession(StreamPredictor<TChunk, TResult> owner, string id, float[] state, long now) : StreamSlot(id, state, now), IStreamSession<TChunk, TResult>
    {
        public ValueTask<TResult> PredictAsync(TChunk chunk, CancellationToken cancellationToken = default) => owner.PredictAsync(this, chunk, null, cancellationToken);

        public ValueTask<TResult> PredictAsync(TChunk chunk, PredictionOptions? options, CancellationToken cancellationToken = default) => owner.PredictAsync(this, chunk, options, cancellationToken);

        public ValueTask DisposeAsync() => owner.CloseAsync(this);

        public override string ToString() => $"{owner.ModelName}/{Id}";
    }

    /// <summary>Runs the batcher's batches on the serving generation, holding one of its run slots.</summary>
    private sealed class StreamBatchExecutor(StreamPredictor<TChunk, TResult> owner) : IBatchExecutor<StreamStep<TChunk>, StepResult<TResult>>
    {
        public int MaxRowsPerRun => Binder(owner._host.Current).Batchable ? owner._host.MaxRowsPerRun : 1;

        public async ValueTask<StepResult<TResult>[]> ExecuteAsync(ReadOnlyMemory<StreamStep<TChunk>> rows, CancellationToken cancellationToken)
        {
            var runtime = await owner._host.EnterCurrentAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (!Binder(runtime).Batchable && rows.Length > 1)
                {
                    // A reload swapped in a version that cannot stack streams: one run per chunk.
                    var outputs = new StepResult<TResult>[rows.Length];
                    for (var i = 0; i < rows.Length; i++)
                    {
                        outputs[i] = owner.Run(runtime, rows.Span.Slice(i, 1), cancellationToken)[0];
                    }

                    return outputs;
                }

                return owner.Run(runtime, rows.Span, cancellationToken);
            }
            finally
            {
                runtime.Exit();
            }
        }
    }
}
