using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Redis.Monitoring;
using StackExchange.Redis;

namespace ModelInService.Redis.Tests.Monitoring;

/// <summary>
/// The cluster monitor on a real Redis (the fixture's), three replicas as three service providers in one process,
/// driven on one fake clock: each interval gets its traffic 30 s in, then the clock moves to the boundary (every
/// replica publishes), then 30 s past it (the evaluation delay: the lease holder evaluates).
/// </summary>
[Collection(RedisTests.Name)]
public sealed class ClusterMonitorTests(RedisFixture redis)
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 30, TimeSpan.Zero);
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    /// <summary>The shifted feature: sepal width, which the model's outputs barely depend on.</summary>
    private const int Shifted = 1;

    [SkippableFact]
    public async Task ThreeReplicas_ShiftOnOneFeature_RaiseOneDriftEvent_AndTheClusterReportEqualsOneMonitorThatSawAllTheTraffic()
    {
        redis.SkipIfUnavailable();
        await redis.FlushAsync();
        var time = new FakeTimeProvider(Start);
        var events = new EventLog();
        var oracleEvents = new EventLog();
        var replicas = new List<Replica>();
        foreach (var id in new[] { "a", "b", "c" })
        {
            replicas.Add(await Replica.StartAsync(id, time, events, redis.Configuration));
        }

        await using var oracle = await Replica.StartAsync("oracle", time, oracleEvents, redis: null);
        try
        {
            await SetReferenceAsync(replicas.Append(oracle));
            var shift = 0.2 * IrisTraffic.Sigma(Shifted);
            for (var m = 0; m < 12; m++)
            {
                await SendAsync(replicas, oracle, IrisTraffic.Rows(450, 1000 + m, Shifted, m < 5 ? 0 : shift));
                await CloseIntervalAsync(time, replicas, oracle);
            }

            // The oracle (one monitor, all the traffic) saw the drift once; the cluster raised the same, once, from one replica.
            var expected = oracleEvents.Events.Select(e => (e.Event.Kind, e.Event.Feature)).ToList();
            Assert.Contains((ModelMonitorEventKind.DriftDetected, $"Features[{Shifted}]"), expected);
            Assert.Single(oracleEvents.Events, e => e.Event.Kind == ModelMonitorEventKind.DriftDetected);
            Assert.Equal(expected, events.Events.Select(e => (e.Event.Kind, e.Event.Feature)).ToList());
            Assert.Single(events.Events, e => e.Event.Kind == ModelMonitorEventKind.DriftDetected);
            Assert.Single(events.Events.Select(e => e.Replica).Distinct());
            Assert.Single(replicas, r => r.Cluster.Status.IsLeaseHolder);

            // Every replica's readiness names the cluster's drift (non-holders mirror the committed statuses).
            foreach (var replica in replicas)
            {
                var health = (await replica.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(c => c.Name == "redis-monitor:iris")).Entries["redis-monitor:iris"];
                Assert.Equal(HealthStatus.Degraded, health.Status);
                Assert.Contains($"Features[{Shifted}]", health.Description, StringComparison.Ordinal);
            }

            // Every replica's cluster report equals the oracle's: counts and moments exactly, distances within sketch error.
            var truth = oracle.Monitor.GetReport(Window);
            foreach (var replica in replicas)
            {
                var cluster = replica.Cluster.Cluster.GetReport(Window);
                Assert.Equal(truth.Predictions, cluster.Predictions);
                Assert.Equal(5 * 450, cluster.Predictions);
                Assert.True(replica.Cluster.Local.GetReport(Window).Predictions < cluster.Predictions);
                foreach (var feature in truth.Features)
                {
                    var other = Assert.Single(cluster.Features, f => f.Name == feature.Name);
                    Assert.Equal(feature.Count, other.Count);
                    Assert.Equal(feature.MissingCount, other.MissingCount);
                    AssertClose(feature.Mean, other.Mean, 1e-9);
                    AssertClose(feature.StandardDeviation, other.StandardDeviation, 1e-9);
                    Assert.Equal(feature.Min, other.Min);
                    Assert.Equal(feature.Max, other.Max);
                    Assert.Equal(feature.Status, other.Status);
                    if (!double.IsNaN(feature.Distance.Value))
                    {
                        Assert.InRange(Math.Abs(feature.Distance.Value - other.Distance.Value), 0, 0.02);
                    }
                }
            }
        }
        finally
        {
            foreach (var replica in replicas)
            {
                await replica.DisposeAsync();
            }
        }
    }

    [SkippableFact]
    public async Task KillTheLeaseHolder_AnotherTakesOverWithinTwoLeasePeriods_NoEventLostOrDoubled()
    {
        redis.SkipIfUnavailable();
        await redis.FlushAsync();
        var lease = TimeSpan.FromSeconds(2);
        var time = new FakeTimeProvider(Start);
        var events = new EventLog();
        var oracleEvents = new EventLog();
        var replicas = new List<Replica>();
        foreach (var id in new[] { "a", "b", "c" })
        {
            replicas.Add(await Replica.StartAsync(id, time, events, redis.Configuration, o => o.LeasePeriod = lease));
        }

        await using var oracle = await Replica.StartAsync("oracle", time, oracleEvents, redis: null);
        try
        {
            await SetReferenceAsync(replicas.Append(oracle));
            var shift = 0.2 * IrisTraffic.Sigma(Shifted);
            var m = 0;
            for (; m < 5; m++)
            {
                await SendAsync(replicas, oracle, IrisTraffic.Rows(450, 2000 + m, Shifted, 0));
                await CloseIntervalAsync(time, replicas, oracle);
            }

            // Shifted until the holder raises the drift.
            var holder = Assert.Single(replicas, r => r.Cluster.Status.IsLeaseHolder);
            while (!events.Events.Any(e => e.Event.Kind == ModelMonitorEventKind.DriftDetected))
            {
                Assert.True(m < 12, "the drift was never detected");
                await SendAsync(replicas, oracle, IrisTraffic.Rows(450, 2000 + m, Shifted, shift));
                await CloseIntervalAsync(time, replicas, oracle);
                m++;
            }

            Assert.Equal(holder.Id, Assert.Single(events.Events).Replica);

            // Kill it (no graceful stop: the lease is not released and must expire).
            var killed = Stopwatch.StartNew();
            await holder.DisposeAsync();
            var alive = replicas.Where(r => !r.Disposed).ToList();
            Replica? successor = null;
            while (successor is null)
            {
                Assert.True(killed.Elapsed < 2 * lease, $"no replica took the lease over within {2 * lease}");
                foreach (var replica in alive)
                {
                    await replica.Cluster.SyncAsync();
                }

                successor = alive.SingleOrDefault(r => r.Cluster.Status.IsLeaseHolder);
                await Task.Delay(50);
            }

            Assert.True(killed.Elapsed < 2 * lease);
            Assert.True(successor.Cluster.Status.Fence > holder.Cluster.Status.Fence || !holder.Cluster.Status.IsLeaseHolder);

            // Still shifted for two intervals (the successor must not raise the drift again), then stable until resolved.
            for (var k = 0; k < 2; k++, m++)
            {
                await SendAsync(alive, oracle, IrisTraffic.Rows(450, 2000 + m, Shifted, shift));
                await CloseIntervalAsync(time, alive, oracle);
            }

            for (var k = 0; k < 8; k++, m++)
            {
                await SendAsync(alive, oracle, IrisTraffic.Rows(450, 2000 + m, Shifted, 0));
                await CloseIntervalAsync(time, alive, oracle);
            }

            var raised = events.Events.ToList();
            Assert.Equal(oracleEvents.Events.Select(e => (e.Event.Kind, e.Event.Feature)), raised.Select(e => (e.Event.Kind, e.Event.Feature)));
            Assert.Single(raised, e => e.Event.Kind == ModelMonitorEventKind.DriftDetected && e.Replica == holder.Id);
            Assert.Single(raised, e => e.Event.Kind == ModelMonitorEventKind.DriftResolved && e.Replica == successor.Id);
        }
        finally
        {
            foreach (var replica in replicas)
            {
                await replica.DisposeAsync();
            }
        }
    }

    [SkippableFact]
    public async Task RedisStopsUnder64Callers_NoRequestFails_Degraded_LogsOnce_CountsFailures_AndPublishesTheBufferAfterRestart()
    {
        redis.SkipIfUnavailable();
        await redis.FlushAsync();
        var time = new FakeTimeProvider(Start);
        var events = new EventLog();
        var replicas = new List<Replica>();
        foreach (var id in new[] { "a", "b", "c" })
        {
            replicas.Add(await Replica.StartAsync(id, time, events, redis.Configuration, more: s => s.AddFakeLogging()));
        }

        var collectors = replicas.Select(r => new MetricCollector<long>(r.Services.GetRequiredService<IMeterFactory>(), ModelMetricNames.Meter, ClusterMetricNames.RedisFailures)).ToList();
        try
        {
            long sent = 0;
            for (var m = 0; m < 2; m++)
            {
                sent += await SendAsync(replicas, null, IrisTraffic.Rows(300, 3000 + m));
                await CloseIntervalAsync(time, replicas, null);
            }

            Assert.All(replicas, r => Assert.True(r.Cluster.Status.Connected));
            await redis.StopServerAsync();

            // 64 callers over the three replicas while the replicas try to synchronize and three intervals close.
            var failures = 0;
            long answered = 0;
            using var stop = new CancellationTokenSource();
            var callers = Enumerable.Range(0, 64).Select(caller => Task.Run(async () =>
            {
                var rows = IrisTraffic.Rows(100_000, 4000 + caller).GetEnumerator();
                var i = caller;
                while (!stop.IsCancellationRequested && rows.MoveNext())
                {
                    try
                    {
                        await replicas[i++ % 3].Predictor.PredictAsync(new IrisRow { Features = rows.Current });
                        Interlocked.Increment(ref answered);
                    }
                    catch (Exception)
                    {
                        Interlocked.Increment(ref failures);
                    }
                }
            })).ToList();
            for (var k = 0; k < 3; k++)
            {
                await Task.Delay(100);
                time.Advance(TimeSpan.FromMinutes(1));
                await Task.WhenAll(replicas.Select(r => r.Cluster.SyncAsync()));
            }

            await stop.CancelAsync();
            await Task.WhenAll(callers);
            sent += Interlocked.Read(ref answered);

            // Every answered prediction's recording is in its interval before that interval closes (recording runs
            // after the answer, off the request path; without the flush a few land after the close).
            await Task.WhenAll(replicas.Select(r => r.Cluster.Local.FlushAsync()));

            // Close the interval the load ended in; the replicas buffer it too.
            time.Advance(TimeSpan.FromMinutes(1));
            await Task.WhenAll(replicas.Select(r => r.Cluster.SyncAsync()));
            Assert.Equal(0, failures);
            Assert.True(answered > 64);
            foreach (var (replica, collector) in replicas.Zip(collectors))
            {
                var status = replica.Cluster.Status;
                Assert.False(status.Connected);
                Assert.False(status.IsLeaseHolder);
                Assert.False(string.IsNullOrEmpty(status.Reason));
                Assert.InRange(status.BufferedIntervals, 3, 4);
                Assert.True(collector.GetMeasurementSnapshot().Sum(x => x.Value) >= 4);
                var health = await replica.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(c => c.Name == "redis-monitor:iris");
                Assert.Equal(HealthStatus.Degraded, health.Status);
                Assert.Contains("Redis unreachable", health.Entries["redis-monitor:iris"].Description, StringComparison.Ordinal);
                var logs = replica.Services.GetFakeLogCollector().GetSnapshot();
                Assert.Single(logs, l => l.Id.Id == 3100);
            }

            // Redis returns (empty: no persistence): every replica reconnects and publishes what it buffered.
            await redis.StartServerAsync();
            var deadline = Stopwatch.StartNew();
            while (!replicas.All(r => r.Cluster.Status.Connected && r.Cluster.Status.BufferedIntervals == 0))
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "the replicas did not reconnect within 30 s");
                await Task.Delay(100);
                await Task.WhenAll(replicas.Select(r => r.Cluster.SyncAsync()));
            }

            // One more round: each replica reads what the others published after its own last read.
            await Task.WhenAll(replicas.Select(r => r.Cluster.SyncAsync()));
            await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
            var members = (await connection.GetDatabase().SortedSetRangeByRankAsync("{test:mon:iris}:idx")).Select(v => (string)v!).ToList();
            foreach (var replica in replicas)
            {
                Assert.InRange(members.Count(x => x.EndsWith(":" + replica.Id, StringComparison.Ordinal)), 3, 4);
                var health = await replica.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(c => c.Name == "redis-monitor:iris");
                Assert.Equal(HealthStatus.Healthy, health.Status);
                Assert.Single(replica.Services.GetFakeLogCollector().GetSnapshot(), l => l.Id.Id == 3101);

                // The cluster view holds everything: the intervals merged before the outage and those buffered through
                // it. Exact but for rows being written at the instant their interval was taken for publishing (a
                // prediction that read the clock just before the boundary; a published interval is not sent again):
                // at most one row per caller and take, 64 x 4 per replica. A lost interval would be ~10^5 rows.
                var total = replica.Cluster.Cluster.GetReport(TimeSpan.FromMinutes(10)).Predictions;
                Assert.InRange(sent - total, 0, 3 * 64 * 4);
            }
        }
        finally
        {
            await redis.StartServerAsync();
            foreach (var collector in collectors)
            {
                collector.Dispose();
            }

            foreach (var replica in replicas)
            {
                await replica.DisposeAsync();
            }
        }
    }

    [SkippableFact]
    public async Task ReplicasServingDifferentVersions_TheClusterReportNamesBoth_AndSaysTheWindowSpansThem()
    {
        redis.SkipIfUnavailable();
        await redis.FlushAsync();
        var time = new FakeTimeProvider(Start);
        var events = new EventLog();
        await using var a = await Replica.StartAsync("a", time, events, redis.Configuration);
        await using var b = await Replica.StartAsync("b", time, events, redis.Configuration);

        // A rolling deploy: b serves other bytes of the same network (a second doc_string field) — another version.
        var v1 = a.Services.GetRequiredKeyedService<IModelManager>("iris").Current.Sha256;
        var bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "models", "iris_mlp.onnx"));
        var v2 = (await b.Services.GetRequiredKeyedService<IModelManager>("iris").ReloadAsync(ModelSource.FromBytes([.. bytes, 0x32, 0x02, (byte)'v', (byte)'2']))).Sha256;
        Assert.NotEqual(v1, v2);

        for (var m = 0; m < 2; m++)
        {
            await SendAsync([a, b], null, IrisTraffic.Rows(200, 7000 + m));
            await CloseIntervalAsync(time, [a, b], null);
        }

        foreach (var replica in new[] { a, b })
        {
            var report = replica.Cluster.Cluster.GetReport(Window);
            Assert.Equal(400, report.Predictions);
            Assert.Equal(new[] { new ModelVersionRows(v1, 200), new ModelVersionRows(v2, 200) }.OrderBy(v => v.Version, StringComparer.Ordinal), report.Versions);
            Assert.Contains("spans 2 model versions", report.VersionNote, StringComparison.Ordinal);

            // Each replica's own view holds its own version only.
            Assert.Equal([replica == a ? v1 : v2], replica.Cluster.Local.GetReport(Window).Versions.Select(v => v.Version));
        }
    }

    [SkippableFact]
    public async Task ALateJoiner_HasTheClusterHistoryAfterItsFirstSync()
    {
        redis.SkipIfUnavailable();
        await redis.FlushAsync();
        var time = new FakeTimeProvider(Start);
        var events = new EventLog();
        await using var a = await Replica.StartAsync("a", time, events, redis.Configuration);
        await using var b = await Replica.StartAsync("b", time, events, redis.Configuration);
        long sent = 0;
        for (var m = 0; m < 4; m++)
        {
            sent += await SendAsync([a, b], null, IrisTraffic.Rows(200, 5000 + m));
            await CloseIntervalAsync(time, [a, b], null);
        }

        await using var late = await Replica.StartAsync("late", time, events, redis.Configuration);
        Assert.Equal(0, late.Cluster.Cluster.GetReport(Window).Predictions);
        await late.Cluster.SyncAsync();

        var report = late.Cluster.Cluster.GetReport(Window);
        Assert.Equal(sent, report.Predictions);
        Assert.Equal(a.Cluster.Cluster.GetReport(Window).Predictions, report.Predictions);
        Assert.Equal(0, late.Cluster.Local.GetReport(Window).Predictions);
        Assert.All(report.Features.Where(f => f.Role == FeatureRole.Input), f => Assert.Equal(sent, f.Count));

        // It mirrors the holder's committed evaluation (it does not hold the lease).
        Assert.False(late.Cluster.Status.IsLeaseHolder);
        Assert.Equal(a.Cluster.Status.LastEvaluatedInterval, late.Cluster.Status.LastEvaluatedInterval);
        Assert.NotNull(late.Cluster.Status.LastEvaluatedInterval);
    }

    [SkippableFact]
    public async Task AClosedInterval_IsPublishedOnlyAfterThePublishGrace_SoRowsRecordedAtItsLastInstantAreInIt()
    {
        redis.SkipIfUnavailable();
        await redis.FlushAsync();
        var time = new FakeTimeProvider(Start);
        await using var a = await Replica.StartAsync("a", time, new EventLog(), redis.Configuration);
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
        var db = connection.GetDatabase();
        var sent = await SendAsync([a], null, IrisTraffic.Rows(50, 7000));

        // At the boundary the interval is closed but still open to late rows: nothing is taken or published yet.
        var grace = ClusterMonitor.PublishGrace(TimeSpan.FromMinutes(1));
        Assert.Equal(TimeSpan.FromSeconds(1), grace);
        time.Advance(TimeSpan.FromSeconds(30));
        await a.Cluster.SyncAsync();
        Assert.Equal(0, await db.SortedSetLengthAsync("{test:mon:iris}:idx"));

        // Still not within the grace (a row stamped in the interval and appended now would still count in it); then taken whole.
        time.Advance(grace - TimeSpan.FromMilliseconds(1));
        await a.Cluster.SyncAsync();
        Assert.Equal(0, await db.SortedSetLengthAsync("{test:mon:iris}:idx"));
        time.Advance(TimeSpan.FromMilliseconds(1));
        await a.Cluster.SyncAsync();
        Assert.Equal(1, await db.SortedSetLengthAsync("{test:mon:iris}:idx"));
        Assert.Equal(sent, a.Cluster.Cluster.GetReport(Window).Predictions);
    }

    [SkippableFact]
    public async Task MalformedEntries_AreSkippedAndCounted_NeverMergedInPart_AndValidOnesStillMerge()
    {
        redis.SkipIfUnavailable();
        await redis.FlushAsync();
        var time = new FakeTimeProvider(Start);
        var events = new EventLog();
        await using var a = await Replica.StartAsync("a", time, events, redis.Configuration, o => o.MaxEntryBytes = 64 * 1024);
        long sent = 0;
        for (var m = 0; m < 2; m++)
        {
            sent += await SendAsync([a], null, IrisTraffic.Rows(200, 6000 + m));
            await CloseIntervalAsync(time, [a], null);
        }

        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.Configuration!);
        var db = connection.GetDatabase();
        const string tag = "{test:mon:iris}";
        var members = (await db.SortedSetRangeByRankAsync(tag + ":idx")).Select(v => (string)v!).ToList();
        Assert.Equal(2, members.Count);
        var index = long.Parse(members[1].Split(':')[0], System.Globalization.CultureInfo.InvariantCulture);
        byte[] good = (await db.StringGetAsync(tag + ":i:" + members[1]))!;

        async Task Put(string member, long score, byte[] value)
        {
            await db.StringSetAsync(tag + ":i:" + member, value);
            await db.SortedSetAddAsync(tag + ":idx", member, score);
        }

        var flipped = (byte[])good.Clone();
        flipped[good.Length / 2] ^= 0x55;
        await Put($"{index}:garbage", index, [1, 2, 3, 4, 5, 6, 7, 8]);
        await Put($"{index}:truncated", index, good[..(good.Length / 2)]);
        await Put($"{index}:flipped", index, flipped);
        await Put($"{index - 1}:misfiled", index - 1, good);        // interval `index` filed under another index
        await Put($"{index}:huge", index, new byte[100 * 1024]);   // over MaxEntryBytes: not parsed
        await Put("not-a-member", index, good);
        await Put($"{index}:copy", index, good);                    // valid: another replica's copy of the interval

        using var malformed = new MetricCollector<long>(a.Services.GetRequiredService<IMeterFactory>(), ModelMetricNames.Meter, ClusterMetricNames.Malformed);
        var before = a.Cluster.Cluster.GetReport(Window).Predictions;
        Assert.Equal(sent, before);
        await a.Cluster.SyncAsync();
        await a.Cluster.SyncAsync(); // already seen: neither re-read nor re-counted

        Assert.True(a.Cluster.Status.Connected);
        Assert.Equal(6, malformed.GetMeasurementSnapshot().Sum(x => x.Value));
        var copied = a.Cluster.Local.GetReport(Window, new DateTimeOffset((index + 1) * TimeSpan.FromMinutes(1).Ticks, TimeSpan.Zero)).Predictions
            - a.Cluster.Local.GetReport(Window, new DateTimeOffset(index * TimeSpan.FromMinutes(1).Ticks, TimeSpan.Zero)).Predictions;
        Assert.Equal(200, copied);
        Assert.Equal(sent + copied, a.Cluster.Cluster.GetReport(Window).Predictions);

        // A malformed evaluation state is ignored (and counted) by a replica that reads it.
        await db.HashSetAsync(tag + ":state", "state", "{not json");
        await using var b = await Replica.StartAsync("b", time, events, redis.Configuration);
        using var stateMalformed = new MetricCollector<long>(b.Services.GetRequiredService<IMeterFactory>(), ModelMetricNames.Meter, ClusterMetricNames.Malformed);
        await b.Cluster.SyncAsync();
        Assert.True(b.Cluster.Status.Connected);
        Assert.Equal(sent + copied, b.Cluster.Cluster.GetReport(Window).Predictions);
        Assert.True(stateMalformed.GetMeasurementSnapshot().Sum(x => x.Value) >= 7);
    }

    private static async Task SetReferenceAsync(IEnumerable<Replica> replicas)
    {
        var all = replicas.ToList();
        var reference = await all[0].Monitor.BuildReferenceAsync(IrisTraffic.Rows(5000, 7).Select(f => new IrisRow { Features = f }).ToList());
        foreach (var replica in all)
        {
            replica.Monitor.SetReference(reference);
        }
    }

    /// <summary>Sends the rows round-robin over <paramref name="replicas"/>, and every row to the oracle.</summary>
    private static async Task<long> SendAsync(List<Replica> replicas, Replica? oracle, IEnumerable<float[]> rows)
    {
        long n = 0;
        foreach (var row in rows)
        {
            await replicas[(int)(n++ % replicas.Count)].Predictor.PredictAsync(new IrisRow { Features = row });
            if (oracle is not null)
            {
                await oracle.Predictor.PredictAsync(new IrisRow { Features = row });
            }
        }

        return n;
    }

    /// <summary>From 30 s into an interval: to 1 s past its end (the publish grace: every replica publishes), 29 s on (the holder evaluates; the oracle too): the next interval's 30 s.</summary>
    private static async Task CloseIntervalAsync(FakeTimeProvider time, List<Replica> replicas, Replica? oracle)
    {
        time.Advance(TimeSpan.FromSeconds(30) + ClusterMonitor.PublishGrace(TimeSpan.FromMinutes(1)));
        foreach (var replica in replicas)
        {
            await replica.Cluster.SyncAsync();
        }

        time.Advance(TimeSpan.FromSeconds(29));
        foreach (var replica in replicas)
        {
            await replica.Cluster.SyncAsync();
        }

        if (oracle is not null)
        {
            await oracle.Monitor.EvaluateAsync();
        }
    }

    private static void AssertClose(double expected, double actual, double relative) =>
        Assert.True(
            (double.IsNaN(expected) && double.IsNaN(actual)) || Math.Abs(expected - actual) <= relative * Math.Max(1, Math.Abs(expected)),
            $"expected {expected}, got {actual}");
}
