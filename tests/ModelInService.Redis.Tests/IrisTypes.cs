namespace ModelInService.Redis.Tests;

/// <summary>The iris MLP's input as one float[4] feature tensor (shared by the cache and operations tests).</summary>
public sealed class IrisInput
{
    [ModelInput("features")]
    public float[] Features { get; set; } = [];
}

/// <summary>The iris MLP's label and class probabilities.</summary>
public sealed class IrisOutput
{
    [ModelOutput("label")]
    public long Label { get; set; }

    [ModelOutput("probabilities")]
    public float[] Probabilities { get; set; } = [];
}
