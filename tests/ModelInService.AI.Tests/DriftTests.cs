using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ModelInService.AI.Tests;

/// <summary>The embedding-drift monitor on real MiniLM embeddings of two topics.</summary>
public sealed class DriftTests(ModelsFixture models) : IClassFixture<ModelsFixture>
{
    private static string[] Topic(string[] subjects, string[] verbs, string[] objects, string[] endings)
    {
        var result = new List<string>();
        foreach (var s in subjects)
        {
            foreach (var v in verbs)
            {
                foreach (var o in objects)
                {
                    result.Add($"{s} {v} {o} {endings[result.Count % endings.Length]}.");
                }
            }
        }

        return [.. result];
    }

    /// <summary>150 sentences about cooking.</summary>
    internal static readonly string[] Cooking = Topic(
        ["The chef", "My grandmother", "The baker", "Our cook", "The kitchen assistant"],
        ["slowly stirs", "carefully seasons", "roasts", "chops", "tastes", "simmers"],
        ["the tomato soup", "fresh garlic and onions", "a pot of rice", "the chicken stew", "homemade pasta dough"],
        ["before dinner", "for the guests", "in a cast iron pan", "with olive oil and herbs"]);

    /// <summary>150 sentences about finance.</summary>
    internal static readonly string[] Finance = Topic(
        ["The central bank", "The investor", "Our accountant", "The hedge fund", "The treasury"],
        ["raised", "sold", "audited", "hedged", "reported", "borrowed against"],
        ["the quarterly earnings", "government bonds", "the interest rate", "its stock portfolio", "the pension fund"],
        ["after the market closed", "to reduce risk", "despite rising inflation", "for the fiscal year"]);

    private static float[][] Embed(IEmbeddingGenerator<string, Embedding<float>> generator, string[] texts)
    {
        var result = generator.GenerateAsync(texts).GetAwaiter().GetResult();
        var vectors = new float[texts.Length][];
        for (var i = 0; i < vectors.Length; i++)
        {
            vectors[i] = result[i].Vector.ToArray();
        }

        return vectors;
    }

    private static EmbeddingDriftMonitor Monitor(int window) => new("drift", new EmbeddingMonitoringOptions { WindowSize = window, ReservoirSize = window }, [], new FakeTimeProvider(), NullLogger.Instance);

    private static void Feed(EmbeddingDriftMonitor monitor, float[][] pool, int count, Random random)
    {
        for (var i = 0; i < count; i++)
        {
            monitor.Observe(pool[random.Next(pool.Length)], 5f, 12, 0);
        }
    }

    [Fact]
    public void Monitor_OtherTopic_FlaggedWithinOneWindow_SameTopicResampled_AtMostOneFalseAlarmIn100()
    {
        Assert.Equal(150, Cooking.Length);
        Assert.Equal(150, Finance.Length);
        var generator = models.Generator("minilm-batched");
        var cooking = Embed(generator, Cooking);
        var finance = Embed(generator, Finance);
        var random = new Random(5);

        var same = Monitor(100);
        Feed(same, cooking, 100 * 101, random);
        Assert.Equal(101, same.Reports.Count);
        var falseAlarms = same.Reports.Count(r => r.Drifted);
        Assert.True(falseAlarms <= 1, $"{falseAlarms} false alarms in 100 windows; p-values: {string.Join(", ", same.Reports.Select(r => r.PValue.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}");

        var shifted = Monitor(100);
        Feed(shifted, cooking, 100, random);
        Feed(shifted, finance, 100, random);
        Assert.Equal(2, shifted.Reports.Count);
        Assert.False(shifted.Reports[0].Drifted);
        Assert.True(shifted.Reports[1].Drifted, $"p = {shifted.Reports[1].PValue}");
        Assert.Equal(1.0 / 1001, shifted.Reports[1].PValue, 6);
    }

    [Fact]
    public void Monitor_Profiles_NormTokensUnknownRateAndProjections()
    {
        var monitor = Monitor(20);
        var vector = new float[384];
        vector[0] = 1;
        for (var i = 0; i < 20; i++)
        {
            monitor.Observe(vector, 4f, 10, i % 2);
        }

        var report = Assert.Single(monitor.Reports);
        Assert.Equal(4, report.NormMedian, 3);
        Assert.Equal(10, report.TokensMedian, 3);
        Assert.Equal(10.0 / 200, report.UnknownRate, 6);
        Assert.Equal(8, report.ProjectionMedians.Length);
        Assert.Equal(1.0, report.PValue);
    }

    [Fact]
    public async Task UseEmbeddingMonitoring_TopicChange_HandlerGetsDatasetDriftEvent()
    {
        var handler = new RecordingHandler();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton<IModelMonitorHandler>(handler);
        builder.Services.AddEmbeddingModel("watched", EmbeddingModels.Options(EmbeddingModels.MiniLm))
            .UseBatching()
            .UseEmbeddingMonitoring(o =>
            {
                o.WindowSize = 40;
                o.ReservoirSize = 40;
            });
        using var host = builder.Build();
        await host.StartAsync();
        var generator = host.Services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("watched");

        await generator.GenerateAsync(Cooking[..40]);
        Assert.Empty(handler.Events);
        await generator.GenerateAsync(Finance[..40]);

        var e = Assert.Single(handler.Events);
        Assert.Equal(ModelMonitorEventKind.DatasetDriftDetected, e.Kind);
        Assert.Equal("mmd", e.Rule);
        Assert.Equal("watched", e.ModelName);
        Assert.True(e.Value < 0.002);
        await host.StopAsync();
    }

    [Theory]
    [InlineData(10, 100, 1000, 0.002)]
    [InlineData(100, 5, 1000, 0.002)]
    [InlineData(100, 100, 10, 0.002)]
    [InlineData(100, 100, 1000, 0.0)]
    public void UseEmbeddingMonitoring_OptionOutOfRange_Throws(int window, int reservoir, int permutations, double p)
    {
        var services = new ServiceCollection();
        var builder = services.AddEmbeddingModel("m", EmbeddingModels.Options(EmbeddingModels.MiniLm));
        Assert.ThrowsAny<ArgumentOutOfRangeException>(() => builder.UseEmbeddingMonitoring(o =>
        {
            o.WindowSize = window;
            o.ReservoirSize = reservoir;
            o.Permutations = permutations;
            o.PValue = p;
        }));
    }

    [Fact]
    public async Task A_handler_that_throws_or_hangs_is_logged_and_the_call_still_returns_its_embeddings()
    {
        var logs = new Microsoft.Extensions.Logging.Testing.FakeLogCollector();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.AddProvider(new Microsoft.Extensions.Logging.Testing.FakeLoggerProvider(logs));
        builder.Services.AddSingleton<IModelMonitorHandler>(new ThrowingHandler());
        builder.Services.AddSingleton<IModelMonitorHandler>(new HangingHandler());
        var recording = new RecordingHandler();
        builder.Services.AddSingleton<IModelMonitorHandler>(recording);
        builder.Services.AddEmbeddingModel("m", EmbeddingModels.Options(EmbeddingModels.MiniLm))
            .UseEmbeddingMonitoring(o => { o.WindowSize = 20; o.ReservoirSize = 20; o.HandlerTimeout = TimeSpan.FromMilliseconds(300); });
        using var host = builder.Build();
        await host.StartAsync();
        var generator = host.Services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("m");

        await generator.GenerateAsync(Enumerable.Repeat("I love baking bread at home", 20).ToArray());
        var second = await generator.GenerateAsync(Enumerable.Repeat("The stock market crashed today", 20).ToArray()); // threw the handler's exception

        Assert.Equal(20, second.Count);
        Assert.NotEmpty(recording.Events); // the handler after the failing and the hanging one still ran
        Assert.Contains(logs.GetSnapshot(), r => r.Id.Id == 7004);
        Assert.Contains(logs.GetSnapshot(), r => r.Id.Id == 7003);
        await host.StopAsync();
    }

    private sealed class ThrowingHandler : IModelMonitorHandler
    {
        public Task HandleAsync(ModelMonitorEvent monitorEvent, CancellationToken cancellationToken) => throw new InvalidOperationException("handler bug");
    }

    private sealed class HangingHandler : IModelMonitorHandler
    {
        public Task HandleAsync(ModelMonitorEvent monitorEvent, CancellationToken cancellationToken) => Task.Delay(Timeout.Infinite, CancellationToken.None);
    }

    private sealed class RecordingHandler : IModelMonitorHandler
    {
        public List<ModelMonitorEvent> Events { get; } = [];

        public Task HandleAsync(ModelMonitorEvent monitorEvent, CancellationToken cancellationToken)
        {
            Events.Add(monitorEvent);
            return Task.CompletedTask;
        }
    }
}
