using ModelInService;

namespace MultiModel;

/// <summary>Input of the "iris" model: four scalar features packed into float32 [batch,4] "features".</summary>
public sealed class IrisFlower
{
    [ModelInput("features")] public float SepalLength { get; set; }
    [ModelInput("features")] public float SepalWidth { get; set; }
    [ModelInput("features")] public float PetalLength { get; set; }
    [ModelInput("features")] public float PetalWidth { get; set; }
}

/// <summary>Output of the "iris" model.</summary>
public sealed class IrisPrediction
{
    private static readonly string[] Names = ["setosa", "versicolor", "virginica"];

    [ModelOutput("label")] public long Label { get; set; }

    [ModelOutput("probabilities")] public float[] Probabilities { get; set; } = [];

    public string Species => Names[Label];
}

/// <summary>Input of the "iris-zipmap" model (scikit-learn's naming: one float32 [batch,4] input "float_input").</summary>
public sealed class ZipMapFlower
{
    [ModelInput("float_input")] public float SepalLength { get; set; }
    [ModelInput("float_input")] public float SepalWidth { get; set; }
    [ModelInput("float_input")] public float PetalLength { get; set; }
    [ModelInput("float_input")] public float PetalWidth { get; set; }
}

/// <summary>Output of the "iris-zipmap" model: a label and a ZipMap (class code to probability).</summary>
public sealed class ZipMapPrediction
{
    [ModelOutput("output_label")] public long Label { get; set; }

    [ModelOutput("output_probability")] public IReadOnlyDictionary<long, float> Probabilities { get; set; } = System.Collections.ObjectModel.ReadOnlyDictionary<long, float>.Empty;
}
