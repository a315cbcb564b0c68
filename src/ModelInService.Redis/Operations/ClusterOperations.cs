using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ModelInService.Hosting;
using StackExchange.Redis;

namespace ModelInService.Redis.Operations;

/// <summary>
/// Cluster model operations on Redis. An operation issued through <see cref="IModelManager"/> on this replica is stored
/// as the model's desired state (the whole resulting state: serving version, pin, candidate, with the files they load
/// from) under a new revision (INCR) and announced on a channel; every replica converges to the highest revision,
/// once per revision, on the announcement, on every heartbeat (missed messages, late starters) and on reconnect.
/// Replays run inside <see cref="ModelOperationScope.Remote"/>, so they are never published again (no echo loop).
/// </summary>
/// <remarks>
/// Redis unreachable: the operation applies locally, is kept as pending (the latest per model), and is published when
/// Redis returns unless the stored state was issued later by another replica (the later-issued operation wins; among
/// published states the highest revision wins). The failure is logged once per outage, counted, and readiness is
/// Degraded until everything pending is published.
/// </remarks>
internal sealed class ClusterOperations : IModelCluster, IAsyncDisposable, IDisposable
{
    /// <summary>New revision, stored document and announcement in one atomic step: the stored revision is always the newest.</summary>
    private const string PublishScript = """
        local rev = redis.call('INCR', KEYS[1])
        redis.call('HSET', KEYS[2], 'revision', rev, 'state', ARGV[1])
        redis.call('PUBLISH', ARGV[2], rev .. '\n' .. ARGV[3] .. '\n' .. ARGV[4])
        return rev
        """;

    private readonly ModelRegistry _registry;
    private readonly ModelOperationsOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ClusterOperationsMetrics? _metrics;
    private readonly Dictionary<string, ModelLink> _links = new(StringComparer.Ordinal);
    private readonly Channel<string> _signals = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, byte> _queued = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly RedisChannel _channel;
    private ConnectionMultiplexer? _connection;
    private Task? _worker;
    private Task? _heartbeat;
    private volatile bool _subscribed;
    private bool _disposed;
    private int _unreachable;
    private volatile string? _unreachableReason;

    /// <summary>Why Redis last refused a command it received (out of memory, a key of the wrong type): not an outage.</summary>
    private volatile string? _refusedReason;

    public ClusterOperations(
        ModelRegistry registry,
        IOptions<ModelOperationsOptions> options,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null,
        IMeterFactory? meterFactory = null)
    {
        _registry = registry;
        _options = options.Value;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ModelInService.Redis.Operations");
        _time = timeProvider ?? TimeProvider.System;
        ReplicaId = _options.ReplicaId ?? $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
        _channel = RedisChannel.Literal(_options.KeyPrefix + ":ops");
        foreach (var host in registry.Hosts)
        {
            _links[host.Name] = new ModelLink(host);
        }

        _metrics = meterFactory is null ? null : new ClusterOperationsMetrics(meterFactory, () => PendingCount);
    }

    public string ReplicaId { get; }

    /// <summary>Models with a local operation not yet published.</summary>
    internal int PendingCount => _links.Values.Count(l => l.Pending is not null);

    /// <summary>Steps (reload, rollback, promote, pin, ...) this replica applied to follow other replicas' revisions.</summary>
    internal long AppliedOperations(string model) => Interlocked.Read(ref _links[model].Applied);

    /// <summary>Revisions this replica published.</summary>
    internal long PublishedOperations(string model) => Interlocked.Read(ref _links[model].Published);

    /// <summary>The highest revision this replica applied or published.</summary>
    internal long AppliedRevision(string model) => Interlocked.Read(ref _links[model].LastApplied);

    internal bool IsRedisReachable => Volatile.Read(ref _unreachable) == 0 && _connection?.IsConnected == true;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var configuration = ConfigurationOptions.Parse(_options.Configuration!);
        configuration.AbortOnConnectFail = false;
        configuration.BacklogPolicy = BacklogPolicy.FailFast; // an unreachable Redis fails the call at once: nothing waits behind it
        _connection = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        _connection.ConnectionFailed += OnConnectionFailed;
        _connection.ConnectionRestored += OnConnectionRestored;
        if (!_connection.IsConnected)
        {
            Unreachable("connect", $"cannot connect to {string.Join(", ", configuration.EndPoints)}");
        }

        foreach (var link in _links.Values)
        {
            link.Host.OperationApplied += OnOperationApplied;
        }

        await TrySubscribeAsync().ConfigureAwait(false);
        Log.Started(_logger, ReplicaId, _links.Count, _options.KeyPrefix);
        _worker = Task.Run(() => WorkAsync(_stopping.Token), CancellationToken.None);
        _heartbeat = Task.Run(() => HeartbeatAsync(_stopping.Token), CancellationToken.None);
        SignalAll();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var link in _links.Values)
        {
            link.Host.OperationApplied -= OnOperationApplied;
        }

        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _signals.Writer.TryComplete();
        foreach (var loop in new[] { _worker, _heartbeat })
        {
            if (loop is not null)
            {
                await loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        if (_connection is { IsConnected: true } connection)
        {
            // Leave the cluster view at once rather than when the heartbeat expires.
            var db = connection.GetDatabase();
            foreach (var link in _links.Values)
            {
                _ = db.KeyDelete(HeartbeatKey(link.Host.Name), CommandFlags.FireAndForget);
            }
        }
    }

    /// <summary>For containers disposed synchronously (a plain ServiceProvider): the same as <see cref="DisposeAsync"/>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        if (_connection is { } connection)
        {
            connection.ConnectionFailed -= OnConnectionFailed;
            connection.ConnectionRestored -= OnConnectionRestored;
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    public async Task<ModelClusterState> GetStateAsync(string modelName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelName);
        var db = Database();
        var (entries, _) = await ReadDesiredAsync(db, modelName).WaitAsync(cancellationToken).ConfigureAwait(false);
        ModelDesiredState? desired = null;
        if (TryReadStored(entries, out var revision, out var json) && OperationDocuments.TryReadDesired(json, out var document, out _))
        {
            desired = document.ToPublic(revision);
        }

        var members = await db.SetMembersAsync(ReplicasKey(modelName)).WaitAsync(cancellationToken).ConfigureAwait(false);
        var ids = members.Select(m => (string)m!).Where(id => !string.IsNullOrEmpty(id)).ToArray();
        var values = ids.Length == 0 ? [] : await db.StringGetAsync([.. ids.Select(id => (RedisKey)HeartbeatKey(modelName, id))]).WaitAsync(cancellationToken).ConfigureAwait(false);
        var replicas = new List<ModelReplicaState>(ids.Length);
        for (var i = 0; i < ids.Length; i++)
        {
            if (OperationDocuments.TryReadHeartbeat(values[i], out var heartbeat))
            {
                replicas.Add(heartbeat.ToPublic());
            }
            else if (values[i].IsNull)
            {
                _ = db.SetRemove(ReplicasKey(modelName), ids[i], CommandFlags.FireAndForget); // expired: the replica is gone
            }
        }

        replicas.Sort((a, b) => string.CompareOrdinal(a.ReplicaId, b.ReplicaId));
        return new ModelClusterState { ModelName = modelName, Desired = desired, Replicas = replicas };
    }

    /// <summary>Readiness: Degraded while Redis is unreachable, an operation is unpublished, or a revision could not be applied.</summary>
    internal HealthCheckResult Check()
    {
        var pending = PendingCount;
        var data = new Dictionary<string, object> { ["replica"] = ReplicaId, ["pending"] = pending, ["redis"] = IsRedisReachable ? "reachable" : "unreachable" };
        if (!IsRedisReachable)
        {
            return HealthCheckResult.Degraded($"Redis is unreachable for cluster operations ({_unreachableReason ?? "not connected"}): operations apply on this replica only; {pending} model(s) have operations to publish when it returns.", data: data);
        }

        if (_refusedReason is { } refused)
        {
            return HealthCheckResult.Degraded($"Redis refuses the cluster operations' writes ({refused}): operations apply on this replica; {pending} model(s) have operations to publish.", data: data);
        }

        if (pending > 0)
        {
            return HealthCheckResult.Degraded($"{pending} model(s) have operations not yet published to the cluster.", data: data);
        }

        var failed = _links.Values.Where(l => l.Error is not null).Select(l => $"model '{l.Host.Name}': {l.Error}").ToList();
        if (failed.Count > 0)
        {
            return HealthCheckResult.Degraded("The cluster's desired state could not be applied here (the current versions keep serving): " + string.Join("; ", failed), data: data);
        }

        return HealthCheckResult.Healthy($"Replica '{ReplicaId}' follows the cluster's desired state.", data);
    }

    private void OnOperationApplied(object? sender, ModelOperationEventArgs e)
    {
        if (e.Remote || !_links.TryGetValue(e.ModelName, out var link))
        {
            return; // a replay of another replica's revision: never sent back
        }

        lock (link)
        {
            link.Pending = new PendingOperation(e, _time.GetUtcNow(), Interlocked.Read(ref link.LastApplied));
            link.Error = null; // a local operation restates the model: an older revision's failure no longer applies
        }

        Signal(e.ModelName);
    }

    private void Signal(string model)
    {
        if (_queued.TryAdd(model, 0))
        {
            _signals.Writer.TryWrite(model);
        }
    }

    private void SignalAll()
    {
        foreach (var model in _links.Keys)
        {
            Signal(model);
        }
    }

    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var model in _signals.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                _queued.TryRemove(model, out _);
                var link = _links[model];
                try
                {
                    await ProcessAsync(link, cancellationToken).ConfigureAwait(false);
                }
                catch (RedisServerException ex)
                {
                    Refused("sync", ex.Message);
                }
                catch (RedisException ex)
                {
                    Unreachable("sync", ex.Message);
                }
                catch (TimeoutException ex)
                {
                    Unreachable("sync", ex.Message);
                }
#pragma warning disable CA1031 // The loop must outlive any one model's failure.
                catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
                {
                    Log.LoopFailed(_logger, "sync", ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Publishes the model's pending operation, or converges to the stored revision when it is newer than what was applied here.</summary>
    private async Task ProcessAsync(ModelLink link, CancellationToken cancellationToken)
    {
        if (!link.Host.IsLoaded)
        {
            return; // loads at start; the heartbeat signals again
        }

        var db = Database();
        var (entries, oversize) = await ReadDesiredAsync(db, link.Host.Name).ConfigureAwait(false);
        Reachable();
        var stored = TryReadStored(entries, out var revision, out var json);
        DesiredDocument? document = null;
        string? malformed = oversize;
        if (stored && oversize is null && !OperationDocuments.TryReadDesired(json, out document, out malformed))
        {
            document = null;
        }

        var followed = Interlocked.Read(ref link.LastApplied);
        if (followed > 0 && stored && revision < followed && await RevisionCounterAsync(db, link.Host.Name).ConfigureAwait(false) >= followed)
        {
            // An older desired state while the revision counter has moved past what this replica followed: a replayed or
            // restored document (a failover to a lagging Redis replica, a forged write), not a Redis that restarted.
            // Following it would roll the cluster back; state what this replica serves instead, as a new revision.
            Log.StaleDesiredIgnored(_logger, link.Host.Name, revision, followed);
            if (link.Pending is null)
            {
                link.Host.RaiseOperation(ModelOperationKind.Restate);
            }
        }
        else if (followed > 0 && (!stored || revision < followed || (revision == followed && document is not null && link.Stamp is { } stamp && stamp != Stamp(document))))
        {
            // Redis lost the desired state (restarted without persistence, flushed): the revisions start again. Follow
            // them from the start, and state what this replica serves again so that late replicas still converge.
            Interlocked.Exchange(ref link.LastApplied, 0);
            if (!stored && link.Pending is null)
            {
                if (link.Error is not { } error)
                {
                    link.Host.RaiseOperation(ModelOperationKind.Restate); // sets link.Pending through OnOperationApplied
                }
                else
                {
                    // This replica could not apply the lost state and still serves an older version: restating it could
                    // roll back the replicas that did apply it. It follows the next revision instead, and the failure
                    // of a revision that no longer exists leaves its readiness (it stayed Degraded for good before).
                    link.Error = null;
                    Log.LostStateNotRestated(_logger, link.Host.Name, error);
                }
            }
        }

        var pending = link.Pending;
        if (pending is not null)
        {
            // The later-issued operation wins: a pending operation is published unless another replica's stored state,
            // written after this replica last followed the cluster, was issued later.
            if (document is not null && revision > pending.BaseRevision && document.IssuedAtMs > pending.IssuedAt.ToUnixTimeMilliseconds())
            {
                ClearPending(link, pending);
                Log.PendingSuperseded(_logger, pending.Args.Kind.ToString(), link.Host.Name, revision, document.Operation, document.Origin);
            }
            else
            {
                await PublishAsync(db, link, pending).ConfigureAwait(false);
                return;
            }
        }

        if (!stored || revision <= Interlocked.Read(ref link.LastApplied))
        {
            return;
        }

        if (document is null)
        {
            Log.Malformed(_logger, link.Host.Name, malformed ?? "unreadable");
            link.Error = $"revision {revision} refused: {malformed}";
            _metrics?.Failed(link.Host.Name);
            SetApplied(link, revision);
            return;
        }

        await ConvergeAsync(link, revision, document, cancellationToken).ConfigureAwait(false);
        await WriteHeartbeatAsync(db, link).ConfigureAwait(false);
    }

    private async Task PublishAsync(IDatabase db, ModelLink link, PendingOperation pending)
    {
        var e = pending.Args;
        var document = new DesiredDocument
        {
            Origin = ReplicaId,
            Operation = e.Kind.ToString(),
            IssuedAtMs = pending.IssuedAt.ToUnixTimeMilliseconds(),
            ServingSha256 = e.Serving.Sha256,
            ServingFile = e.ServingFile,
            ServingName = e.Serving.Name,
            Pinned = e.Pinned,
            CandidateSha256 = e.Candidate?.Sha256,
            CandidateFile = e.Candidate is null ? null : e.CandidateFile,
            CandidateMode = e.Candidate is null ? null : e.CandidateMode,
            CandidateShare = e.Candidate is null ? 0 : e.CandidateShare,
        };
        var json = JsonSerializer.Serialize(document, OperationsJson.Default.DesiredDocument);
        var name = link.Host.Name;
        var result = await db.ScriptEvaluateAsync(PublishScript,
            [RevisionKey(name), DesiredKey(name)],
            [json, _channel.ToString(), ReplicaId, name]).ConfigureAwait(false);
        var revision = (long)result;
        SetApplied(link, revision);
        link.Stamp = Stamp(document);
        ClearPending(link, pending);
        Interlocked.Increment(ref link.Published);
        _metrics?.Published(name, document.Operation);
        Log.Published(_logger, document.Operation, name, revision, document.ServingSha256);
        await WriteHeartbeatAsync(db, link).ConfigureAwait(false);
    }

    /// <summary>Brings the model to <paramref name="document"/> with the fewest steps; a step that cannot be done leaves the current version serving.</summary>
    private async Task ConvergeAsync(ModelLink link, long revision, DesiredDocument document, CancellationToken cancellationToken)
    {
        var host = link.Host;
        var manager = new ModelManager(host);
        var steps = 0;
        string? error = null;
        using (ModelOperationScope.Remote())
        {
            try
            {
                var servingMatches = string.Equals(host.Runtime.Info.Sha256, document.ServingSha256, StringComparison.Ordinal);
                if (host.IsPinned && (!document.Pinned || !servingMatches))
                {
                    manager.Unpin();
                    Count(link, ref steps, ModelOperationKind.Unpin);
                }

                if (!servingMatches)
                {
                    if (string.Equals(host.Previous?.Info.Sha256, document.ServingSha256, StringComparison.Ordinal))
                    {
                        await manager.RollbackAsync(cancellationToken).ConfigureAwait(false);
                        Count(link, ref steps, ModelOperationKind.Rollback);
                    }
                    else if (string.Equals(host.Candidates.Current?.Runtime.Info.Sha256, document.ServingSha256, StringComparison.Ordinal))
                    {
                        await manager.PromoteCandidateAsync(cancellationToken).ConfigureAwait(false);
                        Count(link, ref steps, ModelOperationKind.PromoteCandidate);
                    }
                    else
                    {
                        var source = ModelSource.FromFile(Verified(document.ServingFile, document.ServingSha256, "serving version"));
                        await (document.ServingName is { } versionName
                            ? manager.ReloadAsync(source, versionName, cancellationToken)
                            : manager.ReloadAsync(source, cancellationToken)).ConfigureAwait(false);
                        Count(link, ref steps, ModelOperationKind.Reload);
                    }
                }

                var candidate = host.Candidates.Current;
                if (document.CandidateSha256 is null)
                {
                    if (candidate is not null)
                    {
                        await manager.StopCandidateAsync(cancellationToken).ConfigureAwait(false);
                        Count(link, ref steps, ModelOperationKind.StopCandidate);
                    }
                }
                else if (candidate is null || candidate.Runtime.Info.Sha256 != document.CandidateSha256 || candidate.Mode != document.CandidateMode
                    || candidate.Share != document.CandidateShare)
                {
                    var source = ModelSource.FromFile(Verified(document.CandidateFile, document.CandidateSha256, "candidate"));
                    if (document.CandidateMode == CandidateMode.Shadow)
                    {
                        await manager.StartShadowAsync(source, cancellationToken).ConfigureAwait(false);
                        Count(link, ref steps, ModelOperationKind.StartShadow);
                    }
                    else
                    {
                        await manager.StartCanaryAsync(source, document.CandidateShare, cancellationToken).ConfigureAwait(false);
                        Count(link, ref steps, ModelOperationKind.StartCanary);
                    }
                }

                if (document.Pinned && !host.IsPinned)
                {
                    manager.Pin();
                    Count(link, ref steps, ModelOperationKind.Pin);
                }
            }
            catch (Exception ex) when (ex is ModelException or InvalidOperationException or IOException or UnauthorizedAccessException or ArgumentException)
            {
                error = ex.Message;
            }
        }

        SetApplied(link, revision);
        link.Stamp = Stamp(document);
        if (error is null)
        {
            link.Error = null;
            Log.Applied(_logger, host.Name, revision, document.Operation, document.Origin, steps);
        }
        else
        {
            link.Error = $"revision {revision} ({document.Operation} from '{document.Origin}'): {error}";
            _metrics?.Failed(host.Name);
            Log.ApplyFailed(_logger, host.Name, revision, document.Operation, document.Origin, error);
        }
    }

    private void Count(ModelLink link, ref int steps, ModelOperationKind kind)
    {
        steps++;
        Interlocked.Increment(ref link.Applied);
        _metrics?.Applied(link.Host.Name, kind.ToString());
    }

    /// <summary>The file of a version to load, after checking it holds that version (same SHA-256 prefix as on the origin).</summary>
    private static string Verified(string? file, string sha256, string what)
    {
        if (file is null)
        {
            throw new InvalidOperationException($"the {what} ({sha256}) was not loaded from a file on the replica that issued the operation, so it cannot be loaded here");
        }

        if (!File.Exists(file))
        {
            throw new FileNotFoundException($"the {what} file '{file}' does not exist on this replica (every replica must see the model files at the same path)", file);
        }

        // Only a regular file with content: a forged operation naming /dev/zero or a FIFO made every replica's only sync
        // worker hash forever (a device or a pipe has no length; opening a FIFO blocks). The hash reads exactly the
        // length the file had, so a file that grows meanwhile cannot keep it reading either.
        var length = new FileInfo(file).Length;
        if (length == 0)
        {
            throw new InvalidOperationException($"the {what} file '{file}' is empty or not a regular file (a device, a FIFO), so it is no model");
        }

        string actual;
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 16];
            long left = length;
            int read;
            while (left > 0 && (read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left))) > 0)
            {
                hash.AppendData(buffer, 0, read);
                left -= read;
            }

            actual = Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
        }

        return actual == sha256
            ? file
            : throw new InvalidOperationException($"the {what} file '{file}' now has SHA-256 {actual}, not the version {sha256} the cluster should serve");
    }

    private async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (!_subscribed)
                {
                    await TrySubscribeAsync().ConfigureAwait(false);
                }

                var db = Database();
                foreach (var link in _links.Values)
                {
                    await WriteHeartbeatAsync(db, link).ConfigureAwait(false);
                }

                Reachable();
                _refusedReason = null; // the heartbeat's writes were accepted again
            }
            catch (RedisServerException ex)
            {
                Refused("heartbeat", ex.Message);
            }
            catch (RedisException ex)
            {
                Unreachable("heartbeat", ex.Message);
            }
            catch (TimeoutException ex)
            {
                Unreachable("heartbeat", ex.Message);
            }
#pragma warning disable CA1031 // The heartbeat must outlive any one failure.
            catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
            {
                Log.LoopFailed(_logger, "heartbeat", ex);
            }

            SignalAll(); // a missed announcement, a late start or a pending operation is caught up here
            try
            {
                await Task.Delay(_options.HeartbeatInterval, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task WriteHeartbeatAsync(IDatabase db, ModelLink link)
    {
        var host = link.Host;
        if (!host.IsLoaded)
        {
            return;
        }

        ModelVersionInfo serving;
        try
        {
            serving = host.Runtime.Info;
        }
        catch (ModelException)
        {
            return; // stopped between the check and the read
        }

        var heartbeat = new HeartbeatDocument
        {
            ReplicaId = ReplicaId,
            Version = serving.Version,
            Sha256 = serving.Sha256,
            Source = serving.Source,
            VersionName = serving.Name,
            Pinned = host.IsPinned,
            CandidateSha256 = host.Candidates.Current?.Runtime.Info.Sha256,
            AppliedRevision = Interlocked.Read(ref link.LastApplied),
            Error = link.Error,
            AtMs = _time.GetUtcNow().ToUnixTimeMilliseconds(),
        };
        var json = JsonSerializer.Serialize(heartbeat, OperationsJson.Default.HeartbeatDocument);
        await Task.WhenAll(
            db.StringSetAsync(HeartbeatKey(host.Name), json, _options.HeartbeatTtl),
            db.SetAddAsync(ReplicasKey(host.Name), ReplicaId)).ConfigureAwait(false);
    }

    private async Task TrySubscribeAsync()
    {
        try
        {
            await _connection!.GetSubscriber().SubscribeAsync(_channel, OnMessage).ConfigureAwait(false);
            _subscribed = true;
        }
        catch (RedisException ex)
        {
            Unreachable("subscribe", ex.Message);
        }
    }

    private void OnMessage(RedisChannel channel, RedisValue message)
    {
        // "{revision}\n{origin}\n{model}": only a hint that the model's stored state moved; the state itself is read and checked.
        var text = (string?)message;
        if (text is null || text.Length > 4096)
        {
            return;
        }

        var parts = text.Split('\n', 3);
        if (parts.Length != 3 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var revision)
            || parts[1] == ReplicaId || !_links.TryGetValue(parts[2], out var link))
        {
            return; // malformed, our own echo, or a model this replica does not serve
        }

        if (revision > Interlocked.Read(ref link.LastApplied))
        {
            Signal(parts[2]);
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e) =>
        Unreachable("connection", e.Exception?.Message ?? e.FailureType.ToString());

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (_connection?.IsConnected == true)
        {
            Reachable();
            SignalAll();
        }
    }

    private void Unreachable(string stage, string reason)
    {
        _metrics?.RedisError(stage);
        if (Interlocked.Exchange(ref _unreachable, 1) == 0)
        {
            _unreachableReason = reason;
            Log.RedisUnreachable(_logger, reason);
        }
    }

    /// <summary>
    /// Redis answered with an error (OOM under noeviction, WRONGTYPE): reachable, but refusing. Logged once per distinct
    /// reason and shown by the readiness check; it used to count as an outage, cleared by the next successful read, so
    /// every heartbeat logged "unreachable" then "reachable again" and readiness flapped.
    /// </summary>
    private void Refused(string stage, string reason)
    {
        _metrics?.RedisError(stage);
        if (!string.Equals(Interlocked.Exchange(ref _refusedReason, reason), reason, StringComparison.Ordinal))
        {
            Log.RedisRefused(_logger, stage, reason);
        }
    }

    private void Reachable()
    {
        if (_connection?.IsConnected == true && Interlocked.Exchange(ref _unreachable, 0) == 1)
        {
            _unreachableReason = null;
            Log.RedisRestored(_logger);
            SignalAll();
        }
    }

    private static void ClearPending(ModelLink link, PendingOperation pending)
    {
        lock (link)
        {
            if (ReferenceEquals(link.Pending, pending))
            {
                link.Pending = null;
            }
        }
    }

    /// <summary>Tells two documents with the same revision apart (the store lost its data and counted again).</summary>
    private static string Stamp(DesiredDocument document) => document.Origin + "@" + document.IssuedAtMs.ToString(CultureInfo.InvariantCulture);

    private static void SetApplied(ModelLink link, long revision)
    {
        long current;
        do
        {
            current = Interlocked.Read(ref link.LastApplied);
            if (revision <= current)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref link.LastApplied, revision, current) != current);
    }

    /// <summary>
    /// The desired state's fields, its document read only when it is within <see cref="OperationDocuments.MaxBytes"/>
    /// (HSTRLEN first): a 100 MB document planted in Redis was read whole by every replica on every heartbeat (3.2 GB).
    /// </summary>
    /// <returns>The fields (without the document when it is too long) and, then, why it was not read.</returns>
    private async Task<(HashEntry[] Entries, string? Oversize)> ReadDesiredAsync(IDatabase db, string model)
    {
        var key = DesiredKey(model);
        var bytes = await db.HashStringLengthAsync(key, "state").ConfigureAwait(false);
        if (bytes > OperationDocuments.MaxBytes)
        {
            var revision = await db.HashGetAsync(key, "revision").ConfigureAwait(false);
            return (revision.IsNull ? [] : [new HashEntry("revision", revision)], $"the document is {bytes} bytes (at most {OperationDocuments.MaxBytes}), not read");
        }

        // Both fields in one command (HMGET), as HGETALL read them: a revision and the document written with it.
        var values = await db.HashGetAsync(key, [(RedisValue)"revision", (RedisValue)"state"]).ConfigureAwait(false);
        return (values[0].IsNull ? [] : values[1].IsNull ? [new HashEntry("revision", values[0])] : [new HashEntry("revision", values[0]), new HashEntry("state", values[1])], null);
    }

    private static bool TryReadStored(HashEntry[] entries, out long revision, out string? json)
    {
        revision = 0;
        json = null;
        foreach (var entry in entries)
        {
            if (entry.Name == "revision" && entry.Value.TryParse(out long r))
            {
                revision = r;
            }
            else if (entry.Name == "state")
            {
                json = entry.Value;
            }
        }

        return revision > 0;
    }

    private IDatabase Database() => (_connection ?? throw new InvalidOperationException("Cluster operations have not started (the host starts them).")).GetDatabase();

    // A model's keys share one hash tag, {prefix:model}, so they live in one slot: the publish script's two keys and
    // the heartbeats' MGET are single-slot on Redis Cluster (without the tag they failed there with CROSSSLOT).
    private string ModelTag(string model) => "{" + _options.KeyPrefix + ":" + model + "}";

    private string RevisionKey(string model) => ModelTag(model) + ":rev";

    /// <summary>The model's revision counter in Redis (0 when absent or unreadable).</summary>
    private async Task<long> RevisionCounterAsync(IDatabase db, string model)
    {
        var value = await db.StringGetAsync(RevisionKey(model)).ConfigureAwait(false);
        return value.TryParse(out long counter) ? counter : 0;
    }

    private string DesiredKey(string model) => ModelTag(model) + ":desired";

    private string ReplicasKey(string model) => ModelTag(model) + ":replicas";

    private string HeartbeatKey(string model) => HeartbeatKey(model, ReplicaId);

    private string HeartbeatKey(string model, string replica) => ModelTag(model) + ":replica:" + replica;

    /// <summary>One model's link to the cluster.</summary>
    private sealed class ModelLink(ModelHost host)
    {
        public ModelHost Host { get; } = host;

        /// <summary>The highest revision applied or published here.</summary>
        public long LastApplied;

        public long Applied;

        public long Published;

        /// <summary>The latest local operation not yet published; guarded by the link.</summary>
        public PendingOperation? Pending;

        /// <summary>The origin and issue time of the revision last applied or published (see <see cref="Stamp"/>).</summary>
        public volatile string? Stamp;

        /// <summary>Why the last revision could not be applied, or null.</summary>
        public volatile string? Error;
    }

    /// <summary>A local operation to publish: its state, when it was issued, and the revision this replica had followed then.</summary>
    private sealed record PendingOperation(ModelOperationEventArgs Args, DateTimeOffset IssuedAt, long BaseRevision);
}
