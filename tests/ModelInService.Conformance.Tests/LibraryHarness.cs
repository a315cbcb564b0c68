using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using ModelInService.TestUtilities;

namespace ModelInService.Conformance.Tests;

/// <summary>
/// Runs shared models through the library's public API, without a generic host: register with <c>AddModel</c>, build a
/// <see cref="ServiceProvider"/>, <c>StartModelsAsync</c> (load, validate, warm up), resolve keyed services. Disposing
/// the provider disposes the models' sessions.
/// </summary>
internal static class LibraryHarness
{
    /// <summary>Registers models with <paramref name="register"/> and starts them; the caller disposes the provider.</summary>
    public static async Task<ServiceProvider> StartAsync(Action<IServiceCollection> register)
    {
        var services = new ServiceCollection();
        register(services);
        var provider = services.BuildServiceProvider();
        try
        {
            await provider.StartModelsAsync();
            return provider;
        }
        catch
        {
            await provider.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one typed model from <paramref name="path"/> and returns its keyed predictor.</summary>
    public static async Task<(ServiceProvider Provider, IPredictor<TIn, TOut> Predictor)> StartTypedAsync<TIn, TOut>(string name, string path, Action<ModelOptions>? configure = null)
    {
        var provider = await StartAsync(s => s.AddModel<TIn, TOut>(name, o =>
        {
            o.Source = ModelSource.FromFile(path);
            configure?.Invoke(o);
        }));
        return (provider, provider.GetRequiredKeyedService<IPredictor<TIn, TOut>>(name));
    }

    /// <summary>Starts one untyped model from <paramref name="path"/> and returns its keyed runner.</summary>
    public static async Task<(ServiceProvider Provider, IModelRunner Runner)> StartUntypedAsync(string name, string path, Action<ModelOptions>? configure = null)
    {
        var provider = await StartAsync(s => s.AddModel(name, o =>
        {
            o.Source = ModelSource.FromFile(path);
            configure?.Invoke(o);
        }));
        return (provider, provider.GetRequiredKeyedService<IModelRunner>(name));
    }

    /// <summary>The library's element type for an ONNX data type (Unknown for types the API cannot carry).</summary>
    public static ModelElementType ToModelElementType(OnnxDataType type) => type switch
    {
        OnnxDataType.Float => ModelElementType.Float32,
        OnnxDataType.Double => ModelElementType.Float64,
        OnnxDataType.Float16 => ModelElementType.Float16,
        OnnxDataType.Int8 => ModelElementType.Int8,
        OnnxDataType.Int16 => ModelElementType.Int16,
        OnnxDataType.Int32 => ModelElementType.Int32,
        OnnxDataType.Int64 => ModelElementType.Int64,
        OnnxDataType.UInt8 => ModelElementType.UInt8,
        OnnxDataType.UInt16 => ModelElementType.UInt16,
        OnnxDataType.UInt32 => ModelElementType.UInt32,
        OnnxDataType.UInt64 => ModelElementType.UInt64,
        OnnxDataType.Bool => ModelElementType.Bool,
        OnnxDataType.String => ModelElementType.String,
        _ => ModelElementType.Unknown,
    };

    public static OnnxDataType ToOnnxDataType(ModelElementType type) => type switch
    {
        ModelElementType.Float32 => OnnxDataType.Float,
        ModelElementType.Float64 => OnnxDataType.Double,
        ModelElementType.Float16 => OnnxDataType.Float16,
        ModelElementType.Int8 => OnnxDataType.Int8,
        ModelElementType.Int16 => OnnxDataType.Int16,
        ModelElementType.Int32 => OnnxDataType.Int32,
        ModelElementType.Int64 => OnnxDataType.Int64,
        ModelElementType.UInt8 => OnnxDataType.UInt8,
        ModelElementType.UInt16 => OnnxDataType.UInt16,
        ModelElementType.UInt32 => OnnxDataType.UInt32,
        ModelElementType.UInt64 => OnnxDataType.UInt64,
        ModelElementType.Bool => OnnxDataType.Bool,
        ModelElementType.String => OnnxDataType.String,
        _ => OnnxDataType.Undefined,
    };

    /// <summary>
    /// A <see cref="NamedTensor"/> with the same name, shape and values. Switches on the element type, not the array
    /// type (the CLR lets a byte[] pass as sbyte[]). Throws <see cref="NotSupportedException"/> for a type the API
    /// cannot carry, so such a test fails loudly instead of being dropped.
    /// </summary>
    public static NamedTensor ToNamedTensor(TestTensor tensor)
    {
        var shape = tensor.Dims;
        return tensor.ElementType switch
        {
            OnnxDataType.Float => NamedTensor.Create(tensor.Name, tensor.As<float>(), shape),
            OnnxDataType.Double => NamedTensor.Create(tensor.Name, tensor.As<double>(), shape),
            OnnxDataType.Float16 => NamedTensor.Create(tensor.Name, tensor.As<Half>(), shape),
            OnnxDataType.Int8 => NamedTensor.Create(tensor.Name, tensor.As<sbyte>(), shape),
            OnnxDataType.Int16 => NamedTensor.Create(tensor.Name, tensor.As<short>(), shape),
            OnnxDataType.Int32 => NamedTensor.Create(tensor.Name, tensor.As<int>(), shape),
            OnnxDataType.Int64 => NamedTensor.Create(tensor.Name, tensor.As<long>(), shape),
            OnnxDataType.UInt8 => NamedTensor.Create(tensor.Name, tensor.As<byte>(), shape),
            OnnxDataType.UInt16 => NamedTensor.Create(tensor.Name, tensor.As<ushort>(), shape),
            OnnxDataType.UInt32 => NamedTensor.Create(tensor.Name, tensor.As<uint>(), shape),
            OnnxDataType.UInt64 => NamedTensor.Create(tensor.Name, tensor.As<ulong>(), shape),
            OnnxDataType.Bool => NamedTensor.Create(tensor.Name, tensor.As<bool>(), shape),
            OnnxDataType.String => NamedTensor.Create(tensor.Name, tensor.As<string>(), shape),
            _ => throw new NotSupportedException($"{tensor}: NamedTensor cannot carry element type {tensor.ElementType}."),
        };
    }

    /// <summary>A runner output as a <see cref="TestTensor"/>, checking that its data array matches its element type.</summary>
    public static TestTensor ToTestTensor(NamedTensor tensor) =>
        new(tensor.Name, ToOnnxDataType(tensor.ElementType), [.. tensor.Shape], tensor.Data);

    /// <summary>
    /// Null when equal: same element type and shape, then exactly equal for integers, bools and strings, and
    /// |a-e| &lt;= abs + rel*|e| for floats (NaN matches NaN, infinities must match exactly).
    /// </summary>
    public static string? Compare(TestTensor expected, TestTensor actual, double relative, double absolute)
    {
        if (expected.ElementType != actual.ElementType || !expected.Dims.SequenceEqual(actual.Dims))
        {
            return $"expected {expected} but got {actual}";
        }

        if (expected.ElementType is OnnxDataType.Float or OnnxDataType.Double or OnnxDataType.Float16)
        {
            var e = expected.ToDoubleArray();
            var a = actual.ToDoubleArray();
            for (var i = 0; i < e.Length; i++)
            {
                var ok = double.IsNaN(e[i]) ? double.IsNaN(a[i])
                    : double.IsInfinity(e[i]) ? e[i] == a[i]
                    : Math.Abs(a[i] - e[i]) <= absolute + (relative * Math.Abs(e[i]));
                if (!ok)
                {
                    return string.Create(CultureInfo.InvariantCulture, $"{expected.Name} element {i}: expected {e[i]:R}, got {a[i]:R}");
                }
            }

            return null;
        }

        if (expected.ElementType == OnnxDataType.String)
        {
            var e = expected.As<string>();
            var a = actual.As<string>();
            for (var i = 0; i < e.Length; i++)
            {
                if (!string.Equals(e[i], a[i], StringComparison.Ordinal))
                {
                    return $"{expected.Name} element {i}: expected \"{e[i]}\", got \"{a[i]}\"";
                }
            }

            return null;
        }

        var ed = expected.ToDoubleArray();
        var ad = actual.ToDoubleArray();
        for (var i = 0; i < ed.Length; i++)
        {
            // Exact: the raw arrays must be equal; doubles only format the message (u64/i64 beyond 2^53 are compared below).
            if (!Equals(expected.Data.GetValue(i), actual.Data.GetValue(i)))
            {
                return string.Create(CultureInfo.InvariantCulture, $"{expected.Name} element {i}: expected {expected.Data.GetValue(i)}, got {actual.Data.GetValue(i)} ({ed[i]} vs {ad[i]})");
            }
        }

        return null;
    }

    public static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>Asserts |a-e| &lt;= tolerance element-wise with a message naming the first bad index.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Xunit.Assert.True(expected.Length == actual.Length, $"{what}: expected {expected.Length} values, got {actual.Length}");
        for (var i = 0; i < expected.Length; i++)
        {
            if (!(Math.Abs(actual[i] - expected[i]) <= tolerance))
            {
                Xunit.Assert.Fail(string.Create(CultureInfo.InvariantCulture, $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (tolerance {tolerance})"));
            }
        }
    }
}
