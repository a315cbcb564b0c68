using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using ModelInService.Monitoring;
using StackExchange.Redis;

namespace ModelInService.Redis.Monitoring;

/// <summary>
/// One model's cluster monitor. Everything that touches Redis runs in <see cref="SyncAsync"/>, serialized by
/// <see cref="_gate"/>, on the hosted service's timer (never on a request): the request path records into the local
/// monitor exactly as without Redis. The view is a second monitor that holds the merge of every replica's published
/// intervals; the replica that holds the lease evaluates it and raises the events.
/// </summary>
[DebuggerDisplay("ClusterMonitor {ModelName} on {ReplicaId}: fence {_fence}, {_buffer.Count} buffered")]
internal sealed class ClusterMonitor : IClusterMonitor, IDisposable
{
    /// <summary>Entries fetched per MGET.</summary>
    private const int ReadBatch = 64;

    /// <summary>Index members read per synchronization at most (10,000 intervals of 10 replicas).</summary>
    private const int MaxIndexRead = 100_000;

    /// <summary>Serializes synchronizations (the timer's and explicit calls); guards every mutable field below.</summary>
    private readonly SemaphoreSlim _gate = new(1, 1);

    private readonly ModelMonitor _local;
    private readonly ModelMonitor _view;
    private readonly RedisMonitoringOptions _options;
    private readonly RedisConnection _connection;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ClusterMonitorMetrics _metrics;
    private readonly ClusterMonitorKeys _keys;

    /// <summary>Random per process: a restarted replica never renews its predecessor's lease.</summary>
    private readonly string _token = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));

    private readonly long _intervalTicks;

    /// <summary>Intervals the ring retains (the window of entries worth reading).</summary>
    private readonly long _retainedIntervals;

    /// <summary>Closed local intervals not yet published, oldest first, at most MaxBufferedIntervals.</summary>
    private readonly Queue<(long Index, byte[] Bytes)> _buffer = new();

    /// <summary>Index members already merged into the view (or skipped), with their interval index for pruning.</summary>
    private readonly Dictionary<string, long> _seen = new(StringComparer.Ordinal);

    /// <summary>The newest local interval taken into the buffer.</summary>
    private long _lastTaken;

    /// <summary>The fence of the lease this replica holds, or 0.</summary>
    private long _fence;

    /// <summary>The last cluster interval evaluated under the lease (read from Redis on acquisition).</summary>
    private long _lastEvaluated = long.MinValue;

    /// <summary>The reference last copied into the view.</summary>
    private MonitorReference? _reference;

    /// <summary>Failed synchronizations in the current outage (0: connected).</summary>
    private long _failures;

    private volatile StatusBox _status;

    public ClusterMonitor(ModelMonitor local, RedisMonitoringOptions options, RedisConnection connection, TimeProvider time, ILogger logger, System.Diagnostics.Metrics.IMeterFactory? meterFactory)
    {
        _local = local;
        _options = options;
        _connection = connection;
        _time = time;
        _logger = logger;
        ModelName = local.ModelName;
        ReplicaId = options.ReplicaId ?? Environment.MachineName + "-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        _keys = new ClusterMonitorKeys(options.KeyPrefix, ModelName);
        _intervalTicks = local.Options.IntervalLength.Ticks;
        _retainedIntervals = Math.Clamp((local.Options.Retention.Ticks + _intervalTicks - 1) / _intervalTicks, 1, 10_000);

        // The local monitor keeps evaluating for its own report and health; the lease holder raises the cluster's events.
        _local.RaisesEvents = false;
        _view = local.CreateView();

        // Intervals closed before this replica started were published by its predecessor, if by anyone.
        _lastTaken = local.CurrentIntervalIndex - 1;
        _status = new StatusBox(new ClusterMonitorStatus(false, "not synchronized yet", false, 0, 0, null));
        _metrics = new ClusterMonitorMetrics(meterFactory, ModelName, () => _status.Value.BufferedIntervals, () => _status.Value.IsLeaseHolder);
    }

    public string ModelName { get; }

    public string ReplicaId { get; }

    public IModelMonitor Local => _local;

    public IModelMonitor Cluster => _view;

    public ClusterMonitorStatus Status => _status.Value;

    /// <summary>The view, for tests and the health check.</summary>
    internal ModelMonitor View => _view;

    public async Task SyncAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await TakeClosedIntervalsAsync(cancellationToken).ConfigureAwait(false);
            SyncReference();
            string? reason = null;
            Exception? error = null;
            var published = 0;
            try
            {
                var connection = await _connection.GetAsync(_options.Configuration, cancellationToken).AsTask().WaitAsync(_options.OperationTimeout, _time, cancellationToken).ConfigureAwait(false);
                var work = RoundTripAsync(connection.GetDatabase());
                try
                {
                    await work.WaitAsync(_options.OperationTimeout, _time, CancellationToken.None).ConfigureAwait(false);
                }
                catch (TimeoutException ex)
                {
                    // Slow Redis is an outage: say so now. The round trip is still awaited below (each command is
                    // bounded by the client's own timeout), so it never overlaps the next synchronization, and events it
                    // committed under the fence are still raised.
                    error = ex;
                    reason = $"Redis did not answer within {_options.OperationTimeout}";
                    _status = new StatusBox(_status.Value with { Connected = false, Reason = reason });
                }

                (published, var events) = await work.ConfigureAwait(false);
                if (events.Count > 0)
                {
                    // Committed under the fence: raise once, outside the I/O timeout (handlers have their own).
                    await _view.RaiseAsync(events, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or InvalidOperationException or ObjectDisposedException)
            {
                reason = ex.Message;
                error = ex;
            }

            if (error is null)
            {
                if (_failures > 0)
                {
                    ClusterMonitorLog.Recovered(_logger, ModelName, ReplicaId, _failures, published);
                    _failures = 0;
                }
            }
            else
            {
                _metrics.Failed();
                if (_failures++ == 0)
                {
                    ClusterMonitorLog.Unavailable(_logger, ModelName, ReplicaId, reason!, error);
                }

                // Without Redis this replica cannot know the lease is still its own: it stops raising until it renews.
                _fence = 0;
            }

            _status = new StatusBox(new ClusterMonitorStatus(error is null, reason, _fence > 0, _fence, _buffer.Count, _lastEvaluated == long.MinValue ? null : _lastEvaluated));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>One synchronization's Redis work: publish the buffer, merge the others' intervals, lead or mirror.</summary>
    private async Task<(int Published, IReadOnlyList<ModelMonitorEvent> Events)> RoundTripAsync(IDatabase db)
    {
        var published = await PublishAsync(db).ConfigureAwait(false);
        await ReadAsync(db).ConfigureAwait(false);
        return (published, await LeadAsync(db).ConfigureAwait(false));
    }

    /// <summary>Gives the lease up if this replica holds it (graceful stop), so another takes over at its next synchronization.</summary>
    public async Task ReleaseAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_fence <= 0)
            {
                return;
            }

            var db = (await _connection.GetAsync(_options.Configuration, cancellationToken).ConfigureAwait(false)).GetDatabase();
            await db.ScriptEvaluateAsync(ClusterMonitorScripts.Release, [_keys.Lease], [LeaseValue]).WaitAsync(_options.OperationTimeout, cancellationToken).ConfigureAwait(false);
            _fence = 0;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or InvalidOperationException)
        {
            // The lease expires on its own after its period.
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _view.Dispose();
        _gate.Dispose();
    }

    private string LeaseValue => _fence.ToString(CultureInfo.InvariantCulture) + ":" + _token;

    /// <summary>Flushes the local monitor and copies its newly closed intervals into the bounded buffer (no Redis).</summary>
    private async Task TakeClosedIntervalsAsync(CancellationToken cancellationToken)
    {
        await _local.FlushAsync(cancellationToken).ConfigureAwait(false);

        // A row is stamped with its interval when it is recorded and reaches the local monitor a moment later (after
        // the flush above, for a caller descheduled in between): an interval is taken only once it has been closed for
        // PublishGrace, since what is taken is never sent again (the Redis-outage test lost 9 rows of 771,382 that way).
        var closed = ((_time.GetUtcNow() - PublishGrace(_local.Options.IntervalLength)).UtcTicks / _intervalTicks) - 1;
        if (closed <= _lastTaken)
        {
            return;
        }

        var snapshot = _local.ExportIntervals(_lastTaken + 1, closed);
        _lastTaken = closed;
        foreach (var interval in snapshot.Intervals)
        {
            using var stream = new MemoryStream();
            new MonitorSnapshot(ModelName, snapshot.IntervalLength, snapshot.CreatedAt, snapshot.Catalog, [interval]).WriteTo(stream);
            if (_buffer.Count >= _options.MaxBufferedIntervals)
            {
                _buffer.Dequeue();
                _metrics.Dropped();
                ClusterMonitorLog.BufferFull(_logger, ModelName, _options.MaxBufferedIntervals);
            }

            _buffer.Enqueue((interval.Index, stream.ToArray()));
        }
    }

    /// <summary>How long an interval stays open to late rows after it closes before it is published: 1 s, or a quarter of a shorter interval.</summary>
    internal static TimeSpan PublishGrace(TimeSpan intervalLength) => TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, intervalLength.Ticks / 4));

    private void SyncReference()
    {
        var reference = _local.Reference;
        if (!ReferenceEquals(reference, _reference))
        {
            _reference = reference;
            _view.SetReference(reference);
        }
    }

    /// <summary>Publishes the buffer oldest first; an interval leaves the buffer only once Redis has it.</summary>
    private async Task<int> PublishAsync(IDatabase db)
    {
        var ttl = (long)_local.Options.Retention.TotalMilliseconds;
        var published = 0;
        while (_buffer.TryPeek(out var entry))
        {
            var member = ClusterMonitorKeys.Member(entry.Index, ReplicaId);
            var oldest = _local.CurrentIntervalIndex - _retainedIntervals;
            await db.ScriptEvaluateAsync(ClusterMonitorScripts.Publish, [_keys.Entry(member), _keys.Index], [entry.Bytes, ttl, entry.Index, member, oldest]).ConfigureAwait(false);
            _buffer.Dequeue();
            _metrics.Published(entry.Bytes.Length);
            published++;
        }

        return published;
    }

    /// <summary>Merges every retained entry not merged yet into the view; a malformed one is skipped and counted, never merged in part.</summary>
    private async Task ReadAsync(IDatabase db)
    {
        var oldest = _view.CurrentIntervalIndex - _retainedIntervals + 1;
        foreach (var stale in _seen.Where(p => p.Value < oldest).Select(p => p.Key).ToList())
        {
            _seen.Remove(stale);
        }

        // Bounded: a hostile index cannot make one synchronization read without end (the rest comes next time).
        var members = await db.SortedSetRangeByScoreAsync(_keys.Index, oldest, double.PositiveInfinity, take: MaxIndexRead).ConfigureAwait(false);
        var fresh = new List<(string Member, long Index)>();
        var malformed = 0;
        string? firstBad = null, firstReason = null;
        foreach (var value in members)
        {
            var member = (string?)value ?? "";
            if (_seen.ContainsKey(member))
            {
                continue;
            }

            if (!ClusterMonitorKeys.TryParseMember(member, out var index))
            {
                _seen[member] = _view.CurrentIntervalIndex; // not re-read (nor re-counted) within the retention
                Bad(member, "not an 'index:replica' member");
                continue;
            }

            fresh.Add((member, index));
        }

        for (var start = 0; start < fresh.Count; start += ReadBatch)
        {
            var batch = fresh.Skip(start).Take(ReadBatch).ToArray();
            // At most MaxEntryBytes + 1 bytes of each entry (GETRANGE, pipelined): an oversized entry is known to be one
            // without reading it (100 MB entries were read whole, taking the process to 3.1 GB, then refused).
            var reads = new Task<RedisValue>[batch.Length];
            for (var i = 0; i < batch.Length; i++)
            {
                reads[i] = db.StringGetRangeAsync(_keys.Entry(batch[i].Member), 0, _options.MaxEntryBytes);
            }

            var values = await Task.WhenAll(reads).ConfigureAwait(false);
            for (var i = 0; i < batch.Length; i++)
            {
                var (member, index) = batch[i];
                _seen[member] = index;
                if (values[i].IsNull || values[i].Length() == 0)
                {
                    continue; // expired between the index read and the fetch (GETRANGE answers an empty string)
                }

                try
                {
                    Merge((byte[])values[i]!, index);
                }
                catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException or InvalidDataException or EndOfStreamException)
                {
                    Bad(member, ex.Message);
                }
            }
        }

        if (malformed > 0)
        {
            _metrics.Malformed(malformed);
            ClusterMonitorLog.EntriesMalformed(_logger, ModelName, malformed, firstBad!, firstReason!);
        }

        void Bad(string member, string reason)
        {
            malformed++;
            firstBad ??= member.Length > 100 ? member[..100] + "…" : member;
            firstReason ??= reason;
        }
    }

    /// <summary>Validates one entry as a snapshot file (bounded, complete) plus what its key promises, then merges it (all or nothing).</summary>
    private void Merge(byte[] bytes, long index)
    {
        if (bytes.Length > _options.MaxEntryBytes)
        {
            throw new FormatException($"{bytes.Length} bytes (MaxEntryBytes is {_options.MaxEntryBytes}).");
        }

        var snapshot = MonitorSnapshot.ReadFrom(new MemoryStream(bytes, writable: false));
        if (snapshot.ModelName != ModelName || snapshot.IntervalLength.Ticks != _intervalTicks || snapshot.IntervalCount != 1 || snapshot.Intervals[0].Index != index)
        {
            throw new FormatException($"The entry is not interval {index} of model '{ModelName}' at {_local.Options.IntervalLength} (it holds {snapshot.IntervalCount} interval(s) of '{snapshot.ModelName}' at {snapshot.IntervalLength}).");
        }

        _view.MergeSnapshot(snapshot);
    }

    /// <summary>
    /// Renews or seeks the lease. The holder evaluates each closed cluster interval once (after the evaluation delay),
    /// commits the state under its fence and returns the events to raise; a replica that does not hold it mirrors the
    /// committed state, so its cluster report shows the same statuses.
    /// </summary>
    private async Task<IReadOnlyList<ModelMonitorEvent>> LeadAsync(IDatabase db)
    {
        var period = (long)_options.LeasePeriod.TotalMilliseconds;
        var fence = (long)await db.ScriptEvaluateAsync(ClusterMonitorScripts.AcquireOrRenew, [_keys.Lease, _keys.Fence], [_token, period]).ConfigureAwait(false);
        if (fence == 0)
        {
            if (_fence > 0)
            {
                ClusterMonitorLog.LeaseLost(_logger, ModelName, ReplicaId, _fence);
            }

            _fence = 0;
            await LoadStateAsync(db).ConfigureAwait(false);
            return [];
        }

        if (fence != _fence)
        {
            // Newly acquired (or re-acquired after an outage): start from what the previous holder committed.
            _fence = fence;
            await LoadStateAsync(db).ConfigureAwait(false);
            ClusterMonitorLog.LeaseAcquired(_logger, ModelName, ReplicaId, fence, _lastEvaluated);
        }

        var due = ((_time.GetUtcNow() - _options.EvaluationDelay).UtcTicks / _intervalTicks) - 1;
        if (due <= _lastEvaluated || due != _view.CurrentIntervalIndex - 1)
        {
            return [];
        }

        var events = _view.EvaluateWindows();
        var state = ClusterState.Write(due, _view.ExportWindowStatus());
        var ttl = (long)(_local.Options.Retention.TotalMilliseconds * 2);
        var committed = (long)await db.ScriptEvaluateAsync(ClusterMonitorScripts.Commit, [_keys.Lease, _keys.State], [LeaseValue, _fence, state, ttl]).ConfigureAwait(false);
        if (committed != 1)
        {
            // A later holder exists: raise nothing; its state wins at the next acquisition.
            ClusterMonitorLog.LeaseLost(_logger, ModelName, ReplicaId, _fence);
            _fence = 0;
            await LoadStateAsync(db).ConfigureAwait(false);
            return [];
        }

        _lastEvaluated = due;
        return events;
    }

    /// <summary>Reads the committed state into the view (hysteresis) and <see cref="_lastEvaluated"/>; a malformed one is ignored and logged.</summary>
    private async Task LoadStateAsync(IDatabase db)
    {
        var value = await db.HashGetAsync(_keys.State, "state").ConfigureAwait(false);
        if (value.IsNull)
        {
            return;
        }

        try
        {
            var (last, windows) = ClusterState.Read((byte[])value!);
            _view.ImportWindowStatus(windows);
            _lastEvaluated = last;
        }
        catch (FormatException ex)
        {
            _metrics.Malformed(1);
            ClusterMonitorLog.StateMalformed(_logger, ModelName, ex.Message);
        }
    }

    /// <summary>The status, replaced whole (a record struct cannot be volatile).</summary>
    private sealed record StatusBox(ClusterMonitorStatus Value);
}
