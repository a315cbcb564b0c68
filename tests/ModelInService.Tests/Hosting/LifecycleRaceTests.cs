using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Batching;
using ModelInService.Hosting;

namespace ModelInService.Tests.Hosting;

/// <summary>
/// Reloads racing pins, shutdowns and rollbacks (from an outside probe): a pin set while a reload loaded was overridden,
/// a reload finishing after shutdown served again from a disposed host, "reload the same source" after a rollback read
/// the rolled-back-from file, a watched file's change reloaded another source, a failed reload left readiness Healthy.
/// </summary>
public sealed class LifecycleRaceTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("mis-lifecycle-");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>The iris model with a doc string appended (a valid protobuf field): the same model, another SHA-256.</summary>
    private string Variant(string name, string tag)
    {
        var text = System.Text.Encoding.UTF8.GetBytes(tag);
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllBytes(path, [.. File.ReadAllBytes(TestModels.IrisMlp), 0x32, (byte)text.Length, .. text]);
        return path;
    }

    /// <summary>A source whose read waits until released: a reload "in progress" for as long as a test needs.</summary>
    private sealed class BlockingSource(string path) : ModelSource
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ManualResetEventSlim Release { get; } = new();

        public override string Description => "blocking " + path;

        internal override byte[] Read(string? contentRoot)
        {
            Entered.TrySetResult();
            Release.Wait(TimeSpan.FromSeconds(30));
            return File.ReadAllBytes(path);
        }
    }

    [Fact]
    public async Task A_pin_set_while_a_reload_loads_holds_and_the_reload_is_refused()
    {
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var manager = host.Services.GetRequiredService<IModelManager>();
        var pinned = manager.Current;
        var source = new BlockingSource(Variant("b.onnx", "b"));

        var reload = manager.ReloadAsync(source);
        await source.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        manager.Pin();
        source.Release.Set();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => reload);
        Assert.Contains("is pinned", error.Message, StringComparison.Ordinal);
        Assert.True(manager.IsPinned);
        Assert.Equal(pinned, manager.Current);
    }

    [Fact]
    public async Task A_reload_that_finishes_after_shutdown_is_refused_and_nothing_serves_again()
    {
        var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>(TestModels.IrisMlp));
        var manager = host.Services.GetRequiredService<IModelManager>();
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var source = new BlockingSource(Variant("b.onnx", "b"));

        var reload = manager.ReloadAsync(source);
        await source.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await host.StopAsync();
        host.Dispose();
        source.Release.Set();

        await Assert.ThrowsAsync<ModelNotReadyException>(() => reload); // was a NullReferenceException
        Assert.Throws<ModelNotReadyException>(() => manager.Current);
        await Assert.ThrowsAsync<ModelNotReadyException>(() => predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa }).AsTask());
    }

    [Fact]
    public async Task Reloading_the_same_source_after_a_rollback_reads_the_serving_versions_source()
    {
        var a = Variant("a.onnx", "a");
        var b = Variant("b.onnx", "b");
        using var host = await TestModels.StartAsync(s => s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(a)));
        var manager = host.Services.GetRequiredService<IModelManager>();
        var shaA = manager.Current.Sha256;
        var shaB = (await manager.ReloadAsync(ModelSource.FromFile(b))).Sha256;
        await manager.RollbackAsync();

        var again = await manager.ReloadAsync();

        Assert.NotEqual(shaA, shaB);
        Assert.Equal(shaA, again.Sha256); // was b's: the last source loaded, not the one serving
        Assert.EndsWith("a.onnx", again.Source, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_watched_file_change_reloads_the_watched_file_even_after_a_reload_from_elsewhere()
    {
        var watched = Variant("watched.onnx", "w1");
        var other = Variant("other.onnx", "other");
        var time = new FakeTimeProvider();
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddSingleton<TimeProvider>(time);
            s.AddModel<IrisInput, IrisOutput>("iris", o =>
            {
                o.Source = ModelSource.FromFile(watched);
                o.WatchForChanges = true;
                o.ReloadDebounce = TimeSpan.FromSeconds(1);
            });
        });
        var manager = host.Services.GetRequiredService<IModelManager>();
        await manager.ReloadAsync(ModelSource.FromFile(other));
        var changed = new TaskCompletionSource<ModelVersionChangedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        manager.VersionChanged += (_, e) => changed.TrySetResult(e);
        var newWatched = Variant("next.onnx", "w2");
        File.Move(newWatched, watched, overwrite: true);
        var watcher = host.Services.GetRequiredService<ModelRegistry>().Get("iris").Watcher!;

        watcher.Touch();
        time.Advance(TimeSpan.FromSeconds(1));
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!changed.Task.IsCompleted && waited.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.WhenAny(changed.Task, Task.Delay(250));
            time.Advance(TimeSpan.FromSeconds(1));
        }

        var change = await changed.Task.WaitAsync(TimeSpan.FromSeconds(1));
        Assert.EndsWith("watched.onnx", change.Current.Source, StringComparison.Ordinal); // was other.onnx again
    }

    [Fact]
    public async Task A_failed_reload_makes_readiness_degraded_until_the_next_successful_one()
    {
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(TestModels.IrisMlp));
            s.AddHealthChecks().AddModelChecks();
        });
        var manager = host.Services.GetRequiredService<IModelManager>();
        var health = host.Services.GetRequiredService<HealthCheckService>();

        await Assert.ThrowsAsync<ModelLoadException>(() => manager.ReloadAsync(ModelSource.FromBytes([1, 2, 3], "broken upload")));
        var degraded = (await health.CheckHealthAsync()).Entries["model:iris"];
        await manager.ReloadAsync();
        var healthy = (await health.CheckHealthAsync()).Entries["model:iris"];

        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("last reload failed at", degraded.Description, StringComparison.Ordinal);
        Assert.True(degraded.Data.ContainsKey("lastReloadFailedAt"));
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
    }

    [Fact]
    public void Options_that_hang_or_burn_cpu_are_refused_at_start_up()
    {
        var options = new ModelOptions
        {
            Source = ModelSource.FromFile(TestModels.IrisMlp),
            MaxConcurrency = int.MaxValue,
            WarmupRuns = int.MaxValue,
            IntraOpThreads = 100_000,
            AllowThreadOversubscription = true,
            VersionName = "  ",
            GraphOptimizationLevel = (Microsoft.ML.OnnxRuntime.GraphOptimizationLevel)77,
        };

        var result = new ModelOptionsValidator().Validate("m", options);

        Assert.True(result.Failed);
        Assert.Contains("MaxConcurrency is 2147483647; use 0 (one per core) or 1 to 1,024", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("WarmupRuns is 2147483647; use at most 1,000", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("IntraOpThreads is 100000; use at most 256", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("VersionName is blank", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("GraphOptimizationLevel is 77", result.FailureMessage, StringComparison.Ordinal);
        var queue = new BatchingOptionsValidator().Validate("m", new BatchingOptions { MaxQueueSize = int.MaxValue });
        Assert.Contains("MaxQueueSize is 2147483647; use 1 to 1,048,576", queue.FailureMessage, StringComparison.Ordinal);
    }
}
