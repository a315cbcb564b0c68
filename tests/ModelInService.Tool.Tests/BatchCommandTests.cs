using System.Globalization;
using System.Text;
using ModelInService.TestUtilities;

namespace ModelInService.Tool.Tests;

/// <summary>`mis score` and `mis reference` through the command line, on models without C# types.</summary>
public class BatchCommandTests
{
    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await Program.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private static string Temp(string extension) => TestTemp.File(extension);

    private static string IrisCsv(int rows)
    {
        var random = new Random(4);
        var text = new StringBuilder("id,sepal_length,sepal_width,petal_length,petal_width\n");
        for (var i = 0; i < rows; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"r{i},{4 + random.NextDouble() * 4:0.###},{2 + random.NextDouble() * 2.5:0.###},{1 + random.NextDouble() * 6:0.###},{random.NextDouble() * 2.5:0.###}\n");
        }

        var path = Temp(".csv");
        File.WriteAllText(path, text.ToString());
        return path;
    }

    [Fact]
    public async Task Score_csv_to_csv_writes_every_output_column_and_rejects_with_reasons()
    {
        var input = IrisCsv(20);
        var lines = await File.ReadAllLinesAsync(input);
        lines[3] = "r2,,3.0,1.0,0.5";
        lines[5] = "r4,5.0,wide,1.0,0.5";
        await File.WriteAllLinesAsync(input, lines);
        var output = Temp(".csv");

        var (exit, stdout, error) = await RunAsync("score", SharedData.RepoModel("iris_mlp.onnx"), "--input", input, "--id", "id", "--output", output, "--chunk-rows", "7");

        Assert.True(exit == 0, error);
        Assert.Contains("scored 18 rows into " + output, stdout, StringComparison.Ordinal);
        Assert.Contains("2 rejected", stdout, StringComparison.Ordinal);
        Assert.Contains("model version iris_mlp.onnx@sha256:", stdout, StringComparison.Ordinal);
        var written = await File.ReadAllLinesAsync(output);
        Assert.Equal("id,model_version,scored_at,label,probabilities_0,probabilities_1,probabilities_2", written[0]);
        Assert.Equal(19, written.Length);
        var rejects = string.Join('\n', await File.ReadAllLinesAsync(output + ".rejects.csv"));
        Assert.Contains("row 3 (line 4): column 'sepal_length' is null", rejects, StringComparison.Ordinal);
        Assert.Contains("row 5 (line 6): column 'sepal_width': 'wide' is not a number", rejects, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Score_rejects_nan_predictions_unless_allowed()
    {
        var input = IrisCsv(5);
        var lines = await File.ReadAllLinesAsync(input);
        lines[2] = "r1,3.4e38,3.0,1.0,0.5"; // finite, but the model answers NaN
        await File.WriteAllLinesAsync(input, lines);
        var output = Temp(".csv");
        var allowed = Temp(".csv");

        var (exit, stdout, error) = await RunAsync("score", SharedData.RepoModel("iris_mlp.onnx"), "--input", input, "--id", "id", "--output", output);
        var (exitAllowed, stdoutAllowed, errorAllowed) = await RunAsync("score", SharedData.RepoModel("iris_mlp.onnx"), "--input", input, "--id", "id", "--output", allowed, "--allow-non-finite");

        Assert.True(exit == 0, error);
        Assert.Contains("scored 4 rows", stdout, StringComparison.Ordinal);
        Assert.Contains("row 2 (line 3): the model produced NaN in output 'probabilities'", string.Join('\n', await File.ReadAllLinesAsync(output + ".rejects.csv")), StringComparison.Ordinal);
        Assert.DoesNotContain("NaN", await File.ReadAllTextAsync(output), StringComparison.Ordinal);
        Assert.True(exitAllowed == 0, errorAllowed);
        Assert.Contains("scored 5 rows", stdoutAllowed, StringComparison.Ordinal);
        Assert.Contains(await File.ReadAllLinesAsync(allowed), l => l.StartsWith("r1,", StringComparison.Ordinal) && l.Contains("NaN", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Score_never_overwrites_its_input_nor_the_rejects_and_refuses_a_directory_up_front()
    {
        // From an outside probe: '--rejects' = the input deleted the input; '--output' = the input overwrote it (exit 0);
        // '--rejects' = '--output' lost every reject; a directory as output failed only after scoring everything.
        var model = SharedData.RepoModel("iris_mlp.onnx");
        var input = IrisCsv(10);
        var original = await File.ReadAllTextAsync(input);
        var output = Temp(".csv");
        var directory = Directory.CreateDirectory(Temp("")).FullName;

        foreach (var (args, expected) in new (string[] Args, string Expected)[]
        {
            (["--output", input], "would overwrite the input file"),
            (["--output", output, "--rejects", input], "would overwrite the input file"),
            (["--output", output, "--rejects", output], "the predictions would overwrite the rejected rows"),
            (["--output", directory], "is a directory"),
        })
        {
            var (exit, _, error) = await RunAsync(["score", model, "--input", input, "--id", "id", .. args]);

            Assert.Equal(2, exit);
            Assert.Contains(expected, error, StringComparison.Ordinal);
            Assert.Equal(original, await File.ReadAllTextAsync(input));
        }

        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task Score_an_unwritable_output_is_a_message_not_a_stack_trace()
    {
        var input = IrisCsv(10);
        var output = Temp(".csv");
        Directory.CreateDirectory(output + ".partial"); // where the rows are written first: cannot be a file now

        var (exit, _, error) = await RunAsync("score", SharedData.RepoModel("iris_mlp.onnx"), "--input", input, "--id", "id", "--output", output);

        Assert.Equal(1, exit);
        Assert.StartsWith("mis score: ", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("model_version")]
    [InlineData("scored_at")]
    public async Task Score_an_id_column_named_like_a_written_column_is_refused(string idName)
    {
        // Every output row gets model_version and scored_at: such an id was silently overwritten by them.
        var input = IrisCsv(5);
        var lines = await File.ReadAllLinesAsync(input);
        lines[0] = lines[0].Replace("id,", idName + ",", StringComparison.Ordinal);
        await File.WriteAllLinesAsync(input, lines);

        var (exit, _, error) = await RunAsync("score", SharedData.RepoModel("iris_mlp.onnx"), "--input", input, "--id", idName, "--output", Temp(".csv"));

        Assert.Equal(2, exit);
        Assert.Contains($"The id column '{idName}' has the name of a column every output row gets", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Score_skips_blank_lines_but_still_stops_on_a_row_with_the_wrong_number_of_fields()
    {
        var input = IrisCsv(6);
        var lines = (await File.ReadAllLinesAsync(input)).ToList();
        lines.Insert(3, "");
        lines.Insert(5, "   ");
        await File.WriteAllTextAsync(input, string.Join('\n', lines) + "\n\n\n");
        var output = Temp(".csv");

        var (exit, stdout, error) = await RunAsync("score", SharedData.RepoModel("iris_mlp.onnx"), "--input", input, "--id", "id", "--output", output);

        Assert.True(exit == 0, error);
        Assert.Contains("scored 6 rows", stdout, StringComparison.Ordinal);
        Assert.Contains("0 rejected", stdout, StringComparison.Ordinal);

        lines.Insert(4, "r9,5.0,3.0");
        await File.WriteAllTextAsync(input, string.Join('\n', lines) + "\n");
        (exit, _, error) = await RunAsync("score", SharedData.RepoModel("iris_mlp.onnx"), "--input", input, "--id", "id", "--output", Temp(".csv"));

        Assert.Equal(1, exit);
        Assert.Contains("line 5", error, StringComparison.Ordinal);
        Assert.Contains("found 3 column(s) where the header has 5", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reference_never_overwrites_its_input()
    {
        var input = IrisCsv(50);
        var original = await File.ReadAllTextAsync(input);

        var (exit, _, error) = await RunAsync("reference", input, "--output", input);

        Assert.Equal(2, exit);
        Assert.Contains("is the input file", error, StringComparison.Ordinal);
        Assert.Equal(original, await File.ReadAllTextAsync(input));
    }

    [Fact]
    public async Task Score_parquet_with_map_to_parquet()
    {
        var csv = IrisCsv(30);
        var input = Temp(".parquet");
        // A Parquet input with other column names: the --map option binds them.
        var rows = (await File.ReadAllLinesAsync(csv)).Skip(1).Select(l => l.Split(',')).ToArray();
        var id = new Parquet.Schema.DataField<string>("key");
        var fields = new[] { "a", "b", "c", "d" }.Select(n => new Parquet.Schema.DataField<double>(n)).ToArray();
        await using (var stream = File.Create(input))
        await using (var writer = await Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema([id, .. fields]), stream))
        using (var group = writer.CreateRowGroup())
        {
            await group.WriteAsync(id, rows.Select(r => r[0]).ToArray(), null);
            for (var c = 0; c < 4; c++)
            {
                await group.WriteAsync<double>(fields[c], rows.Select(r => double.Parse(r[c + 1], CultureInfo.InvariantCulture)).ToArray(), null, null, default);
            }
        }

        var output = Temp(".parquet");
        var (exit, stdout, error) = await RunAsync("score", SharedData.RepoModel("iris_mlp.onnx"), "-i", input, "--id", "key", "-o", output, "--map", "features=a,b,c,d", "--model-version", "iris-7");

        Assert.True(exit == 0, error);
        Assert.Contains("scored 30 rows", stdout, StringComparison.Ordinal);
        await using var reader = await Parquet.ParquetReader.CreateAsync(output);
        Assert.Equal(30, reader.RowGroups.Sum(g => g.RowCount));
        Assert.Equal("key", reader.Schema.GetDataFields()[0].Name);
    }

    [Fact]
    public async Task Score_without_the_columns_exits_1_saying_how_to_map_them()
    {
        var input = Temp(".csv");
        await File.WriteAllTextAsync(input, "id,a,b\nr,1,2\n");

        var (exit, _, error) = await RunAsync("score", SharedData.RepoModel("iris_mlp.onnx"), "-i", input, "--id", "id", "-o", Temp(".csv"));

        Assert.Equal(Program.ModelError, exit);
        Assert.Contains("no columns for input 'features'", error, StringComparison.Ordinal);
        Assert.Contains("--map features=", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Score_a_truncated_file_exits_1_naming_the_file_and_line()
    {
        var input = IrisCsv(40);
        var text = await File.ReadAllTextAsync(input);
        await File.WriteAllTextAsync(input, text[..(text.Length - 9)]);

        var (exit, _, error) = await RunAsync("score", SharedData.RepoModel("iris_mlp.onnx"), "-i", input, "--id", "id", "-o", Temp(".csv"));

        Assert.Equal(Program.ModelError, exit);
        Assert.Contains(input, error, StringComparison.Ordinal);
        Assert.Contains("line 41", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Score_refuses_a_model_with_a_per_run_input_and_bad_options_with_exit_2()
    {
        var input = Temp(".csv");
        await File.WriteAllTextAsync(input, "id,x_0,x_1,x_2\nr,1,2,3\n");

        var (exit, _, error) = await RunAsync("score", SharedData.RepoModel("conv_per_run_scalar.onnx"), "-i", input, "--id", "id", "-o", Temp(".csv"));
        Assert.Equal(Program.UsageError, exit);
        Assert.Contains("Input 'sr'", error, StringComparison.Ordinal);
        Assert.Contains("only inputs batched on axis 0 can be bound from columns", error, StringComparison.Ordinal);

        (exit, _, error) = await RunAsync("score", SharedData.RepoModel("iris_mlp.onnx"), "-i", input, "--id", "id");
        Assert.Equal(Program.UsageError, exit);
        Assert.Contains("Set exactly one destination", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reference_from_csv_skips_and_counts_invalid_rows_and_the_monitor_loads_it()
    {
        var input = Temp(".csv");
        await File.WriteAllTextAsync(input, "id,Features[0],Label\n1,5.1,0\n2,x,1\n3,6.2,2\n4,,1\n");
        var output = Temp(".reference");

        var (exit, stdout, error) = await RunAsync("reference", input, "-o", output, "--exclude", "id", "--categorical", "Label", "--numeric", "Features[0]", "--chunk-size", "2", "--model", "iris");

        Assert.True(exit == 0, error);
        Assert.Contains("3 rows, 2 features (Features[0], Label (categorical)), 2 chunks of 2; 1 rows skipped", stdout, StringComparison.Ordinal);
        Assert.Contains("skipped: row 2 (line 3): column 'Features[0]': 'x' is not a number", error, StringComparison.Ordinal);
        Assert.Contains("note: 2 full chunk(s) of 2 rows: the monitor calibrates drift thresholds from at least 3", error, StringComparison.Ordinal);
        var reference = MonitorReference.Load(output);
        Assert.Equal(3, reference.Rows);
        Assert.Equal(1, reference.SkippedRows);
        Assert.Equal("iris", reference.ModelName);
    }

    [Fact]
    public async Task Reference_from_a_truncated_csv_exits_1_and_an_unknown_column_exits_2()
    {
        var input = IrisCsv(40);
        var text = await File.ReadAllTextAsync(input);
        await File.WriteAllTextAsync(input, text[..(text.Length - 9)]);

        var (exit, _, error) = await RunAsync("reference", input, "-o", Temp(".reference"));
        Assert.Equal(Program.ModelError, exit);
        Assert.Contains("line 41", error, StringComparison.Ordinal);

        (exit, _, error) = await RunAsync("reference", IrisCsv(3), "-o", Temp(".reference"), "--categorical", "species");
        Assert.Equal(Program.UsageError, exit);
        Assert.Contains("no column 'species'", error, StringComparison.Ordinal);
    }
}
