using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelInService;

// dotnet run -c Release --project tests/ModelInService.AotBench -- MODEL_PATH [SECONDS] [CALLERS] [REQUESTS]
// dotnet run -c Release --project tests/ModelInService.AotBench -- --check MODEL_PATH [WARNING_MODEL_PATH]   (see CacheCopyCheck)
// Start-up: process start (as the OS saw it) to the first prediction answered. Then REQUESTS predictions from CALLERS
// closed-loop callers and the working set after them; then SECONDS of the same load for requests/s.
var started = Process.GetCurrentProcess().StartTime.ToUniversalTime();
if (args.Length > 1 && args[0] == "--check")
{
    return await CacheCopyCheck.RunAsync(Path.GetFullPath(args[1]), args.Length > 2 ? Path.GetFullPath(args[2]) : null);
}

var modelPath = args.Length > 0 ? Path.GetFullPath(args[0]) : throw new ArgumentException("Give the path of iris_mlp.onnx.");
var seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 3;
var callers = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 64;
var requests = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 10_000;

var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
builder.Services.AddModel<Flower, Species>("iris", o => o.Source = ModelSource.FromFile(modelPath)).UseBatching();
using var host = builder.Build();
await host.StartAsync();
var predictor = host.Services.GetRequiredKeyedService<IPredictor<Flower, Species>>("iris");
var first = await predictor.PredictAsync(new Flower { SepalLength = 5.1f, SepalWidth = 3.5f, PetalLength = 1.4f, PetalWidth = 0.2f });
var startupMs = (DateTime.UtcNow - started).TotalMilliseconds;
if (first.Label != 0)
{
    throw new InvalidOperationException($"Expected setosa (0), got {first.Label}.");
}

var flowers = new Flower[256];
var random = new Random(42);
for (var i = 0; i < flowers.Length; i++)
{
    flowers[i] = new Flower
    {
        SepalLength = 4.3f + (3.6f * random.NextSingle()),
        SepalWidth = 2.0f + (2.4f * random.NextSingle()),
        PetalLength = 1.0f + (5.9f * random.NextSingle()),
        PetalWidth = 0.1f + (2.4f * random.NextSingle()),
    };
}

// Fixed count: REQUESTS predictions, then the working set.
var remaining = requests;
await RunCallersAsync(() => Interlocked.Decrement(ref remaining) >= 0);
var workingSetMb = Environment.WorkingSet / (1024.0 * 1024.0);

// Timed: SECONDS of closed-loop load.
long done = 0;
var stopwatch = Stopwatch.StartNew();
var until = TimeSpan.FromSeconds(seconds);
await RunCallersAsync(() =>
{
    if (stopwatch.Elapsed >= until)
    {
        return false;
    }

    Interlocked.Increment(ref done);
    return true;
});
var elapsed = stopwatch.Elapsed.TotalSeconds;
await host.StopAsync();

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{{\"StartupMs\":{startupMs:0.0},\"WorkingSetMb\":{workingSetMb:0.0},\"RequestsPerSec\":{done / elapsed:0},\"Requests\":{requests},\"Callers\":{callers},\"Seconds\":{elapsed:0.00}}}"));
return 0;

async Task RunCallersAsync(Func<bool> next)
{
    var tasks = new Task[callers];
    for (var c = 0; c < callers; c++)
    {
        var k = c * 37;
        tasks[c] = Task.Run(async () =>
        {
            while (next())
            {
                _ = await predictor.PredictAsync(flowers[k++ & 255]);
            }
        });
    }

    await Task.WhenAll(tasks);
}

/// <summary>The four features, packed in this order into the model's float32 [batch,4] input "features".</summary>
[ModelSchema]
internal sealed class Flower
{
    [ModelInput("features")] public float SepalLength { get; set; }

    [ModelInput("features")] public float SepalWidth { get; set; }

    [ModelInput("features")] public float PetalLength { get; set; }

    [ModelInput("features")] public float PetalWidth { get; set; }
}

/// <summary>The predicted class and its probabilities.</summary>
[ModelSchema]
internal sealed class Species
{
    [ModelOutput("label")] public long Label { get; set; }

    [ModelOutput("probabilities")] public float[] Probabilities { get; set; } = [];
}

/// <summary>The ZipMap export's input.</summary>
[ModelSchema]
internal sealed class ZipFlower
{
    [ModelInput("float_input")] public float[] Features { get; set; } = [];
}

/// <summary>The ZipMap export's label and per-class probability map.</summary>
[ModelSchema]
internal sealed class ZipSpecies
{
    [ModelOutput("output_label")] public long Label { get; set; }

    [ModelOutput("output_probability")] public IReadOnlyDictionary<long, float> Probabilities { get; set; } = new Dictionary<long, float>();
}

/// <summary>An immutable output (one init-only member): the cache may hand the same instance to every caller.</summary>
[ModelSchema]
internal sealed class LabelOnly
{
    [ModelOutput("label")] public long Label { get; init; }
}

/// <summary>
/// Backs the one trimming suppression of the library (OutputCopier's immutability check reads an output type's fields,
/// IL2070/IL2075): that check runs only with dynamic code; under Native AOT cached outputs are always copied, so a
/// field the trimmer removed can never make a mutable output pass for immutable. Run on both builds: the JIT shares
/// an immutable output from the cache (the check is live there), the native build never shares one. Exit 1 otherwise.
/// </summary>
internal static class CacheCopyCheck
{
    /// <param name="modelPath">The repository's iris_mlp.onnx (iris_mlp_zipmap.onnx is read next to it).</param>
    /// <param name="warningModelPath">A model ONNX Runtime warns about while loading (an opset-6 export from ../shared), or null to skip that check.</param>
    public static async Task<int> RunAsync(string modelPath, string? warningModelPath)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddModel<Flower, LabelOnly>("cached", o => o.Source = ModelSource.FromFile(modelPath)).UseCaching();
        using var host = builder.Build();
        await host.StartAsync();
        var predictor = host.Services.GetRequiredKeyedService<IPredictor<Flower, LabelOnly>>("cached");
        var flower = new Flower { SepalLength = 5.1f, SepalWidth = 3.5f, PetalLength = 1.4f, PetalWidth = 0.2f };
        var first = await predictor.PredictAsync(flower);
        var second = await predictor.PredictAsync(flower);
        await host.StopAsync();

        var dynamicCode = System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported;
        var shared = ReferenceEquals(first, second);
        var zipMap = await ZipMapAsync(Path.Combine(Path.GetDirectoryName(modelPath)!, "iris_mlp_zipmap.onnx"));
        bool? ortLog = warningModelPath is null ? null : await OrtLogAsync(warningModelPath);
        var ok = first.Label == 0 && second.Label == 0 && shared == dynamicCode && zipMap && ortLog != false;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"DynamicCode\":{(dynamicCode ? "true" : "false")},\"Shared\":{(shared ? "true" : "false")},\"ZipMap\":{(zipMap ? "true" : "false")},\"OrtLog\":{(ortLog is null ? "null" : ortLog.Value ? "true" : "false")},\"Ok\":{(ok ? "true" : "false")}}}"));
        return ok ? 0 : 1;
    }

    // ONNX Runtime's own warnings reach ILogger (event 1019) through the logging function the library gives ONNX
    // Runtime's environment: a callback from native code into managed code, checked in the build being checked.
    private static async Task<bool> OrtLogAsync(string modelPath)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var capture = new CapturingLoggerProvider();
        builder.Logging.AddProvider(capture);
        builder.Services.AddModel("warns", o =>
        {
            o.Source = ModelSource.FromFile(modelPath);
            o.WarmupRuns = 0;
        });
        using var host = builder.Build();
        await host.StartAsync();
        await host.StopAsync();
        return capture.OrtMessages > 0;
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider, ILogger
    {
        private int _ortMessages;

        public int OrtMessages => Volatile.Read(ref _ortMessages);

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == 1019 && formatter(state, exception).Contains("(warns,", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _ortMessages);
            }
        }

        public void Dispose()
        {
        }
    }

    // A schema the iris sample does not have: the skl2onnx ZipMap export (seq(map(int64, float)) probabilities), with
    // caching (maps copied per caller) and monitoring (maps recorded) on, in the build being checked.
    private static async Task<bool> ZipMapAsync(string modelPath)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddModel<ZipFlower, ZipSpecies>("zipmap", o => o.Source = ModelSource.FromFile(modelPath)).UseCaching().UseBatching().UseMonitoring();
        using var host = builder.Build();
        await host.StartAsync();
        var predictor = host.Services.GetRequiredKeyedService<IPredictor<ZipFlower, ZipSpecies>>("zipmap");
        var answers = await predictor.PredictBatchAsync([new ZipFlower { Features = [5.1f, 3.5f, 1.4f, 0.2f] }, new ZipFlower { Features = [6.6f, 3.0f, 5.6f, 2.0f] }]);
        var again = await predictor.PredictAsync(new ZipFlower { Features = [5.1f, 3.5f, 1.4f, 0.2f] });
        await host.Services.GetRequiredKeyedService<IModelMonitor>("zipmap").FlushAsync();
        var recorded = host.Services.GetRequiredKeyedService<IModelMonitor>("zipmap").Statistics.Recorded;
        await host.StopAsync();

        var sum = 0f;
        foreach (var p in again.Probabilities.Values)
        {
            sum += p;
        }

        return answers[0].Label == 0 && answers[1].Label == 2 && again.Label == 0 && again.Probabilities.Count == 3
            && Math.Abs(sum - 1) < 1e-4 && again.Probabilities[0] == answers[0].Probabilities[0]
            && !ReferenceEquals(again.Probabilities, answers[0].Probabilities) && recorded >= 2;
    }
}
