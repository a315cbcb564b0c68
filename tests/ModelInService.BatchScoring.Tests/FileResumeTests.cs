using Microsoft.Extensions.DependencyInjection;
using Parquet;

namespace ModelInService.BatchScoring.Tests;

/// <summary>File outputs (CSV and Parquet) stopped at random points, torn, and resumed: every row exactly once.</summary>
public sealed class FileResumeTests
{
    private sealed class SimulatedCrashException(string point, long row) : Exception($"simulated crash at {point} of the chunk at row {row}");

    private static BatchScoringOptions Options(string input, string output) =>
        new() { InputPath = input, IdColumn = "id", ModelVersion = "v1", OutputPath = output, ChunkRows = 250 };

    private static string InputWithOneBadRow(int rows)
    {
        var input = TestData.IrisCsv(rows, seed: 5);
        var lines = File.ReadAllLines(input);
        lines[2001] = "r2000,,1,1,1";
        File.WriteAllLines(input, lines);
        return input;
    }

    [Theory]
    [InlineData(".csv")]
    [InlineData(".parquet")]
    public async Task Stopped_five_times_at_random_points_and_torn_then_resumed_writes_each_row_exactly_once(string extension)
    {
        await using var provider = await TestData.IrisAsync();
        var predictor = provider.GetRequiredService<IPredictor<IrisFlower, IrisPrediction>>();
        const int Rows = 6000;
        var input = InputWithOneBadRow(Rows);
        var uninterrupted = TestData.TempFile(extension);
        var reference = await new BatchScorer().ScoreAsync(predictor, Options(input, uninterrupted));
        Assert.Equal(Rows - 1, reference.RowsWritten);

        var output = TestData.TempFile(extension);
        var checkpoint = output + ".partial.checkpoint";
        var random = new Random(extension.Length);
        string[] points = ["after-write", "after-checkpoint", "cancel"];
        long skippedBefore = 0;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var point = points[random.Next(points.Length)];
            var targetRow = skippedBefore + (random.Next(1, 4) * 250L);
            var options = Options(input, output);
            using var cancel = new CancellationTokenSource();
            options.FaultInjector = (at, row) =>
            {
                if (row < targetRow)
                {
                    return;
                }

                if (point == "cancel" && at == "after-write")
                {
                    cancel.Cancel();
                    cancel.Token.ThrowIfCancellationRequested();
                }

                if (at == point)
                {
                    throw new SimulatedCrashException(at, row);
                }
            };

            var error = await Record.ExceptionAsync(() => new BatchScorer().ScoreAsync(predictor, options, null, cancel.Token));
            Assert.True(error is SimulatedCrashException or OperationCanceledException, $"attempt {attempt} ({point} at row {targetRow}): {error}");
            Assert.True(File.Exists(checkpoint), $"attempt {attempt}: no checkpoint");
            Assert.False(File.Exists(output), "the output is only renamed into place when complete");

            // A torn write: bytes of a chunk that never reached its checkpoint.
            await File.AppendAllTextAsync(output + ".partial", "r9999,v1,torn");
            if (File.Exists(output + ".rejects.csv"))
            {
                await File.AppendAllTextAsync(output + ".rejects.csv", "42,torn");
            }

            skippedBefore = targetRow;
        }

        var resumed = await new BatchScorer().ScoreAsync(predictor, Options(input, output));
        Assert.InRange(resumed.RowsSkipped, 250, Rows - 250);
        Assert.False(File.Exists(checkpoint));
        Assert.False(File.Exists(output + ".partial"));

        var expected = await ReadRowsAsync(uninterrupted);
        var actual = await ReadRowsAsync(output);
        Assert.Equal(Rows - 1, actual.Count);
        Assert.Equal(expected, actual);
        var rejects = await File.ReadAllLinesAsync(output + ".rejects.csv");
        Assert.Equal(2, rejects.Length);
        Assert.StartsWith("row,id,reason", rejects[0], StringComparison.Ordinal);
        Assert.StartsWith("2001,r2000,", rejects[1], StringComparison.Ordinal);
    }

    /// <summary>Id → label and probabilities (scored_at differs between runs and is left out), in file order.</summary>
    private static async Task<List<string>> ReadRowsAsync(string path)
    {
        var rows = new List<string>();
        if (path.EndsWith(".csv", StringComparison.Ordinal))
        {
            var lines = await File.ReadAllLinesAsync(path);
            Assert.StartsWith("id,model_version,scored_at,label,", lines[0], StringComparison.Ordinal);
            foreach (var line in lines.Skip(1))
            {
                var fields = line.Split(',');
                rows.Add(string.Join(',', fields.Take(2).Concat(fields.Skip(3))));
            }

            return rows;
        }

        await using var reader = await ParquetReader.CreateAsync(path);
        var fieldsOf = reader.Schema.GetDataFields();
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var columns = new List<Array>();
            foreach (var field in fieldsOf)
            {
                var rowsInGroup = (int)group.RowCount;
                if (field.Name == "scored_at")
                {
                    continue;
                }

                if (field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>))
                {
                    var text = new string?[rowsInGroup];
                    await group.ReadAsync(field, text.AsMemory(), null);
                    columns.Add(text);
                }
                else if (field.ClrType == typeof(long))
                {
                    var numbers = new long[rowsInGroup];
                    await group.ReadAsync(field, numbers.AsMemory(), null);
                    columns.Add(numbers);
                }
                else
                {
                    var numbers = new float[rowsInGroup];
                    await group.ReadAsync(field, numbers.AsMemory(), null);
                    columns.Add(numbers);
                }
            }

            for (var i = 0; i < group.RowCount; i++)
            {
                rows.Add(string.Join(',', columns.Select(c => Convert.ToString(c.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
            }
        }

        return rows;
    }

    [Fact]
    public async Task A_checkpoint_of_another_input_or_a_damaged_one_stops_the_run_with_what_to_do()
    {
        await using var provider = await TestData.IrisAsync();
        var predictor = provider.GetRequiredService<IPredictor<IrisFlower, IrisPrediction>>();
        var input = TestData.IrisCsv(1000, seed: 9);
        var output = TestData.TempFile(".csv");
        var options = Options(input, output);
        options.FaultInjector = (at, row) =>
        {
            if (at == "after-checkpoint" && row >= 500)
            {
                throw new SimulatedCrashException(at, row);
            }
        };
        await Assert.ThrowsAsync<SimulatedCrashException>(() => new BatchScorer().ScoreAsync(predictor, options));

        // The input changed: resuming would mix two inputs in one output.
        await File.AppendAllTextAsync(input, "r1000,5,3,1,0.2\n");
        var changed = await Assert.ThrowsAsync<InvalidOperationException>(() => new BatchScorer().ScoreAsync(predictor, Options(input, output)));
        Assert.Contains("Cannot resume from the checkpoint", changed.Message, StringComparison.Ordinal);
        Assert.Contains("(it changed)", changed.Message, StringComparison.Ordinal);
        Assert.Contains("Delete it", changed.Message, StringComparison.Ordinal);

        // A damaged checkpoint is refused, not guessed at.
        await File.WriteAllTextAsync(output + ".partial.checkpoint", "{\"format\":1,\"input\":");
        var damaged = await Assert.ThrowsAsync<InvalidOperationException>(() => new BatchScorer().ScoreAsync(predictor, Options(input, output)));
        Assert.Contains("cannot be read", damaged.Message, StringComparison.Ordinal);

        // Deleting both starts the job over, as the messages say.
        File.Delete(output + ".partial.checkpoint");
        File.Delete(output + ".partial");
        var fresh = await new BatchScorer().ScoreAsync(predictor, Options(input, output));
        Assert.Equal(1001, fresh.RowsWritten);
        Assert.Equal(0, fresh.RowsSkipped);
    }

    [Fact]
    public async Task A_second_run_of_the_same_job_while_the_first_writes_fails_instead_of_writing_twice()
    {
        await using var provider = await TestData.IrisAsync();
        var predictor = provider.GetRequiredService<IPredictor<IrisFlower, IrisPrediction>>();
        var input = TestData.IrisCsv(2000, seed: 10);
        var output = TestData.TempFile(".parquet");
        var inside = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var options = Options(input, output);
        options.FaultInjector = (at, row) =>
        {
            if (at == "after-checkpoint" && row == 500)
            {
                inside.TrySetResult();
                release.Task.Wait(TimeSpan.FromSeconds(30));
            }
        };
        var first = Task.Run(() => new BatchScorer().ScoreAsync(predictor, options));
        await inside.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var second = await Record.ExceptionAsync(() => new BatchScorer().ScoreAsync(predictor, Options(input, output)));
        release.SetResult();

        Assert.IsAssignableFrom<IOException>(second);
        var result = await first;
        Assert.Equal(2000, result.RowsWritten);
        Assert.Equal(2000, (await ReadRowsAsync(output)).Count);
    }
}
