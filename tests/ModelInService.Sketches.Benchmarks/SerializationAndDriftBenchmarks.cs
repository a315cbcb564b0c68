using BenchmarkDotNet.Attributes;
using ModelInService.Sketches;

namespace ModelInService.Sketches.Benchmarks;

/// <summary>Serialization of a million-value sketch and the drift comparisons a monitor runs per feature.</summary>
[MemoryDiagnoser]
public class SerializationAndDriftBenchmarks
{
    private KllDoublesSketch _reference = null!;
    private KllDoublesSketch _measurement = null!;
    private FeatureProfile _referenceProfile = null!;
    private FeatureProfile _measurementProfile = null!;
    private CategoricalSketch _referenceCategories = null!;
    private CategoricalSketch _measurementCategories = null!;
    private byte[] _bytes = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(5);
        _reference = new KllDoublesSketch(200, new Random(1));
        _measurement = new KllDoublesSketch(200, new Random(2));
        _referenceProfile = FeatureProfile.CreateNumeric(200, new Random(1));
        _measurementProfile = FeatureProfile.CreateNumeric(200, new Random(2));
        _referenceCategories = new CategoricalSketch();
        _measurementCategories = new CategoricalSketch();
        for (var i = 0; i < 1_000_000; i++)
        {
            var a = random.NextDouble();
            var b = random.NextDouble() * 1.1;
            _reference.Update(a);
            _measurement.Update(b);
            _referenceProfile.Update(a);
            _measurementProfile.Update(b);
            _referenceCategories.Update((long)(a * 50));
            _measurementCategories.Update((long)(b * 50));
        }

        _bytes = _reference.ToByteArray();
    }

    [Benchmark(Baseline = true)]
    public int Kll_Serialize1M() => _reference.ToByteArray().Length;

    [Benchmark]
    public long Kll_Deserialize1M() => KllDoublesSketch.Deserialize(_bytes).N;

    [Benchmark]
    public double Drift_Numeric_Profiles1M() => DriftMetrics.Compare(_referenceProfile, _measurementProfile).PopulationStabilityIndex.Value;

    [Benchmark]
    public double Drift_Numeric_Sketches1M() => DriftMetrics.CompareNumeric(_reference, _measurement).KolmogorovSmirnov.Value;

    [Benchmark]
    public double Drift_Categorical50() => DriftMetrics.CompareCategorical(_referenceCategories, _measurementCategories).CramersV.Value;
}
