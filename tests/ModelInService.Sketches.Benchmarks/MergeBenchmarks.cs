using BenchmarkDotNet.Attributes;
using ModelInService.Sketches;

namespace ModelInService.Sketches.Benchmarks;

/// <summary>
/// An hour window from 60 one-minute summaries of 60,000 values each (1,000 values/s): target 1 ms for the sketches.
/// </summary>
[MemoryDiagnoser]
public class MergeBenchmarks
{
    private const int Minutes = 60;
    private const int ValuesPerMinute = 60_000;
    private KllDoublesSketch[] _sketches = [];
    private FeatureProfile[] _profiles = [];
    private byte[][] _sketchBytes = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(3);
        _sketches = new KllDoublesSketch[Minutes];
        _profiles = new FeatureProfile[Minutes];
        _sketchBytes = new byte[Minutes][];
        for (var m = 0; m < Minutes; m++)
        {
            _sketches[m] = new KllDoublesSketch(200, new Random(m));
            _profiles[m] = FeatureProfile.CreateNumeric(200, new Random(m));
            for (var i = 0; i < ValuesPerMinute; i++)
            {
                var v = (random.NextDouble() * 10) + (m * 0.01);
                _sketches[m].Update(v);
                _profiles[m].Update(v);
            }

            _sketchBytes[m] = _sketches[m].ToByteArray();
        }
    }

    [Benchmark(Baseline = true)]
    public long Merge60Sketches()
    {
        var hour = new KllDoublesSketch(200, new Random(1));
        foreach (var minute in _sketches)
        {
            hour.Merge(minute);
        }

        return hour.N;
    }

    [Benchmark]
    public long Merge60Profiles()
    {
        var hour = FeatureProfile.CreateNumeric(200, new Random(1));
        foreach (var minute in _profiles)
        {
            hour.Merge(minute);
        }

        return hour.TotalCount;
    }

    [Benchmark]
    public long DeserializeAndMerge60Sketches()
    {
        var hour = new KllDoublesSketch(200, new Random(1));
        foreach (var bytes in _sketchBytes)
        {
            hour.Merge(KllDoublesSketch.Deserialize(bytes));
        }

        return hour.N;
    }
}
