using Xunit.Abstractions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using ModelInService.Redis.Operations;
using StackExchange.Redis;

namespace ModelInService.Redis.Tests.Operations;

/// <summary>Three (and four) replicas in one process sharing the fixture's Redis: operations on one reach the others.</summary>
[Collection(RedisTests.Name)]
public sealed class ClusterOperationsTests(RedisFixture redis, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Converge = TimeSpan.FromSeconds(5);
    private readonly IrisVersions _versions = new();
    private readonly string _prefix = "test:" + Guid.NewGuid().ToString("N")[..8];

    public void Dispose() => _versions.Dispose();

    private static string Sha(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream))[..16];
    }

    private Task<Replica> StartAsync(string id) => Replica.StartAsync(redis.Configuration!, _prefix, id);

    [SkippableFact]
    public async Task Canary_promoted_on_A_is_served_by_B_and_C_within_a_second_and_a_late_replica_converges()
    {
        redis.SkipIfUnavailable();
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        await using var c = await StartAsync("c");
        var v1 = Sha(IrisVersions.V1);
        var v2 = Sha(_versions.V2);
        Assert.All(new[] { a, b, c }, r => Assert.Equal(v1, r.ServingSha));

        await a.Manager.StartCanaryAsync(ModelSource.FromFile(_versions.V2), 0.25);
        await Replica.WaitUntilAsync(() => b.Manager.Candidate?.Version.Sha256 == v2 && c.Manager.Candidate?.Version.Sha256 == v2, Converge, "B and C run the canary");
        Assert.Equal(CandidateMode.Canary, b.Manager.Candidate!.Mode);
        Assert.Equal(0.25, c.Manager.Candidate!.Share);

        await a.Manager.PromoteCandidateAsync();
        Assert.Equal(v2, a.ServingSha);
        var took = await Replica.WaitUntilAsync(() => b.ServingSha == v2 && c.ServingSha == v2, Converge, "B and C serve v2");
        output.WriteLine($"promote on A -> B and C serve v2: {took.TotalMilliseconds:F0} ms");
        Assert.True(took < TimeSpan.FromSeconds(1), $"B and C served v2 after {took.TotalMilliseconds:F0} ms (at most 1 s)");
        Assert.Null(b.Manager.Candidate);
        Assert.Null(c.Manager.Candidate);
        Assert.InRange(await b.PredictAsync(), 0, 2); // the promoted version answers

        // A replica started afterwards loads v1 from its options, then converges to the stored state.
        await using var d = await StartAsync("d");
        await Replica.WaitUntilAsync(() => d.ServingSha == v2, Converge, "the late replica D serves v2");
        Assert.Null(d.Manager.Candidate);

        // Each operation was published once by A and applied once by each other replica: no echo, no loop.
        await Task.Delay(600); // three heartbeats: time for any loop to show
        Assert.Equal(2, a.Published);
        Assert.Equal(0, a.Applied);
        Assert.All(new[] { b, c, d }, r => Assert.Equal(0, r.Published));
        Assert.Equal(2, b.Applied); // StartCanary, PromoteCandidate (instant: the canary was loaded)
        Assert.Equal(2, c.Applied);
        Assert.Equal(1, d.Applied); // one reload from the stored file
        var state = await a.Cluster.GetStateAsync("iris");
        Assert.Equal(2, state.Desired!.Revision);
        Assert.Equal("PromoteCandidate", state.Desired.Operation);
        Assert.Equal("a", state.Desired.Origin);
        Assert.Equal(v2, state.Desired.ServingSha256);
        Assert.Equal(_versions.V2, state.Desired.ServingFile);
        Assert.Equal(["a", "b", "c", "d"], state.Replicas.Select(r => r.ReplicaId));
        Assert.All(state.Replicas, r => Assert.Equal(v2, r.Sha256));
        Assert.All(state.Replicas, r => Assert.Equal(2, r.AppliedRevision));
    }

    [SkippableFact]
    public async Task Reload_rollback_pin_unpin_and_shadow_propagate_once_each()
    {
        redis.SkipIfUnavailable();
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        await using var c = await StartAsync("c");
        var v1 = Sha(IrisVersions.V1);
        var v2 = Sha(_versions.V2);
        var v3 = Sha(_versions.V3);
        var others = new[] { b, c };

        await a.Manager.ReloadAsync(ModelSource.FromFile(_versions.V2), "retrain-2");
        await Replica.WaitUntilAsync(() => others.All(r => r.ServingSha == v2), Converge, "B and C reload v2");
        Assert.All(others, r => Assert.Equal("retrain-2", r.Manager.Current.Name));
        Assert.All(others, r => Assert.Equal(2, r.Manager.Current.ModelVersion));

        await a.Manager.RollbackAsync();
        await Replica.WaitUntilAsync(() => others.All(r => r.ServingSha == v1), Converge, "B and C roll back to v1");
        Assert.All(others, r => Assert.Equal(v2, r.Manager.Previous!.Sha256)); // a rollback, not a reload: v2 is kept

        a.Manager.Pin();
        await Replica.WaitUntilAsync(() => others.All(r => r.Manager.IsPinned), Converge, "B and C pinned");
        await Assert.ThrowsAsync<InvalidOperationException>(() => b.Manager.ReloadAsync()); // pinned for real

        a.Manager.Unpin();
        await Replica.WaitUntilAsync(() => others.All(r => !r.Manager.IsPinned), Converge, "B and C unpinned");

        await a.Manager.StartShadowAsync(ModelSource.FromFile(_versions.V3));
        await Replica.WaitUntilAsync(() => others.All(r => r.Manager.Candidate is { Mode: CandidateMode.Shadow } s && s.Version.Sha256 == v3), Converge, "B and C shadow v3");

        await a.Manager.StopCandidateAsync();
        await Replica.WaitUntilAsync(() => others.All(r => r.Manager.Candidate is null), Converge, "B and C stop the shadow");

        await Task.Delay(600);
        Assert.Equal(6, a.Published);
        Assert.Equal(0, a.Applied);
        Assert.All(others, r => Assert.Equal(0, r.Published));
        Assert.All(others, r => Assert.Equal(6, r.Applied)); // reload, rollback, pin, unpin, start shadow, stop: one step each
        Assert.All(new[] { a, b, c }, r => Assert.Equal(6, r.Operations.AppliedRevision("iris")));
        Assert.All(new[] { a, b, c }, r => Assert.Equal(v1, r.ServingSha));

        // Every key of the model is in one hash slot (revision, desired state, replica set, heartbeats), so the publish
        // script and the heartbeats' MGET also work on Redis Cluster (untagged keys failed there with CROSSSLOT).
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        var keys = server.Keys(pattern: "*" + _prefix + ":iris*").Select(k => (string)k!).ToList();
        Assert.Contains(keys, k => k.EndsWith(":desired", StringComparison.Ordinal));
        Assert.Contains(keys, k => k.Contains(":replica:", StringComparison.Ordinal));
        Assert.Equal(6, keys.Count); // rev, desired, replicas, and the three replicas' heartbeats
        Assert.Single(keys.Select(HashTag).Distinct());
        Assert.Equal(_prefix + ":iris", HashTag(keys[0]));
    }

    /// <summary>The part of a key Redis Cluster hashes (its hash tag: between the first '{' and the next '}', when not empty; else the whole key). The test Redis is standalone, where the client reports no slots.</summary>
    private static string HashTag(string key)
    {
        var open = key.IndexOf('{', StringComparison.Ordinal);
        var close = open < 0 ? -1 : key.IndexOf('}', open + 1);
        return close > open + 1 ? key[(open + 1)..close] : key;
    }

    [SkippableFact]
    public async Task Redis_down_the_operation_applies_locally_readiness_is_degraded_and_the_cluster_converges_after_restart()
    {
        redis.SkipIfUnavailable();
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        using var errors = new MetricCollector<long>(a.Host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            ClusterOperationsMetrics.MeterName, "model_in_service.cluster.redis.errors");
        var v2 = Sha(_versions.V2);
        Assert.Equal(HealthStatus.Healthy, (await a.HealthAsync()).Status);

        await redis.StopServerAsync();
        try
        {
            var served = await a.Manager.ReloadAsync(ModelSource.FromFile(_versions.V2));
            Assert.Equal(v2, served.Sha256);
            Assert.Equal(v2, a.ServingSha);
            Assert.InRange(await a.PredictAsync(), 0, 2); // and answers

            await Replica.WaitUntilAsync(() => a.HealthAsync().Result.Status == HealthStatus.Degraded, Converge, "A's readiness Degraded");
            var health = await a.HealthAsync();
            Assert.Contains("Redis is unreachable", health.Description, StringComparison.Ordinal);
            Assert.Equal(1, health.Data["pending"]);
            await Replica.WaitUntilAsync(() => errors.GetMeasurementSnapshot().Count > 0, Converge, "the failed Redis calls are counted");
            Assert.NotEqual(v2, b.ServingSha);
        }
        finally
        {
            await redis.StartServerAsync();
        }

        // The restarted server is empty: A publishes its pending reload, B converges to it.
        await Replica.WaitUntilAsync(() => b.ServingSha == v2, TimeSpan.FromSeconds(15), "B serves v2 after Redis returns");
        await Replica.WaitUntilAsync(() => a.HealthAsync().Result.Status == HealthStatus.Healthy, Converge, "A healthy again");
        Assert.Equal(1, a.Published);
        Assert.Equal(1, b.Applied);
        var state = await b.Cluster.GetStateAsync("iris");
        Assert.Equal(1, state.Desired!.Revision);
        Assert.Equal("Reload", state.Desired.Operation);
    }

    /// <summary>Publishes revision 7, a desired state naming a file this replica cannot read, and waits until <paramref name="replica"/> handled it.</summary>
    private async Task PublishUnreadableRevision7Async(IDatabase db, Replica replica)
    {
        var missing = _versions.Path("not-here.onnx");
        var json = $$"""{"Origin":"elsewhere","Operation":"Reload","IssuedAtMs":1,"ServingSha256":"0123456789abcdef","ServingFile":"{{missing}}","Pinned":false,"CandidateShare":0}""";
        await db.HashSetAsync($"{{{_prefix}:iris}}:desired", [new("revision", 7), new("state", json)]);
        await db.PublishAsync(RedisChannel.Literal(_prefix + ":ops"), $"7\nelsewhere\niris");
        await Replica.WaitUntilAsync(() => replica.Operations.AppliedRevision("iris") == 7, Converge, "revision 7 handled");
    }

    [SkippableFact]
    public async Task A_revision_that_cannot_be_loaded_or_is_malformed_is_reported_and_the_current_version_keeps_serving()
    {
        redis.SkipIfUnavailable();
        await using var a = await StartAsync("a");
        var v1 = Sha(IrisVersions.V1);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
        var db = connection.GetDatabase();

        await PublishUnreadableRevision7Async(db, a);
        Assert.Equal(v1, a.ServingSha);
        var health = await a.HealthAsync();
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("not-here.onnx", health.Description, StringComparison.Ordinal);
        await Replica.WaitUntilAsync(() => a.Cluster.GetStateAsync("iris").Result.Replicas.Single().Error is not null, Converge, "the heartbeat reports the error");

        // A malformed document (hostile share) is refused whole.
        var hostile = """{"Origin":"elsewhere","Operation":"StartCanary","IssuedAtMs":1,"ServingSha256":"0123456789abcdef","CandidateSha256":"0123456789abcdef","CandidateMode":"Canary","CandidateShare":7}""";
        await db.HashSetAsync($"{{{_prefix}:iris}}:desired", [new("revision", 8), new("state", hostile)]);
        await Replica.WaitUntilAsync(() => a.Operations.AppliedRevision("iris") == 8, Converge, "revision 8 handled (on the heartbeat: no announcement)");
        Assert.Equal(v1, a.ServingSha);
        Assert.Null(a.Manager.Candidate);
        Assert.Contains("refused", (await a.HealthAsync()).Description, StringComparison.Ordinal);
        Assert.Equal(0, a.Applied);
    }

    [SkippableFact]
    public async Task A_replica_that_failed_a_revision_Redis_then_lost_drops_the_failure_and_does_not_restate()
    {
        redis.SkipIfUnavailable();
        await using var a = await StartAsync("a");
        var v1 = Sha(IrisVersions.V1);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
        var db = connection.GetDatabase();
        await PublishUnreadableRevision7Async(db, a);
        Assert.Equal(HealthStatus.Degraded, (await a.HealthAsync()).Status);

        // The failed revision is gone with Redis's data: the replica was Degraded for good before (its error kept, no
        // restate), now it is ready, and it did not state its older version as the cluster's.
        await redis.FlushAsync();
        await Replica.WaitUntilAsync(() => a.HealthAsync().Result.Status == HealthStatus.Healthy, Converge, "A ready again");
        Assert.Null((await a.Cluster.GetStateAsync("iris")).Desired);
        Assert.Equal(v1, a.ServingSha);
        Assert.Equal(0, a.Published);

        // The next revision is followed from the start.
        var good = $$"""{"Origin":"elsewhere","Operation":"Reload","IssuedAtMs":2,"ServingSha256":"{{Sha(_versions.V2)}}","ServingFile":"{{_versions.V2}}","Pinned":false,"CandidateShare":0}""";
        await db.HashSetAsync($"{{{_prefix}:iris}}:desired", [new("revision", 1), new("state", good)]);
        await db.PublishAsync(RedisChannel.Literal(_prefix + ":ops"), $"1\nelsewhere\niris");
        await Replica.WaitUntilAsync(() => a.ServingSha == Sha(_versions.V2), Converge, "A follows revision 1");
    }

    [SkippableFact]
    public async Task A_forged_operation_naming_a_device_file_is_refused_and_the_replica_still_follows_later_operations()
    {
        redis.SkipIfUnavailable();
        Skip.If(!File.Exists("/dev/zero"), "no /dev/zero");
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
        var db = connection.GetDatabase();

        // /dev/zero never ends: hashing it kept every replica's only sync worker busy forever.
        var json = """{"Origin":"elsewhere","Operation":"Reload","IssuedAtMs":1,"ServingSha256":"0123456789abcdef","ServingFile":"/dev/zero","Pinned":false,"CandidateShare":0}""";
        var revision = await db.StringIncrementAsync($"{{{_prefix}:iris}}:rev");
        await db.HashSetAsync($"{{{_prefix}:iris}}:desired", [new("revision", revision), new("state", json)]);
        await db.PublishAsync(RedisChannel.Literal(_prefix + ":ops"), $"{revision}\nelsewhere\niris");
        await Replica.WaitUntilAsync(() => a.Operations.AppliedRevision("iris") == revision, Converge, "the forged revision handled");
        Assert.Contains("not a regular file", (await a.HealthAsync()).Description, StringComparison.Ordinal);

        var v2 = Sha(_versions.V2);
        await b.Manager.ReloadAsync(ModelSource.FromFile(_versions.V2));
        await Replica.WaitUntilAsync(() => a.ServingSha == v2, Converge, "A follows B's real reload after the forged one");
    }

    [SkippableFact]
    public async Task An_oversized_desired_document_is_refused_unread()
    {
        redis.SkipIfUnavailable();
        await using var a = await StartAsync("a");
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
        var db = connection.GetDatabase();

        // 1 MB where at most 16 KB is valid: every replica read it whole on every heartbeat (100 MB: 3.2 GB).
        var revision = await db.StringIncrementAsync($"{{{_prefix}:iris}}:rev");
        await db.HashSetAsync($"{{{_prefix}:iris}}:desired", [new("revision", revision), new("state", new string('x', 1 << 20))]);
        await db.PublishAsync(RedisChannel.Literal(_prefix + ":ops"), $"{revision}\nelsewhere\niris");
        await Replica.WaitUntilAsync(() => a.Operations.AppliedRevision("iris") == revision, Converge, "the oversized revision handled");

        Assert.Contains("1048576 bytes (at most 16384), not read", (await a.HealthAsync()).Description, StringComparison.Ordinal);
        Assert.Null((await a.Cluster.GetStateAsync("iris")).Desired);
    }

    [SkippableFact]
    public async Task Redis_refusing_writes_is_reported_as_refusing_not_as_an_outage_that_flaps()
    {
        redis.SkipIfUnavailable();
        await using var a = await StartAsync("a");
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
        var db = connection.GetDatabase();
        var replicas = $"{{{_prefix}:iris}}:replicas";

        // A key of the wrong type makes every heartbeat's write fail with WRONGTYPE, as OOM under noeviction does.
        await db.KeyDeleteAsync(replicas);
        await db.StringSetAsync(replicas, "not a set");
        var reachable = new List<bool>();
        for (var i = 0; i < 20; i++)
        {
            await Task.Delay(100);
            reachable.Add(a.Operations.IsRedisReachable);
        }

        var refusing = await a.HealthAsync();
        await db.KeyDeleteAsync(replicas);
        await Replica.WaitUntilAsync(() => a.HealthAsync().Result.Status == HealthStatus.Healthy, Converge, "healthy once Redis accepts the writes");

        Assert.All(reachable, Assert.True); // it flapped: "unreachable" at each failed heartbeat, "reachable" at the next read
        Assert.Equal(HealthStatus.Degraded, refusing.Status);
        Assert.Contains("Redis refuses the cluster operations' writes", refusing.Description, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_replayed_older_desired_state_is_not_followed_and_the_cluster_keeps_its_latest_operation()
    {
        redis.SkipIfUnavailable();
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
        var db = connection.GetDatabase();
        var desired = $"{{{_prefix}:iris}}:desired";
        var v2 = Sha(_versions.V2);
        await a.Manager.ReloadAsync(ModelSource.FromFile(_versions.V2));
        await Replica.WaitUntilAsync(() => b.ServingSha == v2, Converge, "B serves v2");
        var old = await db.HashGetAllAsync(desired); // what a lagging Redis replica or an old snapshot holds
        a.Manager.Pin();
        await Replica.WaitUntilAsync(() => b.Manager.IsPinned, Converge, "B follows the pin");

        await db.HashSetAsync(desired, old); // the pin's revision replaced by the reload's: older, the counter past it
        await db.PublishAsync(RedisChannel.Literal(_prefix + ":ops"), "1\nelsewhere\niris");
        await Task.Delay(TimeSpan.FromSeconds(2)); // several heartbeats

        Assert.True(a.Manager.IsPinned, "A unpinned by a replayed older state");
        Assert.True(b.Manager.IsPinned, "B unpinned by a replayed older state");
        Assert.Equal(v2, a.ServingSha);
        await Replica.WaitUntilAsync(() => a.Cluster.GetStateAsync("iris").Result.Desired?.Pinned == true, Converge, "the replicas restate the pinned state");
    }

    [SkippableFact]
    public async Task Redis_losing_its_data_the_replicas_restate_the_desired_state_and_a_late_replica_still_converges()
    {
        redis.SkipIfUnavailable();
        await using var a = await StartAsync("a");
        await using var b = await StartAsync("b");
        var v2 = Sha(_versions.V2);
        await a.Manager.ReloadAsync(ModelSource.FromFile(_versions.V2));
        await Replica.WaitUntilAsync(() => b.ServingSha == v2, Converge, "B serves v2");

        await redis.FlushAsync(); // as a restart without persistence would
        await Replica.WaitUntilAsync(() => a.Cluster.GetStateAsync("iris").Result.Desired?.ServingSha256 == v2, Converge, "the desired state is restated");
        await using var c = await StartAsync("c");
        await Replica.WaitUntilAsync(() => c.ServingSha == v2, Converge, "the late replica C serves v2");

        // A new operation after the wipe counts from revision 1 again and still reaches everyone.
        await a.Manager.RollbackAsync();
        await Replica.WaitUntilAsync(() => b.ServingSha != v2 && c.ServingSha != v2, Converge, "B and C follow the rollback");
        Assert.Equal(0, a.Applied);
    }

    [SkippableFact]
    public async Task A_partitioned_replica_reconnecting_the_later_issued_operation_wins()
    {
        redis.SkipIfUnavailable();
        using var proxy = new TcpProxy(redis.Port);
        await using var a = await Replica.StartAsync(proxy.Configuration, _prefix, "a");
        await using var b = await StartAsync("b");
        var v1 = Sha(IrisVersions.V1);
        var v2 = Sha(_versions.V2);
        var v3 = Sha(_versions.V3);
        var reconnect = TimeSpan.FromSeconds(20);

        // A, cut off, reloads v2; B, later, reloads v3: when A returns, B's later operation wins and A follows it.
        proxy.Stop();
        await a.Manager.ReloadAsync(ModelSource.FromFile(_versions.V2));
        await Replica.WaitUntilAsync(() => a.Operations.PendingCount == 1 && !a.Operations.IsRedisReachable, Converge, "A's reload pending");
        await Task.Delay(20);
        await b.Manager.ReloadAsync(ModelSource.FromFile(_versions.V3));
        proxy.Start();
        await Replica.WaitUntilAsync(() => a.ServingSha == v3 && a.Operations.PendingCount == 0, reconnect, "A follows B's later reload");
        Assert.Equal(0, a.Published);
        Assert.Equal(1, a.Applied);
        Assert.Equal(v3, b.ServingSha);

        // B reloads v1; then A, cut off again, reloads v2: when A returns, its later operation wins and B follows it.
        proxy.Stop();
        await Replica.WaitUntilAsync(() => !a.Operations.IsRedisReachable, Converge, "A cut off again");
        await b.Manager.ReloadAsync(ModelSource.FromFile(IrisVersions.V1));
        await Task.Delay(20);
        await a.Manager.ReloadAsync(ModelSource.FromFile(_versions.V2));
        Assert.Equal(v1, b.ServingSha);
        proxy.Start();
        await Replica.WaitUntilAsync(() => b.ServingSha == v2 && a.Operations.PendingCount == 0, reconnect, "B follows A's later reload");
        Assert.Equal(v2, a.ServingSha);
        Assert.Equal(1, a.Published);
        Assert.Equal(1, b.Applied);
        var state = await b.Cluster.GetStateAsync("iris");
        Assert.Equal(3, state.Desired!.Revision);
        Assert.Equal("a", state.Desired.Origin);
    }

    [SkippableFact]
    public async Task Options_are_validated_at_start()
    {
        redis.SkipIfUnavailable();
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => Replica.StartAsync(" ", _prefix, "a"));
        Assert.Contains("Configuration", error.Message, StringComparison.Ordinal);
    }
}
