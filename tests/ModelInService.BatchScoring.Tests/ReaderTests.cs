using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace ModelInService.BatchScoring.Tests;

/// <summary>CSV and Parquet inputs scored to files: quoting, nulls, wrong types, truncation, mapping.</summary>
public sealed class ReaderTests
{
    private static async Task<(BatchScoringResult Result, string[] Output, string[] Rejects)> ScoreToCsvAsync(string input, Action<BatchScoringOptions>? configure = null)
    {
        await using var provider = await TestData.IrisAsync();
        var output = TestData.TempFile(".csv");
        var options = new BatchScoringOptions { InputPath = input, IdColumn = "id", ModelVersion = "v1", OutputPath = output, ChunkRows = 3 };
        configure?.Invoke(options);
        var result = await new BatchScorer().ScoreAsync(provider.GetRequiredService<IPredictor<IrisFlower, IrisPrediction>>(), options);
        var rejects = File.Exists(output + ".rejects.csv") ? File.ReadAllLines(output + ".rejects.csv") : [];
        return (result, File.ReadAllLines(output), rejects);
    }

    [Fact]
    public async Task Csv_quoted_fields_nulls_and_wrong_types_are_read_or_rejected_with_reasons()
    {
        var input = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(input, """"
            id,sepal_length,sepal_width,petal_length,petal_width,note
            "a,1","5.1",3.5,1.4,0.2,"said ""hi"""
            b,6.7,3.0,5.2,2.3,
            c,,3.0,5.2,2.3,empty feature
            d,abc,3.0,5.2,2.3,not a number
            ,6.0,2.9,4.5,1.5,no id
            "e
            f",6.0,2.9,4.5,1.5,line break in id
            g,NaN,2.9,4.5,1.5,not finite

            """");

        var (result, output, rejects) = await ScoreToCsvAsync(input);

        Assert.Equal(3, result.RowsWritten);
        Assert.Equal(4, result.RowsRejected);
        Assert.StartsWith("id;model_version;scored_at;label;probabilities_0", output[0].Replace(',', ';'), StringComparison.Ordinal);
        Assert.Contains(output, line => line.StartsWith("\"a,1\",v1,", StringComparison.Ordinal));
        var joined = string.Join('\n', rejects);
        Assert.Contains("column 'sepal_length' is null", joined, StringComparison.Ordinal);
        Assert.Contains("'abc' is not a number", joined, StringComparison.Ordinal);
        Assert.Contains("the id column is empty", joined, StringComparison.Ordinal);
        Assert.Contains("row 7", joined, StringComparison.Ordinal);
        Assert.Contains("non-finite values are rejected", joined, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Typed_rows_whose_outputs_are_not_finite_are_rejected_and_the_run_goes_on()
    {
        var input = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(input, "id,sepal_length,sepal_width,petal_length,petal_width\n" +
            "a,5.1,3.5,1.4,0.2\nhuge,3.4e38,3.5,1.4,0.2\nb,6.7,3.0,5.2,2.3\nhuge2,-3.4e38,3.5,1.4,0.2\n");

        var (result, output, rejects) = await ScoreToCsvAsync(input, o => o.ChunkRows = 10);

        Assert.Equal(2, result.RowsWritten);
        Assert.Equal(2, result.RowsRejected);
        Assert.Equal(["a", "b"], output[1..].Select(l => l.Split(',')[0]));
        Assert.Contains(rejects, l => l.StartsWith("2,huge,", StringComparison.Ordinal) && l.Contains("produced NaN", StringComparison.Ordinal));
        Assert.Contains(rejects, l => l.StartsWith("4,huge2,", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Typed_output_without_rows_has_a_header_of_its_scalar_members()
    {
        var input = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(input, "id,sepal_length,sepal_width,petal_length,petal_width\n");

        var (result, output, _) = await ScoreToCsvAsync(input);

        Assert.Equal(0, result.RowsWritten);
        // An array member's columns (probabilities_0...) take their count from the first row: without one, they are absent.
        Assert.Equal(["id,model_version,scored_at,label"], output);
    }

    [Fact]
    public async Task Truncated_csv_stops_with_the_file_and_line()
    {
        var input = TestData.IrisCsv(50, seed: 1);
        var text = await File.ReadAllTextAsync(input);
        await File.WriteAllTextAsync(input, text[..(text.Length - 9)]);

        var error = await Assert.ThrowsAsync<BatchInputException>(() => ScoreToCsvAsync(input));

        Assert.Equal(input, error.FilePath);
        Assert.Contains("line 51", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_column_names_the_column_and_the_mapping_that_fixes_it()
    {
        var input = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(input, "id,sl,sepal_width,petal_length,petal_width\nx,5.1,3.5,1.4,0.2\n");

        var error = await Assert.ThrowsAsync<BatchInputException>(() => ScoreToCsvAsync(input));
        Assert.Contains("IrisFlower.SepalLength", error.Message, StringComparison.Ordinal);
        Assert.Contains("ColumnMapping[\"SepalLength\"]", error.Message, StringComparison.Ordinal);

        var (result, _, _) = await ScoreToCsvAsync(input, o => o.ColumnMapping["SepalLength"] = "sl");
        Assert.Equal(1, result.RowsWritten);
    }

    [Fact]
    public async Task Parquet_nulls_are_rejected_and_rows_match_csv_predictions()
    {
        string?[] ids = ["a", "b", "c", null, "e"];
        float?[][] columns =
        [
            [5.1f, 6.7f, null, 6.0f, 6.0f],
            [3.5f, 3.0f, 3.0f, 2.9f, 2.9f],
            [1.4f, 5.2f, 5.2f, 4.5f, 4.5f],
            [0.2f, 2.3f, 2.3f, 1.5f, 1.5f],
        ];
        var input = await TestData.IrisParquetAsync(ids, columns, rowGroupRows: 2);

        var (result, output, rejects) = await ScoreToCsvAsync(input, o => o.ChunkRows = 1);

        Assert.Equal(3, result.RowsWritten);
        Assert.Equal(2, result.RowsRejected);
        Assert.Contains(rejects, r => r.Contains("row 3", StringComparison.Ordinal) && r.Contains("'sepal_length' is null", StringComparison.Ordinal));
        Assert.Contains(rejects, r => r.Contains("row 4", StringComparison.Ordinal) && r.Contains("id column is empty", StringComparison.Ordinal));
        Assert.StartsWith("a,v1,", output[1], StringComparison.Ordinal);
        Assert.StartsWith("e,v1,", output[3], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Parquet_wrong_type_column_rejects_unparsable_values()
    {
        // A string feature column (as some exports write): numbers parse, anything else is a rejected row.
        var path = TestData.TempFile(".parquet");
        var schema = new Parquet.Schema.ParquetSchema(
            new Parquet.Schema.DataField<string>("id"), new Parquet.Schema.DataField<string>("sepal_length"),
            new Parquet.Schema.DataField<double>("sepal_width"), new Parquet.Schema.DataField<double>("petal_length"), new Parquet.Schema.DataField<double>("petal_width"));
        await using (var stream = File.Create(path))
        await using (var writer = await Parquet.ParquetWriter.CreateAsync(schema, stream))
        using (var group = writer.CreateRowGroup())
        {
            var fields = schema.GetDataFields();
            await group.WriteAsync(fields[0], ["a", "b"], null);
            await group.WriteAsync(fields[1], ["5.1", "wide"], null);
            await group.WriteAsync<double>(fields[2], new double[] { 3.5, 3.0 }, null, null, default);
            await group.WriteAsync<double>(fields[3], new double[] { 1.4, 5.2 }, null, null, default);
            await group.WriteAsync<double>(fields[4], new double[] { 0.2, 2.3 }, null, null, default);
        }

        var (result, _, rejects) = await ScoreToCsvAsync(path);

        Assert.Equal(1, result.RowsWritten);
        Assert.Contains(rejects, r => r.Contains("'wide' is not a number", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Truncated_parquet_stops_with_the_file_named()
    {
        var ids = Enumerable.Range(0, 1000).Select(i => (string?)$"r{i}").ToArray();
        var column = Enumerable.Range(0, 1000).Select(i => (float?)(i % 7)).ToArray();
        var input = await TestData.IrisParquetAsync(ids, [column, column, column, column], rowGroupRows: 250);
        var bytes = await File.ReadAllBytesAsync(input);
        await File.WriteAllBytesAsync(input, bytes[..(bytes.Length / 2)]);

        var error = await Assert.ThrowsAsync<BatchInputException>(() => ScoreToCsvAsync(input));

        Assert.Equal(input, error.FilePath);
        Assert.Contains("corrupt or truncated", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Corrupt_parquet_row_group_names_the_group_and_its_rows()
    {
        var ids = Enumerable.Range(0, 1000).Select(i => (string?)$"r{i}").ToArray();
        var column = Enumerable.Range(0, 1000).Select(i => (float?)(i % 7)).ToArray();
        var input = await TestData.IrisParquetAsync(ids, [column, column, column, column], rowGroupRows: 500);
        var bytes = await File.ReadAllBytesAsync(input);
        // Overwrite the middle of the data pages (the footer stays intact).
        for (var i = bytes.Length / 2 - 400; i < bytes.Length / 2 - 100; i++)
        {
            bytes[i] = 0xFF;
        }

        await File.WriteAllBytesAsync(input, bytes);

        var error = await Assert.ThrowsAsync<BatchInputException>(() => ScoreToCsvAsync(input));

        Assert.Equal(input, error.FilePath);
        Assert.Contains("row group", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Parquet_output_round_trips_and_metrics_count_rows()
    {
        await using var provider = await TestData.IrisAsync();
        using var written = new MetricCollector<long>(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), BatchScorer.MeterName, "mis.batch.rows_written");
        var input = TestData.IrisCsv(1000, seed: 3);
        var output = TestData.TempFile(".parquet");
        var scorer = new BatchScorer(meterFactory: provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var reports = new List<BatchScoringProgress>();
        var result = await scorer.ScoreAsync(provider.GetRequiredService<IPredictor<IrisFlower, IrisPrediction>>(),
            new BatchScoringOptions { InputPath = input, IdColumn = "id", ModelVersion = "v2", OutputPath = output, ChunkRows = 128 },
            new SynchronousProgress(reports.Add));

        Assert.Equal(1000, result.RowsWritten);
        Assert.Equal(1000, written.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(8, reports.Count);
        Assert.Equal(1000, reports[^1].RowsDone);
        await using var reader = await Parquet.ParquetReader.CreateAsync(output);
        Assert.Equal(1000, reader.RowGroups.Sum(g => g.RowCount));
        Assert.Contains(reader.Schema.GetDataFields(), f => f.Name == "probabilities_2");
        Assert.False(File.Exists(output + ".partial"));
    }

    [Fact]
    public void Options_say_what_to_change()
    {
        var error = Assert.Throws<ArgumentException>(() => new BatchScoringOptions { InputPath = "nope.csv", ChunkRows = 0 }.Validate());
        Assert.Contains("'nope.csv' does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains("IdColumn is required", error.Message, StringComparison.Ordinal);
        Assert.Contains("ModelVersion is required", error.Message, StringComparison.Ordinal);
        Assert.Contains("ChunkRows is 0", error.Message, StringComparison.Ordinal);
        Assert.Contains("exactly one destination", error.Message, StringComparison.Ordinal);

        var bytes = Assert.Throws<ArgumentException>(() => new BatchScoringOptions { InputPath = "nope.csv", MaxChunkBytes = 1000 }.Validate());
        Assert.Contains("MaxChunkBytes is 1000", bytes.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wide_csv_rows_end_a_chunk_at_the_byte_budget_and_every_row_is_still_written_once_in_order()
    {
        // 300 rows with 2,000-character ids: 8,192-row chunks would be one chunk; a 64 KiB budget (32,768 characters)
        // ends each chunk after 17 rows (the row that reaches the budget is kept), 18 chunks in all.
        var input = TestData.TempFile(".csv");
        var lines = new List<string> { "id,sepal_length,sepal_width,petal_length,petal_width" };
        for (var i = 0; i < 300; i++)
        {
            lines.Add(FormattableString.Invariant($"{new string('x', 2000)}{i:000},{5 + (i % 10) / 10.0},3.0,{1 + (i % 50) / 10.0},0.2"));
        }

        await File.WriteAllLinesAsync(input, lines);

        var (wide, output, _) = await ScoreToCsvAsync(input, o => { o.ChunkRows = 8192; o.MaxChunkBytes = 64 << 10; });
        var (whole, reference, _) = await ScoreToCsvAsync(input, o => o.ChunkRows = 8192);

        Assert.Equal(300, wide.RowsWritten);
        Assert.Equal(18, wide.Chunks);
        Assert.Equal(1, whole.Chunks);
        Assert.Equal(301, output.Length);
        for (var i = 0; i < 300; i++)
        {
            var expectedId = FormattableString.Invariant($"{new string('x', 2000)}{i:000}");
            Assert.StartsWith(expectedId + ",v1,", output[i + 1], StringComparison.Ordinal);
            // Same predictions as one chunk (scored_at differs per chunk).
            Assert.Equal(Predictions(reference[i + 1]), Predictions(output[i + 1]));
        }

        static string Predictions(string line) => string.Join(',', line.Split(',')[3..]);
    }
}

internal sealed class SynchronousProgress(Action<BatchScoringProgress> report) : IProgress<BatchScoringProgress>
{
    public void Report(BatchScoringProgress value) => report(value);
}

public sealed class BatchInputReaderTests
{
    [Fact]
    public async Task Reads_typed_rows_and_skips_and_counts_invalid_ones()
    {
        var input = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(input, "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n,3,1,0\nx,3,1,0\n6.7,3.0,5.2,2.3\n");
        var counts = new BatchReadCounts();

        var rows = await BatchInputReader.ReadAsync<IrisFlower>(input, new BatchReadOptions { ChunkRows = 2 }, counts).ToListAsync();

        Assert.Equal([5.1f, 6.7f], rows.Select(r => r.SepalLength));
        Assert.Equal(2, counts.Rows);
        Assert.Equal(2, counts.Skipped);
        Assert.Contains("row 2 (line 3): column 'sepal_length' is null", counts.FirstSkipReasons);
        Assert.Contains("row 3 (line 4): column 'sepal_length': 'x' is not a number", counts.FirstSkipReasons);
    }
}
