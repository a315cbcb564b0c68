using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Tests.Schema;

public class SchemaMismatchTests
{
    private static async Task<ModelSchemaException> LoadFails<TIn, TOut>(string model)
    {
        var services = new ServiceCollection();
        services.AddModel<TIn, TOut>("m", o => o.Source = ModelSource.FromFile(model));
        await using var provider = services.BuildServiceProvider();
        var ex = await Assert.ThrowsAsync<ModelSchemaException>(() => provider.StartModelsAsync());
        Assert.Equal("m", ex.ModelName);
        return ex;
    }

    private static async Task<string> Mismatch<TIn, TOut>(string model)
    {
        var ex = await LoadFails<TIn, TOut>(model);
        return Assert.Single(ex.Mismatches);
    }

    public sealed class NoMember { [ModelIgnore] public float[] Features { get; set; } = []; }

    [Fact]
    public async Task MissingInput_NamesTheInputAndHowToMapIt()
    {
        var m = await Mismatch<NoMember, IrisOutput>(TestModels.IrisMlp);
        Assert.Equal("input 'features' (float32 [batch,4]) has no member on NoMember; add a property named 'features' or mark one with [ModelInput(\"features\")]", m);
    }

    public sealed class WrongName { [ModelInput("feature")] public float[] Features { get; set; } = []; [ModelInput("features")] public float[] Real { get; set; } = []; }

    [Fact]
    public async Task UnknownInputName_ListsTheModelsInputs()
    {
        var m = await Mismatch<WrongName, IrisOutput>(TestModels.IrisMlp);
        Assert.Equal("WrongName.Features is mapped to input 'feature', but the model has no such input (inputs: 'features')", m);
    }

    public sealed class ExtraMember { public float[] Features { get; set; } = []; public string Comment { get; set; } = ""; }

    [Fact]
    public async Task UnmappedMember_SuggestsAttributeOrIgnore()
    {
        var m = await Mismatch<ExtraMember, IrisOutput>(TestModels.IrisMlp);
        Assert.Contains("ExtraMember.Comment does not match any model input (inputs: 'features')", m);
        Assert.Contains("[ModelIgnore]", m);
    }

    public sealed class DoubleFeatures { [ModelInput("features")] public double[] Features { get; set; } = []; }

    [Fact]
    public async Task ElementTypeMismatch_ShowsExpectedAndActual()
    {
        var m = await Mismatch<DoubleFeatures, IrisOutput>(TestModels.IrisMlp);
        Assert.Equal("input 'features': model expects float32 [batch,4]; DoubleFeatures.Features is double[] (element type must be float)", m);
    }

    public sealed class ThreeScalars
    {
        [ModelInput("features")] public float A { get; set; }
        [ModelInput("features")] public float B { get; set; }
        [ModelInput("features")] public float C { get; set; }
    }

    [Fact]
    public async Task ScalarCountMismatch_ShowsRowSizeAndMembers()
    {
        var m = await Mismatch<ThreeScalars, IrisOutput>(TestModels.IrisMlp);
        Assert.Equal("input 'features': model expects float32 [batch,4] (4 per row); ThreeScalars binds 3 scalar members to it (A, B, C)", m);
    }

    public sealed class RefFeatures
    {
        private float[] _features = new float[4];

        public ref float[] Features => ref _features;
    }

    [Fact]
    public async Task RefReturningProperty_IsNamedInCSharp_WithTheFix()
    {
        var m = await Mismatch<RefFeatures, IrisOutput>(TestModels.IrisMlp);
        Assert.Equal("input 'features': RefFeatures.Features is ref float[], a ref-returning property, which cannot be bound; make it a plain property of type float[]", m);
    }

    public sealed class ListFeatures { public List<float> Features { get; set; } = []; }

    [Fact]
    public async Task UnsupportedMemberType_SaysWhatIsSupported()
    {
        var m = await Mismatch<ListFeatures, IrisOutput>(TestModels.IrisMlp);
        Assert.Contains("ListFeatures.Features is List<float>; input members must be a scalar", m);
    }

    public sealed class MixedFeatures { [ModelInput("features")] public float[] All { get; set; } = []; [ModelInput("features")] public float One { get; set; } }

    [Fact]
    public async Task ArrayAndScalarsOnOneInput_AreRejected()
    {
        var m = await Mismatch<MixedFeatures, IrisOutput>(TestModels.IrisMlp);
        Assert.Contains("bind either one array member or several scalar members", m);
    }

    public sealed class BadOrder
    {
        [ModelInput("features", Order = 0)] public float A { get; set; }
        [ModelInput("features", Order = 0)] public float B { get; set; }
        [ModelInput("features", Order = 2)] public float C { get; set; }
        [ModelInput("features", Order = 3)] public float D { get; set; }
    }

    [Fact]
    public async Task DuplicateColumnOrder_IsRejected()
    {
        var m = await Mismatch<BadOrder, IrisOutput>(TestModels.IrisMlp);
        Assert.Contains("must be 0..3, each once", m);
    }

    public sealed class IntLabel { [ModelOutput("label")] public int Label { get; set; } }

    [Fact]
    public async Task OutputElementTypeMismatch_ShowsWhatTheModelReturns()
    {
        var m = await Mismatch<IrisInput, IntLabel>(TestModels.IrisMlp);
        Assert.Equal("output 'label': model returns int64 [batch]; IntLabel.Label is int (element type must be long)", m);
    }

    public sealed class TwoScalarProbabilities { [ModelOutput("probabilities")] public float A { get; set; } [ModelOutput("probabilities")] public float B { get; set; } }

    [Fact]
    public async Task OutputScalarCountMismatch_IsRejected()
    {
        var m = await Mismatch<IrisInput, TwoScalarProbabilities>(TestModels.IrisMlp);
        Assert.Equal("output 'probabilities': model returns float32 [batch,3] (3 per row); TwoScalarProbabilities binds 2 scalar members to it (A, B)", m);
    }

    public sealed class DictionaryOnTensor { [ModelOutput("probabilities")] public IReadOnlyDictionary<long, float> P { get; set; } = new Dictionary<long, float>(); }

    [Fact]
    public async Task DictionaryOnTensorOutput_SuggestsArray()
    {
        var m = await Mismatch<IrisInput, DictionaryOnTensor>(TestModels.IrisMlp);
        Assert.Contains("only fits seq(map) outputs (use float[])", m);
    }

    public sealed class ZipInput { [ModelInput("float_input")] public float[] X { get; set; } = []; }

    public sealed class StringKeyed { [ModelOutput("output_probability")] public IReadOnlyDictionary<string, float> P { get; set; } = new Dictionary<string, float>(); }

    [Fact]
    public async Task MapKeyTypeMismatch_ShowsTheMapType()
    {
        var m = await Mismatch<ZipInput, StringKeyed>(TestModels.IrisZipMap);
        Assert.Equal("output 'output_probability': model returns seq(map(int64,float32)); StringKeyed.P is IReadOnlyDictionary<string, float> (use IReadOnlyDictionary<long, float> or float[])", m);
    }

    public sealed class NoOutputs { [ModelIgnore] public long Label { get; set; } }

    [Fact]
    public async Task OutputTypeBindingNothing_ListsTheOutputs()
    {
        var m = await Mismatch<IrisInput, NoOutputs>(TestModels.IrisMlp);
        Assert.Equal("NoOutputs has no member bound to any output (outputs: 'label' int64 [batch], 'probabilities' float32 [batch,3])", m);
    }

    public sealed class NoCtor
    {
        public NoCtor(string unrelated) => Unrelated = unrelated;
        [ModelIgnore] public string Unrelated { get; }
        [ModelOutput("label")] public long Label { get; set; }
    }

    [Fact]
    public async Task OutputTypeWithoutUsableConstructor_IsRejected()
    {
        var m = await Mismatch<IrisInput, NoCtor>(TestModels.IrisMlp);
        Assert.Contains("NoCtor needs a public parameterless constructor", m);
    }

    public struct StructOutput { public long Label { get; set; } }

    [Fact]
    public async Task StructOutput_IsRejected()
    {
        var m = await Mismatch<IrisInput, StructOutput>(TestModels.IrisMlp);
        Assert.Contains("StructOutput is a struct", m);
    }

    public sealed class ScalarLength { [ModelInput("bytes")] public byte B { get; set; } }

    public sealed class Scores { [ModelOutput("scores")] public float[] Values { get; set; } = []; }

    [Fact]
    public async Task ScalarOnVariableLengthInput_AsksForAnArray()
    {
        var m = await Mismatch<ScalarLength, Scores>(TestModels.VariableLength);
        Assert.Contains("a row whose length varies", m);
        Assert.Contains("use an array member", m);
    }

    public sealed class EverythingWrong
    {
        [ModelInput("features")] public double[] Features { get; set; } = [];
        public int Unknown { get; set; }
    }

    public sealed class EverythingWrongOut { [ModelOutput("label")] public string Label { get; set; } = ""; [ModelOutput("nope")] public float[] P { get; set; } = []; }

    [Fact]
    public async Task SeveralProblems_AreAllReportedInOneException()
    {
        var ex = await LoadFails<EverythingWrong, EverythingWrongOut>(TestModels.IrisMlp);
        Assert.Equal(4, ex.Mismatches.Count);
        Assert.Contains("4 problems", ex.Message);
        foreach (var mismatch in ex.Mismatches)
        {
            Assert.Contains(mismatch, ex.Message);
        }
    }
}
