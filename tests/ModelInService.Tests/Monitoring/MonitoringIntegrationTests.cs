using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Monitoring;

namespace ModelInService.Tests.Monitoring;

public class MonitoringIntegrationTests
{
    public sealed class TrackedIris
    {
        [ModelInput("features")]
        [AllowNonFinite]
        public float[] Features { get; set; } = [];

        [ModelIgnore]
        public string? RequestId { get; set; }
    }

    private static IEnumerable<float[]> IrisLike(int count, int seed, float shift = 0)
    {
        var random = new Random(seed);
        float[][] centers = [IrisSamples.Setosa, IrisSamples.Versicolor, IrisSamples.Virginica];
        for (var i = 0; i < count; i++)
        {
            var c = centers[i % 3];
            yield return [.. c.Select(v => v + shift + (float)((random.NextDouble() - 0.5) * 0.4))];
        }
    }

    /// <summary>The iris outputs, accepting the NaN probabilities the model gives for NaN features (refused by default).</summary>
    public sealed class LenientIrisOutput
    {
        [ModelOutput("label")]
        public long Label { get; set; }

        [ModelOutput("probabilities")]
        [AllowNonFinite]
        public float[] Probabilities { get; set; } = [];
    }

    private static Task<IHost> StartAsync(FakeTimeProvider time, Action<MonitoringOptions>? configure = null, Action<IServiceCollection>? more = null) =>
        StartAsync<IrisOutput>(time, configure, more);

    private static async Task<IHost> StartAsync<TOutput>(FakeTimeProvider time, Action<MonitoringOptions>? configure = null, Action<IServiceCollection>? more = null)
        where TOutput : class =>
        await TestModels.StartAsync(s =>
        {
            s.AddSingleton<TimeProvider>(time);
            s.AddModel<TrackedIris, TOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp)).UseMonitoring(o =>
            {
                o.Windows.Clear();
                o.Windows.Add(TimeSpan.FromMinutes(5));
                o.MinimumSampleSize = 50;
                o.PredictionIdMember = nameof(TrackedIris.RequestId);

                // Tests evaluate explicitly; the hosted timer would race them for the state transitions.
                o.EvaluationInterval = TimeSpan.FromDays(1);
                o.Retention = TimeSpan.FromHours(1);
                configure?.Invoke(o);
            });
            more?.Invoke(s);
        });

    [Fact]
    public async Task UseMonitoring_RecordsIrisPredictions_WithNamedFeatures()
    {
        var time = new FakeTimeProvider(MonitorHarness.Start);
        using var host = await StartAsync(time);
        var predictor = host.Services.GetRequiredService<IPredictor<TrackedIris, IrisOutput>>();
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");
        Assert.Same(monitor, host.Services.GetRequiredService<IModelMonitor>());

        foreach (var features in IrisLike(60, 1))
        {
            await predictor.PredictAsync(new TrackedIris { Features = features });
        }

        await predictor.PredictBatchAsync([.. IrisLike(30, 2).Select(f => new TrackedIris { Features = f })]);
        await monitor.FlushAsync();
        time.Advance(TimeSpan.FromMinutes(1));
        var report = monitor.GetReport(TimeSpan.FromMinutes(1));

        Assert.Equal(90, report.Predictions);
        Assert.Equal(
            ["Features[0]", "Features[1]", "Features[2]", "Features[3]", "Label", "Probabilities[0]", "Probabilities[1]", "Probabilities[2]", "Probabilities.top", "Probabilities.margin"],
            report.Features.Select(f => f.Name));
        Assert.All(report.Features, f => Assert.Equal(90, f.Count));
        Assert.Equal(FeatureStatus.NoReference, report["Features[0]"]!.Status);
    }

    [Fact]
    public async Task RejectedInputs_AreCountedAsSchemaViolations()
    {
        var time = new FakeTimeProvider(MonitorHarness.Start);
        using var host = await StartAsync(time);
        var predictor = host.Services.GetRequiredService<IPredictor<TrackedIris, IrisOutput>>();
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");

        foreach (var features in IrisLike(20, 1))
        {
            await predictor.PredictAsync(new TrackedIris { Features = features });
        }

        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<ModelInputException>(async () => await predictor.PredictAsync(new TrackedIris { Features = [1, 2] }));
        }

        await monitor.FlushAsync();
        time.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(3, monitor.GetReport(TimeSpan.FromMinutes(1)).SchemaViolations);
        Assert.Equal(3, monitor.Statistics.SchemaViolations);
    }

    [Fact]
    public async Task BuildReferenceAsync_ProfilesTrainingDataAndTheModelsPredictions_WithoutRecordingThem()
    {
        var time = new FakeTimeProvider(MonitorHarness.Start);
        using var host = await StartAsync(time, o => o.ReferenceChunkSize = 100);
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");
        var training = IrisLike(600, 3).Select(f => new TrackedIris { Features = f }).ToList();

        var reference = await monitor.BuildReferenceAsync(training);
        await monitor.FlushAsync();

        Assert.Equal(600, reference.Rows);
        Assert.Equal(6, reference.ChunkCount);
        Assert.Equal("training", reference.Source);
        Assert.Equal(3, reference.GetProfile("Label")!.Categories!.TrackedCount);
        Assert.Equal(0, monitor.Statistics.Recorded);
        await Assert.ThrowsAsync<ArgumentException>(() => monitor.BuildReferenceAsync(new[] { new IrisInput() }));

        // Shifted production traffic drifts from it.
        monitor.SetReference(reference);
        var predictor = host.Services.GetRequiredService<IPredictor<TrackedIris, IrisOutput>>();
        var collecting = host.Services.GetServices<IModelMonitorHandler>().OfType<CollectingHandler>().SingleOrDefault();
        foreach (var features in IrisLike(300, 4, shift: 1.0f))
        {
            await predictor.PredictAsync(new TrackedIris { Features = features });
        }

        time.Advance(TimeSpan.FromMinutes(5));
        var events = await monitor.EvaluateAsync();
        Assert.Contains(events, e => e.Kind == ModelMonitorEventKind.DriftDetected && e.Feature == "Features[0]");
        Assert.Contains(events, e => e.Kind == ModelMonitorEventKind.DatasetDriftDetected);
        Assert.Null(collecting);
    }

    [Fact]
    public async Task ReadinessCheck_IsDegradedWhileTheMonitorReportsDrift_NamingTheFeatures()
    {
        var time = new FakeTimeProvider(MonitorHarness.Start);
        using var host = await StartAsync(time, o => o.ReferenceChunkSize = 100, s => s.AddHealthChecks().AddModelChecks());
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");
        var health = host.Services.GetRequiredService<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckService>();
        monitor.SetReference(await monitor.BuildReferenceAsync(IrisLike(600, 3).Select(f => new TrackedIris { Features = f }).ToList()));
        var predictor = host.Services.GetRequiredService<IPredictor<TrackedIris, IrisOutput>>();

        // Traffic like the reference: ready and healthy.
        foreach (var features in IrisLike(300, 5))
        {
            await predictor.PredictAsync(new TrackedIris { Features = features });
        }

        time.Advance(TimeSpan.FromMinutes(5));
        await monitor.EvaluateAsync();
        var calm = (await health.CheckHealthAsync()).Entries["model:iris"];
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, calm.Status);

        // Shifted traffic: still serving, so Degraded (not Unhealthy), and the description names what drifted.
        foreach (var features in IrisLike(300, 4, shift: 1.0f))
        {
            await predictor.PredictAsync(new TrackedIris { Features = features });
        }

        time.Advance(TimeSpan.FromMinutes(5));
        await monitor.EvaluateAsync();
        var drifted = (await health.CheckHealthAsync()).Entries["model:iris"];
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded, drifted.Status);
        Assert.Contains("Features[0]", drifted.Description, StringComparison.Ordinal);
        Assert.Contains("dataset drift", drifted.Description, StringComparison.Ordinal);
        Assert.Contains("Features[0]", (string)drifted.Data["drifted"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReloadMidWindow_ReportNamesBothVersions_SaysSo_LogsOnce_AndEventsCarryThem()
    {
        var time = new FakeTimeProvider(MonitorHarness.Start);
        var logs = new Microsoft.Extensions.Logging.Testing.FakeLogCollector();
        using var host = await StartAsync(time, o => o.ReferenceChunkSize = 100, s => s.AddLogging(b => b.AddProvider(new Microsoft.Extensions.Logging.Testing.FakeLoggerProvider(logs))));
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");
        var manager = host.Services.GetRequiredKeyedService<IModelManager>("iris");
        var predictor = host.Services.GetRequiredService<IPredictor<TrackedIris, IrisOutput>>();
        var v1 = manager.Current.Sha256;
        monitor.SetReference(await monitor.BuildReferenceAsync(IrisLike(600, 3).Select(f => new TrackedIris { Features = f }).ToList()));
        foreach (var features in IrisLike(300, 5))
        {
            await predictor.PredictAsync(new TrackedIris { Features = features });
        }

        // The same network with other bytes (a second doc_string field, protobuf's last-one-wins): another version.
        var bytes = File.ReadAllBytes(TestModels.IrisMlp);
        var v2 = (await manager.ReloadAsync(ModelSource.FromBytes([.. bytes, 0x32, 0x02, (byte)'v', (byte)'2']))).Sha256;
        Assert.NotEqual(v1, v2);
        foreach (var features in IrisLike(200, 6, shift: 1.0f))
        {
            await predictor.PredictAsync(new TrackedIris { Features = features });
        }

        await predictor.PredictBatchAsync([.. IrisLike(100, 7, shift: 1.0f).Select(f => new TrackedIris { Features = f })]);
        time.Advance(TimeSpan.FromMinutes(1));
        var events = await monitor.EvaluateAsync();
        var report = monitor.GetReport(TimeSpan.FromMinutes(5));

        Assert.Equal(new[] { new ModelVersionRows(v1, 300), new ModelVersionRows(v2, 300) }.OrderBy(v => v.Version, StringComparer.Ordinal), report.Versions);
        Assert.Equal([new ModelVersionRows(v1, 600)], report.ReferenceVersions);
        Assert.NotNull(report.VersionNote);
        Assert.Contains("spans 2 model versions", report.VersionNote, StringComparison.Ordinal);
        Assert.Contains(v1, report.VersionNote, StringComparison.Ordinal);
        Assert.Contains(v2, report.VersionNote, StringComparison.Ordinal);

        // Drift is still detected, and its events name the versions.
        var drift = Assert.Single(events, e => e.Kind == ModelMonitorEventKind.DriftDetected && e.Feature == "Features[0]");
        Assert.Equal(new[] { v1, v2 }.Order(StringComparer.Ordinal), drift.Versions.Order(StringComparer.Ordinal));

        // Logged once (a second evaluation of the same mixed window says nothing new).
        await monitor.EvaluateAsync();
        Assert.Single(logs.GetSnapshot(), r => r.Id.Name == "MonitorWindowSpansModelVersions");

        // A later window that only v2 answered: one version, which is not the reference's.
        foreach (var features in IrisLike(300, 8))
        {
            await predictor.PredictAsync(new TrackedIris { Features = features });
        }

        time.Advance(TimeSpan.FromMinutes(10));
        foreach (var features in IrisLike(300, 9))
        {
            await predictor.PredictAsync(new TrackedIris { Features = features });
        }

        await monitor.FlushAsync();
        time.Advance(TimeSpan.FromMinutes(1));
        var later = monitor.GetReport(TimeSpan.FromMinutes(5));
        Assert.Equal([new ModelVersionRows(v2, 300)], later.Versions);
        Assert.Contains($"model version {v2} is not the reference's ({v1})", later.VersionNote, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DriftDistances_AreAnObservableGaugePerFeatureAndWindow()
    {
        var time = new FakeTimeProvider(MonitorHarness.Start);
        using var host = await StartAsync(time, o => o.ReferenceChunkSize = 100);
        var factory = host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var drift = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<double>(factory, "ModelInService", "model_in_service.monitor.drift");
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");
        monitor.SetReference(await monitor.BuildReferenceAsync(IrisLike(600, 3).Select(f => new TrackedIris { Features = f }).ToList()));
        var predictor = host.Services.GetRequiredService<IPredictor<TrackedIris, IrisOutput>>();
        foreach (var features in IrisLike(300, 4, shift: 1.0f))
        {
            await predictor.PredictAsync(new TrackedIris { Features = features });
        }

        time.Advance(TimeSpan.FromMinutes(5));
        var report = (await monitor.EvaluateAsync(), monitor.GetReport(TimeSpan.FromMinutes(5))).Item2;
        drift.RecordObservableInstruments();

        var snapshot = drift.GetMeasurementSnapshot();
        var feature0 = Assert.Single(snapshot, m => (string?)m.Tags["feature"] == "Features[0]");
        Assert.Equal("iris", feature0.Tags["model"]);
        Assert.Equal("5m", feature0.Tags["window"]);
        Assert.Equal(report["Features[0]"]!.Distance.Value, feature0.Value, 9);
        Assert.True(feature0.Value > report["Features[0]"]!.Threshold);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task BatchedPredictions_AreEachRecordedOnce_WithOrWithoutTheCache(bool cached)
    {
        var time = new FakeTimeProvider(MonitorHarness.Start);
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddSingleton<TimeProvider>(time);
            var builder = s.AddModel<TrackedIris, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp))
                .UseBatching(b => b.MaxDelay = TimeSpan.Zero)
                .UseMonitoring(o => o.EvaluationInterval = TimeSpan.FromDays(1));
            if (cached)
            {
                builder.UseCaching();
            }
        });
        var predictor = host.Services.GetRequiredService<IPredictor<TrackedIris, IrisOutput>>();
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");

        // 400 concurrent calls; with the cache, half repeat one input (hits and joins are recorded too).
        var inputs = IrisLike(400, 12).Select((f, i) => new TrackedIris { Features = cached && i % 2 == 0 ? IrisSamples.Setosa : f }).ToList();
        var answers = await Task.WhenAll(inputs.Select(i => Task.Run(() => predictor.PredictAsync(i).AsTask())));
        await monitor.FlushAsync();
        time.Advance(TimeSpan.FromMinutes(1));
        var report = monitor.GetReport(TimeSpan.FromMinutes(1));

        Assert.Equal(400, answers.Length);
        Assert.Equal(400, report.Predictions);
        Assert.Equal(400, report["Features[0]"]!.Count);
        Assert.Equal(400, report["Label"]!.Count);
        Assert.Equal(inputs.Average(i => (double)i.Features[0]), report["Features[0]"]!.Mean, 4);
    }

    [Fact]
    public async Task HostedService_EvaluatesOnItsTimer_AndCallsDiRegisteredHandlers()
    {
        var time = new FakeTimeProvider(MonitorHarness.Start);
        var handler = new CollectingHandler();
        using var host = await StartAsync<LenientIrisOutput>(time, o => o.EvaluationInterval = TimeSpan.FromMinutes(1), s => s.AddSingleton<IModelMonitorHandler>(handler));
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");
        var predictor = host.Services.GetRequiredService<IPredictor<TrackedIris, LenientIrisOutput>>();
        foreach (var features in IrisLike(100, 5))
        {
            features[0] = float.NaN;
            await predictor.PredictAsync(new TrackedIris { Features = features });
        }

        time.Advance(TimeSpan.FromMinutes(1)); // the timer fires: flush, evaluate, dispatch
        var violation = await handler.WaitForAsync(e => e.Kind == ModelMonitorEventKind.QualityViolation);
        Assert.Equal("missing", violation.Rule);
        Assert.Equal("Features[0]", violation.Feature);
    }

    [Fact]
    public async Task Outcomes_JoinByPredictionId_AndTheEvaluationStoreKeepsUncertainPredictions()
    {
        var time = new FakeTimeProvider(MonitorHarness.Start);
        using var host = await StartAsync(time, o => o.EvaluationStoreCapacity = 20);
        var monitor = host.Services.GetRequiredKeyedService<IModelMonitor>("iris");
        var predictor = host.Services.GetRequiredService<IPredictor<TrackedIris, IrisOutput>>();
        var labels = new Dictionary<string, long>();
        var i = 0;
        foreach (var features in IrisLike(90, 6))
        {
            var id = "r" + i++;
            labels[id] = (await predictor.PredictAsync(new TrackedIris { Features = features, RequestId = id })).Label;
        }

        await monitor.FlushAsync();
        var correct = 0;
        foreach (var (id, label) in labels)
        {
            var actual = correct < 60 ? label : (label + 1) % 3; // two thirds right
            correct++;
            Assert.True(monitor.RecordOutcome(id, actual));
        }

        Assert.False(monitor.RecordOutcome("r0", 0)); // already joined
        Assert.False(monitor.RecordOutcome("unknown", "x"));
        time.Advance(TimeSpan.FromMinutes(1));
        var outcomes = monitor.GetReport(TimeSpan.FromMinutes(1)).Outcomes;
        Assert.Equal(90, outcomes.Count);
        Assert.Equal(60.0 / 90, outcomes.Accuracy, 1e-9);
        Assert.True(outcomes.ExpectedCalibrationError is >= 0 and <= 1);

        var samples = monitor.GetEvaluationSamples();
        Assert.Equal(20, samples.Count);
        Assert.All(samples, s => Assert.NotNull(s.Outcome));
        Assert.All(samples, s => Assert.IsType<double[]>(s.Inputs["Features"]));
        Assert.True(samples.Zip(samples.Skip(1)).All(p => p.First.Margin <= p.Second.Margin));
    }

    [Fact]
    public async Task Shutdown_DrainsTheBatcherBeforeTheFinalSnapshot_SoQueuedPredictionsAreInIt()
    {
        var directory = Path.Combine(Path.GetTempPath(), "mis-monitor-" + Guid.NewGuid().ToString("N"));
        try
        {
            var time = new FakeTimeProvider(MonitorHarness.Start);
            var host = await TestModels.StartAsync(s =>
            {
                s.AddSingleton<TimeProvider>(time);
                s.AddModel<TrackedIris, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp))
                    .UseBatching(b =>
                    {
                        // Held in the queue (strict rule): fake time never reaches the delay, and the batch never fills.
                        b.MaxBatchSize = 64;
                        b.MaxDelay = TimeSpan.FromSeconds(10);
                        b.DispatchWhenIdle = false;
                    })
                    .UseMonitoring(o =>
                    {
                        o.EvaluationInterval = TimeSpan.FromDays(1);
                        o.SnapshotDirectory = directory;
                    });
            });
            Task<IrisOutput>[] queued;
            using (host)
            {
                var predictor = host.Services.GetRequiredService<IPredictor<TrackedIris, IrisOutput>>();
                queued = [.. IrisLike(20, 9).Select(f => predictor.PredictAsync(new TrackedIris { Features = f }).AsTask())];
                Assert.All(queued, t => Assert.False(t.IsCompleted));
                await host.StopAsync();
            }

            // Every accepted prediction was answered, and the final snapshot holds all of them.
            Assert.All(queued, t => Assert.True(t.IsCompletedSuccessfully));
            MonitorSnapshot snapshot;
            using (var file = File.OpenRead(Path.Combine(directory, "iris.monitor")))
            {
                snapshot = MonitorSnapshot.ReadFrom(file);
            }

            Assert.Equal(20, snapshot.Predictions);
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Snapshots_ArePersistedAtShutdown_RestoredAtStartUp_AndCorruptFilesAreSkipped()
    {
        var directory = Path.Combine(Path.GetTempPath(), "mis-monitor-" + Guid.NewGuid().ToString("N"));
        try
        {
            var time = new FakeTimeProvider(MonitorHarness.Start);
            void Persist(MonitoringOptions o) => o.SnapshotDirectory = directory;
            using (var host = await StartAsync(time, Persist))
            {
                var predictor = host.Services.GetRequiredService<IPredictor<TrackedIris, IrisOutput>>();
                foreach (var features in IrisLike(40, 7))
                {
                    await predictor.PredictAsync(new TrackedIris { Features = features });
                }

                await host.StopAsync();
            }

            var file = Path.Combine(directory, "iris.monitor");
            Assert.True(File.Exists(file));
            time.Advance(TimeSpan.FromMinutes(1));
            using (var host = await StartAsync(time, Persist))
            {
                var report = host.Services.GetRequiredKeyedService<IModelMonitor>("iris").GetReport(TimeSpan.FromMinutes(1));
                Assert.Equal(40, report.Predictions);
                await host.StopAsync();
            }

            var bytes = await File.ReadAllBytesAsync(file);
            bytes[bytes.Length / 2] ^= 0xFF;
            await File.WriteAllBytesAsync(file, bytes);
            using (var host = await StartAsync(time, Persist))
            {
                Assert.Equal(0, host.Services.GetRequiredKeyedService<IModelMonitor>("iris").GetReport(TimeSpan.FromMinutes(1)).Predictions);
                Assert.Single(Directory.GetFiles(directory, "iris.monitor.corrupt-*"));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void UseMonitoring_OnAnUntypedModel_Throws()
    {
        var services = new ServiceCollection();
        var builder = services.AddModel("raw", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
        var ex = Assert.Throws<InvalidOperationException>(() => builder.UseMonitoring());
        Assert.Contains("AddModel<TInput, TOutput>", ex.Message);
    }

    [Fact]
    public async Task InvalidOptions_FailAtStartUp()
    {
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new FakeTimeProvider(MonitorHarness.Start), o =>
        {
            o.Windows.Add(TimeSpan.FromSeconds(90));
            o.NotMissingMostly = 2;
        }));
        Assert.Contains("Windows[1] is 00:01:30", ex.Message); // after StartAsync's 5-minute window
        Assert.Contains("NotMissingMostly", ex.Message);
    }

    [Fact]
    public async Task PlainServiceProvider_ResolvingTheMonitor_AttachesTheRecorder()
    {
        await using var provider = await TestModels.ProviderAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp).UseMonitoring());
        var monitor = provider.GetRequiredKeyedService<IModelMonitor>("iris_mlp");
        await provider.GetRequiredService<IPredictor<IrisInput, IrisOutput>>().PredictAsync(new IrisInput { Features = IrisSamples.Setosa });
        await monitor.FlushAsync();
        Assert.Equal(1, monitor.Statistics.Recorded);
    }
}
