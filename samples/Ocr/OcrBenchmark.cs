using System.Diagnostics;
using System.Globalization;

namespace Ocr;

/// <summary>
/// <c>dotnet run -c Release --project samples/Ocr -- --bench [--seconds 20] [--concurrency 8] [--lines 6]</c>: a
/// rendered page of <c>--lines</c> lines sent by <c>--concurrency</c> callers through the pipeline for
/// <c>--seconds</c>, once with cls/rec batching on and once off; prints images/s and the mean time of each stage.
/// <c>--modes off,on</c> changes the order; <c>--save page.png</c> only writes the rendered page.
/// </summary>
internal static class OcrBenchmark
{
    /// <summary>Runs both modes and prints a Markdown table.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = Arg(args, "--seconds", 20);
        var concurrency = Arg(args, "--concurrency", 8);
        var lineCount = Arg(args, "--lines", 6);
        var lines = Enumerable.Range(0, lineCount)
            .Select(i => ($"Invoice {1000 + (i * 37)} total {(i * 13) + 7}.{i}5 EUR", 20, 20 + (i * 50), false)).ToArray();
        var page = TextImage.Render(640, 40 + (lineCount * 50), 28, lines);
        if (Array.IndexOf(args, "--save") is var at and >= 0 && at + 1 < args.Length)
        {
            // Only write the page (to try the running app with curl) and exit.
            // dotnet run starts the app in the project's folder: say where the file went.
            var path = Path.GetFullPath(args[at + 1]);
            await File.WriteAllBytesAsync(path, page).ConfigureAwait(false);
            Console.WriteLine($"wrote {path}");
            return 0;
        }

        Console.WriteLine($"OCR load: 640x{40 + (lineCount * 50)} PNG, {lineCount} lines, {concurrency} callers, {seconds} s per mode, {Environment.ProcessorCount} cores");
        Console.WriteLine();
        Console.WriteLine("| cls/rec batching | images/s | lines/image | pre ms | det ms | post ms | cls ms | rec ms | total ms (mean) | cls runs (mean crops) | rec runs (mean crops) |");
        Console.WriteLine("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        // --modes on,off (the default order) or off,on: each mode runs in a fresh host, one after the other.
        var modes = Array.IndexOf(args, "--modes") is var m and >= 0 && m + 1 < args.Length ? args[m + 1].Split(',') : ["on", "off"];
        foreach (var batching in modes.Select(x => x.Trim() == "on"))
        {
            await RunModeAsync(args, page, batching, seconds, concurrency).ConfigureAwait(false);
        }

        return 0;
    }

    private static async Task RunModeAsync(string[] args, byte[] page, bool batching, int seconds, int concurrency)
    {
        var builder = Host.CreateApplicationBuilder(args.Where(a => !a.StartsWith("--", StringComparison.Ordinal) || a.Contains('=', StringComparison.Ordinal)).ToArray());
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration[$"{OcrOptions.Section}:Batching"] = batching ? "true" : "false";
        builder.Services.AddOcr(builder.Configuration.GetSection(OcrOptions.Section), builder.Environment.ContentRootPath);
        using var host = builder.Build();
        using var batches = new BatchCounter();
        await host.StartAsync().ConfigureAwait(false);
        var pipeline = host.Services.GetRequiredService<OcrPipeline>();

        // Warm-up, then the timed run.
        for (var i = 0; i < 3; i++)
        {
            await pipeline.RecognizeAsync(page, CancellationToken.None).ConfigureAwait(false);
        }

        batches.Reset();
        var results = new List<OcrResult>[concurrency];
        var clock = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(c => Task.Run(async () =>
        {
            results[c] = [];
            while (clock.Elapsed < until)
            {
                results[c].Add(await pipeline.RecognizeAsync(page, CancellationToken.None).ConfigureAwait(false));
            }
        }))).ConfigureAwait(false);
        var elapsed = clock.Elapsed.TotalSeconds;
        await host.StopAsync().ConfigureAwait(false);

        var all = results.SelectMany(r => r).ToList();
        var t = all.Select(r => r.Timings).ToList();
        var (clsRuns, clsCrops) = batches.Of(OcrModelNames.Classifier);
        var (recRuns, recCrops) = batches.Of(OcrModelNames.Recognizer);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {(batching ? "on" : "off")} | {all.Count / elapsed:F1} | {all.Average(r => r.Lines.Count):F1} | {t.Average(x => x.Pre):F1} | {t.Average(x => x.Det):F1} | {t.Average(x => x.Post):F1} | {t.Average(x => x.Cls):F1} | {t.Average(x => x.Rec):F1} | {t.Average(x => x.Total):F1} | {Runs(clsRuns, clsCrops)} | {Runs(recRuns, recCrops)} |"));

        static string Runs(long runs, long crops) => runs == 0 ? "n/a (no batcher)" : string.Create(CultureInfo.InvariantCulture, $"{runs} ({(double)crops / runs:F1})");
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v) ? v : fallback;
    }
}
