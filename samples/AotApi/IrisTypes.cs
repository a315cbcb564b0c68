using System.Text.Json.Serialization;
using ModelInService;

namespace AotApi;

/// <summary>
/// Four named scalar features, packed in this order into the model's float32 [batch,4] input "features".
/// [ModelSchema] has the library's source generator write this type's member accessors at compile time: no
/// expression trees or reflection at run time, which Native AOT could only interpret.
/// </summary>
[ModelSchema]
public sealed class IrisFlower
{
    [ModelInput("features")] public float SepalLength { get; set; }
    [ModelInput("features")] public float SepalWidth { get; set; }
    [ModelInput("features")] public float PetalLength { get; set; }
    [ModelInput("features")] public float PetalWidth { get; set; }
}

/// <summary>The model's two outputs, plus a readable species name.</summary>
[ModelSchema]
public sealed class IrisPrediction
{
    private static readonly string[] Names = ["setosa", "versicolor", "virginica"];

    [ModelOutput("label")] public long Label { get; set; }

    [ModelOutput("probabilities")] public float[] Probabilities { get; set; } = [];

    public string Species => Names[Label];
}

/// <summary>
/// Native AOT has no reflection-based JSON: the request and response types are serialized by this source-generated
/// context (the library's own endpoints bring theirs).
/// </summary>
[JsonSerializable(typeof(IrisFlower))]
[JsonSerializable(typeof(IrisPrediction))]
[JsonSerializable(typeof(IReadOnlyList<IrisFlower>))]
[JsonSerializable(typeof(IReadOnlyList<IrisPrediction>))]
[JsonSerializable(typeof(ReferenceFrozen))]
internal sealed partial class AppJsonContext : JsonSerializerContext;

/// <summary>The answer of POST /reference/freeze.</summary>
internal sealed record ReferenceFrozen(string Model, long Rows, int Features);
