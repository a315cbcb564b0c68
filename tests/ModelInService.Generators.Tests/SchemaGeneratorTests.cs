using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace ModelInService.Generators.Tests;

public sealed class SchemaGeneratorTests
{
    private static readonly ImmutableArray<MetadataReference> References =
    [
        .. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator).Select(p => MetadataReference.CreateFromFile(p)),
        MetadataReference.CreateFromFile(typeof(ModelSchemaAttribute).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(ModelInputAttribute).Assembly.Location),
    ];

    private static readonly CSharpParseOptions Parse = new(LanguageVersion.Latest);

    private static CSharpCompilation Compile(params string[] sources) => CSharpCompilation.Create(
        "Schemas",
        sources.Select(s => CSharpSyntaxTree.ParseText(s, Parse)),
        References,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    private static (GeneratorDriverRunResult Result, Compilation Output) Run(params string[] sources)
    {
        var compilation = Compile(sources);
        GeneratorDriver driver = CSharpGeneratorDriver.Create([new SchemaGenerator().AsSourceGenerator()], parseOptions: Parse);
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out _);
        return (driver.GetRunResult(), output);
    }

    private const string Valid = """
        using System.Collections.Generic;
        using ModelInService;
        namespace App;

        [ModelSchema]
        public sealed class Input
        {
            [ModelInput("features")] public float[] Features { get; set; } = [];
            public string Text = "";
            public float[,] Image { get; set; } = new float[0, 0];
            public System.ReadOnlyMemory<long> Ids { get; set; }
            [ModelIgnore] public System.DateTime At { get; set; }
            public int @class { get; set; }
        }

        [ModelSchema]
        public sealed record Scores(
            [ModelOutput("label")] long Label,
            [ModelOutput("probabilities", Order = 0)] float A,
            [ModelOutput("probabilities", Order = 1)] float B);

        [ModelSchema]
        public sealed class ZipMap
        {
            [ModelOutput("output_probability")] public IReadOnlyDictionary<long, float> P { get; set; } = new Dictionary<long, float>();
            public float[,,] Y { get; set; } = new float[0, 0, 0];
        }
        """;

    [Fact]
    public void ValidSchemas_GenerateOneTableEach_ThatCompiles()
    {
        var (result, output) = Run(Valid);

        Assert.Empty(result.Diagnostics);
        Assert.Equal(3, result.GeneratedTrees.Length);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
        var scores = result.GeneratedTrees.Single(t => t.FilePath.EndsWith("ModelSchema_App_Scores.g.cs", StringComparison.Ordinal)).ToString();
        Assert.Contains("[global::System.Runtime.CompilerServices.ModuleInitializer]", scores, StringComparison.Ordinal);
        Assert.Contains("UnsafeAccessorKind.Method, Name = \"set_Label\"", scores, StringComparison.Ordinal); // init accessor
        Assert.Contains("private static extern global::App.Scores Construct(long p0, float p1, float p2);", scores, StringComparison.Ordinal);
        var input = result.GeneratedTrees.Single(t => t.FilePath.EndsWith("ModelSchema_App_Input.g.cs", StringComparison.Ordinal)).ToString();
        Assert.Contains("x.@class", input, StringComparison.Ordinal);
        Assert.DoesNotContain("\"At\"", input, StringComparison.Ordinal);
        Assert.Contains("new global::System.Action<global::App.Input, global::System.Array>(static (x, v) => x.Image = (float[,])v)", input, StringComparison.Ordinal);
        var zip = result.GeneratedTrees.Single(t => t.FilePath.EndsWith("ModelSchema_App_ZipMap.g.cs", StringComparison.Ordinal)).ToString();
        // A read-only dictionary member is set with the declared type (the library hands it a shared-keys map).
        Assert.Contains("global::System.Action<global::App.ZipMap, global::System.Collections.Generic.IReadOnlyDictionary<long, float>>", zip, StringComparison.Ordinal);
    }

    [Fact]
    public void GeneratedTables_AtRunTime_ReadWriteAndConstruct()
    {
        var (_, output) = Run(Valid);
        using var stream = new MemoryStream();
        var emit = output.Emit(stream);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        var assembly = System.Reflection.Assembly.Load(stream.ToArray());
        var scores = assembly.GetType("App.Scores")!;
        System.Runtime.CompilerServices.RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);
        var table = Schema.SchemaAccessors.Find(scores)!;

        var value = table.Factory!.DynamicInvoke()!;
        table.Setters["Label"].DynamicInvoke(value, 7L);
        table.Setters["B"].DynamicInvoke(value, 0.25f);

        Assert.Equal(7L, table.Getters["Label"].DynamicInvoke(value));
        Assert.Equal(0.25f, table.Getters["B"].DynamicInvoke(value));
        Assert.Equal("Scores { Label = 7, A = 0, B = 0.25 }", value.ToString());
    }

    [Theory]
    [InlineData("namespace Shop.Models { [ModelSchema] public sealed class Iris_Input { public float[] F { get; set; } = []; } public static class Iris { [ModelSchema] public sealed class Input { public float[] F { get; set; } = []; } } }", "Shop.Models.Iris_Input", "Shop.Models.Iris+Input")]
    [InlineData("namespace N { [ModelSchema] public sealed class Foo { public float[] F { get; set; } = []; } [ModelSchema] public sealed class foo { public float[] F { get; set; } = []; } }", "N.Foo", "N.foo")]
    [InlineData("namespace N { [ModelSchema] public sealed class A_B { public float[] F { get; set; } = []; } } namespace N.A { [ModelSchema] public sealed class B { public float[] F { get; set; } = []; } }", "N.A_B", "N.A.B")]
    public void TypesWhoseNamesSanitizeAlike_EachGetTheirOwnTable(string source, string first, string second)
    {
        // Both sanitize to one hint name (ModelSchema_Shop_Models_Iris_Input; hint names compare ignoring case): the
        // generator threw CS8785 and no type of the compilation got generated code.
        var (result, output) = Run("using ModelInService;\n" + source);

        Assert.Null(result.Results[0].Exception);
        Assert.Empty(result.Diagnostics);
        Assert.Equal(2, result.GeneratedTrees.Length);
        Assert.Equal(2, result.GeneratedTrees.Select(t => Path.GetFileName(t.FilePath)).Distinct(StringComparer.OrdinalIgnoreCase).Count());
        using var stream = new MemoryStream();
        var emit = output.Emit(stream);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        var assembly = System.Reflection.Assembly.Load(stream.ToArray());
        System.Runtime.CompilerServices.RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);
        Assert.NotNull(Schema.SchemaAccessors.Find(assembly.GetType(first, throwOnError: true)!));
        Assert.NotNull(Schema.SchemaAccessors.Find(assembly.GetType(second, throwOnError: true)!));

        // Stable: the same names on another run, and a type that collides with nothing keeps its readable name.
        var (again, _) = Run("using ModelInService;\n" + source);
        Assert.Equal(result.GeneratedTrees.Select(t => t.FilePath), again.GeneratedTrees.Select(t => t.FilePath));
        var (alone, _) = Run("using ModelInService;\n" + source, "namespace Other { [ModelInService.ModelSchema] public sealed class Lone { public float[] F { get; set; } = []; } }");
        Assert.Contains(alone.GeneratedTrees, t => t.FilePath.EndsWith("ModelSchema_Other_Lone.g.cs", StringComparison.Ordinal));
    }

    [Fact]
    public void UniqueClassNames_SettlesAClashOfHashes_WithACounter()
    {
        // A readable name can equal another type's hashed one; no name is ever handed out twice.
        static SchemaSpec Spec(string metadataName, string className) => new("global::" + metadataName, metadataName, className, default, false, default, default);
        var a = Spec("N.A", "ModelSchema_X");
        var b = Spec("N.B", "ModelSchema_x");
        var hashed = SchemaGenerator.UniqueClassNames([a, b]).Select(n => n.ClassName).ToList();
        var c = Spec("N.C", hashed[0]);

        var names = SchemaGenerator.UniqueClassNames([c, b, a]).Select(n => n.ClassName).ToList();

        Assert.Equal(3, names.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.Equal([hashed[0], hashed[1], hashed[0] + "_2"], names);
    }

    [Theory]
    [InlineData("public System.Collections.Generic.List<float> Features { get; set; } = [];", "MIS1001", "'Features': In.Features is List<float>; input members must be a scalar")]
    [InlineData("[ModelInput(\"x\")] public float X { get; set; } public System.DateTime At => default;", "MIS1001", "input 'At': In.At is DateTime; input members must be a scalar")]
    [InlineData("[ModelInput(\"f\")] public float[] A { get; set; } = []; [ModelInput(\"f\")] public float B { get; set; }", "MIS1002", "input 'f': In.A, In.B are all bound to it; bind either one array member or several scalar members")]
    [InlineData("[ModelInput(\"f\", Order = 0)] public float A { get; set; } [ModelInput(\"f\", Order = 0)] public float B { get; set; }", "MIS1003", "'f': the Order values of In.A=0, In.B=0 must be 0..1, each once, on every member or on none")]
    [InlineData("[ModelInput(\"f\")] public float A { get; set; } [ModelInput(\"f\")] public float B;", "MIS1003", "'f': In.A, In.B mix properties and fields")]
    [InlineData("[ModelInput(\"f\")] public System.Collections.Generic.IReadOnlyDictionary<long, float> P { get; set; } = null!;", "MIS1001", "input 'f': In.P is IReadOnlyDictionary<long, float>; input members must be")]
    [InlineData("private float[] _f = []; public ref float[] Features => ref _f;", "MIS1001", "input 'Features': In.Features returns ref float[] (a reference: return the value instead); input members must be a scalar")]
    [InlineData("private float _f; [ModelInput(\"x\")] public float[] X { get; set; } = []; public ref readonly float F => ref _f;", "MIS1001", "input 'F': In.F returns ref readonly float (a reference: return the value instead)")]
    public void KnownSchemaErrors_AreReportedAtCompileTime_InTheStartUpWords(string members, string id, string message)
    {
        var (result, _) = Run($$"""
            using ModelInService;
            [ModelSchema]
            public sealed class In { {{members}} }
            """);

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.StartsWith(message, diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.NotEqual(Location.None, diagnostic.Location);
    }

    [Fact]
    public void ComputedGetOnlyMembers_OnATypeWithoutRoleAttributes_AreNoError()
    {
        // The sample's output type: MemberModel.ForOutput skips members without a public setter, so this binds at run
        // time without [ModelSchema]; the generator called Species and Confidence bad inputs (MIS1001, an error).
        var (result, output) = Run("""
            using ModelInService;
            namespace App;
            public enum Species { Setosa, Versicolor, Virginica }

            [ModelSchema]
            public sealed class IrisPrediction
            {
                public long Label { get; set; }
                public float[] Probabilities { get; set; } = [];
                public Species Species => (Species)Label;
                public decimal Confidence => (decimal)Probabilities[0];
            }

            [ModelSchema]
            public sealed class SetOnly
            {
                public float[] Features { get; set; } = [];
                public System.Collections.Generic.List<float> Log { set { } }
            }
            """);

        Assert.Empty(result.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }

    [Fact]
    public void UnsupportedMembers_OnATypeWithoutRoleAttributes_AreNamedWithoutARole()
    {
        var (result, _) = Run("""
            using ModelInService;
            [ModelSchema]
            public sealed class Both { public decimal Price { get; set; } }
            """);

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MIS1001", diagnostic.Id);
        Assert.StartsWith("'Price': Both.Price is decimal; input members must be a scalar", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Contains("; output members must be a scalar", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void OutputOnlyTypes_AreJudgedByTheOutputRules()
    {
        // A dictionary is fine on an output; a ReadOnlyMemory<T> is not.
        var (result, _) = Run("""
            using ModelInService;
            [ModelSchema]
            public sealed class Out
            {
                [ModelOutput("p")] public System.Collections.Generic.IReadOnlyDictionary<string, float> P { get; set; } = null!;
                [ModelOutput("m")] public System.ReadOnlyMemory<float> M { get; set; }
            }
            """);

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MIS1001", diagnostic.Id);
        Assert.StartsWith("output 'm': Out.M is ReadOnlyMemory<float>", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void ObsoleteErrorAndExperimentalMembers_CompileInTheGeneratedFile_AndAreBound()
    {
        // MemberModel binds these members; the generated code named them and failed the build (CS0619, APP001).
        var (result, output) = Run("""
            using System;
            using System.Diagnostics.CodeAnalysis;
            using ModelInService;
            namespace App;

            [ModelSchema, Experimental("APP002")] public sealed class PreviewType { public float[] F { get; set; } = []; }

            [ModelSchema, Obsolete("gone", error: true)] public sealed class GoneType { public float[] F { get; set; } = []; }

            public class Base<T>
            {
                [Obsolete("use Features", error: true)] public float[] OldBase { get; set; } = [];
            }

            [ModelSchema]
            public sealed class Old : Base<int>
            {
                public float[] Features { get; set; } = [];
                [Obsolete("use Features", error: true)] public float[] Legacy { get; set; } = [];
                [Obsolete("use Features", true)] public long LegacyField;
                [Obsolete("use Features", error: true)] public long LegacyInit { get; init; }
                [Experimental("APP001")] public float[] Preview { get; set; } = [];
                [Experimental("APP003")] public long PreviewField;
            }

            [ModelSchema]
            public sealed record Rec([property: Experimental("APP004")] long Label, [property: Obsolete("x", true)] float Score);
            """);

        Assert.Empty(result.Diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
        using var stream = new MemoryStream();
        var emit = output.Emit(stream);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        var assembly = System.Reflection.Assembly.Load(stream.ToArray());
        System.Runtime.CompilerServices.RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);
        var table = Schema.SchemaAccessors.Find(assembly.GetType("App.Old")!)!;
        var value = table.Factory!.DynamicInvoke()!;
        foreach (var name in new[] { "Legacy", "OldBase", "Preview" })
        {
            table.Setters[name].DynamicInvoke(value, new[] { 1f, 2f });
            Assert.Equal([1f, 2f], (float[])table.Getters[name].DynamicInvoke(value)!);
        }

        foreach (var name in new[] { "LegacyField", "LegacyInit", "PreviewField" })
        {
            table.Setters[name].DynamicInvoke(value, 5L);
            Assert.Equal(5L, table.Getters[name].DynamicInvoke(value));
        }

        Assert.NotNull(Schema.SchemaAccessors.Find(assembly.GetType("App.PreviewType")!));
        Assert.NotNull(Schema.SchemaAccessors.Find(assembly.GetType("App.GoneType")!));
        var rec = Schema.SchemaAccessors.Find(assembly.GetType("App.Rec")!)!;
        var r = rec.Factory!.DynamicInvoke()!;
        rec.Setters["Label"].DynamicInvoke(r, 3L);
        rec.Setters["Score"].DynamicInvoke(r, 0.5f);
        Assert.Equal(3L, rec.Getters["Label"].DynamicInvoke(r));
        Assert.Equal(0.5f, rec.Getters["Score"].DynamicInvoke(r));
    }

    [Fact]
    public void InitAccessorsOfAGenericBase_AreReportedAsReflected()
    {
        // No generated setter for Label (an UnsafeAccessor cannot simply name GenBase<int>.set_Label): the reflected
        // fallback was silent. On an input type the setter is never used, so nothing is said there.
        var (result, output) = Run("""
            using ModelInService;
            namespace App;
            public class GenBase<T> { public long Label { get; init; } public T? Extra { get; set; } }

            [ModelSchema]
            public sealed class Prediction : GenBase<int> { public float[] Probabilities { get; set; } = []; }

            [ModelSchema]
            public sealed class Features : GenBase<int> { [ModelInput("x")] public float[] X { get; set; } = []; }
            """);

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MIS1005", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Warning, diagnostic.Severity);
        Assert.StartsWith("Prediction.Label: its init accessor is declared in the generic type GenBase<int>", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Equal(2, diagnostic.Location.GetLineSpan().StartLinePosition.Line); // at Label, in GenBase<T>
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        var prediction = result.GeneratedTrees.Single(t => t.FilePath.EndsWith("ModelSchema_App_Prediction.g.cs", StringComparison.Ordinal)).ToString();
        Assert.Contains("[\"Extra\"] = new global::System.Action<global::App.Prediction, int>", prediction, StringComparison.Ordinal);
    }

    [Fact]
    public void PrivateNestedAndGenericTypes_AreReportedAndLeftToReflection()
    {
        var (result, output) = Run("""
            using ModelInService;
            public sealed class Outer
            {
                [ModelSchema] private sealed class Hidden { public float[] X { get; set; } = []; }
            }
            [ModelSchema] public sealed class Generic<T> { public float[] X { get; set; } = []; }
            """);

        Assert.Equal(["MIS1004", "MIS1004"], result.Diagnostics.Select(d => d.Id));
        Assert.All(result.Diagnostics, d => Assert.Equal(DiagnosticSeverity.Warning, d.Severity));
        Assert.Empty(result.GeneratedTrees);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void AnEditElsewhere_ReusesTheCachedOutput()
    {
        var compilation = Compile(Valid);
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            [new SchemaGenerator().AsSourceGenerator()],
            parseOptions: Parse,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        driver = driver.RunGenerators(compilation);

        driver = driver.RunGenerators(compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace App; public static class Unrelated { public static int X => 1; }", Parse)));
        var outputs = driver.GetRunResult().Results[0].TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).ToList();

        Assert.NotEmpty(outputs);
        Assert.All(outputs, o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }
}
