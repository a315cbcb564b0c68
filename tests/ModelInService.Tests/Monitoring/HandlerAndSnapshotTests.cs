using ModelInService.Sketches;

namespace ModelInService.Tests.Monitoring;

public class HandlerAndSnapshotTests
{
    private sealed class ThrowingHandler : IModelMonitorHandler
    {
        public TaskCompletionSource Called { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task HandleAsync(ModelMonitorEvent monitorEvent, CancellationToken cancellationToken)
        {
            Called.TrySetResult();
            throw new InvalidOperationException("handler bug");
        }
    }

    /// <summary>Never finishes and ignores its token.</summary>
    private sealed class HangingHandler : IModelMonitorHandler
    {
        public SemaphoreSlim Entered { get; } = new(0);

        public Task HandleAsync(ModelMonitorEvent monitorEvent, CancellationToken cancellationToken)
        {
            Entered.Release();
            return new TaskCompletionSource().Task;
        }
    }

    [Fact]
    public async Task HandlersThatThrowOrHang_DoNotBlockTheOthers()
    {
        var throwing = new ThrowingHandler();
        var hanging = new HangingHandler();
        var collecting = new CollectingHandler();
        using var harness = new MonitorHarness(o => o.HandlerTimeout = TimeSpan.FromSeconds(5), [throwing, hanging, collecting]);
        harness.Monitor.SetReference(harness.BuildReference(new SyntheticStream(1), 20_000));
        var stream = new SyntheticStream(2) { Shift = 1 };
        harness.Run(stream, 10, 1_000);

        var evaluation = harness.Monitor.EvaluateAsync();
        await hanging.Entered.WaitAsync();
        await throwing.Called.Task;
        // The collecting handler gets every event although another one hangs and another one threw.
        await collecting.WaitForAsync(e => e.Kind == ModelMonitorEventKind.DriftDetected && e.Feature == "X");
        Assert.False(evaluation.IsCompleted);

        harness.Time.Advance(TimeSpan.FromSeconds(5)); // the hanging handler's timeout
        var events = await evaluation;
        Assert.Contains(events, e => e.Feature == "X");

        // The next evaluation is not held by the abandoned handler either.
        stream.Shift = 0;
        harness.Run(stream, 10, 1_000);
        var next = harness.Monitor.EvaluateAsync();
        await collecting.WaitForAsync(e => e.Kind == ModelMonitorEventKind.DriftResolved && e.Feature == "X");
        await hanging.Entered.WaitAsync();
        harness.Time.Advance(TimeSpan.FromSeconds(5));
        await next;
    }

    [Fact]
    public async Task SnapshotRestoreAndMerge_OfTwoReplicas_EqualOneProcessThatSawAllTraffic()
    {
        using var single = new MonitorHarness();
        using var replicaA = new MonitorHarness(time: single.Time);
        using var replicaB = new MonitorHarness(time: single.Time);
        var stream = new SyntheticStream(5);
        for (var minute = 0; minute < 12; minute++)
        {
            for (var i = 0; i < 300; i++)
            {
                var (row, prediction) = stream.Next();
                single.Recorder.Record(row, prediction);
                (i % 2 == 0 ? replicaA : replicaB).Recorder.Record(row, prediction);
            }

            await single.Monitor.FlushAsync();
            await replicaA.Monitor.FlushAsync();
            await replicaB.Monitor.FlushAsync();
            single.Time.Advance(TimeSpan.FromMinutes(1));
        }

        // Each replica's snapshot goes through its file format, then into an aggregator with no traffic of its own.
        using var aggregator = new MonitorHarness(time: single.Time);
        foreach (var replica in new[] { replicaA, replicaB })
        {
            using var file = new MemoryStream();
            replica.Monitor.ExportSnapshot().WriteTo(file);
            file.Position = 0;
            aggregator.Monitor.MergeSnapshot(MonitorSnapshot.ReadFrom(file));
        }

        var reference = single.BuildReference(new SyntheticStream(6), 5_000);
        single.Monitor.SetReference(reference);
        aggregator.Monitor.SetReference(reference);
        var expected = single.Monitor.GetReport(TimeSpan.FromMinutes(10));
        var actual = aggregator.Monitor.GetReport(TimeSpan.FromMinutes(10));

        Assert.Equal(3_000, expected.Predictions);
        Assert.Equal(expected.Predictions, actual.Predictions);
        Assert.Equal(expected.Features.Select(f => f.Name), actual.Features.Select(f => f.Name));
        foreach (var e in expected.Features)
        {
            var a = actual[e.Name]!;
            Assert.Equal(e.Count, a.Count);
            Assert.Equal(e.MissingCount, a.MissingCount);
            Assert.Equal(e.Min, a.Min);
            Assert.Equal(e.Max, a.Max);
            Assert.Equal(e.Mean, a.Mean, 1e-9);
            Assert.Equal(e.StandardDeviation, a.StandardDeviation, 1e-9);
            Assert.Equal(e.Status, a.Status);
            if (e.Kind == FeatureKind.Categorical)
            {
                Assert.Equal(e.Distance.Value, a.Distance.Value, 1e-12); // category counts merge exactly
            }
            else
            {
                // Quantile sketches merge within their error bounds.
                Assert.InRange(Math.Abs(e.Distance.Value - a.Distance.Value), 0, e.Distance.ErrorBound + a.Distance.ErrorBound + 1e-12);
            }
        }
    }

    [Fact]
    public void SnapshotFile_Corrupted_IsRejectedWithFormatException()
    {
        using var harness = new MonitorHarness();
        harness.Run(new SyntheticStream(1), 2, 100);
        using var file = new MemoryStream();
        harness.Monitor.ExportSnapshot().WriteTo(file);
        var bytes = file.ToArray();
        for (var position = 0; position < bytes.Length; position += Math.Max(1, bytes.Length / 50))
        {
            var copy = (byte[])bytes.Clone();
            copy[position] ^= 0x5A;
            Assert.Throws<FormatException>(() => MonitorSnapshot.ReadFrom(new MemoryStream(copy)));
        }

        Assert.Throws<FormatException>(() => MonitorSnapshot.ReadFrom(new MemoryStream(bytes[..^3])));
        Assert.Equal(2, MonitorSnapshot.ReadFrom(new MemoryStream(bytes)).IntervalCount);
    }

    [Fact]
    public void ReferenceFile_RoundTrips_AndCorruptionIsDetected()
    {
        using var harness = new MonitorHarness();
        var reference = harness.BuildReference(new SyntheticStream(9), 25_000);
        Assert.Equal(25_000, reference.Rows);
        Assert.Equal(3, reference.ChunkCount); // 10k, 10k, and a 5k tail (at least half a chunk)

        using var file = new MemoryStream();
        reference.Save(file);
        var loaded = MonitorReference.Load(new MemoryStream(file.ToArray()));
        Assert.Equal(reference.FeatureNames, loaded.FeatureNames);
        Assert.Equal(reference.Rows, loaded.Rows);
        Assert.Equal(reference.ChunkCount, loaded.ChunkCount);
        Assert.Equal(reference.GetProfile("X")!.ToByteArray(), loaded.GetProfile("X")!.ToByteArray());
        Assert.Equal(reference.GetProfile("Color")!.ToByteArray(), loaded.GetProfile("Color")!.ToByteArray());

        var bytes = file.ToArray();
        bytes[bytes.Length / 2] ^= 1;
        Assert.Throws<FormatException>(() => MonitorReference.Load(new MemoryStream(bytes)));
        Assert.Throws<FormatException>(() => MonitorReference.Load(new MemoryStream("not a reference file at all"u8.ToArray())));
    }

    [Fact]
    public void FreezeReference_UsesTheWindowsIntervalsAsChunks_AndItsRateForVolume()
    {
        using var harness = new MonitorHarness(o => o.VolumeTolerance = 0.5);
        var stream = new SyntheticStream(3);
        harness.Run(stream, 10, 1_000);
        var frozen = harness.Monitor.FreezeReference(TimeSpan.FromMinutes(10));
        Assert.Equal(10, frozen.ChunkCount);
        Assert.Equal(10_000, frozen.Rows);
        Assert.Equal(1_000, frozen.PredictionsPerMinute!.Value, 1e-9);
        Assert.Equal("production", frozen.Source);

        harness.Monitor.SetReference(frozen);
        harness.Run(stream, 10, 300); // traffic fell by 70%
        var report = harness.Monitor.GetReport(TimeSpan.FromMinutes(10));
        var volume = Assert.Single(report.Violations, v => v.Rule == "volume");
        Assert.Equal(-0.7, volume.Observed, 1e-9);
    }
}
