using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace ModelInService.AspNetCore.Tests;

/// <summary>The fuzz tests measure allocations process-wide: nothing else may run meanwhile.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HttpFuzzGroup
{
    public const string Name = "HTTP fuzz";
}

/// <summary>
/// Seeded fuzzing of the HTTP surface: mutated JSON bodies (structure, extreme numbers, huge arrays, truncation,
/// invalid UTF-8), content types and charsets against MapPredict and MapPredictBatch, and mutated routes and windows
/// against the monitor's API. Invariants for every call: the answer is 2xx, or 4xx with a ProblemDetails body, never
/// a 5xx (the one 500 a client can cause is the documented "model produced a non-finite value" problem); no call
/// takes longer than <see cref="CallTimeBound"/>; no call allocates more than a fixed allowance plus
/// <see cref="AllocationPerInputByte"/> bytes per byte of input; nothing is logged as an error.
/// A few seconds per target by default; <c>MIS_FUZZ_SECONDS</c> runs each target that long, <c>MIS_FUZZ_SEED</c>
/// changes the seed (the failing case's seed and index are printed, and the sequence of cases depends only on them).
/// </summary>
[Collection(HttpFuzzGroup.Name)]
public sealed class HttpFuzzTests(ITestOutputHelper output)
{
    private const int MaxBatchRows = 1024;
    private const long AllocationAllowance = 8L << 20;
    private const long AllocationPerInputByte = 6;
    private static readonly TimeSpan CallTimeBound = TimeSpan.FromSeconds(10);

    private static readonly string[] Members = ["sepalLength", "sepalWidth", "petalLength", "petalWidth"];

    private static readonly string[] ExtremeNumbers =
    [
        "0", "-0", "1", "-1", "3.4e38", "-3.4e38", "3.5e38", "1e39", "1e308", "-1e308", "1.7976931348623157e308", "1e309", "-1e400",
        "1e-45", "1e-46", "4.9e-324", "1e-400", "123456789012345678901234567890", "0.1e1", "1E+2", "9223372036854775808",
        "\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "\"1.5\"", "null", "true", "false", "\"\"", "[]", "{}", "[1,2]", "{\"a\":1}",
        "01", "+1", ".5", "1.", "-", "NaN", "Infinity", "0x10", "1e", "\"\\u0000\"",
    ];

    private static readonly string[] ContentTypes =
    [
        "application/json", "application/json; charset=utf-8", "application/json; charset=UTF8", "application/json; charset=\"utf-8\"",
        "application/json; charset=foo", "application/json; charset=utf-16", "application/json; charset=", "application/json;;;",
        "application/problem+json", "application/vnd.api+json", "text/json", "text/plain", "application/xml", "*/*", "application/*",
        "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "garbage", "application/json; charset=iso-8859-1", string.Empty,
    ];

    private static readonly string[] Windows =
    [
        "5m", "15m", "1h", "90s", "900", "00:15:00", "Infinity", "-Infinity", "NaN", "1e308", "1e308h", "99999999d", "-5m", "0", "0s",
        "1e-300", "10675199d", "10675200d", "3660d", "3661d", "29000000h", "9223372036854775807", "1.5", "00:00:00.0000001", "10675199.02:48:05.4775807",
        "10675199.02:48:05.4775808", "-00:15:00", "m", "d", " ", "%", "15m15m", "1,5m", "١٥m", "1e3s", "5M", "5H",
    ];

    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("MIS_FUZZ_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : 14;

    private static TimeSpan Budget => double.TryParse(Environment.GetEnvironmentVariable("MIS_FUZZ_SECONDS"), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0
        ? TimeSpan.FromSeconds(seconds)
        : TimeSpan.FromSeconds(3);

    [Fact]
    public Task Fuzz_MapPredict() => FuzzAsync("predict", (random, _) => Post("/predict", MutatedObject(random), random));

    [Fact]
    public Task Fuzz_MapPredictBatch() => FuzzAsync("batch", (random, _) => Post("/predict/batch", MutatedArray(random), random));

    [Fact]
    public Task Fuzz_MonitorApi() => FuzzAsync("monitor", (random, _) => MonitorRequest(random));

    private async Task FuzzAsync(string target, Func<Random, int, FuzzCase> next)
    {
        var logs = new CapturingLoggerProvider();
        await using var app = await StartAsync(logs);
        var client = app.GetTestClient();
        client.Timeout = CallTimeBound * 3;
        var random = new Random(Seed);
        var failures = new List<string>();
        var statuses = new SortedDictionary<int, int>();
        var budget = Stopwatch.StartNew();
        var count = 0;
        long worstAllocated = 0;
        double worstRatio = 0;
        TimeSpan slowest = default;
        for (; budget.Elapsed < Budget && failures.Count < 10; count++)
        {
            var fuzz = next(random, count);
            var before = GC.GetTotalAllocatedBytes(precise: false);
            var watch = Stopwatch.StartNew();
            string? failure;
            try
            {
                using var response = await client.SendAsync(fuzz.Request);
                var body = await response.Content.ReadAsByteArrayAsync();
                watch.Stop();
                var status = (int)response.StatusCode;
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
                failure = Check(response, body);
            }
            catch (Exception ex) when (ex is HttpRequestException or InvalidOperationException or IOException or TaskCanceledException or JsonException)
            {
                watch.Stop();
                failure = "the call failed: " + ex.GetType().Name + ": " + ex.Message;
            }

            var allocated = GC.GetTotalAllocatedBytes(precise: false) - before;
            var allowance = AllocationAllowance + (AllocationPerInputByte * fuzz.InputBytes);
            worstAllocated = Math.Max(worstAllocated, allocated);
            if (fuzz.InputBytes >= 100_000)
            {
                worstRatio = Math.Max(worstRatio, allocated / (double)fuzz.InputBytes);
            }

            slowest = watch.Elapsed > slowest ? watch.Elapsed : slowest;
            if (failure is null && allocated > allowance)
            {
                failure = $"allocated {allocated:N0} bytes for {fuzz.InputBytes:N0} input bytes (allowed {allowance:N0})";
            }

            if (failure is null && watch.Elapsed > CallTimeBound)
            {
                failure = $"took {watch.Elapsed.TotalSeconds:F1} s (bound {CallTimeBound.TotalSeconds} s)";
            }

            if (failure is not null)
            {
                failures.Add($"seed {Seed} case {count} ({fuzz.Description}): {failure}");
            }
        }

        failures.AddRange(logs.Entries.Where(e => e.Level >= LogLevel.Error).Take(5).Select(e => $"logged {e.Level} in {e.Category}: {e.Message}"));
        output.WriteLine($"{target}: {count} cases in {budget.Elapsed.TotalSeconds:F1} s, seed {Seed}; statuses {string.Join(", ", statuses.Select(s => $"{s.Key}x{s.Value}"))}; slowest {slowest.TotalMilliseconds:F0} ms; most allocated {worstAllocated:N0} B; most bytes allocated per input byte for inputs of 100 KB or more {worstRatio:F1}");
        Assert.True(count > 0);
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    private static string? Check(HttpResponseMessage response, byte[] body)
    {
        var status = (int)response.StatusCode;
        if (status is >= 200 and < 300)
        {
            return null;
        }

        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (status is >= 400 and < 500)
        {
            if (mediaType != "application/problem+json")
            {
                // Routing answers, before any handler runs, a media type the endpoint does not declare (415) and a path
                // no endpoint has (404, e.g. /models/%2e%2e/metrics normalized to /models/metrics).
                return status is 415 or 404 && body.Length == 0 ? null : $"{status} without a ProblemDetails body ({mediaType ?? "no content type"}, {body.Length} bytes)";
            }

            return ProblemStatus(body) == status ? null : $"{status} whose problem says another status";
        }

        if (status == 500 && mediaType == "application/problem+json" && Encoding.UTF8.GetString(body).Contains("non-finite", StringComparison.OrdinalIgnoreCase))
        {
            return null; // The model's own NaN for an input it cannot handle: documented, and a problem that says so.
        }

        return $"{status} ({mediaType ?? "no content type"}): {Truncate(Encoding.UTF8.GetString(body), 300)}";
    }

    private static int ProblemStatus(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            return document.RootElement.TryGetProperty("status", out var status) && status.TryGetInt32(out var value) ? value : -1;
        }
        catch (JsonException)
        {
            return -1;
        }
    }

    private static async Task<WebApplication> StartAsync(CapturingLoggerProvider logs) =>
        await TestApps.StartAsync(
            b =>
            {
                b.Logging.AddProvider(logs);
                b.Services.AddSingleton<TimeProvider>(new FakeTimeProvider(TestApps.Start));
                b.Services.AddModel<IrisFlower, IrisPrediction>("iris", o => o.Source = ModelSource.FromFile(TestApps.IrisMlp))
                    .UseMonitoring(o => o.EvaluationInterval = TimeSpan.FromDays(1));
                b.Services.AddPredictEndpoints(o => o.MaxBatchRows = MaxBatchRows);
            },
            app =>
            {
                app.MapPredict<IrisFlower, IrisPrediction>("/predict", "iris");
                app.MapPredictBatch<IrisFlower, IrisPrediction>("/predict/batch", "iris");
                app.MapModelMonitor("/monitor", o => o.AllowAnonymous = true);
            });

    private sealed record FuzzCase(HttpRequestMessage Request, long InputBytes, string Description);

    private static FuzzCase Post(string path, byte[] body, Random random)
    {
        var content = new ByteArrayContent(body);
        var contentType = random.Next(4) == 0 ? ContentTypes[random.Next(ContentTypes.Length)] : "application/json";
        if (contentType.Length > 0)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        return new FuzzCase(request, body.Length, $"POST {path}, {contentType}, {body.Length:N0} bytes: {Truncate(Encoding.UTF8.GetString(body), 120)}");
    }

    private static FuzzCase MonitorRequest(Random random)
    {
        string[] models = ["iris", "iris", "iris", "nope", "IRIS", "..", "%2e%2e", new string('m', 5000), "ir is", "%F0%9F%90%9B"];
        string[] endpoints = ["report", "history", "metrics", "snapshot", "report", "history"];
        var path = random.Next(10) switch
        {
            0 => "/monitor/api/models",
            1 => "/monitor",
            _ => $"/monitor/api/models/{models[random.Next(models.Length)]}/{endpoints[random.Next(endpoints.Length)]}",
        };
        if (random.Next(3) > 0)
        {
            var window = random.Next(4) == 0 ? RandomNumberText(random) + "smhd"[random.Next(4)] : Windows[random.Next(Windows.Length)];
            path += "?window=" + Uri.EscapeDataString(window);
        }

        return new FuzzCase(new HttpRequestMessage(HttpMethod.Get, path), path.Length, "GET " + Truncate(path, 160));
    }

    private static string RandomNumberText(Random random) => random.Next(4) switch
    {
        0 => (random.NextDouble() * Math.Pow(10, random.Next(-320, 320))).ToString("R", CultureInfo.InvariantCulture),
        1 => random.NextInt64().ToString(CultureInfo.InvariantCulture),
        2 => (-random.NextDouble() * 1000).ToString("R", CultureInfo.InvariantCulture),
        _ => ExtremeNumbers[random.Next(ExtremeNumbers.Length)].Trim('"'),
    };

    private static string ValidObject(Random random) =>
        "{" + string.Join(',', Members.Select(m => $"\"{m}\":{(random.NextDouble() * 8).ToString("R", CultureInfo.InvariantCulture)}")) + "}";

    /// <summary>One object, valid or mutated once or several times at the text level.</summary>
    private static byte[] MutatedObject(Random random)
    {
        var text = random.Next(8) == 0 ? ValidObject(random) : Mutate(ValidObject(random), random, random.Next(1, 4));
        return Bytes(text, random);
    }

    private static byte[] MutatedArray(Random random)
    {
        switch (random.Next(10))
        {
            case 0:
                // Huge arrays of tiny rows: counted, never bound.
                var rows = random.Next(3) switch { 0 => MaxBatchRows + 1, 1 => 200_000, _ => random.Next(1, 2 * MaxBatchRows) };
                return Bytes("[" + string.Join(',', Enumerable.Repeat(random.Next(2) == 0 ? "{}" : "0", rows)) + "]", random);
            case 1:
                // Nesting deeper than the reader allows.
                var depth = random.Next(10, 5000);
                return Bytes(new string('[', depth) + new string(']', random.Next(2) == 0 ? depth : depth / 2), random);
            case 2:
                // Exactly at the limit, valid rows.
                return Bytes("[" + string.Join(',', Enumerable.Range(0, MaxBatchRows).Select(_ => ValidObject(random))) + "]", random);
            default:
                var count = random.Next(0, 40);
                var items = Enumerable.Range(0, count).Select(_ => random.Next(4) == 0 ? Mutate(ValidObject(random), random, 1) : ValidObject(random));
                var text = "[" + string.Join(',', items) + "]";
                return Bytes(random.Next(5) == 0 ? Mutate(text, random, 1) : text, random);
        }
    }

    private static string Mutate(string json, Random random, int times)
    {
        for (var i = 0; i < times; i++)
        {
            var member = Members[random.Next(Members.Length)];
            json = random.Next(14) switch
            {
                0 => json.Replace($"\"{member}\":", $"\"{ToSnake(member)}\":", StringComparison.Ordinal),
                1 => RemoveMember(json, member),
                2 => ReplaceValue(json, member, ExtremeNumbers[random.Next(ExtremeNumbers.Length)]),
                3 => ReplaceValue(json, member, RandomNumberText(random)),
                4 => json.Insert(Math.Min(1, json.Length), $"\"{member}\":1,"), // duplicate key
                5 => json.Insert(Math.Min(1, json.Length), $"\"unknown{random.Next(1000)}\":{ExtremeNumbers[random.Next(ExtremeNumbers.Length)]},"),
                6 => json[..random.Next(json.Length)], // truncated
                7 => "[" + json + "]",
                8 => ReplaceValue(json, member, "\"" + new string('9', random.Next(1, 200_000)) + "\""),
                9 => ReplaceValue(json, member, new string('1', random.Next(1, 100_000))),
                10 => json.Insert(random.Next(json.Length), ((char)random.Next(0, 128)).ToString()),
                11 => random.Next(2) == 0 ? "null" : random.Next(2) == 0 ? string.Empty : "   ",
                12 => json.Insert(Math.Min(1, json.Length), string.Concat(Enumerable.Range(0, random.Next(1, 20_000)).Select(k => $"\"k{k}\":0,"))),
                _ => json.ToUpperInvariant(),
            };
        }

        return json;
    }

    private static string ToSnake(string name) => string.Concat(name.Select(c => char.IsUpper(c) ? "_" + char.ToLowerInvariant(c) : c.ToString()));

    private static string RemoveMember(string json, string member)
    {
        var start = json.IndexOf($"\"{member}\":", StringComparison.Ordinal);
        if (start < 0)
        {
            return json;
        }

        var end = json.IndexOfAny([',', '}'], start);
        return end < 0 ? json[..start] : json.Remove(start, end - start + (json[end] == ',' ? 1 : 0));
    }

    private static string ReplaceValue(string json, string member, string value)
    {
        var key = $"\"{member}\":";
        var start = json.IndexOf(key, StringComparison.Ordinal);
        if (start < 0)
        {
            return json;
        }

        start += key.Length;
        var end = json.IndexOfAny([',', '}'], start);
        return end < 0 ? json[..start] + value : json[..start] + value + json[end..];
    }

    /// <summary>UTF-8 bytes, sometimes with a BOM, an invalid byte sequence or UTF-16.</summary>
    private static byte[] Bytes(string text, Random random)
    {
        var bytes = random.Next(20) == 0 ? Encoding.Unicode.GetBytes(text) : Encoding.UTF8.GetBytes(text);
        return random.Next(12) switch
        {
            0 => [0xEF, 0xBB, 0xBF, .. bytes],
            1 when bytes.Length > 2 => [.. bytes[..(bytes.Length / 2)], 0xC3, 0x28, 0xFF, .. bytes[(bytes.Length / 2)..]],
            _ => bytes,
        };
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "...";

    [Fact]
    public void Fuzz_Generators_AreDeterministicForASeed()
    {
        var a = new Random(7);
        var b = new Random(7);
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(MutatedArray(a), MutatedArray(b));
            Assert.Equal(MutatedObject(a), MutatedObject(b));
        }
    }
}

/// <summary>Allocation of one batch request at the row limit, and of the issue's 29.7 MB <c>[{},{},...]</c> (9.9M rows).</summary>
[Collection(HttpFuzzGroup.Name)]
public sealed class BatchLimitAllocationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task MapPredictBatch_HugeBodyOfEmptyRows_AllocatesFarLessThanItsSize()
    {
        await using var app = await TestApps.StartAsync(
            b => b.Services.AddModel<IrisFlower, IrisPrediction>("iris", o => o.Source = ModelSource.FromFile(TestApps.IrisMlp)),
            app => app.MapPredictBatch<IrisFlower, IrisPrediction>("/predict/batch", "iris"),
            "http://127.0.0.1:0"); // Kestrel: the in-memory TestServer would buffer the whole body in its own pipe
        using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        var row = """{"sepalLength":5.1,"sepalWidth":3.5,"petalLength":1.4,"petalWidth":0.2}""";
        var atLimit = Encoding.UTF8.GetBytes("[" + string.Join(',', Enumerable.Repeat(row, PredictEndpointOptions.DefaultMaxBatchRows)) + "]");
        var huge = Encoding.UTF8.GetBytes("[" + string.Join(',', Enumerable.Repeat("{}", 9_900_000)) + "]");

        await SendAsync(client, atLimit); // warm-up: JIT, model session, pools
        var (limitStatus, limitBytes) = await SendAsync(client, atLimit);
        var (hugeStatus, hugeBytes) = await SendAsync(client, huge);
        output.WriteLine($"1,024 rows ({atLimit.Length:N0} B): {limitStatus}, {limitBytes:N0} B allocated; 9.9M rows of {{}} ({huge.Length:N0} B): {hugeStatus}, {hugeBytes:N0} B allocated");

        Assert.Equal(200, limitStatus);
        Assert.Equal(413, hugeStatus);
        Assert.True(hugeBytes < huge.Length / 4, $"{hugeBytes:N0} B allocated for a {huge.Length:N0} B body answered 413");
    }

    private static async Task<(int Status, long Allocated)> SendAsync(HttpClient client, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        var before = GC.GetTotalAllocatedBytes(precise: true);
        using var response = await client.PostAsync("/predict/batch", content);
        _ = await response.Content.ReadAsByteArrayAsync();
        return ((int)response.StatusCode, GC.GetTotalAllocatedBytes(precise: true) - before);
    }
}
