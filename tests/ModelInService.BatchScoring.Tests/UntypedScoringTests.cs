using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.BatchScoring.Tests;

/// <summary>Scoring through <see cref="IModelRunner"/>: columns bound straight into the input tensor, outputs split into columns.</summary>
public sealed class UntypedScoringTests
{
    private static BatchScoringOptions Options(string input, string output) =>
        new() { InputPath = input, IdColumn = "id", ModelVersion = "v1", OutputPath = output, ChunkRows = 4 };

    [Theory]
    [InlineData(".csv")]
    [InlineData(".parquet")]
    public async Task An_output_without_rows_is_still_a_valid_file_with_the_known_columns(string extension)
    {
        // A header-only input (no new data today) and one whose every row is rejected: both wrote a 0-byte file, which
        // CSV readers refuse (no header) and which is no Parquet file at all.
        var headerOnly = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(headerOnly, "id,petal_width,sepal_length,sepal_width,petal_length\n");
        var allRejected = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(allRejected, "id,petal_width,sepal_length,sepal_width,petal_length\na,0.2,x,3.5,1.4\n,0.2,5.1,3.5,1.4\n");
        var (provider, runner) = await TestData.RunnerAsync("iris_mlp.onnx");
        await using var _ = provider;
        string[] expected = ["id", "model_version", "scored_at", "label", "probabilities_0", "probabilities_1", "probabilities_2"];

        foreach (var (input, rejected) in new[] { (headerOnly, 0), (allRejected, 2) })
        {
            var output = TestData.TempFile(extension);
            var result = await new BatchScorer().ScoreAsync(runner, Options(input, output));

            Assert.Equal(0, result.RowsWritten);
            Assert.Equal(rejected, result.RowsRejected);
            if (extension == ".csv")
            {
                Assert.Equal([string.Join(',', expected)], await File.ReadAllLinesAsync(output));
            }
            else
            {
                await using var reader = await Parquet.ParquetReader.CreateAsync(output);
                Assert.Equal(0, reader.RowGroupCount);
                Assert.Equal(expected, reader.Schema.GetDataFields().Select(f => f.Name));
            }
        }
    }

    /// <summary>
    /// Finite but absurd inputs (3.4e38 passes every input check) make the iris model output NaN probabilities: such a
    /// row is rejected with the reason, not written as a prediction; a value beyond float32 (1E+300) is called out of
    /// range, not non-finite; a NUL after a number (which .NET's parser ignores) is not a number.
    /// </summary>
    [Fact]
    public async Task Absurd_inputs_are_rejected_with_the_reason_not_written_as_NaN_predictions()
    {
        var input = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(input, "id,petal_width,sepal_length,sepal_width,petal_length\n" +
            "a,0.2,5.1,3.5,1.4\n" +
            "huge,0.2,3.4e38,3.5,1.4\n" +
            "b,2.3,6.7,3.0,5.2\n" +
            "over,0.2,1E+300,3.5,1.4\n" +
            "nul,0.2,5.1\0,3.5,1.4\n" +
            "c,1.5,6.0,2.9,4.5\n");
        var (provider, runner) = await TestData.RunnerAsync("iris_mlp.onnx");
        await using var _ = provider;
        var output = TestData.TempFile(".csv");

        var result = await new BatchScorer().ScoreAsync(runner, Options(input, output));

        var lines = await File.ReadAllLinesAsync(output);
        Assert.Equal(["a", "b", "c"], lines[1..].Select(l => l.Split(',')[0]));
        Assert.DoesNotContain(lines, l => l.Contains("NaN", StringComparison.Ordinal));
        Assert.Equal(3, result.RowsWritten);
        Assert.Equal(3, result.RowsRejected);
        var rejects = await File.ReadAllLinesAsync(output + ".rejects.csv");
        Assert.Contains(rejects, l => l.StartsWith("2,huge,", StringComparison.Ordinal) && l.Contains("produced NaN", StringComparison.Ordinal) && l.Contains("'probabilities'", StringComparison.Ordinal));
        Assert.Contains(rejects, l => l.StartsWith("4,over,", StringComparison.Ordinal) && l.Contains("outside the range of float", StringComparison.Ordinal));
        Assert.Contains(rejects, l => l.StartsWith("5,nul,", StringComparison.Ordinal) && l.Contains("is not a number", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Iris_from_feature_names_metadata_matches_the_typed_path_and_rejects_bad_rows()
    {
        var input = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(input, """"
            id,petal_width,sepal_length,sepal_width,petal_length
            a,0.2,5.1,3.5,1.4
            b,2.3,6.7,3.0,5.2
            c,2.3,,3.0,5.2
            d,2.3,abc,3.0,5.2
            e,1.5,NaN,2.9,4.5
            ,1.5,6.0,2.9,4.5
            "g,1",1.5,6.0,2.9,4.5

            """");
        var (provider, runner) = await TestData.RunnerAsync("iris_mlp.onnx");
        await using var _ = provider;
        var output = TestData.TempFile(".csv");

        var result = await new BatchScorer().ScoreAsync(runner, Options(input, output));

        Assert.Equal(3, result.RowsWritten);
        Assert.Equal(4, result.RowsRejected);
        var lines = await File.ReadAllLinesAsync(output);
        Assert.Equal("id,model_version,scored_at,label,probabilities_0,probabilities_1,probabilities_2", lines[0]);
        var rejects = string.Join('\n', await File.ReadAllLinesAsync(output + ".rejects.csv"));
        Assert.Contains("column 'sepal_length' is null", rejects, StringComparison.Ordinal);
        Assert.Contains("'abc' is not a number", rejects, StringComparison.Ordinal);
        Assert.Contains("non-finite values are rejected", rejects, StringComparison.Ordinal);
        Assert.Contains("the id column is empty", rejects, StringComparison.Ordinal);

        // The same rows through the typed predictor give the same label and probabilities (columns found by the
        // model's feature_names metadata, not by file order).
        await using var typed = await TestData.IrisAsync();
        var predictions = await typed.GetRequiredService<IPredictor<IrisFlower, IrisPrediction>>().PredictBatchAsync(
            [new IrisFlower { SepalLength = 5.1f, SepalWidth = 3.5f, PetalLength = 1.4f, PetalWidth = 0.2f }, new IrisFlower { SepalLength = 6.7f, SepalWidth = 3.0f, PetalLength = 5.2f, PetalWidth = 2.3f }]);
        for (var i = 0; i < 2; i++)
        {
            var fields = lines[i + 1].Split(',');
            Assert.Equal(predictions[i].Label, long.Parse(fields[3], CultureInfo.InvariantCulture));
            Assert.Equal(predictions[i].Probabilities[2], float.Parse(fields[6], CultureInfo.InvariantCulture));
        }

        Assert.StartsWith("\"g,1\",v1,", lines[3], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Parquet_with_a_mapping_and_nulls_to_parquet()
    {
        string?[] ids = ["a", "b", "c"];
        float?[][] columns = [[5.1f, 6.7f, null], [3.5f, 3.0f, 3.0f], [1.4f, 5.2f, 5.2f], [0.2f, 2.3f, 2.3f]];
        var input = await TestData.IrisParquetAsync(ids, columns, rowGroupRows: 2);
        var (provider, runner) = await TestData.RunnerAsync("iris_mlp.onnx");
        await using var _ = provider;
        var output = TestData.TempFile(".parquet");
        var options = Options(input, output);
        // The file order is the model's order here, but the mapping names the columns explicitly.
        options.ColumnMapping["features"] = "sepal_length, sepal_width, petal_length, petal_width";

        var result = await new BatchScorer().ScoreAsync(runner, options);

        Assert.Equal(2, result.RowsWritten);
        Assert.Equal(1, result.RowsRejected);
        await using var reader = await Parquet.ParquetReader.CreateAsync(output);
        Assert.Equal(["id", "model_version", "scored_at", "label", "probabilities_0", "probabilities_1", "probabilities_2"], reader.Schema.GetDataFields().Select(f => f.Name));
        Assert.Equal(2, reader.RowGroups.Sum(g => g.RowCount));
    }

    [Fact]
    public async Task ZipMap_output_becomes_one_column_per_class_and_odd_output_names_are_made_safe()
    {
        var input = TestData.IrisCsv(10, seed: 2);
        var (provider, runner) = await TestData.RunnerAsync("iris_mlp_zipmap.onnx");
        await using (provider)
        {
            var output = TestData.TempFile(".csv");
            var result = await new BatchScorer().ScoreAsync(runner, Options(input, output));
            Assert.Equal(10, result.RowsWritten);
            Assert.Equal("id,model_version,scored_at,output_label,output_probability_0,output_probability_1,output_probability_2", (await File.ReadAllLinesAsync(output))[0]);
        }

        // 'save_infer_model/scale_0.tmp_0' [?,4] with the input 'x' [?,4] taken from x_0..x_3.
        var xs = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(xs, "id,x_0,x_1,x_2,x_3\nr1,1,2,3,4\n");
        var (paddle, paddleRunner) = await TestData.RunnerAsync("conv_paddle2onnx.onnx");
        await using (paddle)
        {
            var output = TestData.TempFile(".csv");
            await new BatchScorer().ScoreAsync(paddleRunner, Options(xs, output));
            var lines = await File.ReadAllLinesAsync(output);
            Assert.EndsWith("save_infer_model_scale_0_tmp_0_0,save_infer_model_scale_0_tmp_0_1,save_infer_model_scale_0_tmp_0_2,save_infer_model_scale_0_tmp_0_3", lines[0], StringComparison.Ordinal);
            Assert.EndsWith(",3,5,7,9", lines[1], StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("conv_per_run_scalar.onnx", "Input 'sr'")]
    [InlineData("variable_length.onnx", "free dimension")]
    public async Task Models_the_columns_cannot_feed_are_refused_naming_the_tensor(string model, string expected)
    {
        var input = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(input, "id,a,b,c\nr,1,2,3\n");
        var (provider, runner) = await TestData.RunnerAsync(model);
        await using var _ = provider;

        var error = await Assert.ThrowsAsync<NotSupportedException>(() => new BatchScorer().ScoreAsync(runner, Options(input, TestData.TempFile(".csv"))));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_columns_say_how_many_are_needed_and_how_to_map_them()
    {
        var input = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(input, "id,a,b,c\nr,1,2,3\n");
        var (provider, runner) = await TestData.RunnerAsync("iris_mlp.onnx");
        await using var _ = provider;

        var error = await Assert.ThrowsAsync<BatchInputException>(() => new BatchScorer().ScoreAsync(runner, Options(input, TestData.TempFile(".csv"))));

        Assert.Contains("no columns for input 'features' (float32 [batch,4], 4 values per row)", error.Message, StringComparison.Ordinal);
        Assert.Contains("--map features=a,b,...", error.Message, StringComparison.Ordinal);

        var wrongCount = new BatchScoringOptions { InputPath = input, IdColumn = "id", ModelVersion = "v", OutputPath = TestData.TempFile(".csv") };
        wrongCount.ColumnMapping["features"] = "a,b,c";
        var mapping = await Assert.ThrowsAsync<ArgumentException>(() => new BatchScorer().ScoreAsync(runner, wrongCount));
        Assert.Contains("lists 3 columns, but one row of it holds 4 values", mapping.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Truncated_csv_stops_with_the_file_and_line_on_the_untyped_path()
    {
        var input = TestData.IrisCsv(50, seed: 1);
        var text = await File.ReadAllTextAsync(input);
        await File.WriteAllTextAsync(input, text[..(text.Length - 9)]);
        var (provider, runner) = await TestData.RunnerAsync("iris_mlp.onnx");
        await using var _ = provider;

        var error = await Assert.ThrowsAsync<BatchInputException>(() => new BatchScorer().ScoreAsync(runner, Options(input, TestData.TempFile(".csv"))));

        Assert.Equal(input, error.FilePath);
        Assert.Contains("line 51", error.Message, StringComparison.Ordinal);
    }
}
