using Xunit;

namespace ModelInService.Sketches.Tests;

public sealed class KllSketchTests
{
    [Fact]
    public void NormalizedRankError_AtDefaultK_MatchesDataSketches()
    {
        Assert.Equal(0.0133, KllSketch.GetNormalizedRankError(200, pmf: false), 4);
        Assert.Equal(0.0165, KllSketch.GetNormalizedRankError(200, pmf: true), 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => KllSketch.GetNormalizedRankError(0, false));
    }

    [Fact]
    public void Constructor_KOutOfRange_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new KllDoublesSketch(7));
        Assert.Throws<ArgumentOutOfRangeException>(() => new KllDoublesSketch(65536));
        Assert.Equal(8, new KllFloatsSketch(8).K);
        Assert.Equal(65535, new KllLongsSketch(65535).K);
    }

    [Fact]
    public void EmptySketch_QueriesThrow_AndSerializesToEightBytes()
    {
        var sketch = new KllDoublesSketch();
        Assert.True(sketch.IsEmpty);
        Assert.Equal(0, sketch.N);
        Assert.Throws<InvalidOperationException>(() => sketch.Min);
        Assert.Throws<InvalidOperationException>(() => sketch.Max);
        Assert.Throws<InvalidOperationException>(() => sketch.GetRank(1));
        Assert.Throws<InvalidOperationException>(() => sketch.GetQuantile(0.5));
        Assert.Equal(new byte[] { 2, 1, 15, 1, 200, 0, 8, 0 }, sketch.ToByteArray());
        Assert.Equal(0.0, sketch.GetNormalizedRankError(false));
    }

    [Fact]
    public void Update_NaNIgnored_InfinityKept()
    {
        var sketch = new KllDoublesSketch();
        sketch.Update(double.NaN);
        Assert.True(sketch.IsEmpty);
        sketch.Update(double.PositiveInfinity);
        sketch.Update(-1);
        Assert.Equal(2, sketch.N);
        Assert.Equal(double.PositiveInfinity, sketch.Max);
        Assert.Equal(-1, sketch.Min);
    }

    [Fact]
    public void ExactMode_RanksQuantilesAndPmfAreExact()
    {
        var sketch = TestStreams.Sketch(Enumerable.Range(1, 100).Select(i => (double)i));
        Assert.False(sketch.IsEstimationMode);
        Assert.Equal(0.5, sketch.GetRank(50));
        Assert.Equal(0.49, sketch.GetRank(50, QuantileSearchCriteria.Exclusive));
        Assert.Equal(50, sketch.GetQuantile(0.5));
        Assert.Equal(51, sketch.GetQuantile(0.5, QuantileSearchCriteria.Exclusive));
        Assert.Equal(1, sketch.GetQuantile(0));
        Assert.Equal(100, sketch.GetQuantile(1));
        Assert.Equal(30, sketch.GetQuantile(0.3)); // 0.3 * 100 is not exactly 30 in binary
        Assert.Equal([10.0, 25.0, 100.0], sketch.GetQuantiles([0.1, 0.25, 1.0]));
        var cdf = sketch.GetCdf([10.0, 50.0]);
        Assert.Equal([0.1, 0.5, 1.0], cdf);
        var pmf = sketch.GetPmf([10.0, 50.0]);
        Assert.Equal(0.1, pmf[0], 12);
        Assert.Equal(0.4, pmf[1], 12);
        Assert.Equal(0.5, pmf[2], 12);
    }

    [Fact]
    public void Queries_InvalidArguments_Throw()
    {
        var sketch = TestStreams.Sketch([1, 2, 3]);
        Assert.Throws<ArgumentOutOfRangeException>(() => sketch.GetQuantile(1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => sketch.GetQuantile(double.NaN));
        Assert.Throws<ArgumentException>(() => sketch.GetRank(double.NaN));
        Assert.Throws<ArgumentException>(() => sketch.GetCdf([2.0, 1.0]));
        Assert.Throws<ArgumentException>(() => sketch.GetPmf([1.0, 1.0]));
        Assert.Throws<ArgumentException>(() => sketch.GetPmf([double.NaN]));
    }

    [Fact]
    public void Update_MillionValues_SizeAndErrorWithinTargets()
    {
        var random = new Random(7);
        var sketch = new KllDoublesSketch(200, random);
        var data = new double[1_000_000];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = random.NextDouble();
            sketch.Update(data[i]);
        }

        Assert.Equal(1_000_000, sketch.N);
        Assert.True(sketch.IsEstimationMode);
        Assert.InRange(sketch.GetSerializedSizeBytes(), 4000, 6 * 1024);
        Assert.InRange(TestStreams.MaxRankError(sketch, data), 0, sketch.GetNormalizedRankError(false));
    }

    [Fact]
    public void Merge_EmptyAndIntoEmpty_KeepsState()
    {
        var a = TestStreams.Sketch(Enumerable.Range(0, 1000).Select(i => (double)i));
        var empty = new KllDoublesSketch();
        var before = a.ToByteArray();
        a.Merge(empty);
        Assert.Equal(before, a.ToByteArray());
        empty.Merge(a);
        Assert.Equal(a.N, empty.N);
        Assert.Equal(a.Min, empty.Min);
        Assert.Equal(a.Max, empty.Max);
        Assert.Throws<ArgumentNullException>(() => a.Merge(null!));
    }

    [Fact]
    public void Merge_WithItself_DoublesWeights()
    {
        var a = TestStreams.Sketch(Enumerable.Range(0, 5000).Select(i => (double)i));
        a.Merge(a);
        Assert.Equal(10_000, a.N);
        Assert.Equal(0, a.Min);
        Assert.Equal(4999, a.Max);
        Assert.InRange(a.GetRank(2500), 0.5 - 0.03, 0.5 + 0.03);
    }

    [Fact]
    public void Merge_DifferentK_UsesSmallerMinK()
    {
        var small = new KllDoublesSketch(50, new Random(1));
        var large = new KllDoublesSketch(400, new Random(2));
        for (var i = 0; i < 10_000; i++)
        {
            small.Update(i);
            large.Update(i + 10_000);
        }

        large.Merge(small);
        Assert.Equal(400, large.K);
        Assert.Equal(50, large.MinK);
        Assert.Equal(KllSketch.GetNormalizedRankError(50, false), large.GetNormalizedRankError(false));
        Assert.Equal(20_000, large.N);
        Assert.InRange(large.GetRank(9_999.5), 0.5 - 0.06, 0.5 + 0.06);
    }

    [Fact]
    public void Deserialize_ThenUpdate_GrowsAndStaysConsistent()
    {
        var original = TestStreams.Sketch(Enumerable.Range(0, 30_000).Select(i => (double)(i % 977)), seed: 3);
        var copy = KllDoublesSketch.Deserialize(original.ToByteArray(), new Random(3));
        Assert.Equal(original.ToByteArray(), copy.ToByteArray());
        for (var i = 0; i < 30_000; i++)
        {
            copy.Update(i % 977);
        }

        Assert.Equal(60_000, copy.N);
        var bytes = copy.ToByteArray();
        var again = KllDoublesSketch.Deserialize(bytes);
        Assert.Equal(bytes, again.ToByteArray());
        Assert.InRange(copy.GetRank(488), 0.5 - 0.02, 0.5 + 0.02);

        // A decoded sketch can also be merged into, and merged from.
        var target = KllDoublesSketch.Deserialize(original.ToByteArray());
        target.Merge(KllDoublesSketch.Deserialize(original.ToByteArray()));
        Assert.Equal(60_000, target.N);
    }

    [Fact]
    public void Reset_ReturnsToEmpty()
    {
        var sketch = TestStreams.Sketch(Enumerable.Range(0, 10_000).Select(i => (double)i));
        sketch.Reset();
        Assert.True(sketch.IsEmpty);
        Assert.Equal(new KllDoublesSketch().ToByteArray(), sketch.ToByteArray());
        sketch.Update(5);
        Assert.Equal(5, sketch.GetQuantile(0.5));
    }

    [Fact]
    public void WriteTo_DestinationTooSmall_Throws()
    {
        var sketch = TestStreams.Sketch([1, 2, 3]);
        Assert.Throws<ArgumentException>(() => sketch.WriteTo(new byte[sketch.GetSerializedSizeBytes() - 1]));
        var buffer = new byte[sketch.GetSerializedSizeBytes() + 10];
        Assert.Equal(sketch.GetSerializedSizeBytes(), sketch.WriteTo(buffer));
    }

    [Fact]
    public void SameSeed_SameStream_SameBytes()
    {
        var data = TestStreams.Make(1, 50_000, new Random(11));
        Assert.Equal(TestStreams.Sketch(data, seed: 5).ToByteArray(), TestStreams.Sketch(data, seed: 5).ToByteArray());
    }

    [Fact]
    public void FloatAndLongSketches_Work()
    {
        var floats = new KllFloatsSketch(random: new Random(1));
        var longs = new KllLongsSketch(random: new Random(1));
        for (var i = 1; i <= 100_000; i++)
        {
            floats.Update(i);
            longs.Update(i);
        }

        floats.Update(float.NaN);
        Assert.Equal(100_000, floats.N);
        Assert.Equal(100_000L, longs.Max);
        Assert.InRange(longs.GetRank(50_000), 0.5 - 0.0133, 0.5 + 0.0133);
        Assert.InRange(floats.GetQuantile(0.25), 25_000 - 1400, 25_000 + 1400);
        Assert.Equal(floats.ToByteArray(), KllFloatsSketch.Deserialize(floats.ToByteArray()).ToByteArray());
        Assert.Equal(longs.ToByteArray(), KllLongsSketch.Deserialize(longs.ToByteArray()).ToByteArray());
    }

    [Fact]
    public void ToString_DescribesState()
    {
        Assert.Contains("empty", new KllDoublesSketch().ToString(), StringComparison.Ordinal);
        Assert.Contains("n=3", TestStreams.Sketch([1, 2, 3]).ToString(), StringComparison.Ordinal);
    }
}
