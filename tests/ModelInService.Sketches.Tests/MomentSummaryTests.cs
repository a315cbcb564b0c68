using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace ModelInService.Sketches.Tests;

public sealed class MomentSummaryTests
{
    private static MomentSummary Of(IEnumerable<double> values)
    {
        var summary = new MomentSummary();
        foreach (var v in values)
        {
            summary.Update(v);
        }

        return summary;
    }

    private static bool Close(double expected, double actual, double relative = 1e-9) =>
        (double.IsNaN(expected) && double.IsNaN(actual)) || Math.Abs(expected - actual) <= relative * Math.Max(1, Math.Abs(expected));

    [Property(MaxTest = 200, Replay = "(2024,1111)")]
    public Property Merge_OfAnySplit_EqualsMomentsOfUnion(double[] values, int cut, int scaleSeed)
    {
        // FsCheck doubles include NaN and infinities: they must be counted, not folded into the moments. Finite
        // values are folded into +-1e6 and rescaled (squares of values near double.MaxValue overflow any variance).
        var random = new Random(scaleSeed);
        var scale = Math.Pow(10, random.Next(-3, 6));
        var data = values.Select(v => double.IsFinite(v) ? Math.IEEERemainder(v, 1e6) * scale : v).ToArray();
        var split = data.Length == 0 ? 0 : Math.Abs(cut) % (data.Length + 1);
        var whole = Of(data);
        var left = Of(data[..split]);
        var right = Of(data[split..]);
        left.Merge(right);

        var finite = data.Where(double.IsFinite).ToArray();
        var exactMean = finite.Length == 0 ? double.NaN : finite.Average();
        var exactVariance = finite.Length == 0 ? double.NaN : finite.Select(v => (v - exactMean) * (v - exactMean)).Sum() / finite.Length;
        var tolerance = 1e-9 * Math.Max(1, finite.Length == 0 ? 1 : finite.Max(Math.Abs) * finite.Max(Math.Abs));

        return (left.Count == whole.Count && left.Count == finite.Length
                && left.NaNCount == data.Count(double.IsNaN)
                && left.PositiveInfinityCount == data.Count(double.IsPositiveInfinity)
                && left.NegativeInfinityCount == data.Count(double.IsNegativeInfinity)
                && left.TotalCount == data.Length
                && Close(whole.Min, left.Min, 0) && Close(whole.Max, left.Max, 0)
                && Close(exactMean, left.Mean, 1e-9) && Close(exactMean, whole.Mean, 1e-9)
                && (finite.Length == 0 || Math.Abs(exactVariance - left.Variance) <= tolerance)
                && (finite.Length == 0 || Math.Abs(exactVariance - whole.Variance) <= tolerance))
            .Label($"n={data.Length} split={split}");
    }

    [Fact]
    public void Merge_SixtyMinutes_EqualsWholeHour()
    {
        var random = new Random(3);
        var hour = new MomentSummary();
        var whole = new MomentSummary();
        for (var m = 0; m < 60; m++)
        {
            var minute = new MomentSummary();
            for (var i = 0; i < 1000; i++)
            {
                var v = 1e6 + TestStreams.Normal(random) + m;
                minute.Update(v);
                whole.Update(v);
            }

            minute.UpdateNull();
            whole.UpdateNull();
            hour.Merge(minute);
        }

        Assert.Equal(whole.Count, hour.Count);
        Assert.Equal(60, hour.NullCount);
        Assert.Equal(whole.Mean, hour.Mean, 6);
        Assert.Equal(whole.Variance, hour.Variance, 6);
        Assert.Equal(whole.SampleVariance, hour.SampleVariance, 6);
        Assert.Equal(whole.Min, hour.Min);
        Assert.Equal(whole.Max, hour.Max);
    }

    [Fact]
    public void Empty_ReportsNaN()
    {
        var empty = new MomentSummary();
        Assert.True(double.IsNaN(empty.Mean));
        Assert.True(double.IsNaN(empty.Min));
        Assert.True(double.IsNaN(empty.Variance));
        Assert.True(double.IsNaN(Of([1.0]).SampleVariance));
        Assert.Equal(0, Of([1.0]).Variance);
        empty.Merge(Of([2.0, 4.0]));
        Assert.Equal(3, empty.Mean);
        Assert.Equal(1, empty.Variance);
        Assert.Equal(2, empty.SampleVariance);
        empty.Reset();
        Assert.Equal(0, empty.TotalCount);
        Assert.Throws<ArgumentNullException>(() => empty.Merge(null!));
    }

    [Fact]
    public void Serialization_RoundTrips()
    {
        var summary = Of([1, 2, 3, double.NaN, double.PositiveInfinity, double.NegativeInfinity]);
        summary.UpdateNull();
        var bytes = new byte[MomentSummary.SerializedSize];
        summary.WriteTo(bytes);
        var copy = MomentSummary.Read(bytes);
        Assert.Equal(summary.ToString(), copy.ToString());
        Assert.Equal(7, copy.TotalCount);
    }
}
