using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace ModelInService.Benchmarks.Load;

/// <summary>
/// HTTP level: loopback Kestrel in this process serving the iris MLP through minimal-API endpoints (ModelInService
/// with batching, ModelInService without batching, the same endpoint calling <c>InferenceSession.Run</c> per request,
/// and a no-model endpoint for the HTTP stack's own ceiling), driven by an <c>HttpClient</c> load generator in a child
/// process so that its CPU is measured apart from the server's.
/// <code>
/// dotnet run -c Release --project tests/ModelInService.Benchmarks -- http [--seconds 5] [--callers 64] [--rounds 3] [--quick] [--json PATH]
/// </code>
/// </summary>
internal static class HttpBench
{
    private static readonly string[] InputNames = ["features"];
    private static readonly string[] OutputNames = ["label", "probabilities"];
    private static readonly long[] Shape = [1, 4];

    private static readonly JsonSerializerOptions JsonOut = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static async Task<int> RunAsync(string[] args)
    {
        var quick = args.Contains("--quick");
        var seconds = Value(args, "--seconds") is { } s ? double.Parse(s, CultureInfo.InvariantCulture) : quick ? 1.5 : 5;
        var callers = Value(args, "--callers") is { } c ? int.Parse(c, CultureInfo.InvariantCulture) : 64;
        var rounds = Value(args, "--rounds") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : quick ? 1 : 3;
        var jsonPath = Value(args, "--json");
        var started = Stopwatch.GetTimestamp();
        var path = Paths.RepoModel("iris_mlp.onnx");

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Services.AddModel<IrisInput, IrisOutput>("batched", o => o.Source = ModelSource.FromFile(path)).UseBatching();
        builder.Services.AddModel<IrisInput, IrisOutput>("plain", o => o.Source = ModelSource.FromFile(path));
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.CamelCase);
        await using var app = builder.Build();

        // The naive endpoint: what a user writes without the library (the better naive variant of the load mode for
        // this model: one shared session, intra-op 1; OrtValue API).
        using var session = RawOrt.CreateSession(path, 1);
        using var runOptions = new RunOptions();
        var fixedOutput = new IrisOutput { Label = 0, Probabilities = [0.9f, 0.05f, 0.05f] };
        app.MapPost("/batched", ([FromBody] IrisInput input, [FromKeyedServices("batched")] IPredictor<IrisInput, IrisOutput> predictor, CancellationToken ct) => predictor.PredictAsync(input, ct));
        app.MapPost("/plain", ([FromBody] IrisInput input, [FromKeyedServices("plain")] IPredictor<IrisInput, IrisOutput> predictor, CancellationToken ct) => predictor.PredictAsync(input, ct));
        app.MapPost("/naive", ([FromBody] IrisInput input) =>
        {
            using var value = OrtValue.CreateTensorValueFromMemory(input.Features, Shape);
            using var results = session.Run(runOptions, InputNames, [value], OutputNames);
            return new IrisOutput
            {
                Label = results[0].GetTensorDataAsSpan<long>()[0],
                Probabilities = results[1].GetTensorDataAsSpan<float>().ToArray(),
            };
        });
        app.MapPost("/noop", ([FromBody] IrisInput input) => fixedOutput);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        Console.WriteLine("# ModelInService HTTP harness" + (quick ? " (--quick)" : ""));
        Console.WriteLine();
        Console.WriteLine(Invariant($"Server: Kestrel on {address} in this process (workstation GC), minimal API, System.Text.Json; iris MLP. Client: HttpClient (SocketsHttpHandler, HTTP/1.1, {callers} connections) in a child process, {callers} closed-loop callers, {seconds:0.#} s per window after 1 s of warm-up, {rounds} interleaved round(s)."));
        Console.WriteLine($"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}, ONNX Runtime {OrtEnv.Instance().GetVersionString()}");
        Console.WriteLine();

        string[] endpoints = ["naive", "batched", "plain", "noop"];
        var results = new List<HttpRow>();
        for (var round = 1; round <= rounds; round++)
        {
            // Rotate the order so that a slow period does not always hit the same endpoint.
            foreach (var endpoint in endpoints.Skip(round - 1).Concat(endpoints.Take(round - 1)))
            {
                GC.Collect();
                var serverStart = ProcessCounters.Take();
                var client = await RunClientAsync(address + "/" + endpoint, callers, seconds);
                var serverEnd = ProcessCounters.Take();
                var serverCpu = (serverEnd.ProcessCpu - serverStart.ProcessCpu).TotalSeconds;
                var row = new HttpRow
                {
                    Endpoint = endpoint,
                    Round = round,
                    RequestsPerSec = client.RequestsPerSec,
                    P50Ms = client.P50Ms,
                    P99Ms = client.P99Ms,
                    Errors = client.Errors,
                    ClientCores = client.ClientCpuSeconds / client.Seconds,
                    ClientCpuUsPerRequest = client.Requests == 0 ? double.NaN : client.ClientCpuSeconds * 1e6 / client.Requests,

                    // The server's CPU over the whole client run (warm-up included) per request of the whole run.
                    ServerCpuUsPerRequest = client.TotalRequests == 0 ? double.NaN : serverCpu * 1e6 / client.TotalRequests,
                    ServerBytesPerRequest = client.TotalRequests == 0 ? double.NaN : (serverEnd.AllocatedBytes - serverStart.AllocatedBytes) / (double)client.TotalRequests,
                };
                results.Add(row);
                Console.WriteLine(Invariant($"  round {round} {endpoint,-8} {row.RequestsPerSec,10:N0} req/s  p50 {row.P50Ms,7:0.###} ms  p99 {row.P99Ms,7:0.###} ms  errors {row.Errors}  server {row.ServerCpuUsPerRequest,6:0.0} us CPU/req, {row.ServerBytesPerRequest,6:N0} B/req  client {row.ClientCpuUsPerRequest,6:0.0} us CPU/req ({row.ClientCores:0.00} cores)"));
            }
        }

        await app.StopAsync();

        var best = endpoints.Select(e => results.Where(x => x.Endpoint == e).MaxBy(x => x.RequestsPerSec)!).ToList();
        var naive = best.First(b => b.Endpoint == "naive");
        foreach (var row in best)
        {
            row.RatioToNaive = row.RequestsPerSec / naive.RequestsPerSec;
        }

        Console.WriteLine();
        Console.WriteLine("| endpoint | requests/s (best round) | rounds | p50 ms | p99 ms | x naive | server CPU us/req | server B/req | client CPU us/req (client cores) |");
        Console.WriteLine("|---|--:|---|--:|--:|--:|--:|--:|--:|");
        foreach (var row in best)
        {
            var perRound = string.Join(" / ", results.Where(x => x.Endpoint == row.Endpoint).Select(x => x.RequestsPerSec.ToString("N0", CultureInfo.InvariantCulture)));
            Console.WriteLine(Invariant($"| {Describe(row.Endpoint)} | {row.RequestsPerSec:N0} | {perRound} | {row.P50Ms:0.###} | {row.P99Ms:0.###} | {row.RatioToNaive:0.00} | {row.ServerCpuUsPerRequest:0.0} | {row.ServerBytesPerRequest:N0} | {row.ClientCpuUsPerRequest:0.0} ({row.ClientCores:0.00}) |"));
        }

        var batched = best.First(b => b.Endpoint == "batched");
        Console.WriteLine();
        Console.WriteLine(Invariant($"Batched / naive over HTTP: {batched.RatioToNaive:0.00}x requests/s, p99 {batched.P99Ms:0.###} vs {naive.P99Ms:0.###} ms. The no-model endpoint is the ceiling of this HTTP stack + client on these 2 cores: {best.First(b => b.Endpoint == "noop").RequestsPerSec:N0} req/s."));
        var elapsed = Stopwatch.GetElapsedTime(started);
        Console.WriteLine(Invariant($"Total time: {elapsed.TotalSeconds:0} s"));
        if (jsonPath is not null)
        {
            var document = new { command = "http " + string.Join(' ', args), callers, seconds, rounds, rows = results, best, total_seconds = elapsed.TotalSeconds };
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(document, JsonOut));
            Console.WriteLine($"Wrote {jsonPath}");
        }

        return 0;
    }

    private static string Describe(string endpoint) => endpoint switch
    {
        "naive" => "naive: InferenceSession.Run per request",
        "batched" => "ModelInService, UseBatching()",
        "plain" => "ModelInService, no batching",
        _ => "no model (fixed answer): HTTP ceiling",
    };

    private static async Task<ClientResult> RunClientAsync(string url, int callers, double seconds) =>
        JsonSerializer.Deserialize<ClientResult>(await SelfProcess.RunAsync("http-client", url, callers.ToString(CultureInfo.InvariantCulture), seconds.ToString(CultureInfo.InvariantCulture)))!;

    /// <summary>The child process: closed-loop HttpClient callers against one URL; prints one JSON line.</summary>
    public static async Task<int> ClientAsync(string[] args)
    {
        var url = args[0];
        var callers = int.Parse(args[1], CultureInfo.InvariantCulture);
        var seconds = double.Parse(args[2], CultureInfo.InvariantCulture);
        ThreadPool.SetMinThreads(Math.Max(Environment.ProcessorCount, 4), 4);
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = callers, PooledConnectionLifetime = Timeout.InfiniteTimeSpan, UseProxy = false };
        using var client = new HttpClient(handler) { BaseAddress = null };
        var random = new Random(42);
        // "named" (a fourth argument): the samples' IrisFlower with one JSON member per feature (samples/AotApi).
        var named = args.Length > 3 && args[3] == "named";
        var bodies = Enumerable.Range(0, 256).Select(_ =>
        {
            var (a, b, c, d) = (4.3f + (3.6f * random.NextSingle()), 2.0f + (2.4f * random.NextSingle()), 1.0f + (5.9f * random.NextSingle()), 0.1f + (2.4f * random.NextSingle()));
            return Encoding.UTF8.GetBytes(named
                ? string.Create(CultureInfo.InvariantCulture, $"{{\"sepalLength\":{a:0.###},\"sepalWidth\":{b:0.###},\"petalLength\":{c:0.###},\"petalWidth\":{d:0.###}}}")
                : string.Create(CultureInfo.InvariantCulture, $"{{\"features\":[{a:0.###},{b:0.###},{c:0.###},{d:0.###}]}}"));
        }).ToArray();
        var uri = new Uri(url);
        var phases = new Phases();
        var histograms = new LatencyHistogram[callers];
        long errors = 0;
        long total = 0;
        var tasks = new Task[callers];
        for (var i = 0; i < callers; i++)
        {
            histograms[i] = new LatencyHistogram();
            var id = i;
            tasks[i] = Task.Run(async () =>
            {
                var k = id * 37;
                while (phases.Current != Phases.Stopped)
                {
                    using var content = new ByteArrayContent(bodies[k++ & 255]);
                    content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                    var t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        using var response = await client.PostAsync(uri, content);
                        _ = await response.Content.ReadAsByteArrayAsync();
                        if (!response.IsSuccessStatusCode)
                        {
                            Interlocked.Increment(ref errors);
                            continue;
                        }
                    }
                    catch (HttpRequestException)
                    {
                        Interlocked.Increment(ref errors);
                        continue;
                    }

                    Interlocked.Increment(ref total);
                    if (phases.Current == Phases.Measuring)
                    {
                        histograms[id].RecordTicks(Stopwatch.GetTimestamp() - t0);
                    }
                }
            });
        }

        var controller = phases.Run(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(seconds));
        controller.Join();
        await Task.WhenAll(tasks);
        var merged = new LatencyHistogram();
        foreach (var h in histograms)
        {
            merged.Add(h);
        }

        var window = (phases.End.Timestamp - phases.Start.Timestamp) / (double)Stopwatch.Frequency;
        var result = new ClientResult
        {
            Requests = merged.Count,
            TotalRequests = Interlocked.Read(ref total),
            Seconds = window,
            RequestsPerSec = merged.Count / window,
            P50Ms = merged.PercentileMs(50),
            P99Ms = merged.PercentileMs(99),
            Errors = errors,
            ClientCpuSeconds = (phases.End.ProcessCpu - phases.Start.ProcessCpu).TotalSeconds,
        };
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    private static string? Value(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

internal sealed class ClientResult
{
    public long Requests { get; set; }

    public long TotalRequests { get; set; }

    public double Seconds { get; set; }

    public double RequestsPerSec { get; set; }

    public double P50Ms { get; set; }

    public double P99Ms { get; set; }

    public long Errors { get; set; }

    public double ClientCpuSeconds { get; set; }
}

internal sealed class HttpRow
{
    public required string Endpoint { get; init; }

    public int Round { get; init; }

    public double RequestsPerSec { get; init; }

    public double P50Ms { get; init; }

    public double P99Ms { get; init; }

    public long Errors { get; init; }

    public double ClientCores { get; init; }

    public double ClientCpuUsPerRequest { get; init; }

    public double ServerCpuUsPerRequest { get; init; }

    public double ServerBytesPerRequest { get; init; }

    public double RatioToNaive { get; set; }
}

/// <summary>Runs this benchmark program again as a child process and returns the last JSON line it prints.</summary>
internal static class SelfProcess
{
    public static async Task<string> RunAsync(params string[] args)
    {
        var self = Environment.ProcessPath!;
        var start = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(System.Reflection.Assembly.GetExecutingAssembly().Location);
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var text = await stdout;
        var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith('{'));
        if (process.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"The child process ({string.Join(' ', args)}) failed (exit {process.ExitCode}): {text} {await stderr}");
        }

        return line;
    }
}
