using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ModelInService.Caching;
using ModelInService.Hosting;
using ModelInService.Redis;
using ModelInService.Redis.Caching;
using StackExchange.Redis;

namespace ModelInService.Benchmarks.Load;

/// <summary>
/// <c>l2-cache</c>: the Redis L2 prediction cache on a Zipf stream. 1, 2 and 3 replicas (hosts in this process, each
/// with its own local LRU) take the stream round-robin, as behind a load balancer, with a local-only cache and with the
/// shared L2; then the cost per prediction of the L2 lookup on a miss (all-unique inputs, L2 vs local-only). Starts a
/// private redis-server on a free port unless <c>--redis host:port</c> is given.
/// </summary>
/// <remarks>
/// Options: <c>--requests 30000 --distinct 20000 --zipf 1.0 --local-entries 1000 --timeout-ms 10 --redis host:port</c>.
/// </remarks>
internal static class L2CacheLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        var requests = Int(args, "--requests", 30_000);
        var distinct = Int(args, "--distinct", 20_000);
        var localEntries = Int(args, "--local-entries", 1_000);
        var timeoutMs = Int(args, "--timeout-ms", 10);
        var zipf = double.Parse(Arg(args, "--zipf") ?? "1.0", CultureInfo.InvariantCulture);
        var configuration = Arg(args, "--redis");
        using var server = configuration is null ? RedisServer.Start() : null;
        configuration ??= server!.Configuration;

        Console.WriteLine($"l2-cache: iris_mlp, {requests} requests, Zipf s={zipf} over {distinct} inputs, local LRU {localEntries} entries per replica, L2 lookup timeout {timeoutMs} ms, Redis {configuration}");
        Console.WriteLine($"{Environment.ProcessorCount} cores, .NET {Environment.Version}");
        var stream = ZipfStream(requests, distinct, zipf, seed: 16);

        Console.WriteLine();
        Console.WriteLine("| replicas | cache | hit rate (local + L2) | local hits | L2 hits | mean µs | p50 µs | p99 µs |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|---:|");
        foreach (var replicas in new[] { 1, 2, 3 })
        {
            foreach (var l2 in new[] { false, true })
            {
                await FlushAsync(configuration);
                await RunStreamAsync(configuration, replicas, l2, localEntries, timeoutMs, stream);
            }
        }

        Console.WriteLine();
        Console.WriteLine("Cost of the L2 lookup on a miss (all-unique inputs, 1 replica, cache bypass off):");
        Console.WriteLine("| cache | mean µs | p50 µs | p99 µs |");
        Console.WriteLine("|---|---:|---:|---:|");
        var unique = Enumerable.Range(distinct, Math.Min(requests, 20_000)).ToArray();
        await FlushAsync(configuration);
        var local = await MissCostAsync(configuration, l2: false, localEntries, timeoutMs, unique);
        await FlushAsync(configuration);
        var shared = await MissCostAsync(configuration, l2: true, localEntries, timeoutMs, unique.Select(i => i + unique.Length).ToArray());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"L2 cost per miss: {shared.Mean - local.Mean:F1} µs mean, {shared.P50 - local.P50:F1} µs p50"));
        return 0;
    }

    private static async Task RunStreamAsync(string configuration, int replicas, bool l2, int localEntries, int timeoutMs, int[] stream)
    {
        var hosts = new List<(IHost Host, IPredictor<IrisInput, IrisOutput> Predictor, ICacheCounters Local, RedisSharedCacheStore? L2)>();
        for (var r = 0; r < replicas; r++)
        {
            hosts.Add(await StartAsync(configuration, l2, localEntries, timeoutMs));
        }

        try
        {
            // Warm-up: a different part of the input space, so it does not fill the caches with the stream's inputs.
            foreach (var (_, predictor, _, _) in hosts)
            {
                for (var i = 0; i < 500; i++)
                {
                    await predictor.PredictAsync(Input(10_000_000 + i));
                }
            }

            var localBefore = hosts.Sum(h => h.Local.Hits);
            var l2Before = hosts.Sum(h => h.L2?.Statistics.Hits ?? 0);
            var latencies = new double[stream.Length];
            for (var i = 0; i < stream.Length; i++)
            {
                var predictor = hosts[i % replicas].Predictor;
                var started = Stopwatch.GetTimestamp();
                await predictor.PredictAsync(Input(stream[i]));
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            }

            var localHits = hosts.Sum(h => h.Local.Hits) - localBefore;
            var l2Hits = hosts.Sum(h => h.L2?.Statistics.Hits ?? 0) - l2Before;
            var s = Summarize(latencies);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {replicas} | {(l2 ? "local + Redis L2" : "local only")} | {100.0 * (localHits + l2Hits) / stream.Length:F1}% | {100.0 * localHits / stream.Length:F1}% | {100.0 * l2Hits / stream.Length:F1}% | {s.Mean:F1} | {s.P50:F1} | {s.P99:F1} |"));
        }
        finally
        {
            foreach (var (host, _, _, _) in hosts)
            {
                await host.StopAsync();
                host.Dispose();
            }
        }
    }

    private static async Task<(double Mean, double P50, double P99)> MissCostAsync(string configuration, bool l2, int localEntries, int timeoutMs, int[] inputs)
    {
        var (host, predictor, _, store) = await StartAsync(configuration, l2, localEntries, timeoutMs);
        try
        {
            for (var i = 0; i < 1000; i++)
            {
                await predictor.PredictAsync(Input(20_000_000 + i));
            }

            var latencies = new double[inputs.Length];
            for (var i = 0; i < inputs.Length; i++)
            {
                var started = Stopwatch.GetTimestamp();
                await predictor.PredictAsync(Input(inputs[i]));
                latencies[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            }

            var s = Summarize(latencies);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {(l2 ? "local + Redis L2 (miss)" : "local only (miss)")} | {s.Mean:F1} | {s.P50:F1} | {s.P99:F1} |"));
            if (store is not null)
            {
                Console.WriteLine($"  L2: {store.Statistics}");
            }

            return s;
        }
        finally
        {
            await host.StopAsync();
            host.Dispose();
        }
    }

    private static async Task<(IHost, IPredictor<IrisInput, IrisOutput>, ICacheCounters, RedisSharedCacheStore?)> StartAsync(string configuration, bool l2, int localEntries, int timeoutMs)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var model = builder.Services.AddModel<IrisInput, IrisOutput>("iris", o => o.Source = ModelSource.FromFile(Paths.RepoModel("iris_mlp.onnx")))
            .UseCaching(o =>
            {
                o.MaxEntries = localEntries;
                o.BypassBelowHitRate = 0; // measure the cache itself, not its step-aside
            });
        if (l2)
        {
            model.UseRedisCache(o =>
            {
                o.Configuration = configuration;
                o.LookupTimeout = TimeSpan.FromMilliseconds(timeoutMs);
            });
        }

        var host = builder.Build();
        await host.StartAsync();
        var predictor = host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();
        var local = host.Services.GetRequiredService<ModelRegistry>().Get("iris").Features.Cache!.Statistics;
        RedisSharedCacheStore? store = null;
        if (l2)
        {
            store = (RedisSharedCacheStore)host.Services.GetRequiredKeyedService<ISharedCacheStore>("iris");
            await store.Connecting;
        }

        return (host, predictor, local, store);
    }

    /// <summary>Input number <paramref name="k"/>: distinct for every k below 10^8.</summary>
    private static IrisInput Input(int k) => new() { Features = [4 + (k % 1000 * 0.003f), 2 + (k / 1000 % 1000 * 0.002f), 1 + (k / 1_000_000 * 0.05f), 0.2f] };

    private static int[] ZipfStream(int count, int distinct, double s, int seed)
    {
        var cdf = new double[distinct];
        double sum = 0;
        for (var k = 0; k < distinct; k++)
        {
            sum += 1 / Math.Pow(k + 1, s);
            cdf[k] = sum;
        }

        var random = new Random(seed);
        var stream = new int[count];
        for (var i = 0; i < count; i++)
        {
            var index = Array.BinarySearch(cdf, random.NextDouble() * sum);
            stream[i] = index < 0 ? Math.Min(~index, distinct - 1) : index;
        }

        return stream;
    }

    private static (double Mean, double P50, double P99) Summarize(double[] latencies)
    {
        var sorted = latencies.Order().ToArray();
        return (latencies.Average(), sorted[sorted.Length / 2], sorted[(int)(sorted.Length * 0.99)]);
    }

    private static async Task FlushAsync(string configuration)
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(configuration + ",allowAdmin=true");
        foreach (var endpoint in connection.GetEndPoints())
        {
            await connection.GetServer(endpoint).FlushAllDatabasesAsync();
        }
    }

    private static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static int Int(string[] args, string name, int fallback) =>
        Arg(args, name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    /// <summary>A private redis-server on a free loopback port, killed on dispose.</summary>
    private sealed class RedisServer : IDisposable
    {
        private readonly Process _process;

        private RedisServer(Process process, int port)
        {
            _process = process;
            Configuration = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)},abortConnect=false";
        }

        public string Configuration { get; }

        public static RedisServer Start()
        {
            int port;
            using (var listener = new TcpListener(IPAddress.Loopback, 0))
            {
                listener.Start();
                port = ((IPEndPoint)listener.LocalEndpoint).Port;
            }

            var start = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxmemory", "256mb", "--maxmemory-policy", "volatile-lru" })
            {
                start.ArgumentList.Add(a);
            }

            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            for (var i = 0; i < 200; i++)
            {
                try
                {
                    using var probe = new TcpClient();
                    probe.Connect(IPAddress.Loopback, port);
                    break;
                }
                catch (SocketException)
                {
                    Thread.Sleep(25);
                }
            }

            return new RedisServer(process, port);
        }

        public void Dispose()
        {
            _process.Kill();
            _process.WaitForExit();
            _process.Dispose();
        }
    }
}
