using Parquet;
using Parquet.Schema;

namespace ModelInService.BatchScoring.Tests;

/// <summary>Monitor references from CSV and Parquet columns: kinds, missing values, skip-and-count, unreadable files.</summary>
public sealed class ReferenceFileTests
{
    [Fact]
    public async Task Csv_columns_become_numeric_or_categorical_features_and_invalid_rows_are_skipped_and_counted()
    {
        var input = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(input, """"
            id,Features[0],Label,Species,Score
            1,5.1,0,"setosa, small",0.5
            2,,1,versicolor,0.25
            3,6.7,2,,oops
            4,NaN,2,virginica,1.5
            5,6.0,1,versicolor,0.75

            """");
        var options = new ReferenceFileOptions { ChunkSize = 2 };
        options.Exclude.Add("id");
        options.Categorical.Add("Label");
        options.Numeric.Add("Score");

        var built = await ReferenceFile.BuildAsync(input, options);

        Assert.Equal(4, built.Reference.Rows);
        Assert.Equal(1, built.SkippedRows);
        Assert.Equal("row 3 (line 4): column 'Score': 'oops' is not a number", Assert.Single(built.FirstSkipReasons));
        Assert.Equal(new KeyValuePair<string, bool>[] { new("Features[0]", true), new("Label", false), new("Species", false), new("Score", true) }, built.Features);

        // The file the monitor loads records the skipped rows and the first reason.
        var path = TestData.TempFile(".reference");
        built.Reference.Save(path);
        var loaded = MonitorReference.Load(path);
        Assert.Equal(1, loaded.SkippedRows);
        Assert.Contains("'oops' is not a number", loaded.SkippedReason, StringComparison.Ordinal);
        Assert.Equal(["Features[0]", "Label", "Score", "Species"], loaded.FeatureNames.Order(StringComparer.Ordinal));
        Assert.Equal(2, loaded.ChunkCount);
    }

    [Fact]
    public async Task Parquet_typed_columns_keep_their_kind_and_nulls_are_missing()
    {
        var path = TestData.TempFile(".parquet");
        var schema = new ParquetSchema(new DataField<float?>("x"), new DataField<string>("label"), new DataField<string>("code"));
        await using (var stream = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(schema, stream))
        using (var group = writer.CreateRowGroup())
        {
            var fields = schema.GetDataFields();
            await group.WriteAsync<float>(fields[0], new float?[] { 1.5f, null, 2.5f }, null, null, default);
            await group.WriteAsync(fields[1], ["a", "b", null], null);
            await group.WriteAsync(fields[2], ["1", "2", "3"], null);
        }

        var built = await ReferenceFile.BuildAsync(path);

        Assert.Equal(3, built.Reference.Rows);
        Assert.Equal(0, built.SkippedRows);
        // A text column whose values are all numbers is numeric, as in CSV.
        Assert.Equal(new KeyValuePair<string, bool>[] { new("x", true), new("label", false), new("code", true) }, built.Features);
        Assert.Equal("parquet", built.Reference.Source);
    }

    [Fact]
    public async Task Truncated_csv_stops_with_the_file_and_line()
    {
        var input = TestData.IrisCsv(50, seed: 1);
        var text = await File.ReadAllTextAsync(input);
        await File.WriteAllTextAsync(input, text[..(text.Length - 9)]);

        var error = await Assert.ThrowsAsync<BatchInputException>(() => ReferenceFile.BuildAsync(input));

        Assert.Equal(input, error.FilePath);
        Assert.Contains("line 51", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_columns_in_the_options_are_named()
    {
        var input = TestData.IrisCsv(3, seed: 1);
        var options = new ReferenceFileOptions();
        options.Categorical.Add("species");

        var error = await Assert.ThrowsAsync<ArgumentException>(() => ReferenceFile.BuildAsync(input, options));

        Assert.Contains("no column 'species'", error.Message, StringComparison.Ordinal);
    }
}
