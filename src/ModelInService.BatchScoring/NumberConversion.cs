using System.Globalization;

namespace ModelInService.BatchScoring;

/// <summary>
/// Converts a value read as a double to the element type a model input or an input member takes, refusing what the
/// cast would silently change: a fraction into an integer, a number beyond the type's range (a C# cast saturates or
/// wraps integers and turns a float32 overflow into an infinity).
/// </summary>
internal static class NumberConversion
{
    private const double Int64Limit = 9223372036854775808.0; // 2^63: the first double above long.MaxValue
    private const double Int32Limit = 2147483648.0;

    /// <summary>Converts <paramref name="number"/> (finite or not: NaN stays NaN for floating types, checked later) to <typeparamref name="T"/>.</summary>
    /// <returns>Null when converted, else why not (without the column's name).</returns>
    public static string? TryConvert<T>(double number, out T value)
        where T : struct
    {
        value = default;
        if (typeof(T) == typeof(double))
        {
            value = (T)(object)number;
            return null;
        }

        if (typeof(T) == typeof(float))
        {
            var single = (float)number;
            if (float.IsInfinity(single) && double.IsFinite(number))
            {
                return string.Create(CultureInfo.InvariantCulture, $"{number} is outside the range of float32 (±3.4E+38)");
            }

            value = (T)(object)single;
            return null;
        }

        if (typeof(T) == typeof(bool))
        {
            value = (T)(object)(number != 0);
            return null;
        }

        var limit = typeof(T) == typeof(long) ? Int64Limit : Int32Limit;
        var type = typeof(T) == typeof(long) ? "int64" : "int32";
        if (double.IsNaN(number) || number != Math.Round(number))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{number} is not an integer ({type})");
        }

        if (number < -limit || number >= limit)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{number} is outside the range of {type}");
        }

        value = typeof(T) == typeof(long) ? (T)(object)(long)number : (T)(object)(int)number;
        return null;
    }
}
