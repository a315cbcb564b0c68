namespace ModelInService.BatchScoring.Tests;

/// <summary>
/// The output columns of a model's output type: every writable type, nullable values into the null mask, arrays
/// expanded by the first row's length, properties of a base class, and structs (read through reflection).
/// </summary>
public sealed class OutputSchemaTests
{
    [Fact]
    public void Columns_CoverEveryWritableType_NullablesAndArrayElements()
    {
        var outputs = new[]
        {
            new WideOutput { Score = 1.5f, Ratio = 0.25, Count = 7, Rank = 3, Flag = true, Name = "a", Probabilities = [0.1f, 0.9f], Codes = [4, 5, 6], Inherited = 11 },
            new WideOutput { Score = -2f, Ratio = null, Count = -1, Rank = null, Flag = false, Name = null, Probabilities = [0.6f, 0.4f], Codes = [7, 8, 9], Inherited = 12 },
        };

        var columns = OutputSchema<WideOutput>.From(outputs[0]);
        var data = OutputSchema<WideOutput>.Collect(columns, outputs);
        var byName = data.ToDictionary(d => d.Name);

        Assert.Equal(
            ["score", "ratio", "count", "rank", "flag", "name", "probabilities_0", "probabilities_1", "codes_0", "codes_1", "codes_2", "inherited"],
            data.Select(d => d.Name).ToArray());
        Assert.Equal(new[] { 1.5f, -2f }, byName["score"].Values);
        Assert.Equal(typeof(double), byName["ratio"].ClrType);
        Assert.True(byName["ratio"].HasNulls);
        Assert.Equal(0.25, ((double[])byName["ratio"].Values)[0]);
        Assert.Equal(new[] { 7L, -1L }, byName["count"].Values);
        Assert.True(byName["rank"].HasNulls);
        Assert.Equal(new[] { true, false }, byName["flag"].Values);
        Assert.Equal(new[] { "a", null }, byName["name"].Values);
        Assert.Equal(new[] { 0.9f, 0.4f }, byName["probabilities_1"].Values);
        Assert.Equal(new[] { 6, 9 }, byName["codes_2"].Values);
        Assert.Equal(new[] { 11, 12 }, byName["inherited"].Values);
        Assert.False(byName["score"].HasNulls);
    }

    [Fact]
    public void StructOutputs_AreReadThroughReflection()
    {
        var outputs = new[] { new StructOutput { Label = 2, Scores = [0.5f] }, new StructOutput { Label = 3, Scores = [0.25f] } };

        var data = OutputSchema<StructOutput>.Collect(OutputSchema<StructOutput>.From(outputs[0]), outputs);

        Assert.Equal(new[] { 2L, 3L }, data.Single(d => d.Name == "label").Values);
        Assert.Equal(new[] { 0.5f, 0.25f }, data.Single(d => d.Name == "scores_0").Values);
    }

    [Fact]
    public void AnOutputWithNothingWritable_IsRefusedWithTheTypeName()
    {
        var error = Assert.Throws<ArgumentException>(() => OutputSchema<NothingWritable>.From(new NothingWritable()));

        Assert.Contains(nameof(NothingWritable), error.Message, StringComparison.Ordinal);
    }

    public class BaseOutput
    {
        public int Inherited { get; set; }
    }

    public sealed class WideOutput : BaseOutput
    {
        public float Score { get; set; }

        public double? Ratio { get; set; }

        public long Count { get; set; }

        public int? Rank { get; set; }

        public bool Flag { get; set; }

        public string? Name { get; set; }

        public float[] Probabilities { get; set; } = [];

        public int[] Codes { get; set; } = [];
    }

    public struct StructOutput
    {
        public long Label { get; set; }

        public float[] Scores { get; set; }
    }

    public sealed class NothingWritable
    {
        public Uri? Link { get; set; }
    }
}
