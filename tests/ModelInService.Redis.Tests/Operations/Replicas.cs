using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using ModelInService.Redis.Operations;

namespace ModelInService.Redis.Tests.Operations;

/// <summary>
/// Versions of the iris model for the tests: v1 is samples/models/iris_mlp.onnx; v2 and v3 are its bytes with a
/// ModelProto.model_version field (5, varint) appended in a temporary directory: the same graph, a different file,
/// SHA-256 and ModelVersion, as a retrained model would be.
/// </summary>
public sealed class IrisVersions : IDisposable
{
    private readonly string _directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mis-ops-" + Guid.NewGuid().ToString("N")[..8]);

    public IrisVersions()
    {
        Directory.CreateDirectory(_directory);
        var bytes = File.ReadAllBytes(V1);
        V2 = Write("iris_v2.onnx", [.. bytes, 0x28, 0x02]);
        V3 = Write("iris_v3.onnx", [.. bytes, 0x28, 0x03]);
    }

    public static string V1 { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "models", "iris_mlp.onnx");

    public string V2 { get; }

    public string V3 { get; }

    public string Path(string name) => System.IO.Path.Combine(_directory, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}

/// <summary>One replica: a generic host with the iris model (loaded from <see cref="IrisVersions.V1"/>) and cluster operations.</summary>
public sealed class Replica : IAsyncDisposable
{
    private Replica(IHost host, string id)
    {
        Host = host;
        Id = id;
        Manager = host.Services.GetRequiredKeyedService<IModelManager>("iris");
        Predictor = host.Services.GetRequiredKeyedService<IPredictor<IrisInput, IrisOutput>>("iris");
        Operations = host.Services.GetRequiredService<ClusterOperations>();
        Cluster = host.Services.GetRequiredService<IModelCluster>();
    }

    public IHost Host { get; }

    public string Id { get; }

    public IModelManager Manager { get; }

    public IPredictor<IrisInput, IrisOutput> Predictor { get; }

    internal ClusterOperations Operations { get; }

    public IModelCluster Cluster { get; }

    public long Applied => Operations.AppliedOperations("iris");

    public long Published => Operations.PublishedOperations("iris");

    public string ServingSha => Manager.Current.Sha256;

    public static async Task<Replica> StartAsync(string configuration, string prefix, string id, string? modelPath = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddMetrics();
        builder.Services.AddModel<IrisInput, IrisOutput>("iris", o =>
        {
            o.Source = ModelSource.FromFile(modelPath ?? IrisVersions.V1);
            o.WarmupRuns = 0;
        });
        builder.Services.AddModelClusterOperations(o =>
        {
            o.Configuration = configuration;
            o.KeyPrefix = prefix;
            o.ReplicaId = id;
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(200);
            o.HeartbeatTtl = TimeSpan.FromSeconds(1);
        });
        var host = builder.Build();
        await host.StartAsync();
        return new Replica(host, id);
    }

    public async Task<HealthReportEntry> HealthAsync()
    {
        var report = await Host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(r => r.Name == "model-cluster-operations");
        return report.Entries["model-cluster-operations"];
    }

    public async Task<long> PredictAsync() => (await Predictor.PredictAsync(new IrisInput { Features = [6.7f, 3.0f, 5.2f, 2.3f] })).Label;

    public async ValueTask DisposeAsync()
    {
        await Host.StopAsync();
        Host.Dispose();
    }

    /// <summary>Polls <paramref name="condition"/> every 10 ms until it holds or <paramref name="timeout"/> passes; returns how long it took.</summary>
    public static async Task<TimeSpan> WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Not within {timeout.TotalSeconds} s: {what}");
            }

            await Task.Delay(10);
        }

        return clock.Elapsed;
    }
}
