using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ModelInService.AspNetCore.Tests;

/// <summary>
/// The monitor endpoints answer with the options the running monitor was started with (from an outside probe): after
/// the monitoring section of a reloading configuration changed (appsettings.json with reloadOnChange), they read the
/// live options and answered 500 (an invalid section fails validation on every read) or 400 (a valid one with another
/// interval length), although the monitor still ran with its start-up options.
/// </summary>
public sealed class MonitorOptionsReloadTests
{
    [Theory]
    [InlineData("00:00:00")] // invalid: validation fails on every read of the live options
    [InlineData("00:05:00")] // valid, but not what the running monitor uses
    public async Task Endpoints_AfterTheMonitoringSectionChanges_AnswerWithTheStartUpOptions(string intervalLength)
    {
        var source = new ReloadableConfigurationSource();
        source.Provider.Set("Monitoring:IntervalLength", "00:01:00");
        var time = new FakeTimeProvider(TestApps.Start);
        await using var app = await TestApps.StartAsync(
            b =>
            {
                ((IConfigurationBuilder)b.Configuration).Add(source);
                b.Services.AddSingleton<TimeProvider>(time);
                b.Services.AddModel<IrisFlower, IrisPrediction>("iris", o => o.Source = ModelSource.FromFile(TestApps.IrisMlp))
                    .UseMonitoring(o => o.EvaluationInterval = TimeSpan.FromDays(1));
                b.Services.Configure<MonitoringOptions>("iris", b.Configuration.GetSection("Monitoring"));
            },
            app => app.MapModelMonitor("/open", o => o.AllowAnonymous = true));
        await MonitorScopeTests.PredictAsync(app.Services, "iris", 10);
        time.Advance(TimeSpan.FromMinutes(2));
        var client = app.GetTestClient();

        source.Provider.Set("Monitoring:IntervalLength", intervalLength);
        try
        {
            source.Provider.Reload();
        }
        catch (AggregateException e) when (e.Flatten().InnerExceptions.All(x => x is Microsoft.Extensions.Options.OptionsValidationException))
        {
            // The options monitor re-reads (and validates) the options when the configuration changes; a file provider
            // raises that on its own thread, where the failure goes unobserved. The app keeps running.
        }

        var list = await client.GetFromJsonAsync<JsonElement>("/open/api/models");
        var iris = Assert.Single(list.GetProperty("models").EnumerateArray());
        Assert.Equal(60, iris.GetProperty("intervalSeconds").GetDouble());
        Assert.Equal(new[] { 900.0, 3600.0 }, iris.GetProperty("windows").EnumerateArray().Select(w => w.GetProperty("seconds").GetDouble()));
        foreach (var url in new[] { "report", "report?window=2m", "history?window=2m", "metrics", "snapshot" })
        {
            using var response = await client.GetAsync(new Uri("/open/api/models/iris/" + url, UriKind.Relative));
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        var report = await client.GetFromJsonAsync<JsonElement>("/open/api/models/iris/report?window=2m");
        Assert.Equal(10, report.GetProperty("predictions").GetInt64());
    }

    /// <summary>A configuration source whose values a test sets and reloads, like a changed appsettings.json.</summary>
    private sealed class ReloadableConfigurationSource : IConfigurationSource
    {
        public ReloadableProvider Provider { get; } = new();

        public IConfigurationProvider Build(IConfigurationBuilder builder) => Provider;

        public sealed class ReloadableProvider : ConfigurationProvider
        {
            public void Reload() => OnReload();
        }
    }
}
