using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace ModelInService.Benchmarks.Load;

/// <summary>
/// Native AOT against the JIT (issue 18), the same code published both ways and run as child processes:
/// <list type="bullet">
/// <item>in-process: tests/ModelInService.AotBench (a generic host, the iris MLP batched, 64 closed-loop callers through
/// <c>IPredictor</c>): start-up to the first answer, working set after 10k requests, requests/s;</item>
/// <item>over HTTP: samples/AotApi (batched and monitored): process start to the first answered POST /predict,
/// requests/s and p99 from the <c>http-client</c> child (closed loop), working set after the load;</item>
/// <item>the size of what is deployed: the native executable against the JIT app's assemblies.</item>
/// </list>
/// Rounds alternate JIT and AOT. Start-up and working set are medians over rounds; requests/s the best round.
/// <code>
/// dotnet run -c Release --project tests/ModelInService.Benchmarks -- aot [--seconds 5] [--callers 64] [--rounds 3] [--dir PATH] [--no-publish]
/// </code>
/// </summary>
internal static class AotCommand
{
    private const string Flower = "{\"sepalLength\":5.1,\"sepalWidth\":3.5,\"petalLength\":1.4,\"petalWidth\":0.2}";

    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = Value(args, "--seconds") is { } s ? double.Parse(s, CultureInfo.InvariantCulture) : 5;
        var callers = Value(args, "--callers") is { } c ? int.Parse(c, CultureInfo.InvariantCulture) : 64;
        var rounds = Value(args, "--rounds") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : 3;
        var dir = Value(args, "--dir") ?? Path.Combine(Path.GetTempPath(), "mis-aot-bench");
        var model = Paths.RepoModel("iris_mlp.onnx");
        var started = Stopwatch.GetTimestamp();

        var bench = Path.Combine(Paths.RepoRoot, "tests", "ModelInService.AotBench", "ModelInService.AotBench.csproj");
        var api = Path.Combine(Paths.RepoRoot, "samples", "AotApi", "AotApi.csproj");
        var flavors = new[] { "jit", "aot" };
        if (!args.Contains("--no-publish"))
        {
            foreach (var flavor in flavors)
            {
                await PublishAsync(bench, Path.Combine(dir, "bench-" + flavor), flavor == "aot");
                await PublishAsync(api, Path.Combine(dir, "api-" + flavor), flavor == "aot");
            }
        }

        var rows = new Dictionary<string, List<Measure>> { ["jit"] = [], ["aot"] = [] };
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var flavor in flavors)
            {
                var inProcess = JsonSerializer.Deserialize<InProcessResult>(await RunToEndAsync(
                    Path.Combine(dir, "bench-" + flavor, "ModelInService.AotBench"),
                    model, seconds.ToString(CultureInfo.InvariantCulture), callers.ToString(CultureInfo.InvariantCulture), "10000"))!;
                var http = await RunHttpAsync(Path.Combine(dir, "api-" + flavor), callers, seconds);
                var measure = new Measure(inProcess, http);
                rows[flavor].Add(measure);
                Console.WriteLine(Invariant($"  round {round} {flavor}: in-process start {inProcess.StartupMs:0} ms, {inProcess.RequestsPerSec:N0} req/s, {inProcess.WorkingSetMb:0.0} MB after 10k; HTTP start {http.StartupMs:0} ms, {http.Client.RequestsPerSec:N0} req/s, p99 {http.Client.P99Ms:0.##} ms, {http.WorkingSetMb:0.0} MB after {http.Client.TotalRequests:N0} requests, errors {http.Client.Errors}"));
            }
        }

        var jit = rows["jit"];
        var aot = rows["aot"];
        var table = new (string Metric, Func<List<Measure>, double> Value, string Format)[]
        {
            ("in-process: start-up to first prediction (ms, median)", m => Median(m, x => x.InProcess.StartupMs), "0"),
            ("in-process: working set after 10k requests (MB, median)", m => Median(m, x => x.InProcess.WorkingSetMb), "0.0"),
            ("in-process: requests/s, batched, 64 callers (best round)", m => m.Max(x => x.InProcess.RequestsPerSec), "N0"),
            ("HTTP: process start to first answered POST /predict (ms, median)", m => Median(m, x => x.Http.StartupMs), "0"),
            ("HTTP: requests/s, batched, 64 callers (best round)", m => m.Max(x => x.Http.Client.RequestsPerSec), "N0"),
            ("HTTP: p99 latency (ms, median)", m => Median(m, x => x.Http.Client.P99Ms), "0.00"),
            ("HTTP: working set after the load (MB, median)", m => Median(m, x => x.Http.WorkingSetMb), "0.0"),
        };

        Console.WriteLine();
        Console.WriteLine("| | JIT | Native AOT | AOT / JIT |");
        Console.WriteLine("|---|--:|--:|--:|");
        foreach (var (metric, value, format) in table)
        {
            var j = value(jit);
            var a = value(aot);
            Console.WriteLine(Invariant($"| {metric} | {j.ToString(format, CultureInfo.InvariantCulture)} | {a.ToString(format, CultureInfo.InvariantCulture)} | {a / j:0.00}x |"));
        }

        var apiJit = DeployedBytes(Path.Combine(dir, "api-jit"));
        var apiAot = DeployedBytes(Path.Combine(dir, "api-aot"));
        Console.WriteLine(Invariant($"| AotApi deployed, without ONNX Runtime's native library and the model (MB) | {apiJit.App / 1e6:0.0} (+ the shared .NET and ASP.NET Core runtimes) | {apiAot.App / 1e6:0.0} (self-contained) | {apiAot.App / (double)apiJit.App:0.00}x |"));
        Console.WriteLine(Invariant($"| ONNX Runtime's native library (MB, both) | {apiJit.Ort / 1e6:0.0} | {apiAot.Ort / 1e6:0.0} | |"));
        Console.WriteLine();
        Console.WriteLine(Invariant($"Rounds: {rounds}, {seconds} s per load, {callers} callers, on {Environment.ProcessorCount} cores. Total time: {Stopwatch.GetElapsedTime(started).TotalSeconds:0} s"));
        return 0;
    }

    private static async Task PublishAsync(string project, string output, bool aot)
    {
        Console.WriteLine($"publishing {Path.GetFileNameWithoutExtension(project)} ({(aot ? "Native AOT" : "JIT")}) to {output}");
        var watch = Stopwatch.StartNew();
        // The projects set PublishAot; a global -p:PublishAot=true would reach the (netstandard2.0) generator project too.
        string[] publish = ["publish", project, "-c", "Release", "-o", output, "-nologo", "-v:q"];
        _ = await RunToEndAsync("dotnet", aot ? publish : [.. publish, "-p:PublishAot=false"]);
        Console.WriteLine(Invariant($"  {watch.Elapsed.TotalSeconds:0} s"));
    }

    private static async Task<HttpResult> RunHttpAsync(string folder, int callers, double seconds)
    {
        var port = FreePort();
        var url = $"http://127.0.0.1:{port}";
        var start = new ProcessStartInfo(Path.Combine(folder, "AotApi")) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(url);
        start.Environment["Logging__LogLevel__Default"] = "Warning";

        // Development: the sample opens its monitor without an authentication scheme only there (else it refuses to start).
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        using var client = new HttpClient();
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        try
        {
            double startupMs;
            while (true)
            {
                try
                {
                    using var content = new StringContent(Flower, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
                    using var response = await client.PostAsync(new Uri(url + "/predict"), content);
                    if (response.IsSuccessStatusCode)
                    {
                        startupMs = watch.Elapsed.TotalMilliseconds;
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                }

                if (process.HasExited || watch.Elapsed > TimeSpan.FromSeconds(60))
                {
                    throw new InvalidOperationException($"{folder}/AotApi did not answer within 60 s.");
                }

                await Task.Delay(2);
            }

            var result = JsonSerializer.Deserialize<ClientResult>(await SelfProcess.RunAsync("http-client", url + "/predict", callers.ToString(CultureInfo.InvariantCulture), seconds.ToString(CultureInfo.InvariantCulture), "named"))!;
            return new HttpResult(startupMs, result, ResidentMb(process.Id));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private static async Task<string> RunToEndAsync(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var text = await stdout;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed (exit {process.ExitCode}): {text} {await stderr}");
        }

        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith('{')) ?? text;
    }

    // What runs on linux-x64: the top folder's executables and assemblies (not symbols, docs, settings or the model)
    // and ONNX Runtime's library for linux-x64 (the JIT publish is portable: runtimes/ holds every platform's copy).
    private static (long App, long Ort) DeployedBytes(string folder)
    {
        long app = 0, ort = 0;
        foreach (var file in new DirectoryInfo(folder).EnumerateFiles())
        {
            if (file.Name.StartsWith("libonnxruntime", StringComparison.Ordinal))
            {
                ort += file.Length;
            }
            else if (file.Extension is not (".dbg" or ".pdb" or ".xml" or ".onnx" or ".json" or ".config"))
            {
                app += file.Length;
            }
        }

        var native = new DirectoryInfo(Path.Combine(folder, "runtimes", "linux-x64", "native"));
        if (native.Exists)
        {
            foreach (var file in native.EnumerateFiles("libonnxruntime*"))
            {
                ort += file.Length;
            }
        }

        return (app, ort);
    }

    private static double ResidentMb(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        return double.NaN;
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static double Median(List<Measure> rows, Func<Measure, double> value)
    {
        var values = rows.Select(value).Order().ToArray();
        return values.Length % 2 == 1 ? values[values.Length / 2] : (values[(values.Length / 2) - 1] + values[values.Length / 2]) / 2;
    }

    private static string? Value(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed record Measure(InProcessResult InProcess, HttpResult Http);

    private sealed record HttpResult(double StartupMs, ClientResult Client, double WorkingSetMb);

    private sealed class InProcessResult
    {
        public double StartupMs { get; set; }

        public double WorkingSetMb { get; set; }

        public double RequestsPerSec { get; set; }
    }
}
