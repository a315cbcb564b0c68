using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime;
using ModelInService.TestUtilities;
using Onnx;
using Xunit;

namespace ModelInService.Conformance.Tests;

/// <summary>
/// A valid ONNX model whose input and output declare an element type but no shape (unknown rank; ONNX allows it and
/// older exporters and hand-built graphs produce it). Built in memory, so these run without the shared folder.
/// </summary>
public sealed class LibraryShapelessInputTests
{
    private static readonly float[] Values = [-1f, 2f, -3f, 4f, 5f, -6f];

    [Fact]
    public void Onnx_runtime_itself_runs_the_shapeless_relu_on_a_2x3_tensor()
    {
        using var session = new InferenceSession(ShapelessRelu());
        var y = OrtTensors.Run(session, [new TestTensor("x", OnnxDataType.Float, [2, 3], Values)])["y"];

        Assert.Equal([2L, 3L], y.Dims);
        Assert.Equal([0f, 2f, 0f, 4f, 5f, 0f], y.As<float>());
    }

    [Fact]
    public async Task Runner_accepts_any_shape_for_an_input_of_unknown_rank()
    {
        var bytes = ShapelessRelu();
        await using var provider = await LibraryHarness.StartAsync(s => s.AddModel("shapeless-relu", o => o.Source = ModelSource.FromBytes(bytes, "shapeless relu")));
        var runner = provider.GetRequiredKeyedService<IModelRunner>("shapeless-relu");

        var y = Assert.Single(await runner.RunAsync([NamedTensor.Create("x", Values, 2, 3)]));

        Assert.Equal([2L, 3L], y.Shape);
        Assert.Equal([0f, 2f, 0f, 4f, 5f, 0f], y.GetData<float>());
    }

    /// <summary>y = Relu(x), x and y float tensors with no shape at all, opset 17.</summary>
    private static byte[] ShapelessRelu()
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "ModelInService.Conformance.Tests", Graph = new GraphProto { Name = "shapeless_relu" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        model.Graph.Node.Add(new NodeProto { OpType = "Relu", Input = { "x" }, Output = { "y" } });
        model.Graph.Input.Add(new ValueInfoProto { Name = "x", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)OnnxDataType.Float } } });
        model.Graph.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)OnnxDataType.Float } } });
        return model.ToByteArray();
    }
}
