using Xunit;

namespace ModelInService.Sketches.Tests;

/// <summary>
/// Merges whose counts would pass <see cref="long.MaxValue"/> throw the documented <see cref="OverflowException"/>
/// and leave the target exactly as it was (no wrapped counts, no half-merged profile).
/// </summary>
public sealed class MergeOverflowTests
{
    /// <summary>Self-merges double every weight: 3 values doubled 61 times weigh 3·2^61 ≈ 6.9e18 (two of them overflow).</summary>
    private const int Doublings = 61;

    private static KllDoublesSketch HugeKll(params double[] values)
    {
        var sketch = TestStreams.Sketch(values);
        for (var i = 0; i < Doublings; i++)
        {
            sketch.Merge(sketch);
        }

        return sketch;
    }

    /// <summary>Two values and a null: 3 observations, doubled like <see cref="HugeKll"/>.</summary>
    private static FeatureProfile HugeNumeric(params double[] values)
    {
        var profile = FeatureProfile.CreateNumeric();
        foreach (var value in values)
        {
            profile.Update(value);
        }

        profile.UpdateNull();
        for (var i = 0; i < Doublings; i++)
        {
            profile.Merge(profile);
        }

        return profile;
    }

    private static FeatureProfile HugeCategorical(params string?[] labels)
    {
        var profile = FeatureProfile.CreateCategorical();
        foreach (var label in labels)
        {
            profile.Update(label);
        }

        for (var i = 0; i < Doublings; i++)
        {
            profile.Merge(profile);
        }

        return profile;
    }

    [Fact]
    public void KllMerge_CountsPastInt64Max_ThrowsOverflowAndLeavesTheSketchUnchanged()
    {
        var a = HugeKll(1, 2, 3);
        var b = KllDoublesSketch.Deserialize(HugeKll(-5, 0, 9).ToByteArray());
        Assert.True(a.N > long.MaxValue / 2 && b.N > long.MaxValue / 2);
        var before = a.ToByteArray();

        Assert.Throws<OverflowException>(() => a.Merge(b));

        Assert.Equal(before, a.ToByteArray());
        Assert.Equal(1, a.Min);
    }

    [Fact]
    public void NumericProfileMerge_CountsPastInt64Max_ThrowsOverflowAndLeavesTheProfileUnchanged()
    {
        var a = HugeNumeric(1, 2);
        var b = FeatureProfile.Deserialize(HugeNumeric(-5, 9).ToByteArray());
        var before = a.ToByteArray();

        Assert.Throws<OverflowException>(() => a.Merge(b));

        Assert.Equal(before, a.ToByteArray());
        Assert.True(a.TotalCount > 0);
    }

    [Fact]
    public void CategoricalProfileMerge_CountsPastInt64Max_ThrowsOverflowAndLeavesTheProfileUnchanged()
    {
        var a = HugeCategorical("red", "green", null);
        var b = FeatureProfile.Deserialize(HugeCategorical("blue", "red", "red").ToByteArray());
        var before = a.ToByteArray();

        Assert.Throws<OverflowException>(() => a.Merge(b));
        Assert.Throws<OverflowException>(() => a.Categories!.Merge(b.Categories!));

        Assert.Equal(before, a.ToByteArray());
        Assert.True(a.TotalCount > 0 && a.Categories!.N > 0);
    }

    [Fact]
    public void MomentsMerge_CountsPastInt64Max_ThrowsOverflowAndLeavesTheSummaryUnchanged()
    {
        var a = HugeNumeric(1, 2).Moments!;
        var b = HugeNumeric(4, 5).Moments!;
        var count = a.Count;
        var nulls = a.NullCount;

        Assert.Throws<OverflowException>(() => a.Merge(b));

        Assert.Equal(count, a.Count);
        Assert.Equal(nulls, a.NullCount);
    }

    [Fact]
    public void Deserialize_CountsTotallingPastInt64Max_IsFormatException()
    {
        // A categorical profile whose null count plus category count passes Int64.MaxValue.
        var categorical = HugeCategorical("red", "green", "blue").ToByteArray();
        BitConverterWrite(categorical, 8, long.MaxValue - 1);
        Assert.Throws<FormatException>(() => FeatureProfile.Deserialize(categorical));

        // Numeric moments whose five counts total more than Int64.MaxValue (each count alone is valid).
        var numeric = HugeNumeric(1, 2).ToByteArray();
        BitConverterWrite(numeric, 8 + 16, long.MaxValue - 1); // NaN count
        Assert.Throws<FormatException>(() => FeatureProfile.Deserialize(numeric));
    }

    private static void BitConverterWrite(byte[] bytes, int offset, long value) =>
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(offset), value);
}
