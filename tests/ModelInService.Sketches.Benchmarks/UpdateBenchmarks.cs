using BenchmarkDotNet.Attributes;
using ModelInService.Sketches;

namespace ModelInService.Sketches.Benchmarks;

/// <summary>Per-value update cost, amortized over a million values (target: 50 ns per value for the KLL sketch).</summary>
[MemoryDiagnoser]
public class UpdateBenchmarks
{
    private const int Count = 1_000_000;
    private double[] _values = [];
    private float[] _floats = [];
    private long[] _codes = [];
    private double[] _sink = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _values = new double[Count];
        _floats = new float[Count];
        _codes = new long[Count];
        _sink = new double[Count];
        for (var i = 0; i < Count; i++)
        {
            _values[i] = random.NextDouble() * 100;
            _floats[i] = (float)_values[i];
            _codes[i] = (long)Math.Min(63, -Math.Log(1 - random.NextDouble()) * 8);
        }
    }

    /// <summary>The floor: storing each value into an array.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Count)]
    public double ArrayStore()
    {
        var values = _values;
        var sink = _sink;
        for (var i = 0; i < values.Length; i++)
        {
            sink[i] = values[i];
        }

        return sink[^1];
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public long KllDoubles_Update()
    {
        var sketch = new KllDoublesSketch(200, new Random(7));
        foreach (var v in _values)
        {
            sketch.Update(v);
        }

        return sketch.N;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public long KllFloats_Update()
    {
        var sketch = new KllFloatsSketch(200, new Random(7));
        foreach (var v in _floats)
        {
            sketch.Update(v);
        }

        return sketch.N;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public long Moments_Update()
    {
        var moments = new MomentSummary();
        foreach (var v in _values)
        {
            moments.Update(v);
        }

        return moments.Count;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public long NumericProfile_Update()
    {
        var profile = FeatureProfile.CreateNumeric(200, new Random(7));
        foreach (var v in _values)
        {
            profile.Update(v);
        }

        return profile.TotalCount;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public long CategoricalProfile_UpdateCode()
    {
        var profile = FeatureProfile.CreateCategorical();
        foreach (var code in _codes)
        {
            profile.Update(code);
        }

        return profile.TotalCount;
    }
}
