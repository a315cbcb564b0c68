using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime;

namespace ModelInService.Benchmarks;

public sealed class IrisInput
{
    [ModelInput("features")]
    public float[] Features { get; set; } = [];
}

public sealed class IrisOutput
{
    [ModelOutput("label")]
    public long Label { get; set; }

    [ModelOutput("probabilities")]
    public float[] Probabilities { get; set; } = [];
}

/// <summary>
/// Issue 2's overhead budget: <c>IPredictor.PredictAsync</c> at batch 1 on the generated MLP against the
/// hand-written ONNX Runtime call a user would otherwise write (OrtValue API, same session settings, same result
/// object). The difference is what the library costs per request.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class PredictOverheadBenchmarks
{
    private static readonly string[] InputNames = ["features"];
    private static readonly string[] OutputNames = ["label", "probabilities"];
    private static readonly long[] Shape = [1, 4];

    private ServiceProvider _provider = null!;
    private IPredictor<IrisInput, IrisOutput> _predictor = null!;
    private Microsoft.Extensions.Hosting.IHost _host = null!;
    private IPredictor<IrisInput, IrisOutput> _hosted = null!;
    private InferenceSession _session = null!;
    private RunOptions _runOptions = null!;
    private readonly IrisInput _input = new() { Features = [5.1f, 3.5f, 1.4f, 0.2f] };

    [GlobalSetup]
    public void Setup()
    {
        var path = Paths.RepoModel("iris_mlp.onnx");
        var services = new ServiceCollection();
        services.AddModel<IrisInput, IrisOutput>(path);
        _provider = services.BuildServiceProvider();
        _provider.StartModelsAsync().GetAwaiter().GetResult();
        _predictor = _provider.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        // The same model in a generic host: IMeterFactory is registered, so every call also records metrics.
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new Microsoft.Extensions.Hosting.HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddModel<IrisInput, IrisOutput>(path);
        _host = builder.Build();
        _host.StartAsync().GetAwaiter().GetResult();
        _hosted = _host.Services.GetRequiredService<IPredictor<IrisInput, IrisOutput>>();

        // The same session settings ModelInService picks on this machine (intra-op threads = cores / concurrency).
        using var options = new SessionOptions { IntraOpNumThreads = Math.Max(1, Environment.ProcessorCount / Environment.ProcessorCount), InterOpNumThreads = 1 };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        _session = new InferenceSession(path, options);
        _runOptions = new RunOptions();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session.Dispose();
        _runOptions.Dispose();
        _provider.Dispose();
        _host.Dispose();
    }

    [Benchmark(Baseline = true, Description = "raw InferenceSession.Run (OrtValue API)")]
    public IrisOutput RawSessionRun()
    {
        using var input = OrtValue.CreateTensorValueFromMemory(_input.Features, Shape);
        using var results = _session.Run(_runOptions, InputNames, [input], OutputNames);
        return new IrisOutput
        {
            Label = results[0].GetTensorDataAsSpan<long>()[0],
            Probabilities = results[1].GetTensorDataAsSpan<float>().ToArray(),
        };
    }

    [Benchmark(Description = "IPredictor.PredictAsync")]
    public IrisOutput PredictAsync()
    {
        var pending = _predictor.PredictAsync(_input);
        return pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Description = "IPredictor.PredictAsync in a host (metrics on)")]
    public IrisOutput PredictAsyncWithMetrics()
    {
        var pending = _hosted.PredictAsync(_input);
        return pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
    }
}
