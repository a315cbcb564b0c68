using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace ModelInService.Sketches.Tests;

public sealed class CategoricalSketchTests
{
    [Fact]
    public void ExactMode_CountsExactly_LabelsAndCodesDistinct()
    {
        var sketch = new CategoricalSketch();
        sketch.Update("a");
        sketch.Update("a");
        sketch.Update("1");
        sketch.Update(1);
        Assert.Equal(4, sketch.N);
        Assert.True(sketch.IsExact);
        Assert.Equal(2, sketch.GetCount(Category.FromLabel("a")).Count);
        Assert.Equal(1, sketch.GetCount(Category.FromLabel("1")).Count);
        Assert.Equal(1, sketch.GetCount(Category.FromCode(1)).Count);
        Assert.Equal(0, sketch.OtherCount);
        Assert.Equal("a", sketch.GetFrequentItems()[0].Category.Label);
        Assert.Equal(new CategoryCount(Category.FromCode(9), 0, 0), sketch.GetCount(Category.FromCode(9)));
        Assert.Throws<ArgumentNullException>(() => sketch.Update((string)null!));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CategoricalSketch(1));
    }

    [Property(MaxTest = 100, Replay = "(31337,4243)")]
    public Property Bounds_HoldForEveryCategory_AfterUpdatesAndMerges(int seed, byte capHint, byte partsHint)
    {
        var random = new Random(seed);
        var cap = 2 + (capHint % 40);
        var parts = 1 + (partsHint % 5);
        var truth = new Dictionary<long, long>();
        var merged = new CategoricalSketch(cap);
        long total = 0;
        for (var p = 0; p < parts; p++)
        {
            var part = new CategoricalSketch(cap);
            var length = random.Next(3000);
            for (var i = 0; i < length; i++)
            {
                // Zipf-like: a few heavy categories and a long tail.
                var code = (long)Math.Floor(Math.Pow(random.NextDouble(), 3) * 200);
                part.Update(code);
                truth[code] = truth.GetValueOrDefault(code) + 1;
                total++;
            }

            merged.Merge(p % 2 == 0 ? part : CategoricalSketch.Deserialize(part.ToByteArray()));
        }

        var ok = merged.N == total && merged.TrackedCount <= cap && merged.MaximumError <= (2.0 * total / cap) + 1e-9;
        foreach (var (code, count) in truth)
        {
            var estimate = merged.GetCount(Category.FromCode(code));
            ok &= estimate.Count <= count && count <= estimate.UpperBound;
        }

        ok &= merged.OtherCount >= 0 && (merged.IsExact ? merged.OtherCount == 0 : true);
        ok &= truth.Count > cap || merged.IsExact;
        return ok.Label($"cap={cap} parts={parts} n={total} error={merged.MaximumError}");
    }

    [Fact]
    public void Purge_KeepsHeavyHitters()
    {
        var sketch = new CategoricalSketch(32);
        var random = new Random(1);
        for (var i = 0; i < 100_000; i++)
        {
            if (i % 4 == 0)
            {
                sketch.Update("heavy");
            }
            else
            {
                sketch.Update(random.Next(10_000));
            }
        }

        Assert.False(sketch.IsExact);
        var heavy = sketch.GetCount(Category.FromLabel("heavy"));
        Assert.InRange(25_000L, heavy.Count, heavy.UpperBound);
        Assert.Equal("heavy", sketch.GetFrequentItems()[0].Category.Label);
        Assert.True(sketch.OtherCount > 0);
    }

    [Fact]
    public void Serialization_RoundTrips_Deterministically()
    {
        var a = new CategoricalSketch(8);
        var b = new CategoricalSketch(8);
        foreach (var x in new[] { "x", "y", "zé", "x", "\ud800bad" })
        {
            a.Update(x);
        }

        foreach (var x in new[] { "\ud800bad", "x", "zé", "y", "x" })
        {
            b.Update(x);
        }

        a.Update(-5);
        b.Update(-5);
        Assert.Equal(a.ToByteArray(), b.ToByteArray());
        var copy = CategoricalSketch.Deserialize(a.ToByteArray());
        Assert.Equal(a.N, copy.N);
        Assert.Equal(2, copy.GetCount(Category.FromLabel("x")).Count);
        Assert.Equal(1, copy.GetCount(Category.FromLabel("zé")).Count);
        Assert.Equal(1, copy.GetCount(Category.FromCode(-5)).Count);
    }

    [Fact]
    public void Merge_Self_DoublesCounts()
    {
        var a = new CategoricalSketch();
        a.Update("q");
        a.Merge(a);
        Assert.Equal(2, a.N);
        Assert.Equal(2, a.GetCount(Category.FromLabel("q")).Count);
        a.Reset();
        Assert.True(a.IsEmpty);
    }
}
