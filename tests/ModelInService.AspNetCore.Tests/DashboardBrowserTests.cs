using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Xunit.Abstractions;

namespace ModelInService.AspNetCore.Tests;

/// <summary>
/// Loads the dashboard in headless Chromium against a real Kestrel server and checks that what it drew (the data-*
/// attributes the page writes for every number it shows) matches the JSON API of the same server. Saves a screenshot;
/// with MIS_UPDATE_SCREENSHOT=1 it also replaces docs/images/dashboard.png.
/// </summary>
public partial class DashboardBrowserTests(ITestOutputHelper output)
{
    private static readonly string[] Candidates = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

    [SkippableFact]
    public async Task Dashboard_RendersTheReportsNumbers_InARealBrowser()
    {
        var browser = Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } configured && File.Exists(configured) ? configured : FindOnPath();
        Skip.If(browser is null, "No chromium binary found (install it with `apt-get install -y chromium`, or set CHROMIUM_PATH).");

        await using var app = await MonitoredApp.StartAsync("http://127.0.0.1:0");
        var baseUrl = app.Urls.First();
        var page = baseUrl + "/open";

        var dom = await RunAsync(browser!, "--virtual-time-budget=10000", "--dump-dom", page);
        Assert.Contains("data-rendered=\"true\"", dom, StringComparison.Ordinal);

        using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
        var report = await http.GetFromJsonAsync<JsonElement>("/open/api/models/iris/report?window=5m");
        var history = await http.GetFromJsonAsync<JsonElement>("/open/api/models/iris/history?window=5m");
        var figures = await http.GetFromJsonAsync<JsonElement>("/open/api/models/iris/metrics");

        var section = Attributes(SectionRegex().Match(dom).Value);
        Assert.Equal("iris", section["data-model"]);
        Assert.Equal("5m", section["data-window"]);
        Assert.Equal(report.GetProperty("status").GetString(), section["data-status"]);
        Assert.Equal("drifted", section["data-status"]);
        Assert.Equal(report.GetProperty("predictions").GetInt64().ToString(CultureInfo.InvariantCulture), section["data-predictions"]);
        Assert.Equal(report.GetProperty("driftedFeatures").GetInt32().ToString(CultureInfo.InvariantCulture), section["data-drifted-features"]);
        Assert.Equal(report.GetProperty("violations").GetArrayLength().ToString(CultureInfo.InvariantCulture), section["data-violations"]);
        Assert.Equal(figures.GetProperty("totalRequests").GetInt64().ToString(CultureInfo.InvariantCulture), section["data-total-requests"]);
        Assert.Equal(figures.GetProperty("batches").GetInt64().ToString(CultureInfo.InvariantCulture), section["data-batches"]);

        var cards = FeatureRegex().Matches(dom).Select(m => Attributes(m.Value)).ToDictionary(a => a["data-feature"]);
        var features = report.GetProperty("features").EnumerateArray().ToList();
        Assert.Equal(features.Count, cards.Count);
        var historyByName = history.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);
        foreach (var feature in features)
        {
            var card = cards[feature.GetProperty("name").GetString()!];
            Assert.Equal(feature.GetProperty("status").GetString(), card["data-status"]);
            Assert.Equal(feature.GetProperty("count").GetInt64().ToString(CultureInfo.InvariantCulture), card["data-count"]);
            AssertNumber(feature.GetProperty("threshold"), card["data-threshold"]);
            // The report is recomputed per request; sketch merges are deterministic, so the distance is the same.
            AssertNumber(feature.GetProperty("distance"), card["data-distance"]);
            var drawn = historyByName[feature.GetProperty("name").GetString()!].GetProperty("distances").EnumerateArray().Count(d => d.ValueKind != JsonValueKind.Null);
            Assert.Equal(drawn.ToString(CultureInfo.InvariantCulture), card["data-history-points"]);
        }

        Assert.Equal("Drifted", cards["PetalLength"]["data-status"]);
        // Every numeric feature with a distribution drew a CDF with two series; the label drew bars; every card a history.
        Assert.True(CountRegex("data-chart=\"cdf\"").Count(dom) >= 4);
        Assert.True(CountRegex("data-chart=\"bars\"").Count(dom) >= 1);
        Assert.Equal(features.Count, CountRegex("data-chart=\"history\"").Count(dom));
        Assert.True(CountRegex("data-chart=\"batch-sizes\"").Count(dom) == 1);

        var screenshot = Path.Combine(Path.GetTempPath(), $"mis-dashboard-{Guid.NewGuid():N}.png");
        await RunAsync(browser!, "--virtual-time-budget=10000", "--hide-scrollbars", "--window-size=1280,1900", "--screenshot=" + screenshot, page);
        Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot is suspiciously small");
        output.WriteLine("screenshot: " + screenshot);
        if (Environment.GetEnvironmentVariable("MIS_UPDATE_SCREENSHOT") == "1" && FindRepositoryRoot() is { } root)
        {
            var target = Path.Combine(root, "docs", "images", "dashboard.png");
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(screenshot, target, overwrite: true);
            output.WriteLine("updated " + target);
        }

        File.Delete(screenshot);
    }

    [SkippableFact]
    public async Task Dashboard_OffersTheClusterScope_AndShowsTheClusterViewsNumbers()
    {
        var browser = Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } configured && File.Exists(configured) ? configured : FindOnPath();
        Skip.If(browser is null, "No chromium binary found (install it with `apt-get install -y chromium`, or set CHROMIUM_PATH).");

        await using var app = await MonitorScopeTests.StartAsync("http://127.0.0.1:0");
        var baseUrl = app.Urls.First();

        var local = await RunAsync(browser!, "--virtual-time-budget=10000", "--dump-dom", baseUrl + "/open");
        var cluster = await RunAsync(browser!, "--virtual-time-budget=10000", "--dump-dom", baseUrl + "/open?scope=cluster");

        Assert.Contains("data-rendered=\"true\"", cluster, StringComparison.Ordinal);
        Assert.Matches("<button[^>]*class=\"on\"[^>]*data-scope=\"local\"", local);
        Assert.Matches("<button[^>]*class=\"on\"[^>]*data-scope=\"cluster\"", cluster);
        Assert.Equal("10", Attributes(SectionRegex().Match(local).Value)["data-predictions"]);   // iris, this replica
        Assert.Equal("30", Attributes(SectionRegex().Match(cluster).Value)["data-predictions"]); // iris, the cluster view
    }

    private static void AssertNumber(JsonElement expected, string actual)
    {
        if (expected.ValueKind == JsonValueKind.Null)
        {
            Assert.Equal("", actual);
            return;
        }

        Assert.Equal(expected.GetDouble(), double.Parse(actual, CultureInfo.InvariantCulture), 12);
    }

    private static Dictionary<string, string> Attributes(string tag) =>
        AttributeRegex().Matches(tag).ToDictionary(m => m.Groups[1].Value, m => System.Net.WebUtility.HtmlDecode(m.Groups[2].Value), StringComparer.Ordinal);

    private static Regex CountRegex(string text) => new(Regex.Escape(text));

    private async Task<string> RunAsync(string browser, params string[] args)
    {
        var profile = Directory.CreateTempSubdirectory("mis-chromium-");
        try
        {
            var start = new ProcessStartInfo(browser)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--user-data-dir=" + profile.FullName })
            {
                start.ArgumentList.Add(a);
            }

            foreach (var a in args)
            {
                start.ArgumentList.Add(a);
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException("chromium did not finish within 90 s: " + await stderr);
            }

            if (process.ExitCode != 0)
            {
                output.WriteLine(await stderr);
            }

            return await stdout;
        }
        finally
        {
            try
            {
                profile.Delete(recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static string? FindOnPath()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var name in Candidates)
            {
                var path = Path.Combine(dir, name);
                if (File.Exists(path))
                {
                    return path;
                }
            }
        }

        return null;
    }

    private static string? FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelInService.sln")))
            {
                return dir.FullName;
            }
        }

        return null;
    }

    [GeneratedRegex("<section[^>]*class=\"model\"[^>]*>")]
    private static partial Regex SectionRegex();

    [GeneratedRegex("<article[^>]*class=\"feature[^\"]*\"[^>]*>")]
    private static partial Regex FeatureRegex();

    [GeneratedRegex("(data-[a-z-]+)=\"([^\"]*)\"")]
    private static partial Regex AttributeRegex();
}
