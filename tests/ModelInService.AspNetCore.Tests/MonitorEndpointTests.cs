using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ModelInService.AspNetCore.Tests;

public sealed class MonitoredAppFixture : IAsyncLifetime
{
    public WebApplication App { get; private set; } = null!;

    public IModelMonitor Monitor => App.Services.GetRequiredKeyedService<IModelMonitor>("iris");

    public HttpClient Client(string? user = null, string? role = null)
    {
        var client = App.GetTestClient();
        if (user is not null)
        {
            client.DefaultRequestHeaders.Add("X-Test-User", user);
        }

        if (role is not null)
        {
            client.DefaultRequestHeaders.Add("X-Test-Role", role);
        }

        return client;
    }

    public async Task InitializeAsync() => App = await MonitoredApp.StartAsync();

    public async Task DisposeAsync() => await App.DisposeAsync();
}

public partial class MonitorEndpointTests(MonitoredAppFixture fixture) : IClassFixture<MonitoredAppFixture>
{
    [Fact]
    public async Task Report_MatchesTheMonitorsReport_AndShowsTheDrift()
    {
        var json = await fixture.Client().GetFromJsonAsync<JsonElement>("/open/api/models/iris/report?window=5m");
        var report = fixture.Monitor.GetReport(TimeSpan.FromMinutes(5));

        Assert.Equal("5m", json.GetProperty("window").GetString());
        Assert.Equal(report.Predictions, json.GetProperty("predictions").GetInt64());
        Assert.Equal(5 * MonitoredApp.PerMinute, report.Predictions);
        Assert.Equal("drifted", json.GetProperty("status").GetString());
        var features = json.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);
        Assert.Equal(report.Features.Count, features.Count);
        foreach (var feature in report.Features)
        {
            var f = features[feature.Name];
            Assert.Equal(feature.Status.ToString(), f.GetProperty("status").GetString());
            Assert.Equal(feature.Count, f.GetProperty("count").GetInt64());
            Assert.Equal(feature.Threshold, f.GetProperty("threshold").GetDouble(), 12);
            Assert.Equal(feature.Distance.Value, f.GetProperty("distance").GetDouble(), 12);
        }

        Assert.Equal("Drifted", features["PetalLength"].GetProperty("status").GetString());
        var cdf = features["PetalLength"].GetProperty("distribution");
        Assert.Equal(41, cdf.GetProperty("points").GetArrayLength());
        Assert.Equal(1.0, cdf.GetProperty("reference")[40].GetDouble(), 6);
        Assert.Equal(1.0, cdf.GetProperty("current")[40].GetDouble(), 6);
        var label = features["Label"].GetProperty("distribution");
        Assert.Equal(3, label.GetProperty("categories").GetArrayLength());
    }

    [Fact]
    public async Task Report_NamesTheServingModelVersion_AndHasNoVersionNoteForOneVersion()
    {
        var json = await fixture.Client().GetFromJsonAsync<JsonElement>("/open/api/models/iris/report?window=5m");
        var report = fixture.Monitor.GetReport(TimeSpan.FromMinutes(5));
        var sha = fixture.App.Services.GetRequiredKeyedService<IModelManager>("iris").Current.Sha256;

        var versions = json.GetProperty("versions");
        var version = Assert.Single(versions.EnumerateArray());
        Assert.Equal(sha, version.GetProperty("version").GetString());
        Assert.Equal(report.Versions[0].Rows, version.GetProperty("rows").GetInt64());
        Assert.Equal(JsonValueKind.Array, json.GetProperty("referenceVersions").ValueKind);
        Assert.Equal(0, json.GetProperty("otherVersionRows").GetInt64());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("versionNote").ValueKind);
        Assert.Null(report.VersionNote);
    }

    [Fact]
    public async Task History_EndsWithTheReportsDistance_AndRisesWithTheDrift()
    {
        var client = fixture.Client();
        var history = await client.GetFromJsonAsync<JsonElement>("/open/api/models/iris/history?window=5m");
        var report = fixture.Monitor.GetReport(TimeSpan.FromMinutes(5));

        Assert.Equal(MonitoredApp.Minutes, history.GetProperty("times").GetArrayLength());
        var petal = history.GetProperty("features").EnumerateArray().Single(f => f.GetProperty("name").GetString() == "PetalLength");
        var distances = petal.GetProperty("distances").EnumerateArray().Select(d => d.ValueKind == JsonValueKind.Null ? (double?)null : d.GetDouble()).ToList();
        var expected = report["PetalLength"]!;
        // Every point is the monitor's own report of that window: the last one is the current report's distance.
        Assert.Equal(expected.Distance.Value, distances[^1]);
        var times = history.GetProperty("times").EnumerateArray().Select(t => t.GetDateTimeOffset()).ToList();
        Assert.Equal(report.End, times[^1]);
        foreach (var feature in history.GetProperty("features").EnumerateArray())
        {
            var last = feature.GetProperty("distances").EnumerateArray().Last();
            var distance = report[feature.GetProperty("name").GetString()!]!.Distance.Value;
            Assert.Equal(double.IsFinite(distance) ? distance : (double?)null, last.ValueKind == JsonValueKind.Null ? null : last.GetDouble());
        }

        // ... and an earlier point is the report of the window that ended then.
        var past = fixture.Monitor.GetReport(TimeSpan.FromMinutes(5), times[4]);
        Assert.Equal(past["PetalLength"]!.Distance.Value, distances[4]);
        Assert.Equal(expected.Threshold, petal.GetProperty("threshold").GetDouble(), 12);
        Assert.True(distances[4] < expected.Threshold, $"window ending minute 5 should be stable: {distances[4]}");
        Assert.True(distances[^1] > expected.Threshold);
    }

    [Fact]
    public async Task Metrics_ShowRequestsBatchesAndCache()
    {
        var json = await fixture.Client().GetFromJsonAsync<JsonElement>("/open/api/models/iris/metrics");

        Assert.True(json.GetProperty("enabled").GetBoolean());
        Assert.True(json.GetProperty("totalRequests").GetInt64() >= MonitoredApp.PerMinute * MonitoredApp.Minutes);
        Assert.True(json.GetProperty("requests").GetProperty("success").GetInt64() > 0);
        Assert.True(json.GetProperty("batches").GetInt64() > 0);
        Assert.True(json.GetProperty("latencyMs").GetProperty("p50").GetDouble() >= 0);
        Assert.True(json.GetProperty("cache").GetProperty("hits").GetInt64() > 0);
    }

    [Fact]
    public async Task Models_ListsTheMonitoredModelWithItsWindows()
    {
        var json = await fixture.Client().GetFromJsonAsync<JsonElement>("/open/api/models");
        var model = Assert.Single(json.GetProperty("models").EnumerateArray());
        Assert.Equal("iris", model.GetProperty("name").GetString());
        Assert.Equal(["5m", "15m"], model.GetProperty("windows").EnumerateArray().Select(w => w.GetProperty("name").GetString()!).ToArray());
        Assert.Equal(5_000, model.GetProperty("reference").GetProperty("rows").GetInt64());
    }

    [Theory]
    [InlineData("/open/api/models/nope/report", HttpStatusCode.NotFound)]
    [InlineData("/open/api/models/iris/report?window=soon", HttpStatusCode.BadRequest)]
    [InlineData("/open/api/models/iris/report?window=3h", HttpStatusCode.BadRequest)]
    [InlineData("/open/api/models/iris/report?window=Infinity", HttpStatusCode.BadRequest)]
    [InlineData("/open/api/models/iris/report?window=1e308", HttpStatusCode.BadRequest)]
    [InlineData("/open/api/models/iris/report?window=99999999d", HttpStatusCode.BadRequest)]
    [InlineData("/open/api/models/iris/history?window=-Infinity", HttpStatusCode.BadRequest)]
    [InlineData("/open/api/models/iris/history?window=1e308h", HttpStatusCode.BadRequest)]
    [InlineData("/open/api/models/iris/history?window=NaN", HttpStatusCode.BadRequest)]
    [InlineData("/open/api/models/iris/report?window=60.5", HttpStatusCode.BadRequest)] // not whole 1-minute intervals
    [InlineData("/open/api/models/iris/report?window=1.5m", HttpStatusCode.BadRequest)]
    [InlineData("/open/api/models/iris/history?window=90s", HttpStatusCode.BadRequest)]
    [InlineData("/open/api/models/iris/report?window=2m", HttpStatusCode.OK)]
    [InlineData("/open/api/models/iris/report?window=120", HttpStatusCode.OK)]
    public async Task Report_BadModelOrWindow_IsAProblem(string url, HttpStatusCode status)
    {
        var response = await fixture.Client().GetAsync(url);
        Assert.Equal(status, response.StatusCode);
        Assert.Equal(status == HttpStatusCode.OK ? "application/json" : "application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Snapshot_RoundTrips_AndMergesIntoAnotherReplica()
    {
        var bytes = await fixture.Client().GetByteArrayAsync("/open/api/models/iris/snapshot");
        var snapshot = MonitorSnapshot.ReadFrom(new MemoryStream(bytes));
        Assert.Equal("iris", snapshot.ModelName);
        Assert.Equal(MonitoredApp.PerMinute * MonitoredApp.Minutes, snapshot.Predictions);

        // An aggregator (same interval length, same clock) merges it and reports what the replica saw.
        var time = new FakeTimeProvider(TestApps.Start + TimeSpan.FromMinutes(MonitoredApp.Minutes));
        await using var aggregator = await TestApps.StartAsync(
            b =>
            {
                b.Services.AddSingleton<TimeProvider>(time);
                b.Services.AddModel<IrisFlower, IrisPrediction>("iris", o => o.Source = ModelSource.FromFile(TestApps.IrisMlp))
                    .UseMonitoring(o => o.EvaluationInterval = TimeSpan.FromDays(1));
            },
            _ => { });
        var merged = aggregator.Services.GetRequiredKeyedService<IModelMonitor>("iris");
        merged.MergeSnapshot(snapshot);
        Assert.Equal(fixture.Monitor.GetReport(TimeSpan.FromMinutes(15)).Predictions, merged.GetReport(TimeSpan.FromMinutes(15)).Predictions);
    }

    [Fact]
    public async Task DefaultMonitor_RequiresAnAuthenticatedUser()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Client().GetAsync("/monitor/api/models")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Client().GetAsync("/monitor")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Client().GetAsync("/monitor/api/models/iris/snapshot")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Client("alice").GetAsync("/monitor/api/models")).StatusCode);
    }

    [Fact]
    public async Task PolicyMonitor_RequiresThePolicy()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Client().GetAsync("/ops/api/models")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await fixture.Client("alice").GetAsync("/ops/api/models")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Client("bob", "ops").GetAsync("/ops/api/models")).StatusCode);
    }

    [Fact]
    public async Task OpenedMonitor_AnswersAnonymousCallers()
    {
        Assert.Equal(HttpStatusCode.OK, (await fixture.Client().GetAsync("/open/api/models")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Client().GetAsync("/open")).StatusCode);
    }

    [Fact]
    public async Task Dashboard_IsOneSelfContainedPage_WithAStrictContentSecurityPolicy()
    {
        var response = await fixture.Client().GetAsync("/open");
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        var csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
        var nonce = NonceRegex().Match(csp).Groups[1].Value;
        Assert.NotEmpty(nonce);
        Assert.Contains($"<script nonce=\"{nonce}\">", html, StringComparison.Ordinal);
        Assert.Contains("data-api=\"/open/api\"", html, StringComparison.Ordinal);
        Assert.DoesNotMatch(ExternalRegex(), html);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task HealthEndpoints_ReportTheModel()
    {
        var ready = await fixture.Client().GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var json = await ready.Content.ReadFromJsonAsync<JsonElement>();
        // Serving, but the monitor reports the drift this app was fed: Degraded still answers 200 (ready).
        Assert.Equal("Degraded", json.GetProperty("status").GetString());
        var check = Assert.Single(json.GetProperty("checks").EnumerateArray());
        Assert.Equal("model:iris", check.GetProperty("name").GetString());
        Assert.Contains("drift", check.GetProperty("description").GetString(), StringComparison.Ordinal);

        var live = await fixture.Client().GetFromJsonAsync<JsonElement>("/health/live");
        Assert.Equal("Healthy", live.GetProperty("status").GetString());
        Assert.Equal(0, live.GetProperty("checks").GetArrayLength());
    }

    [GeneratedRegex("script-src 'nonce-([^']+)'")]
    private static partial Regex NonceRegex();

    [GeneratedRegex("(src|href)=\"(https?:)?//", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalRegex();
}
