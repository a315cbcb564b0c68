using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ModelInService.AspNetCore.Tests;

/// <summary>
/// <c>?scope=cluster</c>: the monitor endpoints serve the view registered under <see cref="ModelMonitorViews.ClusterKey"/>
/// (ModelInService.Redis's merged monitor; here another model's monitor stands in for it), the model list says which
/// models have one, and a model without one or an unknown scope gets a clear 404/400.
/// </summary>
public sealed class MonitorScopeTests
{
    /// <summary>"iris" with 10 predictions and a cluster view that is the monitor of "merged" (30 predictions), one minute later.</summary>
    internal static async Task<WebApplication> StartAsync(string? url = null)
    {
        var time = new FakeTimeProvider(TestApps.Start);
        var app = await TestApps.StartAsync(
            b =>
            {
                b.Services.AddSingleton<TimeProvider>(time);
                b.Services.AddModel<IrisFlower, IrisPrediction>("iris", o => o.Source = ModelSource.FromFile(TestApps.IrisMlp)).UseMonitoring();
                b.Services.AddModel<IrisFlower, IrisPrediction>("merged", o => o.Source = ModelSource.FromFile(TestApps.IrisMlp)).UseMonitoring();
                b.Services.AddKeyedSingleton<IModelMonitor>(ModelMonitorViews.ClusterKey("iris"), (sp, _) => sp.GetRequiredKeyedService<IModelMonitor>("merged"));
            },
            app => app.MapModelMonitor("/open", o => o.AllowAnonymous = true),
            url);

        await PredictAsync(app.Services, "iris", 10);
        await PredictAsync(app.Services, "merged", 30);
        time.Advance(TimeSpan.FromMinutes(1));
        return app;
    }

    [Fact]
    public async Task ScopeCluster_ServesTheRegisteredView_AndTheListOffersIt()
    {
        await using var app = await StartAsync();
        var client = app.GetTestClient();

        var list = await client.GetFromJsonAsync<JsonElement>("/open/api/models");
        var scopes = list.GetProperty("models").EnumerateArray().ToDictionary(
            m => m.GetProperty("name").GetString()!,
            m => m.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()!).ToArray());
        Assert.Equal(new[] { "iris", "merged" }, scopes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new[] { "local", "cluster" }, scopes["iris"]);
        Assert.Equal(new[] { "local" }, scopes["merged"]);

        Assert.Equal(10, await PredictionsAsync(client, "/open/api/models/iris/report?window=1m"));
        Assert.Equal(10, await PredictionsAsync(client, "/open/api/models/iris/report?window=1m&scope=local"));
        Assert.Equal(30, await PredictionsAsync(client, "/open/api/models/iris/report?window=1m&scope=cluster"));
        var history = await client.GetFromJsonAsync<JsonElement>("/open/api/models/iris/history?window=1m&scope=cluster");
        Assert.Equal("merged", history.GetProperty("model").GetString());

        using var none = await client.GetAsync(new Uri("/open/api/models/merged/report?window=1m&scope=cluster", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        Assert.Contains("UseRedisMonitoring", await none.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var unknown = await client.GetAsync(new Uri("/open/api/models/iris/report?window=1m&scope=everything", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
    }

    internal static async Task PredictAsync(IServiceProvider services, string model, int count)
    {
        var predictor = services.GetRequiredKeyedService<IPredictor<IrisFlower, IrisPrediction>>(model);
        foreach (var flower in TestApps.Flowers(count, 7))
        {
            await predictor.PredictAsync(flower);
        }

        await services.GetRequiredKeyedService<IModelMonitor>(model).FlushAsync();
    }

    private static async Task<long> PredictionsAsync(HttpClient client, string path) =>
        (await client.GetFromJsonAsync<JsonElement>(path)).GetProperty("predictions").GetInt64();
}
