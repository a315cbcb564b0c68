using BenchmarkDotNet.Attributes;
using ModelInService.Monitoring;

namespace ModelInService.Benchmarks;

/// <summary>
/// The request-path cost of recording a row with and without its model version (docs/monitoring.md, "Measured
/// recording cost"): 256 rows per operation (one block), nothing consuming, so full blocks are dropped and reused —
/// the steady state of the request path without the consumer's work.
/// </summary>
[MemoryDiagnoser]
public class RecordVersionBenchmarks
{
    private const int Rows = 256;
    private const string V1 = "0123456789abcdef";
    private const string V2 = "fedcba9876543210";
    private PredictionRecorder<IrisInput, IrisOutput> _recorder = null!;
    private IrisInput _input = null!;
    private IrisOutput _output = null!;

    [GlobalSetup]
    public void Setup()
    {
        _recorder = PredictionRecorder<IrisInput, IrisOutput>.Create(new MonitoringOptions { MaxProfiledRowsPerSecond = 0, QueueCapacity = 512 }, TimeProvider.System);
        _input = new IrisInput { Features = [5.1f, 3.5f, 1.4f, 0.2f] };
        _output = new IrisOutput { Label = 0, Probabilities = new float[3] };
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Rows)]
    public void NoVersion()
    {
        for (var i = 0; i < Rows; i++)
        {
            _recorder.Record(_input, _output, null);
        }
    }

    [Benchmark(OperationsPerInvoke = Rows)]
    public void OneVersion()
    {
        for (var i = 0; i < Rows; i++)
        {
            _recorder.Record(_input, _output, V1);
        }
    }

    [Benchmark(OperationsPerInvoke = Rows)]
    public void CanaryEveryTenthRow()
    {
        for (var i = 0; i < Rows; i++)
        {
            _recorder.Record(_input, _output, i % 10 == 0 ? V2 : V1);
        }
    }
}
