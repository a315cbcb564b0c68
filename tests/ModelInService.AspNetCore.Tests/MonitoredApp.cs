using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ModelInService.AspNetCore.Tests;

/// <summary>
/// An app with a monitored, batched and cached iris model, a reference built from iris-like data, and twelve minutes
/// of fake-time traffic: six like the reference, then six with longer sepals and petals (drift).
/// </summary>
internal static class MonitoredApp
{
    public const int PerMinute = 600;

    public const int Minutes = 12;

    public static async Task<WebApplication> StartAsync(string? url = null)
    {
        var time = new FakeTimeProvider(TestApps.Start);
        var app = await TestApps.StartAsync(
            b =>
            {
                b.Services.AddSingleton<TimeProvider>(time);
                b.Services.AddModel<IrisFlower, IrisPrediction>("iris", o => o.Source = ModelSource.FromFile(TestApps.IrisMlp))
                    .UseCaching()
                    // MaxDelay 0: batches form from what is queued (a fake clock would hold a MaxDelay timer forever).
                    .UseBatching(o => { o.MaxDelay = TimeSpan.Zero; o.MaxBatchSize = 16; })
                    .UseMonitoring(o =>
                    {
                        o.Windows.Clear();
                        o.Windows.Add(TimeSpan.FromMinutes(5));
                        o.Windows.Add(TimeSpan.FromMinutes(15));
                        o.Retention = TimeSpan.FromHours(1);
                        o.EvaluationInterval = TimeSpan.FromDays(1); // evaluated explicitly below
                        o.ExpectedPredictionsPerMinute = PerMinute;
                    });
                b.Services.AddHealthChecks().AddModelChecks();
            },
            app =>
            {
                app.MapModelMonitor();                                                 // default: authenticated users
                app.MapModelMonitor("/ops", o => o.AuthorizationPolicy = "monitor-readers");
                app.MapModelMonitor("/open", o => o.AllowAnonymous = true);
                app.MapModelHealthChecks();
            },
            url);

        var predictor = app.Services.GetRequiredService<IPredictor<IrisFlower, IrisPrediction>>();
        var monitor = app.Services.GetRequiredKeyedService<IModelMonitor>("iris");
        monitor.SetReference(await monitor.BuildReferenceAsync(TestApps.Flowers(5_000, 1)));
        var repeated = new IrisFlower { SepalLength = 5.1f, SepalWidth = 3.5f, PetalLength = 1.4f, PetalWidth = 0.2f };
        for (var minute = 0; minute < Minutes; minute++)
        {
            var flowers = TestApps.Flowers(PerMinute, 100 + minute, minute >= Minutes / 2 ? 0.8f : 0).ToList();
            for (var i = 0; i < flowers.Count; i += 20)
            {
                // 20 concurrent callers (batches), one of them always asking the same question (cache hits).
                await Task.WhenAll(flowers.Skip(i).Take(20).Select((f, j) => predictor.PredictAsync(j == 0 && i % 40 == 0 ? repeated : f).AsTask()));
            }

            await monitor.FlushAsync();
            time.Advance(TimeSpan.FromMinutes(1));
        }

        await monitor.EvaluateAsync();
        return app;
    }
}
