using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace ModelInService.Sketches.Tests;

/// <summary>
/// Property tests with fixed FsCheck seeds (Replay) so runs are reproducible. The KLL bound holds with 99%
/// confidence per sketch, so per-case properties allow a 2x margin (the error tail is sub-Gaussian: exceeding twice
/// the 99% bound has negligible probability), and <see cref="RankError_ManyStreams_ExceedancesConsistentWith99Percent"/>
/// checks the 1x bound statistically.
/// </summary>
public sealed class KllPropertyTests
{
    private static readonly int[] Ks = [50, 100, 200];

    private static (double[] Data, int K) StreamFor(int seed, int lengthHint)
    {
        // FsCheck's integers are small (bounded by its size parameter); mix them into a generator so that stream
        // lengths cover 1 .. 40,000 (exact and estimation mode).
        var random = new Random(unchecked((seed * 1_000_003) + lengthHint));
        var length = random.Next(4) == 0 ? 1 + random.Next(300) : 1 + random.Next(40_000);
        var kind = random.Next(TestStreams.KindCount);
        var k = Ks[random.Next(Ks.Length)];
        return (TestStreams.Make(kind, length, random), k);
    }

    [Property(MaxTest = 60, Replay = "(12345,67891)")]
    public bool RankError_WithinBound_AndNMinMaxExact(int seed, int lengthHint)
    {
        var (data, k) = StreamFor(seed, lengthHint);
        var sketch = TestStreams.Sketch(data, k, seed);
        var eps = KllSketch.GetNormalizedRankError(k, pmf: false);
        return sketch.N == data.Length
            && sketch.Min == data.Min()
            && sketch.Max == data.Max()
            && TestStreams.MaxRankError(sketch, data) <= 2 * eps
            && (sketch.IsEstimationMode || TestStreams.MaxRankError(sketch, data) == 0);
    }

    [Property(MaxTest = 40, Replay = "(424242,171717)")]
    public bool Merge_AnySplit_WithinBoundOfWholeStream(int seed, int lengthHint, byte pieces)
    {
        var (data, k) = StreamFor(seed, lengthHint);
        var random = new Random(seed ^ 0x5bd1e995);
        var cuts = Enumerable.Range(0, 1 + (pieces % 12)).Select(_ => random.Next(data.Length + 1)).Append(0).Append(data.Length)
            .Distinct().OrderBy(x => x).ToArray();
        var merged = new KllDoublesSketch(k, new Random(seed));
        for (var i = 0; i + 1 < cuts.Length; i++)
        {
            var part = TestStreams.Sketch(data[cuts[i]..cuts[i + 1]], k, seed + i);
            // Exercise both merge directions: into an accumulator, and through serialization.
            merged.Merge(i % 2 == 0 ? part : KllDoublesSketch.Deserialize(part.ToByteArray()));
        }

        var eps = KllSketch.GetNormalizedRankError(k, pmf: false);
        return merged.N == data.Length
            && merged.Min == data.Min()
            && merged.Max == data.Max()
            && merged.GetSortedView().CumulativeWeights[^1] == data.Length
            && TestStreams.MaxRankError(merged, data) <= 2 * eps;
    }

    [Property(MaxTest = 60, Replay = "(98765,43211)")]
    public bool Serialization_RoundTrip_IsIdentical(int seed, int lengthHint)
    {
        var (data, k) = StreamFor(seed, lengthHint);
        var sketch = TestStreams.Sketch(data, k, seed);
        var bytes = sketch.ToByteArray();
        var copy = KllDoublesSketch.Deserialize(bytes);
        var view1 = sketch.GetSortedView();
        var view2 = copy.GetSortedView();
        return bytes.Length == sketch.GetSerializedSizeBytes()
            && bytes.AsSpan().SequenceEqual(copy.ToByteArray())
            && copy.N == sketch.N && copy.Min == sketch.Min && copy.Max == sketch.Max && copy.K == sketch.K
            && view1.Items.AsSpan().SequenceEqual(view2.Items)
            && view1.CumulativeWeights.AsSpan().SequenceEqual(view2.CumulativeWeights);
    }

    [Property(MaxTest = 30, Replay = "(5555,7777)")]
    public Property FloatSketch_RoundTripAndBounds(int seed)
    {
        var random = new Random(seed);
        var values = Enumerable.Range(0, 5_000 + random.Next(20_000)).Select(_ => (float)random.NextDouble()).ToArray();
        var sketch = new KllFloatsSketch(random: new Random(seed));
        foreach (var v in values)
        {
            sketch.Update(v);
        }

        var copy = KllFloatsSketch.Deserialize(sketch.ToByteArray());
        var median = sketch.GetQuantile(0.5);
        var trueRank = values.Count(v => v <= median) / (double)values.Length;
        return (copy.ToByteArray().AsSpan().SequenceEqual(sketch.ToByteArray())
                && Math.Abs(trueRank - 0.5) <= 2 * sketch.GetNormalizedRankError(false)).ToProperty();
    }

    [Fact]
    public void RankError_ManyStreams_ExceedancesConsistentWith99Percent()
    {
        // 200 independent sketches (fixed seeds) of 20,000 uniform values at k = 100. If each exceeds the bound with
        // probability <= 1%, P(more than 7 exceedances) < 0.001 (binomial(200, 0.01)).
        const int trials = 200;
        var eps = KllSketch.GetNormalizedRankError(100, pmf: false);
        var exceedances = 0;
        double worst = 0;
        for (var t = 0; t < trials; t++)
        {
            var data = TestStreams.Make(0, 20_000, new Random(1000 + t));
            var error = TestStreams.MaxRankError(TestStreams.Sketch(data, 100, 2000 + t), data);
            worst = Math.Max(worst, error);
            if (error > eps)
            {
                exceedances++;
            }
        }

        Assert.InRange(exceedances, 0, 7);
        Assert.InRange(worst, 0, 2 * eps);
    }
}
