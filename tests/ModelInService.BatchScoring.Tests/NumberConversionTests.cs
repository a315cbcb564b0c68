namespace ModelInService.BatchScoring.Tests;

/// <summary>Values read as doubles become the input's element type only when the cast would not change them.</summary>
public sealed class NumberConversionTests
{
    [Theory]
    [InlineData(3.0, null)]
    [InlineData(-9223372036854775808.0, null)] // long.MinValue is a double exactly
    [InlineData(3.5, "3.5 is not an integer (int64)")]
    [InlineData(double.NaN, "NaN is not an integer (int64)")]
    [InlineData(9223372036854775808.0, "9.223372036854776E+18 is outside the range of int64")] // 2^63: a cast would saturate
    [InlineData(1e30, "1E+30 is outside the range of int64")]
    [InlineData(double.PositiveInfinity, "Infinity is outside the range of int64")]
    public void To_int64(double number, string? reason) =>
        Assert.Equal(reason, NumberConversion.TryConvert<long>(number, out _));

    [Theory]
    [InlineData(2147483647.0, null)]
    [InlineData(2147483648.0, "2147483648 is outside the range of int32")] // a cast would wrap to int.MinValue
    [InlineData(-2147483649.0, "-2147483649 is outside the range of int32")]
    public void To_int32(double number, string? reason) =>
        Assert.Equal(reason, NumberConversion.TryConvert<int>(number, out _));

    [Theory]
    [InlineData(3.4e38, null)]
    [InlineData(1e300, "1E+300 is outside the range of float32 (±3.4E+38)")]
    [InlineData(-1e39, "-1E+39 is outside the range of float32 (±3.4E+38)")]
    [InlineData(double.NaN, null)] // non-finite values are the input validation's business, not a range error
    public void To_float32(double number, string? reason) =>
        Assert.Equal(reason, NumberConversion.TryConvert<float>(number, out _));

    [Fact]
    public void Converted_values_are_exact()
    {
        Assert.Null(NumberConversion.TryConvert<long>(-42, out var l));
        Assert.Equal(-42L, l);
        Assert.Null(NumberConversion.TryConvert<int>(7, out var i));
        Assert.Equal(7, i);
        Assert.Null(NumberConversion.TryConvert<float>(0.1, out var f));
        Assert.Equal(0.1f, f);
    }
}
