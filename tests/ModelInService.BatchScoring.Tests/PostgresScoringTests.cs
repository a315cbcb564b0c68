using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ModelInService.BatchScoring.Tests;

/// <summary>Scoring into a real PostgreSQL (a private cluster): exactly-once after crashes at random points.</summary>
[Collection(PostgresTests.Name)]
public sealed class PostgresScoringTests(PostgresFixture postgres)
{
    private sealed class SimulatedCrashException(string point, long row) : Exception($"simulated crash at {point} of the chunk at row {row}");

    private static BatchScoringOptions Options(string input, string connection, string table, int connections = 1) => new()
    {
        InputPath = input, IdColumn = "id", ModelVersion = "iris-v1", PostgresConnectionString = connection, PostgresTable = table,
        ChunkRows = 500, ChunksInFlight = 3, PostgresConnections = connections,
    };

    [SkippableFact]
    public async Task Rows_and_rejects_are_written_with_version_and_time_and_the_checkpoint_counts_them()
    {
        var connection = await postgres.CreateDatabaseAsync("score_basic");
        await using var provider = await TestData.IrisAsync();
        var predictor = provider.GetRequiredService<IPredictor<IrisFlower, IrisPrediction>>();
        var input = TestData.IrisCsv(1200, seed: 5);
        var lines = await File.ReadAllLinesAsync(input);
        lines[10] = "r9,5.0,abc,1.0,0.1";
        await File.WriteAllLinesAsync(input, lines);

        var result = await new BatchScorer().ScoreAsync(predictor, Options(input, connection, "scores"));

        Assert.Equal(1199, result.RowsWritten);
        Assert.Equal(1, result.RowsRejected);
        await using var db = new NpgsqlConnection(connection);
        await db.OpenAsync();
        Assert.Equal(1199L, await ScalarAsync<long>(db, "SELECT count(*) FROM scores WHERE model_version = 'iris-v1' AND scored_at > now() - interval '1 hour'"));
        Assert.Equal("r9", await ScalarAsync<string>(db, "SELECT id FROM scores_rejects"));
        Assert.Contains("'abc' is not a number", await ScalarAsync<string>(db, "SELECT reason FROM scores_rejects"), StringComparison.Ordinal);
        Assert.Equal(1200L, await ScalarAsync<long>(db, "SELECT rows_done FROM mis_batch_checkpoints"));

        // The stored predictions are the predictor's.
        var first = await predictor.PredictBatchAsync([new IrisFlower { SepalLength = 5.1f, SepalWidth = 3.5f, PetalLength = 1.4f, PetalWidth = 0.2f }]);
        Assert.Equal(3, first[0].Probabilities.Length);

        // A rerun of the finished job writes nothing more.
        var again = await new BatchScorer().ScoreAsync(predictor, Options(input, connection, "scores"));
        Assert.Equal(0, again.RowsWritten);
        Assert.Equal(1200, again.RowsSkipped);
    }

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task Killed_five_times_at_random_points_then_resumed_writes_each_id_exactly_once_with_uninterrupted_predictions(int connections)
    {
        var connection = await postgres.CreateDatabaseAsync("score_resume_" + connections);
        await using var provider = await TestData.IrisAsync();
        var predictor = provider.GetRequiredService<IPredictor<IrisFlower, IrisPrediction>>();
        const int Rows = 12_000;
        var input = TestData.IrisCsv(Rows, seed: 7);
        var lines = await File.ReadAllLinesAsync(input);
        lines[4321] = "r4320,,1,1,1";
        await File.WriteAllLinesAsync(input, lines);

        var reference = await new BatchScorer().ScoreAsync(predictor, Options(input, connection, "uninterrupted"));
        Assert.Equal(Rows - 1, reference.RowsWritten);

        var random = new Random(20);
        string[] points = ["after-copy", "before-commit", "after-commit", "cancel"];
        var crashes = 0;
        var crashedAt = new List<long>();
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var point = points[random.Next(points.Length)];
            var chunksLeft = await RowsLeftAsync(connection) / 500;
            var targetRow = await RowsDoneAsync(connection) + (random.Next((int)Math.Max(1, chunksLeft / 3)) * 500L);
            var options = Options(input, connection, "resumed", connections);
            using var cancel = new CancellationTokenSource();
            options.FaultInjector = (at, row) =>
            {
                if (row < targetRow)
                {
                    return;
                }

                if (point == "cancel" && at == "after-copy")
                {
                    // Stop the run from outside, in the middle of a chunk's transaction.
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
            crashes++;
            crashedAt.Add(targetRow);
        }

        Assert.Equal(5, crashes);
        var done = await RowsDoneAsync(connection);
        Assert.InRange(done, 1, Rows - 1);

        var resumed = await new BatchScorer().ScoreAsync(predictor, Options(input, connection, "resumed", connections));
        Assert.Equal(done, resumed.RowsSkipped);

        await using var db = new NpgsqlConnection(connection);
        await db.OpenAsync();
        Assert.Equal((long)Rows - 1, await ScalarAsync<long>(db, "SELECT count(*) FROM resumed"));
        Assert.Equal((long)Rows - 1, await ScalarAsync<long>(db, "SELECT count(DISTINCT id) FROM resumed"));
        Assert.Equal(0L, await ScalarAsync<long>(db, """
            SELECT count(*) FROM uninterrupted u FULL JOIN resumed r ON u.id = r.id
            WHERE u.id IS NULL OR r.id IS NULL OR u.label <> r.label
              OR u.probabilities_0 <> r.probabilities_0 OR u.probabilities_1 <> r.probabilities_1 OR u.probabilities_2 <> r.probabilities_2
            """));
        Assert.Equal(1L, await ScalarAsync<long>(db, "SELECT count(*) FROM resumed_rejects WHERE id = 'r4320'"));
        Assert.Equal((long)Rows, await ScalarAsync<long>(db, "SELECT rows_written + rows_rejected FROM mis_batch_checkpoints WHERE job LIKE 'resumed:%'"));
    }

    [SkippableFact]
    public async Task Untyped_path_with_parallel_connections_writes_the_same_rows_as_the_typed_path()
    {
        var connection = await postgres.CreateDatabaseAsync("score_untyped");
        await using var provider = await TestData.IrisAsync();
        var input = TestData.IrisCsv(5000, seed: 11);
        var typed = await new BatchScorer().ScoreAsync(provider.GetRequiredService<IPredictor<IrisFlower, IrisPrediction>>(), Options(input, connection, "typed"));
        var untyped = await new BatchScorer().ScoreAsync(provider.GetRequiredService<IModelRunner>(), Options(input, connection, "untyped", connections: 4));

        Assert.Equal(5000, typed.RowsWritten);
        Assert.Equal(5000, untyped.RowsWritten);
        await using var db = new NpgsqlConnection(connection);
        await db.OpenAsync();
        Assert.Equal(0L, await ScalarAsync<long>(db, """
            SELECT count(*) FROM typed t FULL JOIN untyped u ON t.id = u.id
            WHERE t.id IS NULL OR u.id IS NULL OR t.label <> u.label OR t.probabilities_1 <> u.probabilities_1
            """));
        Assert.Equal(5000L, await ScalarAsync<long>(db, "SELECT rows_done FROM mis_batch_checkpoints WHERE job LIKE 'untyped:%' AND completed_at IS NOT NULL"));
    }

    private static async Task<long> RowsDoneAsync(string connection)
    {
        await using var db = new NpgsqlConnection(connection);
        await db.OpenAsync();
        return await ScalarAsync<long?>(db, "SELECT rows_done FROM mis_batch_checkpoints WHERE job LIKE 'resumed:%'") ?? 0;
    }

    private static async Task<long> RowsLeftAsync(string connection) => 12_000 - await RowsDoneAsync(connection);

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection db, string sql)
    {
        await using var command = new NpgsqlCommand(sql, db);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default! : (T)value;
    }
}
