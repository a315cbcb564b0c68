using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Hosting;

namespace ModelInService.Tests.Hosting;

/// <summary>
/// ContinueOnLoadError with WatchForChanges: a model that failed to load at start-up loads when its file is written
/// (real files and file-system events; the quiet period runs on a fake clock).
/// </summary>
public class LoadRecoveryTests
{
    [Fact]
    public async Task ContinueOnLoadError_MissingFileCreatedLater_LoadsAndTurnsHealthy()
    {
        var dir = Directory.CreateTempSubdirectory("mis-recover-");
        try
        {
            var path = Path.Combine(dir.FullName, "iris.onnx");
            await RecoversAsync(path, () => File.Copy(TestModels.IrisMlp, path), batching: false);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task ContinueOnLoadError_BadFileFixedOnDisk_LoadsAndTurnsHealthy()
    {
        var dir = Directory.CreateTempSubdirectory("mis-recover-");
        try
        {
            var path = Path.Combine(dir.FullName, "iris.onnx");
            await File.WriteAllBytesAsync(path, File.ReadAllBytes(TestModels.IrisMlp)[..200]);
            await RecoversAsync(path, () => File.Copy(TestModels.IrisMlp, path, overwrite: true), batching: true);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task ContinueOnLoadError_DirectoryMissing_StartsAndLogsThatItCannotWatch()
    {
        var logs = new Microsoft.Extensions.Logging.Testing.FakeLogCollector();
        var path = Path.Combine(Path.GetTempPath(), "mis-no-such-dir-" + Guid.NewGuid().ToString("N"), "iris.onnx");
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddLogging(b => b.AddProvider(new Microsoft.Extensions.Logging.Testing.FakeLoggerProvider(logs)));
            s.AddModel<IrisInput, IrisOutput>("iris", o =>
            {
                o.Source = ModelSource.FromFile(path);
                o.ContinueOnLoadError = true;
                o.WatchForChanges = true;
            });
        });

        Assert.Null(host.Services.GetRequiredService<ModelRegistry>().Get("iris").Watcher);
        var warning = Assert.Single(logs.GetSnapshot(), r => r.Id.Id == 1025);
        Assert.Contains("does not exist", warning.Message);
    }

    private static async Task RecoversAsync(string path, Action fix, bool batching)
    {
        var time = new FakeTimeProvider();
        using var host = await TestModels.StartAsync(s =>
        {
            s.AddSingleton<TimeProvider>(time);
            var model = s.AddModel<IrisInput, IrisOutput>("iris", o =>
            {
                o.Source = ModelSource.FromFile(path);
                o.ContinueOnLoadError = true;
                o.WatchForChanges = true;
                o.ReloadDebounce = TimeSpan.FromSeconds(2);
            });
            if (batching)
            {
                model.UseBatching();
            }

            s.AddHealthChecks().AddModelChecks();
        });
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var model = host.Services.GetRequiredService<ModelRegistry>().Get("iris");
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync()).Entries["model:iris"].Status);
        Assert.NotNull(model.Watcher); // watching although the first load failed
        var changes = new List<ModelVersionChangedEventArgs>();
        host.Services.GetRequiredService<IModelManager>().VersionChanged += (_, e) => changes.Add(e);

        fix();
        await KeepTimeMovingUntil(() => model.IsLoaded, time);

        // The app learns that a version serves now (no event came before: log 1026 only), with none before it.
        var change = Assert.Single(changes);
        Assert.Null(change.Previous);
        Assert.Equal(model.Runtime.Info, change.Current);

        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Entries["model:iris"].Status);
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        Assert.Equal(0, (await predictor.PredictAsync(new IrisInput { Features = IrisSamples.Setosa })).Label);
        Assert.Equal(batching, model.Features.Batcher is not null);
    }

    /// <summary>Moves the fake clock on a second at a time until <paramref name="done"/>: file events arrive on real time and restart the quiet period.</summary>
    private static async Task KeepTimeMovingUntil(Func<bool> done, FakeTimeProvider time)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!done() && waited.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(100);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.True(done(), "the model did not load after its file was fixed");
    }
}
