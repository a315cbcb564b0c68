using System.Numerics;

namespace ModelInService.Schema;

/// <summary>Something built for one unmanaged element type (numbers and bool): a binder, copier or writer.</summary>
internal interface IUnmanagedElementVisitor<out TResult>
{
    TResult Visit<T>()
        where T : unmanaged;
}

/// <summary>Something built for one numeric element type (not bool).</summary>
internal interface INumberElementVisitor<out TResult>
{
    TResult Visit<T>()
        where T : unmanaged, INumberBase<T>;
}

/// <summary>
/// Instantiates generic binders, copiers and recorder writers for a tensor element type known only at load time.
/// The element types are a closed set, so every instantiation is written here and compiled ahead of time (Native
/// AOT cannot create <c>NumericInputBinder&lt;TInput, float&gt;</c> from <c>MakeGenericType</c>); the key and value
/// types of maps likewise (<c>long</c> or <c>string</c> to <c>float</c> or <c>double</c>).
/// </summary>
internal static class ElementDispatch
{
    public static TResult Unmanaged<TResult>(Type element, IUnmanagedElementVisitor<TResult> visitor) =>
        element == typeof(bool) ? visitor.Visit<bool>() : Number(element, new UnmanagedAsNumber<TResult>(visitor));

    public static TResult Number<TResult>(Type element, INumberElementVisitor<TResult> visitor)
    {
        if (element == typeof(float)) { return visitor.Visit<float>(); }
        if (element == typeof(double)) { return visitor.Visit<double>(); }
        if (element == typeof(Half)) { return visitor.Visit<Half>(); }
        if (element == typeof(sbyte)) { return visitor.Visit<sbyte>(); }
        if (element == typeof(short)) { return visitor.Visit<short>(); }
        if (element == typeof(int)) { return visitor.Visit<int>(); }
        if (element == typeof(long)) { return visitor.Visit<long>(); }
        if (element == typeof(byte)) { return visitor.Visit<byte>(); }
        if (element == typeof(ushort)) { return visitor.Visit<ushort>(); }
        if (element == typeof(uint)) { return visitor.Visit<uint>(); }
        if (element == typeof(ulong)) { return visitor.Visit<ulong>(); }
        throw new NotSupportedException($"{element} is not a tensor element type.");
    }

    /// <summary>The (key, value) pair of a map: <c>long</c> or <c>string</c> keys, <c>float</c> or <c>double</c> values.</summary>
    public static TResult Map<TResult>(Type key, Type value, Func<TResult> longFloat, Func<TResult> longDouble, Func<TResult> stringFloat, Func<TResult> stringDouble) =>
        (key == typeof(long), value == typeof(float)) switch
        {
            (true, true) => longFloat(),
            (true, false) when value == typeof(double) => longDouble(),
            (false, true) when key == typeof(string) => stringFloat(),
            (false, false) when key == typeof(string) && value == typeof(double) => stringDouble(),
            _ => throw new NotSupportedException($"A map from {key} to {value} is not bindable (long or string keys, float or double values)."),
        };

    /// <summary>Every number is unmanaged: lets <see cref="Unmanaged"/> reuse the numeric switch.</summary>
    private sealed class UnmanagedAsNumber<TResult>(IUnmanagedElementVisitor<TResult> visitor) : INumberElementVisitor<TResult>
    {
        public TResult Visit<T>()
            where T : unmanaged, INumberBase<T> => visitor.Visit<T>();
    }
}
