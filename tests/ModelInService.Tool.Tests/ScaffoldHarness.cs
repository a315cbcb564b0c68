using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelInService.Tool.Tests;

/// <summary>Scaffolds a model, compiles the classes in memory with a driver, and runs one prediction through the library.</summary>
internal sealed class ScaffoldHarness
{
    private const string Namespace = "Scaffolded.Model";

    private static readonly Lazy<MetadataReference[]> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToArray());

    private ScaffoldHarness(LoadedModel model, BatchDescription batching, ScaffoldResult scaffold)
    {
        Model = model;
        Batching = batching;
        Scaffold = scaffold;
    }

    public LoadedModel Model { get; }

    public BatchDescription Batching { get; }

    public ScaffoldResult Scaffold { get; }

    /// <summary>The synthetic tensors <see cref="CreateInput"/> put in the input, by input name, with their shapes for one request.</summary>
    public Dictionary<string, (Array Values, long[] Shape)> InputTensors { get; } = new(StringComparer.Ordinal);

    public static async Task<ScaffoldHarness> CreateAsync(string path, IReadOnlyDictionary<string, int>? batchAxes = null)
    {
        var model = await LoadedModel.LoadAsync(path, batchAxes, CancellationToken.None);
        var batching = Batchability.Describe(model.Signature);
        return new ScaffoldHarness(model, batching, Scaffolder.Generate(model, batching, Namespace, CSharpNames.PrefixFromPath(path)));
    }

    /// <summary>The driver: registers the scaffolded types with AddModel and predicts once, as an application would.</summary>
    public string Driver => $$"""
        using System.Threading.Tasks;
        using Microsoft.Extensions.DependencyInjection;
        using ModelInService;

        namespace {{Namespace}};

        /// <summary>Registers the scaffolded types and predicts once.</summary>
        public static class Driver
        {
            /// <summary>One prediction through AddModel and IPredictor.</summary>
            /// <param name="path">The model file.</param>
            /// <param name="input">The input.</param>
            /// <returns>The output.</returns>
            public static async Task<object> PredictAsync(string path, object input)
            {
                var services = new ServiceCollection();
                services.AddModel<{{Scaffold.InputClass}}, {{Scaffold.OutputClass}}>("m", o =>
                {
                    o.Source = ModelSource.FromFile(path);
                    o.WarmupRuns = 0;
                    o.MaxConcurrency = 1;
                    o.SessionCopies = 1;
                    o.IntraOpThreads = 1;
        {{string.Concat(Model.BatchAxes.Select(p => $"            o.BatchAxes[{CSharpNames.Literal(p.Key)}] = {p.Value};\n"))}}        });
                await using var provider = services.BuildServiceProvider();
                await provider.StartModelsAsync();
                var predictor = provider.GetRequiredService<IPredictor<{{Scaffold.InputClass}}, {{Scaffold.OutputClass}}>>();
                return await predictor.PredictAsync(({{Scaffold.InputClass}})input);
            }
        }
        """;

    /// <summary>Compiles the scaffolded files and the driver; returns the assembly, or the diagnostics (warnings included) when there are any.</summary>
    public (Assembly? Assembly, IReadOnlyList<string> Diagnostics) Compile()
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.Diagnose);
        var trees = Scaffold.Files.Select(f => CSharpSyntaxTree.ParseText(f.Text, parse, f.FileName))
            .Append(CSharpSyntaxTree.ParseText(Driver, parse, "Driver.cs"))
            .ToList();
        var compilation = CSharpCompilation.Create(
            "Scaffolded_" + Scaffold.InputClass + "_" + Guid.NewGuid().ToString("N"),
            trees,
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, warningLevel: 9999));
        using var stream = new MemoryStream();
        var result = compilation.Emit(stream);
        var diagnostics = result.Diagnostics
            .Where(d => d.Severity >= DiagnosticSeverity.Warning)
            .Select(d => d.ToString())
            .ToList();
        if (!result.Success || diagnostics.Count > 0)
        {
            return (null, diagnostics);
        }

        return (Assembly.Load(stream.ToArray()), diagnostics);
    }

    /// <summary>An instance of the input class filled with synthetic rows of the right shapes.</summary>
    public object CreateInput(Assembly assembly, SyntheticData data)
    {
        var type = assembly.GetType($"{Namespace}.{Scaffold.InputClass}", throwOnError: true)!;
        var input = Activator.CreateInstance(type)!;
        var symbols = SyntheticData.BatchSymbols(Batching);
        foreach (var property in type.GetProperties())
        {
            var name = property.GetCustomAttribute<ModelInputAttribute>()!.Name;
            var tensor = Batching.Find(TensorRole.Input, name);
            var shape = data.Shape(tensor, 1, symbols);
            var count = tensor.RowDimensions.Aggregate(1L, (n, d) => n * shape[d]);
            var values = data.Values(tensor.Spec, count);
            property.SetValue(input, property.PropertyType.IsArray
                ? property.PropertyType.GetArrayRank() > 1 ? Rectangular(values, tensor.RowDimensions.Select(d => (int)shape[d]).ToArray()) : values
                : values.GetValue(0));
            InputTensors[name] = (values, shape);
        }

        return input;
    }

    /// <summary>A rectangular array of <paramref name="lengths"/> holding <paramref name="flat"/> in row-major order.</summary>
    private static Array Rectangular(Array flat, int[] lengths)
    {
        var array = Array.CreateInstance(flat.GetType().GetElementType()!, lengths);
        var index = new int[lengths.Length];
        for (var i = 0; i < flat.Length; i++)
        {
            var rest = i;
            for (var d = lengths.Length - 1; d >= 0; d--)
            {
                index[d] = rest % lengths[d];
                rest /= lengths[d];
            }

            array.SetValue(flat.GetValue(i), index);
        }

        return array;
    }

    /// <summary>Runs the driver: one prediction through AddModel + IPredictor.</summary>
    public static async Task<object> PredictAsync(Assembly assembly, string path, object input)
    {
        var driver = assembly.GetType($"{Namespace}.Driver", throwOnError: true)!;
        var method = driver.GetMethod("PredictAsync")!;
        try
        {
            return await (Task<object>)method.Invoke(null, [path, input])!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }

    /// <summary>The outputs of a direct ONNX Runtime run on <see cref="InputTensors"/>, flattened, for the tensor outputs.</summary>
    public Dictionary<string, Array> Reference()
    {
        using var session = new InferenceSession(Model.Path);
        var names = InputTensors.Keys.ToList();
        var values = names.Select(n => Timing.ToOrtValue(InputTensors[n].Values, InputTensors[n].Shape)).ToList();
        try
        {
            var outputNames = Batching.Tensors.Where(t => t.Role == TensorRole.Output && t.Spec.Kind == ModelValueKind.Tensor).Select(t => t.Spec.Name).ToList();
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, names, values, outputNames);
            var result = new Dictionary<string, Array>(StringComparer.Ordinal);
            for (var i = 0; i < outputNames.Count; i++)
            {
                result[outputNames[i]] = Flatten(outputs[i]);
            }

            return result;
        }
        finally
        {
            values.ForEach(v => v.Dispose());
        }
    }

    private static Array Flatten(OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        return info.ElementDataType switch
        {
            TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Double => value.GetTensorDataAsSpan<double>().ToArray(),
            TensorElementType.Int8 => value.GetTensorDataAsSpan<sbyte>().ToArray(),
            TensorElementType.Int16 => value.GetTensorDataAsSpan<short>().ToArray(),
            TensorElementType.Int32 => value.GetTensorDataAsSpan<int>().ToArray(),
            TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray(),
            TensorElementType.UInt8 => value.GetTensorDataAsSpan<byte>().ToArray(),
            TensorElementType.UInt16 => value.GetTensorDataAsSpan<ushort>().ToArray(),
            TensorElementType.UInt32 => value.GetTensorDataAsSpan<uint>().ToArray(),
            TensorElementType.UInt64 => value.GetTensorDataAsSpan<ulong>().ToArray(),
            TensorElementType.Bool => value.GetTensorDataAsSpan<bool>().ToArray(),
            TensorElementType.String => value.GetStringTensorAsArray(),
            var other => throw new NotSupportedException($"no reference comparison for {other}"),
        };
    }

    /// <summary>Members whose values differ from <paramref name="reference"/> (floats within 1e-4 relative + 1e-5 absolute).</summary>
    public IReadOnlyList<string> CompareWith(object output, Dictionary<string, Array> reference)
    {
        var problems = new List<string>();
        foreach (var property in output.GetType().GetProperties())
        {
            var name = property.GetCustomAttribute<ModelOutputAttribute>()!.Name;
            if (!reference.TryGetValue(name, out var expected))
            {
                continue;
            }

            var value = property.GetValue(output);
            // A rectangular array enumerates in row-major order, as ONNX Runtime's flat buffer.
            var actual = value is Array array ? array.Cast<object?>().ToArray() : [value];
            if (actual.Length != expected.Length)
            {
                problems.Add($"{property.Name}: {actual.Length} elements, ONNX Runtime gave {expected.Length}");
                continue;
            }

            for (var i = 0; i < actual.Length; i++)
            {
                var a = actual[i];
                var e = expected.GetValue(i);
                var same = (a, e) switch
                {
                    (float x, float y) => Close(x, y),
                    (double x, double y) => Close(x, y),
                    _ => Equals(a, e),
                };
                if (!same)
                {
                    problems.Add($"{property.Name}[{i}] = {a}, ONNX Runtime gave {e}");
                    break;
                }
            }
        }

        return problems;
    }

    private static bool Close(double x, double y) =>
        (double.IsNaN(x) && double.IsNaN(y)) || x == y || Math.Abs(x - y) <= 1e-5 + (1e-4 * Math.Max(Math.Abs(x), Math.Abs(y)));

    /// <summary>Problems with the output: a member left null, a fixed-size row of the wrong length, an empty map.</summary>
    public IReadOnlyList<string> CheckOutput(object output)
    {
        var problems = new List<string>();
        foreach (var property in output.GetType().GetProperties())
        {
            var name = property.GetCustomAttribute<ModelOutputAttribute>()!.Name;
            var tensor = Batching.Find(TensorRole.Output, name);
            var value = property.GetValue(output);
            switch (value)
            {
                case null:
                    problems.Add($"{property.Name} is null");
                    break;
                case Array array when tensor.FixedRowElements is { } n && array.Length != n:
                    problems.Add($"{property.Name} has {array.Length} elements; {tensor.Spec} has {n} per row");
                    break;
                case ICollection map when tensor.Spec.Kind == ModelValueKind.SequenceOfMaps && map.Count == 0:
                    problems.Add($"{property.Name} is an empty map");
                    break;
            }
        }

        return problems;
    }
}
