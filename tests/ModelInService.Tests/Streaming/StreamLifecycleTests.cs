using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ModelInService.TestUtilities;

namespace ModelInService.Tests.Streaming;

/// <summary>Opening, closing, the bound on open streams, idle expiry, registration errors and metrics.</summary>
public class StreamLifecycleTests
{
    [SkippableFact]
    public async Task IdleStreams_Expire_OnTheTimeProvider_AndBusyOnesDoNot()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var provider = await TestModels.ProviderAsync(s =>
        {
            s.AddSingleton<TimeProvider>(time);
            SileroVad.Add(s, o =>
            {
                o.IdleTimeout = TimeSpan.FromMinutes(1);
                o.SequenceBatching = false; // no batch timer on the fake clock
            });
        });
        var predictor = provider.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();
        var chunk = new VadChunk { Samples = SileroVad.Signal(1, 1)[0] };
        var idle = predictor.OpenStream("idle");
        await using var busy = predictor.OpenStream("busy");

        time.Advance(TimeSpan.FromSeconds(40));
        await busy.PredictAsync(chunk);
        Assert.True(idle.IsOpen);
        time.Advance(TimeSpan.FromSeconds(30));

        Assert.False(idle.IsOpen);
        Assert.True(busy.IsOpen);
        Assert.Equal(1, predictor.OpenStreams);
        var closed = await Assert.ThrowsAsync<ModelStreamClosedException>(async () => await idle.PredictAsync(chunk));
        Assert.True(closed.Expired);
        Assert.Equal("idle", closed.StreamId);

        // The id is free again; disposing the expired handle is harmless.
        await idle.DisposeAsync();
        await using var again = predictor.OpenStream("idle");
        Assert.Equal(2, predictor.OpenStreams);

        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(0, predictor.OpenStreams);
    }

    [SkippableFact]
    public async Task Refusals_AreLoggedAtMostOnceAMinute_WithTheirCount()
    {
        // A client flooding a full model with connections must not flood the log with a warning each.
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var collector = new Microsoft.Extensions.Logging.Testing.FakeLogCollector();
        await using var provider = await TestModels.ProviderAsync(s =>
        {
            s.AddSingleton<TimeProvider>(time);
            s.AddLogging(b => b.AddProvider(new Microsoft.Extensions.Logging.Testing.FakeLoggerProvider(collector)));
            SileroVad.Add(s, o =>
            {
                o.MaxStreams = 1;
                o.SequenceBatching = false;
            });
        });
        var predictor = provider.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();
        await using var only = predictor.OpenStream("only");
        for (var i = 0; i < 50; i++)
        {
            Assert.Throws<ModelStreamLimitException>(() => predictor.OpenStream("x" + i));
        }

        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Throws<ModelStreamLimitException>(() => predictor.OpenStream("y"));
        time.Advance(TimeSpan.FromSeconds(31));
        Assert.Throws<ModelStreamLimitException>(() => predictor.OpenStream("z"));

        var refusals = collector.GetSnapshot().Where(r => r.Id.Name == "StreamLimitReached").Select(r => r.Message).ToList();
        Assert.Equal(2, refusals.Count);
        Assert.Contains("refused 1 stream(s)", refusals[0], StringComparison.Ordinal);
        Assert.Contains("refused 51 stream(s)", refusals[1], StringComparison.Ordinal); // 49 + y + z
    }

    [SkippableFact]
    public async Task OpenStreams_AreBounded_WithATypedError_AndClosingFreesAPlace()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        await using var provider = await TestModels.ProviderAsync(s => SileroVad.Add(s, o => o.MaxStreams = 2));
        var predictor = provider.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();

        var a = predictor.OpenStream("a");
        await using var b = predictor.OpenStream("b");
        var full = Assert.Throws<ModelStreamLimitException>(() => predictor.OpenStream("c"));
        Assert.Equal(2, full.MaxStreams);
        Assert.Equal(SileroVad.Name, full.ModelName);
        Assert.Throws<InvalidOperationException>(() => predictor.OpenStream("b"));

        await a.DisposeAsync();
        Assert.False(a.IsOpen);
        var closed = await Assert.ThrowsAsync<ModelStreamClosedException>(async () => await a.PredictAsync(new VadChunk { Samples = new float[512] }));
        Assert.False(closed.Expired);
        await using var c = predictor.OpenStream("c");
        Assert.Equal(2, predictor.OpenStreams);
    }

    [SkippableFact]
    public async Task Gpt2WithPastKeyValues_IsRefusedAtStartUp_AsAGrowingState()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var path = SharedData.Model("text", "tiny_random_gpt2_fp32", "past.onnx");

        var error = await Assert.ThrowsAnyAsync<ModelLoadException>(() => TestModels.ProviderAsync(s => s.AddStreamingModel<VadChunk, VadResult>("gpt2", path)));

        Assert.Contains("state 'past_0'", error.Message, StringComparison.Ordinal);
        Assert.Contains("growing sequence", error.Message, StringComparison.Ordinal);
        Assert.Contains("fixed-size states only", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task WrongDeclarations_FailStartUp_NamingWhatToChange()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);

        var error = await Assert.ThrowsAnyAsync<ModelLoadException>(() => TestModels.ProviderAsync(s => s.AddStreamingModel<VadChunk, VadResult>("vad", SileroVad.Path, o =>
        {
            o.AddState("hidden", "stateN");
            o.Constants["sampling_rate"] = 16000L;
        })));

        Assert.Contains("state input 'hidden' is not an input of the model", error.Message, StringComparison.Ordinal);
        Assert.Contains("StreamingOptions.Constants names 'sampling_rate'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidOptions_FailValidation()
    {
        var services = new ServiceCollection();
        services.AddStreamingModel<VadChunk, VadResult>("vad", "missing.onnx", o =>
        {
            o.MaxStreams = 0;
            o.ContextLength = 64;
            o.Batching.MaxBatchSize = 0;
        });
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptionsMonitor<StreamingOptions>>().Get("vad"));

        Assert.Contains(error.Failures, f => f.Contains("MaxStreams is 0", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("no ContextInput is set", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("MaxBatchSize is 0", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task Metrics_CountChunks_AndObserveOpenStreamsAndStateBytes()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        await using var provider = await TestModels.ProviderAsync(s =>
        {
            s.AddMetrics();
            SileroVad.Add(s);
        });
        var factory = provider.GetRequiredService<IMeterFactory>();
        using var chunks = new MetricCollector<long>(factory, ModelMetricNames.Meter, StreamingMetricNames.Chunks);
        using var open = new MetricCollector<long>(factory, ModelMetricNames.Meter, StreamingMetricNames.OpenStreams);
        using var bytes = new MetricCollector<long>(factory, ModelMetricNames.Meter, StreamingMetricNames.StateBytes);
        var predictor = provider.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();

        await using var a = predictor.OpenStream("a");
        await using var b = predictor.OpenStream("b");
        foreach (var chunk in SileroVad.Signal(1, 3))
        {
            await a.PredictAsync(new VadChunk { Samples = chunk });
        }

        open.RecordObservableInstruments();
        bytes.RecordObservableInstruments();
        Assert.Equal(3, chunks.GetMeasurementSnapshot().Where(m => (string?)m.Tags["outcome"] == "success").Sum(m => m.Value));
        Assert.Equal(2, open.LastMeasurement!.Value);
        Assert.True(bytes.LastMeasurement!.Value >= 2 * (256 + 64) * sizeof(float));
        Assert.Equal(SileroVad.Name, open.LastMeasurement.Tags["model"]);
    }

    [SkippableFact]
    public async Task Metrics_CountOutcomesLifecycleEventsAndChunkDurations_AndStateBytesFallWhenStreamsClose()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        await using var provider = await TestModels.ProviderAsync(s =>
        {
            s.AddMetrics();
            SileroVad.Add(s, o => o.MaxStreams = 2);
        });
        var factory = provider.GetRequiredService<IMeterFactory>();
        using var chunks = new MetricCollector<long>(factory, ModelMetricNames.Meter, StreamingMetricNames.Chunks);
        using var events = new MetricCollector<long>(factory, ModelMetricNames.Meter, StreamingMetricNames.StreamEvents);
        using var duration = new MetricCollector<double>(factory, ModelMetricNames.Meter, StreamingMetricNames.ChunkDuration);
        using var bytes = new MetricCollector<long>(factory, ModelMetricNames.Meter, StreamingMetricNames.StateBytes);
        var predictor = provider.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();

        var a = predictor.OpenStream("a");
        var b = predictor.OpenStream("b");
        Assert.Throws<ModelStreamLimitException>(() => predictor.OpenStream("c"));
        await a.PredictAsync(new VadChunk { Samples = SileroVad.Signal(2, 1)[0] });
        await Assert.ThrowsAsync<ModelInputException>(async () => await a.PredictAsync(new VadChunk { Samples = null! }));
        bytes.RecordObservableInstruments();
        var whileOpen = bytes.LastMeasurement!.Value;
        await a.DisposeAsync();
        await b.DisposeAsync();
        bytes.RecordObservableInstruments();

        long Count(MetricCollector<long> collector, string tag, string value) =>
            collector.GetMeasurementSnapshot().Where(m => (string?)m.Tags[tag] == value).Sum(m => m.Value);
        Assert.Equal(1, Count(chunks, "outcome", "success"));
        Assert.Equal(2, chunks.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(2, Count(events, "event", "opened"));
        Assert.Equal(1, Count(events, "event", "refused"));
        Assert.Equal(2, Count(events, "event", "closed"));
        Assert.Equal(2, duration.GetMeasurementSnapshot().Count);
        Assert.All(duration.GetMeasurementSnapshot(), m => Assert.True(m.Value >= 0));
        Assert.True(whileOpen >= 2 * (256 + 64) * sizeof(float));
        Assert.Equal(0, bytes.LastMeasurement!.Value);
    }
}
