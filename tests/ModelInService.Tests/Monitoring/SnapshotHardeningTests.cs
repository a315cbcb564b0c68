using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Monitoring;
using ModelInService.Sketches;
using Xunit.Abstractions;

namespace ModelInService.Tests.Monitoring;

/// <summary>Regression tests of issue 14, "Snapshot import and restore": hostile or broken snapshot files and merges.</summary>
public sealed class SnapshotHardeningTests(ITestOutputHelper output)
{
    /// <summary>A monitor with <paramref name="minutes"/> minutes of synthetic traffic (three features), current time at their end.</summary>
    private static MonitorHarness Filled(int minutes = 3, int perMinute = 200, Action<MonitoringOptions>? configure = null)
    {
        var harness = new MonitorHarness(configure);
        harness.Run(new SyntheticStream(1), minutes, perMinute);
        return harness;
    }

    private static long CurrentIndex(MonitorHarness harness) => harness.Time.GetUtcNow().UtcTicks / harness.Options.IntervalLength.Ticks;

    [Fact]
    public async Task IntervalRing_NewestAtInt64Max_ListsItsIntervalsAndReturns()
    {
        var ring = new IntervalRing(60);
        ring.GetForWrite(long.MaxValue)!.Rows = 1;

        // WaitAsync throws TimeoutException when Retained() does not return (the loop index overflowed).
        var listing = await Task.Run(() => ring.Retained().ToList()).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(long.MaxValue, Assert.Single(listing).Index);
    }

    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    [InlineData(-1L)]
    [InlineData(5_000_000_000L)] // past DateTimeOffset.MaxValue for one-minute intervals
    public async Task ReadFrom_IntervalIndexThatIsNoTime_IsFormatException_AndTheMonitorStillExports(long index)
    {
        using var harness = Filled();
        var file = SnapshotFiles.Edit(SnapshotFiles.Bytes(harness.Monitor.ExportSnapshot()), (h, _) => h.Intervals[^1].Index = index);

        // Before the fix the file merged and the next export never returned: WaitAsync would throw TimeoutException.
        var exported = await Task.Run(() =>
        {
            Assert.Throws<FormatException>(() => harness.Monitor.MergeSnapshot(SnapshotFiles.Read(file)));
            return SnapshotFiles.Read(SnapshotFiles.Bytes(harness.Monitor.ExportSnapshot()));
        }).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(3, exported.IntervalCount);
    }

    [Fact]
    public void ReadFrom_IntervalsFurtherApartThanAnyRetention_OrListedTwice_IsFormatException()
    {
        using var harness = Filled();
        var file = SnapshotFiles.Bytes(harness.Monitor.ExportSnapshot());
        var apart = SnapshotFiles.Edit(file, (h, _) => h.Intervals[0].Index = h.Intervals[^1].Index - MonitorSnapshot.MaxIntervals);
        var twice = SnapshotFiles.Edit(file, (h, _) => h.Intervals[0].Index = h.Intervals[1].Index);

        Assert.Contains("apart", Assert.Throws<FormatException>(() => SnapshotFiles.Read(apart)).Message, StringComparison.Ordinal);
        Assert.Contains("twice", Assert.Throws<FormatException>(() => SnapshotFiles.Read(twice)).Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// The amplification: many intervals that all reference the same blobs. Scaled by
    /// MIS_AMPLIFICATION_INTERVALS (the file had 200,000 intervals, 58 MB); by default 20,000.
    /// </summary>
    [Fact]
    public void ReadFrom_ManyIntervalsReferencingTheSameBlobs_IsRefused_WithoutAmplification()
    {
        var count = int.TryParse(Environment.GetEnvironmentVariable("MIS_AMPLIFICATION_INTERVALS"), out var n) ? n : 20_000;
        using var harness = Filled(minutes: 1, perMinute: 5_000);
        var file = SnapshotFiles.Edit(SnapshotFiles.Bytes(harness.Monitor.ExportSnapshot()), (h, _) =>
        {
            var template = h.Intervals[0];
            h.Intervals.Clear();
            for (var i = 0; i < count; i++)
            {
                h.Intervals.Add(new IntervalEntry
                {
                    Index = template.Index - (i % 10_000),
                    Rows = template.Rows,
                    BinCount = template.BinCount,
                    BinConfidence = template.BinConfidence,
                    BinCorrect = template.BinCorrect,
                    Blobs = template.Blobs,
                });
            }
        });

        GC.Collect();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var error = Record.Exception(() => SnapshotFiles.Read(file));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        output.WriteLine($"{count:N0} intervals, file {file.Length:N0} bytes: ReadFrom allocated {allocated:N0} bytes ({(double)allocated / file.Length:0.0}x) in {clock.Elapsed.TotalMilliseconds:N0} ms: {error?.GetType().Name}: {error?.Message}");

        Assert.IsType<FormatException>(error);
        Assert.True(allocated < (4L * file.Length) + (1 << 20), $"allocated {allocated:N0} bytes for a {file.Length:N0}-byte file");
    }

    [Fact]
    public void ReadFrom_NonSeekableStreamOfMoreThanOneGiB_FailsWithoutBufferingIt()
    {
        // A valid prefix claiming a 1,073,741,808-byte header, then zeros: 1.2 GiB produced lazily, never seekable.
        var prefix = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, MonitorSnapshot.Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(prefix.AsSpan(4), SketchFile.Version);
        BinaryPrimitives.WriteInt32LittleEndian(prefix.AsSpan(8), 0x3FFF_FFF0);
        var stream = new NonSeekableStream(prefix, 1_288_490_189);

        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<FormatException>(() => MonitorSnapshot.ReadFrom(stream));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(allocated < 1 << 20, $"allocated {allocated:N0} bytes");
        Assert.True(stream.BytesRead < 1 << 20, $"read {stream.BytesRead:N0} bytes");
    }

    [Fact]
    public void SketchFileRead_NonSeekable_CountsBytesAsRead_AndGrowsBuffersWithTheData()
    {
        // Truthful framing (blobs of 1 MiB) that goes on past the limit: refused once the count passes it.
        const int Blob = 1 << 20;
        var prefix = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, MonitorSnapshot.Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(prefix.AsSpan(4), SketchFile.Version);
        BinaryPrimitives.WriteInt32LittleEndian(prefix.AsSpan(8), 0); // empty header
        BinaryPrimitives.WriteInt32LittleEndian(prefix.AsSpan(12), 12); // blob count
        BinaryPrimitives.WriteInt32LittleEndian(prefix.AsSpan(16), Blob);
        var stream = new NonSeekableStream(prefix, 12L * (Blob + 4));
        var before = GC.GetAllocatedBytesForCurrentThread();

        Assert.Throws<FormatException>(() => SketchFile.Read(stream, MonitorSnapshot.Magic, "monitor snapshot", maxBytes: 8 * Blob));

        Assert.True(stream.BytesRead <= 8 * Blob, $"read {stream.BytesRead:N0} bytes");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10 * Blob);

        // A length that lies about a short stream allocates what arrived, not what it claims.
        var liar = new byte[16];
        prefix.AsSpan(0, 8).CopyTo(liar);
        BinaryPrimitives.WriteInt32LittleEndian(liar.AsSpan(8), 500 * Blob);
        before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<FormatException>(() => SketchFile.Read(new NonSeekableStream(liar, 3 * Blob), MonitorSnapshot.Magic, "monitor snapshot"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 10 * Blob);
    }

    [Theory]
    [InlineData("{\"modelName\":\"m\",\"intervalTicks\":600000000,\"features\":null,\"intervals\":[]}")]
    [InlineData("{\"modelName\":null,\"intervalTicks\":600000000,\"features\":[],\"intervals\":[]}")]
    [InlineData("{\"modelName\":\"m\",\"intervalTicks\":600000000,\"features\":[],\"intervals\":null}")]
    [InlineData("{\"modelName\":\"m\",\"intervalTicks\":600000000,\"features\":[null],\"intervals\":[]}")]
    [InlineData("{\"modelName\":\"m\",\"intervalTicks\":600000000,\"features\":[{\"name\":null}],\"intervals\":[]}")]
    [InlineData("{\"modelName\":\"m\",\"intervalTicks\":600000000,\"features\":[{\"name\":\"x\",\"role\":null}],\"intervals\":[]}")]
    [InlineData("{\"modelName\":\"m\",\"intervalTicks\":600000000,\"features\":[],\"intervals\":[null]}")]
    [InlineData("{\"modelName\":\"m\",\"intervalTicks\":600000000,\"features\":[],\"intervals\":[{\"index\":1,\"blobs\":null}]}")]
    [InlineData("{\"modelName\":\"m\",\"intervalTicks\":600000000,\"features\":[],\"intervals\":[{\"index\":1,\"binCount\":null}]}")]
    [InlineData("{\"modelName\":\"m\",\"intervalTicks\":600000000,\"features\":[],\"intervals\":[{\"index\":1,\"rows\":9223372036854775807,\"dropped\":1,\"binCount\":[0,0,0,0,0,0,0,0,0,0],\"binConfidence\":[0,0,0,0,0,0,0,0,0,0],\"binCorrect\":[0,0,0,0,0,0,0,0,0,0]}]}")]
    public void ReadFrom_NullsOrOverflowInTheHeader_IsFormatException(string json)
    {
        var file = SnapshotFiles.WriteRaw(Encoding.UTF8.GetBytes(json), []);
        Assert.Throws<FormatException>(() => SnapshotFiles.Read(file));
    }

    [Fact]
    public void ReadFrom_BlobReferencedTwice_OrTooManyFeatures_IsFormatException()
    {
        using var harness = Filled();
        var file = SnapshotFiles.Bytes(harness.Monitor.ExportSnapshot());
        var shared = SnapshotFiles.Edit(file, (h, _) => h.Intervals[1].Blobs = [.. h.Intervals[0].Blobs]);
        Assert.Contains("more than once", Assert.Throws<FormatException>(() => SnapshotFiles.Read(shared)).Message, StringComparison.Ordinal);

        var wide = SnapshotFiles.Edit(file, (h, _) =>
        {
            h.Intervals.Clear();
            h.Features = [.. Enumerable.Range(0, 100_000).Select(i => new FeatureEntry { Name = "f" + i })];
        });
        Assert.Contains("features", Assert.Throws<FormatException>(() => SnapshotFiles.Read(wide)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MergeSnapshot_RowsThatWouldOverflow_ThrowsOverflow_MergesNothing_AndTheExportReadsBack()
    {
        using var harness = Filled();
        var before = harness.Monitor.ExportSnapshot();
        var file = SnapshotFiles.Edit(SnapshotFiles.Bytes(before), (h, _) => h.Intervals[^1].Rows = long.MaxValue - h.Intervals[^1].Dropped - h.Intervals[^1].Unsampled);
        var hostile = SnapshotFiles.Read(file);

        Assert.Throws<OverflowException>(() => harness.Monitor.MergeSnapshot(hostile));

        var after = SnapshotFiles.Read(SnapshotFiles.Bytes(harness.Monitor.ExportSnapshot()));
        Assert.Equal(before.Predictions, after.Predictions);
        Assert.Equal(before.Intervals.Select(i => i.Rows), after.Intervals.Select(i => i.Rows));
    }

    [Fact]
    public void MergeSnapshot_SketchWhoseCountWouldOverflow_ThrowsOverflow_AndLeavesNoHalfMergedInterval()
    {
        using var harness = Filled();
        var before = harness.Monitor.ExportSnapshot();
        var file = SnapshotFiles.Edit(SnapshotFiles.Bytes(before), (h, blobs) =>
        {
            // The newest interval's first numeric profile weighs Int64.MaxValue - 5 observations (valid alone; not with ours).
            var numeric = h.Features.FindIndex(f => f.Kind == "numeric");
            blobs[h.Intervals[^1].Blobs[numeric]] = NearlyFullProfile();
        });

        Assert.Throws<OverflowException>(() => harness.Monitor.MergeSnapshot(SnapshotFiles.Read(file)));

        var after = SnapshotFiles.Read(SnapshotFiles.Bytes(harness.Monitor.ExportSnapshot()));
        Assert.Equal(before.Intervals.Select(i => i.Rows), after.Intervals.Select(i => i.Rows));
        Assert.Equal(before.Predictions, after.Predictions);
    }

    [Fact]
    public async Task MergeSnapshot_IntervalsTwoHoursAhead_AreSkippedAndCounted_AndOwnCurrentDataIsKept()
    {
        using var harness = Filled();
        var replica = new MonitorHarness(time: new FakeTimeProvider(harness.Time.GetUtcNow() + TimeSpan.FromHours(2)));
        replica.Run(new SyntheticStream(2), 2, 100);
        var ownCurrent = new SyntheticStream(3);
        for (var i = 0; i < 50; i++)
        {
            var (row, prediction) = ownCurrent.Next();
            harness.Recorder.Record(row, prediction);
        }

        await harness.Monitor.FlushAsync();
        var result = harness.Monitor.MergeSnapshot(replica.Monitor.ExportSnapshot());

        Assert.Equal(new MonitorMergeResult(0, 0, 2, 200, 0), result);
        Assert.Equal(0, harness.Monitor.Statistics.Late);
        harness.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(50, harness.Monitor.GetReport(TimeSpan.FromMinutes(1)).Predictions);
        replica.Dispose();
    }

    [Fact]
    public void MergeSnapshot_WithinTheClockSkewTolerance_IsMerged()
    {
        using var harness = Filled(configure: o => o.MaxSnapshotClockSkew = TimeSpan.FromMinutes(3));
        using var replica = new MonitorHarness(time: new FakeTimeProvider(harness.Time.GetUtcNow() + TimeSpan.FromMinutes(2)));
        replica.Run(new SyntheticStream(2), 1, 100);

        var result = harness.Monitor.MergeSnapshot(replica.Monitor.ExportSnapshot());

        Assert.Equal(1, result.Merged);
        Assert.Equal(0, result.Ahead);
    }

    [Fact]
    public async Task MergeSnapshot_ClockSkewLongerThanTheRetention_NeverPushesTheCurrentIntervalOut()
    {
        using var harness = Filled(minutes: 1, configure: o =>
        {
            o.Retention = TimeSpan.FromMinutes(10);
            o.Windows.Clear();
            o.Windows.Add(TimeSpan.FromMinutes(1));
            o.MaxSnapshotClockSkew = TimeSpan.FromHours(1);
        });
        using var replica = new MonitorHarness(time: new FakeTimeProvider(harness.Time.GetUtcNow() + TimeSpan.FromMinutes(30)));
        replica.Run(new SyntheticStream(2), 1, 100);
        var (row, prediction) = new SyntheticStream(3).Next();
        harness.Recorder.Record(row, prediction);

        var result = harness.Monitor.MergeSnapshot(replica.Monitor.ExportSnapshot());
        await harness.Monitor.FlushAsync();

        Assert.Equal(1, result.Ahead);
        harness.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, harness.Monitor.GetReport(TimeSpan.FromMinutes(1)).Predictions);
    }

    [Fact]
    public void MergeSnapshot_UnknownFeatures_AreCappedByMaxImportedFeatures_AndCounted()
    {
        using var harness = Filled(configure: o => o.MaxImportedFeatures = 100);
        var known = harness.Monitor.ExportSnapshot().Catalog.Count;
        MonitorSnapshot Unknown(string prefix) => SnapshotFiles.Read(SnapshotFiles.Edit(SnapshotFiles.Bytes(harness.Monitor.ExportSnapshot()), (h, _) =>
        {
            h.Intervals.Clear();
            h.Features = [.. Enumerable.Range(0, 5_000).Select(i => new FeatureEntry { Name = prefix + i })];
        }));

        Assert.Equal(4_900, harness.Monitor.MergeSnapshot(Unknown("a")).SkippedFeatures);
        Assert.Equal(5_000, harness.Monitor.MergeSnapshot(Unknown("b")).SkippedFeatures);
        Assert.Equal(known + 100, harness.Monitor.ExportSnapshot().Catalog.Count);
    }

    [Fact]
    public void Options_NewSnapshotLimits_AreValidated_WithMessagesSayingWhatToChange()
    {
        var options = new MonitoringOptions { MaxSnapshotClockSkew = TimeSpan.FromMinutes(-1), MaxImportedFeatures = -1 };
        var result = new MonitoringOptionsValidator().Validate("m", options);
        Assert.True(result.Failed);
        Assert.Contains("MaxSnapshotClockSkew is -00:01:00; use 0 to 1 day", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("MaxImportedFeatures is -1; use 0 to 65,536", result.FailureMessage, StringComparison.Ordinal);
    }

    /// <summary>The iris model with monitoring on a fake clock, logs collected, evaluations a day apart (tests run them).</summary>
    private static Task<Microsoft.Extensions.Hosting.IHost> StartIrisAsync(FakeLogCollector logs, Action<MonitoringOptions> configure) =>
        TestModels.StartAsync(s =>
        {
            s.AddSingleton<TimeProvider>(new FakeTimeProvider(MonitorHarness.Start));
            s.AddLogging(b => b.AddProvider(new FakeLoggerProvider(logs)));
            s.AddModel<MonitoringIntegrationTests.TrackedIris, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp))
                .UseMonitoring(o =>
                {
                    o.EvaluationInterval = TimeSpan.FromDays(1);
                    configure(o);
                });
        });

    public static TheoryData<string> BadRestoreFiles => ["features-null", "sketch-merge-overflows"];

    [Theory]
    [MemberData(nameof(BadRestoreFiles))]
    public async Task Restore_BadFile_LogsMovesItAsideAndStartsEmpty_OnEveryRestart(string kind)
    {
        var directory = Path.Combine(Path.GetTempPath(), "mis-restore-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "iris.monitor");
        try
        {
            await File.WriteAllBytesAsync(path, BadFile(kind));
            var logs = new FakeLogCollector();
            using var host = await StartIrisAsync(logs, o => o.SnapshotDirectory = directory);

            var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");
            Assert.Equal(0, monitor.GetReport(TimeSpan.FromMinutes(1)).Predictions);
            Assert.False(File.Exists(path));
            Assert.True(File.Exists(path + ".corrupt-20250101T000000Z"));
            var record = Assert.Single(logs.GetSnapshot(), r => r.Id.Id == 3041);
            Assert.Equal(LogLevel.Warning, record.Level);
            Assert.NotNull(record.Exception);
            Assert.NotNull(SnapshotFiles.Read(SnapshotFiles.Bytes(monitor.ExportSnapshot())));
            await host.StopAsync();
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_failing_evaluation_still_persists_the_snapshot()
    {
        // A NaN range bound (now refused at start-up, set here afterwards) made every evaluation throw, and the
        // snapshot was written after the evaluation in the same try: nothing was saved until shutdown.
        var directory = Path.Combine(Path.GetTempPath(), "mis-persist-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "iris.monitor");
        try
        {
            var logs = new FakeLogCollector();
            using var host = await StartIrisAsync(logs, o =>
            {
                o.SnapshotDirectory = directory;
                o.MinimumSampleSize = 1;
            });
            var time = (FakeTimeProvider)host.Services.GetRequiredService<TimeProvider>();
            var predictor = host.Services.GetRequiredKeyedService<IPredictor<MonitoringIntegrationTests.TrackedIris, IrisOutput>>("iris");
            for (var i = 0; i < 600; i++)
            {
                await predictor.PredictAsync(new MonitoringIntegrationTests.TrackedIris { Features = [5.1f + (i % 7 * 0.1f), 3.5f, 1.4f, 0.2f] });
            }

            var monitor = host.Services.GetRequiredService<MonitorRegistry>().Get("iris");
            await monitor.FlushAsync(); // the predictions in the profiles (a report only sees completed blocks)
            for (var f = 0; f < 4; f++)
            {
                monitor.Options.Ranges[$"Features[{f}]"] = new MonitorValueRange(double.NaN, 5);
            }

            time.Advance(TimeSpan.FromMinutes(2));
            var service = host.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<MonitorHostedService>().Single();
            await service.RunOnceAsync(monitor);

            Assert.Contains(logs.GetSnapshot(), r => r.Id.Id == 3050);
            Assert.True(File.Exists(path), "no snapshot after a failed evaluation");
            Assert.Equal(600, SnapshotFiles.Read(await File.ReadAllBytesAsync(path)).Intervals.Sum(i => i.Predictions));
            await host.StopAsync();
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task AFailedSnapshotWrite_IsLogged_LeavesNoTemporaryFile_AndDoesNotStopShutdown()
    {
        // The snapshot's place is taken by a directory: the write of the .tmp succeeds, the rename fails. The old
        // code left the .tmp behind (the probe's 0-byte .monitor.tmp when WriteTo threw).
        var directory = Path.Combine(Path.GetTempPath(), "mis-persist-fail-" + Guid.NewGuid().ToString("N"));
        var path = Path.Combine(directory, "iris.monitor");
        Directory.CreateDirectory(path);
        try
        {
            var logs = new FakeLogCollector();
            using var host = await StartIrisAsync(logs, o => o.SnapshotDirectory = directory);
            var monitor = host.Services.GetRequiredService<MonitorRegistry>().Get("iris");
            var service = host.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<MonitorHostedService>().Single();
            await service.RunOnceAsync(monitor);

            Assert.Contains(logs.GetSnapshot(), r => r.Id.Id == 3042);
            Assert.False(File.Exists(path + ".tmp"), "a failed write left its temporary file");
            await host.StopAsync();
            Assert.False(File.Exists(path + ".tmp"));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>A valid numeric profile of two values and Int64.MaxValue - 7 nulls: any merge with more than 5 observations overflows.</summary>
    internal static byte[] NearlyFullProfile()
    {
        var profile = FeatureProfile.CreateNumeric();
        profile.Update(1.0);
        profile.Update(2.0);
        var bytes = profile.ToByteArray();
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(16), long.MaxValue - 7); // the moments' null count
        Assert.Equal(long.MaxValue - 5, FeatureProfile.Deserialize(bytes).TotalCount);
        return bytes;
    }

    [Fact]
    public async Task LoadReference_NullListsInTheHeader_AreLoggedAndTheHostStarts()
    {
        var directory = Path.Combine(Path.GetTempPath(), "mis-reference-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "iris.reference");
        try
        {
            using (var file = File.Create(path))
            {
                SketchFile.Write(file, 0x464D494D, "{\"rows\":1,\"chunkRows\":null,\"features\":null}"u8.ToArray(), []);
            }

            var logs = new FakeLogCollector();
            using var host = await StartIrisAsync(logs, o => o.ReferencePath = path);

            Assert.Null(host.Services.GetRequiredKeyedService<IModelMonitor>("iris").Reference);
            Assert.Contains(logs.GetSnapshot(), r => r.Level == LogLevel.Error && r.Exception is not null);
            await host.StopAsync();
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static byte[] BadFile(string kind)
    {
        if (kind == "features-null")
        {
            return SnapshotFiles.WriteRaw("{\"modelName\":\"iris\",\"intervalTicks\":600000000,\"features\":null,\"intervals\":[]}"u8.ToArray(), []);
        }

        // The same interval twice, each with a numeric profile of Int64.MaxValue - 5 observations: valid alone, overflowing together.

        var index = MonitorHarness.Start.UtcTicks / TimeSpan.TicksPerMinute - 1;
        IntervalEntry Entry() => new() { Index = index, Rows = 1, BinCount = new long[10], BinConfidence = new double[10], BinCorrect = new long[10], Blobs = [0] };
        var header = new SnapshotHeader
        {
            ModelName = "iris",
            IntervalTicks = TimeSpan.TicksPerMinute,
            Features = [new FeatureEntry { Name = "huge" }],
            Intervals = [Entry(), Entry()],
        };
        var bytes = NearlyFullProfile();
        var file = SnapshotFiles.Write(header, [bytes, bytes]);
        file = SnapshotFiles.Edit(file, (h, _) => h.Intervals[1].Blobs = [1]);
        return file;
    }
}
