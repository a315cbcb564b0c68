using ModelInService;

namespace BatchScoringSample;

/// <summary>Four named scalar features, packed in this order into the model's float32 [batch,4] input "features";
/// bound from the columns sepal_length, sepal_width, petal_length, petal_width by name.</summary>
public sealed class IrisFlower
{
    [ModelInput("features")] public float SepalLength { get; set; }
    [ModelInput("features")] public float SepalWidth { get; set; }
    [ModelInput("features")] public float PetalLength { get; set; }
    [ModelInput("features")] public float PetalWidth { get; set; }
}

/// <summary>The model's two outputs, plus a readable species name: the output columns label, probabilities_0..2, species.</summary>
public sealed class IrisPrediction
{
    private static readonly string[] Names = ["setosa", "versicolor", "virginica"];

    [ModelOutput("label")] public long Label { get; set; }

    [ModelOutput("probabilities")] public float[] Probabilities { get; set; } = [];

    public string Species => Names[Label];
}
