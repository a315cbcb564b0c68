using ModelInService.Sessions;

namespace ModelInService.Tests.Sessions;

/// <summary>
/// A declared scalar input (<c>sr</c> int64 [] in conv_per_run_scalar.onnx, as Silero VAD's) must get a scalar: ONNX
/// Runtime's metadata cannot tell it from an undeclared shape, and a tensor of another rank used to reach ONNX Runtime,
/// whose rank check failed the run as a model error (ModelInferenceException) instead of the caller's input error.
/// </summary>
public class DeclaredTypesTests
{
    private static NamedTensor X() => NamedTensor.Create("x", new float[] { 1, 2, 3 }, 1, 3);

    [Fact]
    public async Task DeclaredScalarInput_OfAnotherRank_IsTheCallersInputError_NamingTheScalar()
    {
        var sp = await TestModels.ProviderAsync(s => s.AddModel("m", o => o.Source = ModelSource.FromFile(TestModels.Path("conv_per_run_scalar.onnx"))));
        var runner = Microsoft.Extensions.DependencyInjection.ServiceProviderKeyedServiceExtensions.GetRequiredKeyedService<IModelRunner>(sp, "m");

        // One value of any rank is the scalar (ONNX Runtime reads [1] as it); more or fewer values are the caller's error.
        foreach (var shape in new long[][] { [], [1], [1, 1] })
        {
            var ok = await runner.RunAsync([X(), NamedTensor.Create("sr", new long[] { 2 }, shape)]);
            Assert.Equal([2f, 4f, 6f], ok[0].GetData<float>());
        }

        foreach (var (values, shape) in new (long[], long[])[] { ([2, 3], [2]), ([2, 3, 4, 5, 6, 7], [2, 3]), ([], [0]) })
        {
            var ex = await Assert.ThrowsAsync<ModelInputException>(async () => await runner.RunAsync([X(), NamedTensor.Create("sr", values, shape)]));
            Assert.Equal("sr", ex.MemberName);
            Assert.Contains("the model expects a scalar int64 []", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Find_TellsADeclaredScalarFromAnUndeclaredShapeAndFromDimensions()
    {
        // Graph inputs: "scalar" with shape {} (declared, no dims), "free" with no shape field, "vector" with one dim.
        byte[] Input(string name, byte[]? shape)
        {
            var tensorType = shape is null ? Varint(1, 1) : [.. Varint(1, 1), .. Field(2, shape)];
            return Field(11, [.. Field(1, System.Text.Encoding.UTF8.GetBytes(name)), .. Field(2, Field(1, tensorType))]);
        }

        byte[] graph = [.. Field(5, new byte[300]), .. Input("scalar", []), .. Input("free", null), .. Input("vector", Field(1, Varint(1, 3)))];
        byte[] model = [.. Varint(1, 8), .. Field(7, graph)];

        using var stream = new MemoryStream(model);
        var found = DeclaredTypes.Find(stream);

        Assert.Equal(["scalar"], found);
    }

    [Fact]
    public void DescribeUnsupported_NamesFloat8AndInt4InputsAndOutputs_NotTheSupportedOnes()
    {
        byte[] Value(int field, string name, ulong elementType) =>
            Field(field, [.. Field(1, System.Text.Encoding.UTF8.GetBytes(name)), .. Field(2, Field(1, Varint(1, elementType)))]);

        byte[] graph = [.. Value(11, "a", 1), .. Value(11, "b", 17), .. Value(12, "c", 22), .. Value(12, "d", 10)];
        byte[] model = [.. Varint(1, 10), .. Field(7, graph)];

        Assert.Equal("input 'b' is float8e4m3fn, output 'c' is int4", DeclaredTypes.DescribeUnsupported(null, model));
        Assert.Null(DeclaredTypes.DescribeUnsupported(null, [.. Varint(1, 10), .. Field(7, Value(11, "a", 1))]));
        Assert.Null(DeclaredTypes.DescribeUnsupported(null, [0x3A, 0xFF, 0xFF, 0x0F])); // unreadable: no detail, no throw
    }

    [Fact]
    public void Find_OnALengthPastTheEnd_ThrowsInvalidData_SoTheLoaderKeepsTheLenientCheck()
    {
        byte[] model = [0x3A, 0xFF, 0xFF, 0xFF, 0x0F, 0x5A]; // graph (7) claiming ~4 GB
        using var stream = new MemoryStream(model);
        Assert.Throws<InvalidDataException>(() => DeclaredTypes.Find(stream));
    }

    [Theory]
    [InlineData("conv_per_run_scalar.onnx")]
    [InlineData("iris_mlp.onnx")]
    [InlineData("multi_input.onnx")]
    public void Read_OfMutatedAndTruncatedModels_ReturnsOrThrowsInvalidData_Only(string model)
    {
        // The reader runs on every load of a model with an input without dimensions: a damaged file must give the
        // lenient check back (InvalidDataException, caught by Mark), never another exception or a hang.
        var original = File.ReadAllBytes(TestModels.Path(model));
        var random = new Random(model.Length);
        for (var round = 0; round < 2_000; round++)
        {
            var bytes = round % 4 == 0 ? original[..random.Next(original.Length)] : (byte[])original.Clone();
            for (var flips = random.Next(1, 8); flips > 0 && bytes.Length > 0 && round % 4 != 0; flips--)
            {
                bytes[random.Next(Math.Min(bytes.Length, 4096))] = (byte)random.Next(256);
            }

            try
            {
                using var stream = new MemoryStream(bytes);
                DeclaredTypes.Read(stream);
            }
            catch (InvalidDataException)
            {
                // The expected refusal.
            }
        }

        using var intact = new MemoryStream(original);
        Assert.Equal(model == "conv_per_run_scalar.onnx" ? ["sr"] : [], DeclaredTypes.Find(intact));
    }

    private static byte[] Varint(int field, ulong value) => [.. Encode((ulong)(field << 3)), .. Encode(value)];

    private static byte[] Field(int field, byte[] payload) => [.. Encode((ulong)((field << 3) | 2)), .. Encode((ulong)payload.Length), .. payload];

    private static byte[] Encode(ulong value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }
}
