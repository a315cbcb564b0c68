using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using ModelInService.Caching;
using StackExchange.Redis;

namespace ModelInService.Redis.Caching;

/// <summary>
/// A model's L2 prediction cache in Redis: one GET per local miss, bounded by <see cref="RedisCacheOptions.LookupTimeout"/>
/// (a timeout, an error or an unreachable server is a miss), and SETs with the entry TTL from a bounded queue drained
/// by a background writer (fire-and-forget; a full queue drops the write). An outage is logged once when it starts and
/// once when it ends, and counted.
/// </summary>
/// <remarks>
/// Key: <c>{prefix}{model}:{content hash}:{layout}:{input hash}</c>. The connection is made in the background with
/// <c>abortConnect=false</c> and the fail-fast backlog policy, so no request ever waits for a connection attempt or a
/// reconnect: while the multiplexer is disconnected, lookups return at once as misses and writes are dropped.
/// </remarks>
[DebuggerDisplay("{_model}: {Statistics}")]
internal sealed class RedisSharedCacheStore : ISharedCacheStore, IAsyncDisposable
{
    /// <summary>The meter of ModelInService.Redis's L2 cache instruments.</summary>
    public const string MeterName = "ModelInService.Redis";

    private readonly string _model;
    private readonly RedisCacheOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<SharedCacheWrite> _queue;
    private readonly Task _connecting;
    private readonly Task _writer;
    private readonly bool _ownsConnection;
    private readonly KeyValuePair<string, object?> _modelTag;
    private readonly Counter<long>? _lookups;
    private readonly Counter<long>? _writes;
    private readonly Counter<long>? _outages;
    private readonly Histogram<double>? _lookupDuration;

    private IConnectionMultiplexer? _connection;
    private IDatabase? _database;

    /// <summary>1 while Redis is considered down (between the first failure and the next success).</summary>
    private int _down;

    /// <summary>1 once a corrupt entry was logged (further ones are counted only).</summary>
    private int _corruptLogged;

    /// <summary>Why Redis was last considered down (the readiness check's reason).</summary>
    private string? _downReason;

    /// <summary>When Redis last refused a write (<see cref="TimeProvider.GetTimestamp"/>), or 0.</summary>
    private long _writeRefusedAt;

    public RedisSharedCacheStore(string model, RedisCacheOptions options, IConnectionMultiplexer? shared, TimeProvider time, ILogger logger, IMeterFactory? meters)
    {
        _model = model;
        _options = options;
        _time = time;
        _logger = logger;
        _modelTag = new KeyValuePair<string, object?>("model", model);
        if (meters is not null)
        {
            var meter = meters.Create(MeterName);
            _lookups = meter.CreateCounter<long>("model_in_service.cache.l2.lookups", "{lookup}", "L2 (Redis) cache lookups by result (hit, miss, timeout, unavailable, error, corrupt).");
            _writes = meter.CreateCounter<long>("model_in_service.cache.l2.writes", "{write}", "L2 (Redis) cache writes by result (written, dropped, too_large, unavailable, failed).");
            _outages = meter.CreateCounter<long>("model_in_service.cache.l2.outages", "{outage}", "Times the L2 (Redis) cache became unreachable.");
            _lookupDuration = meter.CreateHistogram<double>("model_in_service.cache.l2.lookup.duration", "s", "Time a request waited for the L2 (Redis) lookup.");
        }

        _queue = Channel.CreateBounded<SharedCacheWrite>(new BoundedChannelOptions(options.WriteQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails at once: the write is dropped and counted
        });
        if (options.Configuration is null)
        {
            _connection = shared ?? throw new InvalidOperationException($"Model '{model}': UseRedisCache needs RedisCacheOptions.Configuration or an IConnectionMultiplexer in the service collection.");
            _database = _connection.GetDatabase();
            _connecting = Task.CompletedTask;
        }
        else
        {
            _ownsConnection = true;
            _connecting = Task.Run(ConnectAsync);
        }

        _writer = Task.Run(WriteAllAsync);
    }

    /// <summary>Gets the store's counters.</summary>
    public RedisCacheStatistics Statistics { get; } = new();

    /// <summary>Completes when the first connection attempt finished (connected or not); for tests and benchmarks.</summary>
    public Task Connecting => _connecting;

    /// <summary>
    /// The store's state for its readiness check: connecting (the first attempt is under way), unreachable (with the
    /// last reason), refusing writes (Redis answered a write with an error within the last <paramref name="window"/>
    /// and none succeeded since), or healthy.
    /// </summary>
    /// <param name="window">How long a refused write keeps the store "refusing writes" when no write succeeded since.</param>
    /// <returns>The state and its reason (null when healthy).</returns>
    public (RedisCacheState State, string? Reason) GetState(TimeSpan window)
    {
        if (_database is null)
        {
            return _connecting.IsCompleted
                ? (RedisCacheState.Unreachable, Volatile.Read(ref _downReason) ?? "not connected")
                : (RedisCacheState.Connecting, "the first connection attempt is under way");
        }

        if (!_connection!.IsConnected)
        {
            return (RedisCacheState.Unreachable, Volatile.Read(ref _downReason) ?? "not connected");
        }

        var refusedAt = Interlocked.Read(ref _writeRefusedAt);
        if (refusedAt != 0 && _time.GetElapsedTime(refusedAt) < window && Volatile.Read(ref _writeRefused) is { } refused)
        {
            return (RedisCacheState.RefusingWrites, refused);
        }

        return (RedisCacheState.Healthy, null);
    }

    /// <summary>The Redis key of <paramref name="key"/>.</summary>
    public string KeyOf(SharedCacheKey key) => string.Create(CultureInfo.InvariantCulture, $"{_options.KeyPrefix}{key.Model}:{key.ModelHash}:{key.Layout:x16}:{key.Input:x32}");

    public async ValueTask<byte[]?> GetAsync(SharedCacheKey key, CancellationToken cancellationToken)
    {
        var database = _database;
        if (database is null || !_connection!.IsConnected)
        {
            Count(Statistics.CountUnavailable(), "unavailable");
            if (database is not null)
            {
                NoteDown("not connected"); // not while the first connection attempt is still under way
            }

            return null;
        }

        var started = _time.GetTimestamp();
        Task<RedisValue>? get = null;
        try
        {
            // At most MaxEntryBytes + 1 bytes (GETRANGE): a value this store never writes (a 100 MB key planted in Redis)
            // is not read whole on the request path; one byte over the limit is enough to call it corrupt.
            get = database.StringGetRangeAsync(KeyOf(key), 0, _options.MaxEntryBytes);
            var value = await get.WaitAsync(_options.LookupTimeout, _time, cancellationToken).ConfigureAwait(false);
            _lookupDuration?.Record(_time.GetElapsedTime(started).TotalSeconds, _modelTag);
            NoteUp();
            if (value.IsNull || value.Length() == 0)
            {
                Count(Statistics.CountMiss(), "miss"); // GETRANGE answers an empty string for a missing key
                return null;
            }

            return (byte[]?)value; // a hit or corrupt: the cache's verdict (ReportHit, ReportCorrupt) counts it
        }
        catch (TimeoutException)
        {
            Observe(get);
            _lookupDuration?.Record(_time.GetElapsedTime(started).TotalSeconds, _modelTag);
            Count(Statistics.CountTimeout(), "timeout");
            return null;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Observe(get);
            throw;
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException or InvalidOperationException)
        {
            Count(Statistics.CountError(), "error");
            NoteDown(ex.Message);
            return null;
        }
    }

    public void Enqueue(SharedCacheWrite write)
    {
        if (!_queue.Writer.TryWrite(write))
        {
            CountWrite(Statistics.CountDropped(), "dropped");
        }
    }

    public void ReportHit(SharedCacheKey key) => Count(Statistics.CountHit(), "hit");

    public void ReportCorrupt(SharedCacheKey key)
    {
        Count(Statistics.CountCorrupt(), "corrupt");
        if (Interlocked.Exchange(ref _corruptLogged, 1) == 0)
        {
            Log.CorruptEntry(_logger, _model, KeyOf(key));
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        await _connecting.ConfigureAwait(false);
        if (_ownsConnection && _connection is { } connection)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task ConnectAsync()
    {
        var configuration = ConfigurationOptions.Parse(_options.Configuration!);
        configuration.AbortOnConnectFail = false;          // keep retrying in the background
        configuration.BacklogPolicy = BacklogPolicy.FailFast; // never queue a request's command behind a reconnect
        try
        {
            var connection = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
            _connection = connection;
            _database = connection.GetDatabase();
        }
        catch (Exception ex) when (ex is RedisException or ArgumentException or InvalidOperationException)
        {
            NoteDown(ex.Message);
        }
    }

    private async Task WriteAllAsync()
    {
        await foreach (var write in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            byte[] bytes;
            try
            {
                bytes = write.Serialize();
            }
#pragma warning disable CA1031 // A getter of the app's output type that throws loses this write only.
            catch (Exception)
#pragma warning restore CA1031
            {
                CountWrite(Statistics.CountFailedWrite(), "failed");
                continue;
            }

            if (bytes.Length > _options.MaxEntryBytes)
            {
                CountWrite(Statistics.CountTooLarge(), "too_large");
                continue;
            }

            var database = _database;
            if (database is null || !_connection!.IsConnected)
            {
                CountWrite(Statistics.CountUnavailableWrite(), "unavailable");
                if (database is not null)
                {
                    NoteDown("not connected");
                }

                continue;
            }

            // Counted when Redis answers, not when the command is sent: fire-and-forget SETs counted 100 writes as
            // written while Redis refused every one (out of memory), and nothing was logged. At most
            // MaxWritesInFlight wait for their answer, so a slow Redis slows this writer, not the requests.
            await _writesInFlight.WaitAsync().ConfigureAwait(false);
            Task<bool> set;
            try
            {
                set = database.StringSetAsync(KeyOf(write.Key), bytes, _options.TimeToLive, When.Always);
            }
            catch (Exception ex) when (ex is RedisException or ObjectDisposedException or InvalidOperationException)
            {
                _writesInFlight.Release();
                CountWrite(Statistics.CountFailedWrite(), "failed");
                NoteDown(ex.Message);
                continue;
            }

            _ = set.ContinueWith(static (t, state) => ((RedisSharedCacheStore)state!).Written(t), this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        // Answers still on their way are counted before the store is gone.
        for (var i = 0; i < MaxWritesInFlight; i++)
        {
            await _writesInFlight.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
    }

    private const int MaxWritesInFlight = 64;

    private readonly SemaphoreSlim _writesInFlight = new(MaxWritesInFlight, MaxWritesInFlight);

    /// <summary>The last reason Redis refused a write, logged once per distinct reason.</summary>
    private string? _writeRefused;

    private void Written(Task<bool> set)
    {
        _writesInFlight.Release();
        if (set.IsCompletedSuccessfully)
        {
            CountWrite(Statistics.CountWritten(), "written");
            Volatile.Write(ref _writeRefused, null);
            Interlocked.Exchange(ref _writeRefusedAt, 0);
            return;
        }

        CountWrite(Statistics.CountFailedWrite(), "failed");
        var reason = set.Exception?.GetBaseException().Message ?? "canceled";
        if (set.Exception?.GetBaseException() is RedisServerException)
        {
            Interlocked.Exchange(ref _writeRefusedAt, _time.GetTimestamp());
            if (!string.Equals(Interlocked.Exchange(ref _writeRefused, reason), reason, StringComparison.Ordinal))
            {
                Log.WriteRefused(_logger, _model, reason);
            }
        }
        else
        {
            NoteDown(reason);
        }
    }

    private void NoteDown(string reason)
    {
        Volatile.Write(ref _downReason, reason);
        if (Interlocked.Exchange(ref _down, 1) == 0)
        {
            Statistics.CountOutage();
            _outages?.Add(1, _modelTag);
            Log.Unavailable(_logger, _model, reason);
        }
    }

    private void NoteUp()
    {
        if (Volatile.Read(ref _down) == 1 && Interlocked.Exchange(ref _down, 0) == 1)
        {
            Log.Restored(_logger, _model);
        }
    }

    private void Count(long unused, string result)
    {
        _ = unused;
        _lookups?.Add(1, _modelTag, new KeyValuePair<string, object?>("result", result));
    }

    private void CountWrite(long unused, string result)
    {
        _ = unused;
        _writes?.Add(1, _modelTag, new KeyValuePair<string, object?>("result", result));
    }

    /// <summary>Observes the fault of a lookup nobody waits for any more (a timeout or a cancellation).</summary>
    private static void Observe(Task? task) =>
        task?.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
}
