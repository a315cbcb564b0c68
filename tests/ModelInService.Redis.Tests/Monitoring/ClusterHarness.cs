using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Redis.Monitoring;

namespace ModelInService.Redis.Tests.Monitoring;

public sealed class IrisRow
{
    [ModelInput("features")]
    public float[] Features { get; set; } = [];
}

public sealed class IrisAnswer
{
    [ModelOutput("label")]
    public long Label { get; set; }

    [ModelOutput("probabilities")]
    public float[] Probabilities { get; set; } = [];
}

/// <summary>Records every event a handler receives, with the replica that raised it.</summary>
internal sealed class EventLog
{
    public ConcurrentQueue<(string Replica, ModelMonitorEvent Event)> Events { get; } = new();

    public IModelMonitorHandler For(string replica) => new Handler(this, replica);

    private sealed class Handler(EventLog log, string replica) : IModelMonitorHandler
    {
        public Task HandleAsync(ModelMonitorEvent monitorEvent, CancellationToken cancellationToken)
        {
            log.Events.Enqueue((replica, monitorEvent));
            return Task.CompletedTask;
        }
    }
}

/// <summary>One replica: a service provider with the iris model, its monitor and the cluster monitor on the fixture's Redis.</summary>
internal sealed class Replica : IAsyncDisposable
{
    private Replica(string id, ServiceProvider services, bool clustered)
    {
        Id = id;
        Services = services;
        Predictor = services.GetRequiredService<IPredictor<IrisRow, IrisAnswer>>();
        Monitor = services.GetRequiredKeyedService<IModelMonitor>("iris");
        Cluster = clustered ? services.GetRequiredKeyedService<IClusterMonitor>("iris") : null!;
    }

    public string Id { get; }

    public ServiceProvider Services { get; }

    public IPredictor<IrisRow, IrisAnswer> Predictor { get; }

    public IModelMonitor Monitor { get; }

    public IClusterMonitor Cluster { get; }

    public bool Disposed { get; private set; }

    /// <summary>
    /// Builds a replica (no hosted services: the tests drive <see cref="IClusterMonitor.SyncAsync"/> on fake time).
    /// <paramref name="redis"/> null: a plain monitor that sees the traffic it is given (the single-process oracle).
    /// </summary>
    public static async Task<Replica> StartAsync(string id, FakeTimeProvider time, EventLog events, string? redis, Action<RedisMonitoringOptions>? configure = null, Action<IServiceCollection>? more = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddMetrics();
        services.AddLogging();
        services.AddHealthChecks();
        services.AddSingleton(events.For(id));
        var model = services.AddModel<IrisRow, IrisAnswer>("iris", o => o.Source = ModelSource.FromFile(Path.Combine(AppContext.BaseDirectory, "models", "iris_mlp.onnx")))
            .UseMonitoring(o =>
            {
                o.Windows.Clear();
                o.Windows.Add(TimeSpan.FromMinutes(5));
                o.MinimumSampleSize = 50;
                o.ReferenceChunkSize = 500;
                o.Retention = TimeSpan.FromHours(1);
                o.EvaluationInterval = TimeSpan.FromDays(1);
                o.MaxProfiledRowsPerSecond = 0;
            });
        if (redis is not null)
        {
            model.UseRedisMonitoring(o =>
            {
                o.Configuration = redis;
                o.ReplicaId = id;
                o.KeyPrefix = "test";
                o.EvaluationDelay = TimeSpan.FromSeconds(30);
                o.SyncInterval = TimeSpan.FromMilliseconds(300);
                o.LeasePeriod = TimeSpan.FromSeconds(10);
                configure?.Invoke(o);
            });
        }

        more?.Invoke(services);
        var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        await provider.StartModelsAsync();
        return new Replica(id, provider, redis is not null);
    }

    internal ClusterMonitor Internal => (ClusterMonitor)Cluster;

    /// <summary>Disposes the provider without a graceful stop: the lease is not released (as a crash).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!Disposed)
        {
            Disposed = true;
            await Services.DisposeAsync();
        }
    }
}

/// <summary>Iris-like rows: the three class centers with uniform noise, optionally shifted on one feature.</summary>
internal static class IrisTraffic
{
    private static readonly float[][] Centers = [[5.1f, 3.5f, 1.4f, 0.2f], [6.0f, 2.9f, 4.5f, 1.5f], [6.7f, 3.0f, 5.2f, 2.3f]];

    /// <summary>The standard deviation of each feature over <see cref="Rows"/> with no shift (for shifts in sigma).</summary>
    public static double Sigma(int feature)
    {
        var values = Rows(30_000, 99).Select(r => (double)r[feature]).ToArray();
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
    }

    public static IEnumerable<float[]> Rows(int count, int seed, int feature = 0, double shift = 0)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var c = Centers[random.Next(3)];
            var row = c.Select(v => v + (float)((random.NextDouble() - 0.5) * 0.6)).ToArray();
            row[feature] += (float)shift;
            yield return row;
        }
    }
}
