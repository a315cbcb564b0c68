using System.Text;
using Microsoft.ML.OnnxRuntime;
using ModelInService.Sessions;
using Xunit;

namespace ModelInService.Tests.Sessions;

/// <summary>
/// The protobuf edit behind <see cref="ModelOptions.RemoveZipMap"/>, at the byte level: what it removes, that the edited
/// model loads and is not edited twice, and that damaged bytes never make it throw (ONNX Runtime reports those).
/// Equality of results with the node kept is tested on real and generated classifiers in the conformance tests.
/// </summary>
public sealed class ZipMapRemovalTests
{
    private static readonly byte[] IrisZipMap = File.ReadAllBytes(TestModels.IrisZipMap);

    [Fact]
    public void TheIrisZipMap_IsRemoved_AndItsInputBecomesTheGraphOutput()
    {
        var result = ZipMapRemoval.TryRemove(IrisZipMap, out var kept);

        Assert.Null(kept);
        Assert.NotNull(result);
        Assert.Equal(["output_label", "output_probability"], result.GraphOutputs);
        var (source, keyType) = Assert.Single(result.Removed).Value;
        Assert.Equal(ModelElementType.Int64, keyType);
        Assert.Equal("probability_tensor", source.TensorName);
        Assert.Equal([0L, 1, 2], source.Int64Keys!);
        Assert.True(source.InOrder);
        Assert.True(IrisZipMap.AsSpan().IndexOf("ZipMap_1"u8) >= 0 && result.Model.AsSpan().IndexOf("ZipMap_1"u8) < 0, "the node (named ZipMap_1) is gone");
        Assert.True(result.Model.Length < IrisZipMap.Length);

        using var session = new InferenceSession(result.Model);
        Assert.Equal(["output_label", "probability_tensor"], session.OutputNames);
        Assert.Null(ZipMapRemoval.TryRemove(result.Model, out kept)); // nothing left to remove
        Assert.Null(kept);
    }

    [Fact]
    public void AModelWithoutZipMap_IsLeftAlone()
    {
        Assert.Null(ZipMapRemoval.TryRemove(File.ReadAllBytes(TestModels.IrisMlp), out var kept));
        Assert.Null(kept);
    }

    [Fact]
    public void DamagedBytes_NeverThrow()
    {
        // Every truncation and 3,000 random byte changes: the reader returns null or an edit, and an edit always loads
        // when the damaged original does (the damage was somewhere the edit copies byte for byte).
        for (var length = 0; length < IrisZipMap.Length; length += 7)
        {
            _ = ZipMapRemoval.TryRemove(IrisZipMap[..length], out _);
        }

        var random = new Random(5);
        var loaded = 0;
        for (var i = 0; i < 3_000; i++)
        {
            var damaged = (byte[])IrisZipMap.Clone();
            for (var k = random.Next(1, 4); k > 0; k--)
            {
                damaged[random.Next(damaged.Length)] = (byte)random.Next(256);
            }

            if (ZipMapRemoval.TryRemove(damaged, out _) is { } result && Loads(damaged))
            {
                Assert.True(Loads(result.Model), $"case {i}: the damaged model loads but its edit does not");
                loaded++;
            }
        }

        Assert.True(loaded > 100, $"only {loaded} damaged models were edited and loaded: the test exercises too little");
    }

    [Fact]
    public void ExternalData_KeepsTheZipMap()
    {
        // Append an initializer whose data_location is EXTERNAL (14: 1) to the graph: the edited model would be loaded
        // from memory, where the external file cannot be found.
        var fields = ZipMapRemoval.Fields(IrisZipMap, 0, IrisZipMap.Length);
        var graph = fields.Single(f => f.Number == 7);
        var initializer = Field(5, [.. Field(8, Encoding.UTF8.GetBytes("w")), 0x70, 0x01]);
        var newGraph = IrisZipMap[graph.PayloadStart..graph.PayloadEnd].Concat(initializer).ToArray();
        var model = IrisZipMap[..graph.Start].Concat(Field(7, newGraph)).Concat(IrisZipMap[graph.End..]).ToArray();

        Assert.Null(ZipMapRemoval.TryRemove(model, out var kept));
        Assert.Equal("an initializer keeps its data in an external file", kept);
    }

    private static byte[] Field(int number, byte[] payload)
    {
        var bytes = new List<byte>();
        Varint(bytes, ((ulong)number << 3) | 2);
        Varint(bytes, (ulong)payload.Length);
        bytes.AddRange(payload);
        return [.. bytes];
    }

    private static void Varint(List<byte> bytes, ulong value)
    {
        for (; value >= 0x80; value >>= 7)
        {
            bytes.Add((byte)(value | 0x80));
        }

        bytes.Add((byte)value);
    }

    private static bool Loads(byte[] model)
    {
        try
        {
            using var session = new InferenceSession(model);
            return true;
        }
        catch (OnnxRuntimeException)
        {
            return false;
        }
    }
}
