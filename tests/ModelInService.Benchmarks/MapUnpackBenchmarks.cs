using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using ModelInService.Schema;

namespace ModelInService.Benchmarks;

/// <summary>The bound member of the map benchmarks.</summary>
public sealed class MapHolder
{
    public IReadOnlyDictionary<long, float> Map { get; set; } = new Dictionary<long, float>();
}

/// <summary>
/// Unpacking a sklearn-onnx ZipMap output (<c>seq(map(int64, float))</c>) of one run of the random forest under
/// ../shared (the generated iris MLP when absent): the per-row managed path (three <see cref="OrtValue"/>s and
/// their type-and-shape queries per row) against the C API path (keys once, values per row). Only the unpack is
/// timed; the run happens once in setup.
/// <code>dotnet run -c Release --project tests/ModelInService.Benchmarks -- --filter *MapUnpack* --job short</code>
/// </summary>
[MemoryDiagnoser]
public class MapUnpackBenchmarks
{
    private InferenceSession _session = null!;
    private OrtValue _output = null!;
    private MapOutputBinder<MapHolder, long, float> _binder = null!;
    private MapHolder[] _results = null!;

    [Params(1, 64)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var forest = Paths.SharedModels is { } shared ? Path.Combine(shared, "tabular/yalue_sklearn_randomforest_iris/model.onnx") : null;
        _session = new InferenceSession(forest is not null && File.Exists(forest) ? forest : Paths.RepoModel("iris_mlp_zipmap.onnx"));
        var input = _session.InputNames[0];
        var output = _session.OutputNames.Single(n => _session.OutputMetadata[n].OnnxValueType == OnnxValueType.ONNX_TYPE_SEQUENCE);
        var data = new float[Rows * 4];
        var random = new Random(42);
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (float)(random.NextDouble() * 7);
        }

        using var tensor = OrtValue.CreateTensorValueFromMemory(data, [Rows, 4]);
        using var runOptions = new RunOptions();
        _output = _session.Run(runOptions, [input], [tensor], [output])[0];
        var spec = new TensorSpec(output, ModelValueKind.SequenceOfMaps, ModelElementType.Float32, [-1], [string.Empty], ModelElementType.Int64);
        _binder = new MapOutputBinder<MapHolder, long, float>("forest", spec, MemberModel.ForOutput(typeof(MapHolder))[0]);
        _results = Enumerable.Range(0, Rows).Select(_ => new MapHolder()).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _output.Dispose();
        _session.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void PerRow()
    {
        ModelNonFiniteOutputException?[]? failures = null;
        _binder.UnpackPerRow(_output, _results, Rows, ref failures);
    }

    [Benchmark]
    public bool SharedKeys()
    {
        ModelNonFiniteOutputException?[]? failures = null;
        return _binder.TryUnpackShared(_output, _results, Rows, ref failures);
    }
}
