using Xunit;

namespace ModelInService.Sketches.Tests;

public sealed class FeatureProfileTests
{
    [Fact]
    public void NumericProfile_SixtyMinutesMergeIntoHour_MatchesWholeStream()
    {
        var random = new Random(12);
        var hour = FeatureProfile.CreateNumeric(random: new Random(1));
        var all = new List<double>();
        for (var m = 0; m < 60; m++)
        {
            var minute = FeatureProfile.CreateNumeric(random: new Random(100 + m));
            for (var i = 0; i < 2000; i++)
            {
                var v = TestStreams.Normal(random) * 3 + m;
                minute.Update(v);
                all.Add(v);
            }

            minute.UpdateNull();
            minute.Update(double.NaN);
            minute.Update(double.PositiveInfinity);

            // Round-trip through bytes, as the monitor stores one-minute snapshots.
            hour.Merge(FeatureProfile.Deserialize(minute.ToByteArray()));
        }

        var moments = hour.Moments!;
        Assert.Equal(all.Count, moments.Count);
        Assert.Equal(60, hour.NullCount);
        Assert.Equal(60, moments.NaNCount);
        Assert.Equal(60, moments.PositiveInfinityCount);
        Assert.Equal(all.Count + 180, hour.TotalCount);
        Assert.Equal(all.Average(), moments.Mean, 9);
        Assert.Equal(all.Min(), moments.Min);
        Assert.Equal(all.Max(), hour.Quantiles!.Max);
        Assert.Equal(all.Count, hour.Quantiles.N);
        Assert.InRange(TestStreams.MaxRankError(hour.Quantiles, [.. all]), 0, 2 * hour.Quantiles.GetNormalizedRankError(false));
        Assert.Null(hour.Categories);
        Assert.Equal(FeatureKind.Numeric, hour.Kind);
    }

    [Fact]
    public void CategoricalProfile_UpdatesMergesAndRoundTrips()
    {
        var a = FeatureProfile.CreateCategorical();
        a.Update("red");
        a.Update("red");
        a.Update((string?)null);
        a.Update(7L);
        a.UpdateNull();
        var b = FeatureProfile.Deserialize(a.ToByteArray());
        Assert.Equal(a.ToByteArray(), b.ToByteArray());
        b.Merge(a);
        Assert.Equal(4, b.NullCount);
        Assert.Equal(10, b.TotalCount);
        Assert.Equal(4, b.Categories!.GetCount(Category.FromLabel("red")).Count);
        Assert.Equal(2, b.Categories.GetCount(Category.FromCode(7)).Count);
        Assert.Null(b.Moments);
        Assert.Throws<InvalidOperationException>(() => a.Update(1.5));
    }

    [Fact]
    public void Profiles_OfDifferentKinds_DoNotMerge()
    {
        var numeric = FeatureProfile.CreateNumeric();
        var categorical = FeatureProfile.CreateCategorical();
        Assert.Throws<ArgumentException>(() => numeric.Merge(categorical));
        Assert.Throws<InvalidOperationException>(() => numeric.Update("x"));
        Assert.Throws<ArgumentException>(() => DriftMetrics.Compare(numeric, categorical));
        Assert.Throws<ArgumentNullException>(() => numeric.Merge(null!));
    }

    [Fact]
    public void Serialization_IsVersioned_AndRejectsUnknownVersions()
    {
        var profile = FeatureProfile.CreateNumeric();
        profile.Update(1.0);
        profile.Update(2L);
        var bytes = profile.ToByteArray();
        Assert.Equal((byte)'M', bytes[0]);
        Assert.Equal(FeatureProfile.FormatVersion, bytes[4]);
        Assert.Equal(bytes.Length, profile.GetSerializedSizeBytes());
        bytes[4] = 99;
        Assert.Contains("version 99", Assert.Throws<FormatException>(() => FeatureProfile.Deserialize(bytes)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Serialization_MomentsDisagreeingWithSketch_Rejected()
    {
        var profile = FeatureProfile.CreateNumeric();
        profile.Update(1.0);
        profile.Update(3.0);
        var bytes = profile.ToByteArray();
        bytes[8] = 3; // moments count 3, sketch n 2
        Assert.Throws<FormatException>(() => FeatureProfile.Deserialize(bytes));
    }

    [Fact]
    public void Reset_Empties()
    {
        var profile = FeatureProfile.CreateNumeric();
        profile.Update(1.0);
        profile.UpdateNull();
        profile.Reset();
        Assert.Equal(0, profile.TotalCount);
        Assert.True(profile.Quantiles!.IsEmpty);
        Assert.Contains("Numeric", profile.ToString(), StringComparison.Ordinal);
    }
}
