using System.Collections;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace ModelInService.AspNetCore;

/// <summary>
/// Writes a predict endpoint's answer. JSON has no NaN or infinities: unless the app's JSON options allow named
/// floating-point literals, the serializer throws on them, and a throw after the response started is a 500 with an
/// empty (or cut) body. So the output is scanned first, and a non-finite value is answered with a 500 problem that
/// says so; the answer is then streamed to the body (no copy of it in memory).
/// </summary>
/// <typeparam name="T">The model's output type.</typeparam>
internal sealed class JsonOutputWriter<T>
{
    private const int MaxDepth = 64;

    private readonly JsonSerializerOptions json;
    private readonly JsonTypeInfo<T> one;
    private readonly JsonTypeInfo<IReadOnlyList<T>> many;
    private readonly bool scan;

    public JsonOutputWriter(JsonSerializerOptions json)
    {
        this.json = json;
        one = (JsonTypeInfo<T>)json.GetTypeInfo(typeof(T));
        many = (JsonTypeInfo<IReadOnlyList<T>>)json.GetTypeInfo(typeof(IReadOnlyList<T>));
        scan = !AllowsNamedLiterals(json.NumberHandling);
    }

    public IResult One(T value, string modelName) => new Result<T>(this, value, one, modelName, batch: false);

    public IResult Many(IReadOnlyList<T> values, string modelName) => new Result<IReadOnlyList<T>>(this, values, many, modelName, batch: true);

    private static bool AllowsNamedLiterals(JsonNumberHandling? handling) =>
        handling is { } h && (h & JsonNumberHandling.AllowNamedFloatingPointLiterals) != 0;

    /// <summary>Finds the first NaN or infinity the serializer would refuse: its path and value, or null.</summary>
    internal (string Path, double Value, int Index)? FindNonFinite(object? value, bool batch)
    {
        if (!scan)
        {
            return null;
        }

        if (batch && value is IReadOnlyList<T> rows)
        {
            var info = json.GetTypeInfo(typeof(T));
            for (var i = 0; i < rows.Count; i++)
            {
                if (Find(rows[i], info, string.Empty, 0) is { } found)
                {
                    return (found.Path, found.Value, i);
                }
            }

            return null;
        }

        return Find(value, one, string.Empty, 0) is { } single ? (single.Path, single.Value, -1) : null;
    }

    private (string Path, double Value)? Find(object? value, JsonTypeInfo info, string path, int depth)
    {
        if (value is null || depth > MaxDepth || AllowsNamedLiterals(info.NumberHandling))
        {
            return null;
        }

        switch (value)
        {
            case float f:
                return float.IsFinite(f) ? null : (path, f);
            case double d:
                return double.IsFinite(d) ? null : (path, d);
            case float[] floats:
                for (var i = 0; i < floats.Length; i++)
                {
                    if (!float.IsFinite(floats[i]))
                    {
                        return ($"{path}[{i}]", floats[i]);
                    }
                }

                return null;
            case double[] doubles:
                for (var i = 0; i < doubles.Length; i++)
                {
                    if (!double.IsFinite(doubles[i]))
                    {
                        return ($"{path}[{i}]", doubles[i]);
                    }
                }

                return null;
            case string:
                return null;
        }

        // Polymorphic or object-typed members are written as their runtime type.
        if (info.Type == typeof(object) || info.Type.IsAbstract || info.Type.IsInterface)
        {
            if (value.GetType() != info.Type && json.TryGetTypeInfo(value.GetType(), out var runtime))
            {
                info = runtime;
            }
        }

        switch (info.Kind)
        {
            case JsonTypeInfoKind.Object:
                foreach (var property in info.Properties)
                {
                    if (property.Get is null || AllowsNamedLiterals(property.NumberHandling))
                    {
                        continue;
                    }

                    var member = property.Get(value);
                    if (member is not null && Find(member, json.GetTypeInfo(property.PropertyType), path.Length == 0 ? property.Name : path + "." + property.Name, depth + 1) is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonTypeInfoKind.Dictionary when value is IDictionary dictionary && info.ElementType is { } valueType:
                var valueInfo = json.GetTypeInfo(valueType);
                foreach (DictionaryEntry entry in dictionary)
                {
                    if (Find(entry.Value, valueInfo, $"{path}[{entry.Key}]", depth + 1) is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonTypeInfoKind.Dictionary when value is IEnumerable pairs && info.ElementType is { } valueType:
                // Dictionaries without the non-generic interface (IReadOnlyDictionary-only implementations): walk the
                // pairs of the key and value types model outputs use, without reflection (trimming and Native AOT).
                // Other pair types are left to the serializer's own refusal: the same 500 problem, without the key.
                var pairInfo = json.GetTypeInfo(valueType);
                foreach (var pair in pairs)
                {
                    (object? Key, object? Value)? entry = pair switch
                    {
                        KeyValuePair<string, float> p => (p.Key, p.Value),
                        KeyValuePair<long, float> p => (p.Key, p.Value),
                        KeyValuePair<int, float> p => (p.Key, p.Value),
                        KeyValuePair<string, double> p => (p.Key, p.Value),
                        KeyValuePair<long, double> p => (p.Key, p.Value),
                        KeyValuePair<int, double> p => (p.Key, p.Value),
                        KeyValuePair<string, float[]> p => (p.Key, p.Value),
                        KeyValuePair<string, double[]> p => (p.Key, p.Value),
                        KeyValuePair<string, object?> p => (p.Key, p.Value),
                        _ => null,
                    };
                    if (entry is not { } e)
                    {
                        return null;
                    }

                    if (Find(e.Value, pairInfo, $"{path}[{e.Key}]", depth + 1) is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonTypeInfoKind.Enumerable when value is IEnumerable items && info.ElementType is { } elementType:
                var elementInfo = json.GetTypeInfo(elementType);
                var index = 0;
                foreach (var item in items)
                {
                    if (Find(item, elementInfo, $"{path}[{index}]", depth + 1) is { } found)
                    {
                        return found;
                    }

                    index++;
                }

                return null;
            default:
                return null;
        }
    }

    private sealed class Result<TValue>(JsonOutputWriter<T> writer, TValue value, JsonTypeInfo<TValue> info, string modelName, bool batch) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            if (writer.FindNonFinite(value, batch) is { } nonFinite)
            {
                await ProblemResult.For(ModelProblems.NonFiniteOutput(modelName, nonFinite.Path, nonFinite.Value, nonFinite.Index, httpContext)).ExecuteAsync(httpContext).ConfigureAwait(false);
                return;
            }

            try
            {
                await httpContext.Response.WriteAsJsonAsync(value, info, contentType: null, httpContext.RequestAborted).ConfigureAwait(false);
            }
            catch (ArgumentException ex) when (!httpContext.Response.HasStarted)
            {
                // A value the scan does not know (e.g. a custom converter's NaN): still a problem, not an empty 500.
                var problem = ModelProblems.NonFiniteOutput(modelName, ex.ParamName ?? "output", double.NaN, -1, httpContext);
                problem.Title = "Model output cannot be written as JSON";
                problem.Detail = "The model's output holds a value JSON cannot carry (NaN or an infinity).";
                await ProblemResult.For(problem).ExecuteAsync(httpContext).ConfigureAwait(false);
            }
        }
    }
}
