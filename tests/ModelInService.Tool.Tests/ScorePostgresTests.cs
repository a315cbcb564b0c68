using System.Globalization;
using System.Text;
using ModelInService.BatchScoring.Tests;
using ModelInService.TestUtilities;
using Npgsql;

namespace ModelInService.Tool.Tests;

/// <summary>`mis score --postgres` against a real PostgreSQL (a private cluster; skipped with the reason without the binaries).</summary>
[Collection(PostgresTests.Name)]
public sealed class ScorePostgresTests(PostgresFixture postgres)
{
    [SkippableFact]
    public async Task Score_into_postgres_writes_rows_and_rejects_once_and_a_rerun_resumes_with_nothing_left()
    {
        var connection = await postgres.CreateDatabaseAsync("tool_score");
        var text = new StringBuilder("id,sepal_length,sepal_width,petal_length,petal_width\n");
        var random = new Random(3);
        for (var i = 0; i < 300; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"r{i},{4 + random.NextDouble() * 4:0.###},{2 + random.NextDouble() * 2.5:0.###},{1 + random.NextDouble() * 6:0.###},{random.NextDouble() * 2.5:0.###}\n");
        }

        text.Append("bad,,1,1,1\n");
        var input = TestTemp.File(".csv");
        await File.WriteAllTextAsync(input, text.ToString());
        string[] args = ["score", SharedData.RepoModel("iris_mlp.onnx"), "--input", input, "--id", "id", "--postgres", connection, "--table", "iris_scores", "--chunk-rows", "64", "--connections", "2"];

        using (var output = new StringWriter())
        using (var error = new StringWriter())
        {
            var exit = await Program.Run(args, output, error);
            Assert.True(exit == 0, error.ToString());
            Assert.Contains("scored 300 rows into iris_scores", output.ToString(), StringComparison.Ordinal);
            Assert.Contains("1 rejected", output.ToString(), StringComparison.Ordinal);
        }

        using (var output = new StringWriter())
        using (var error = new StringWriter())
        {
            var exit = await Program.Run(args, output, error);
            Assert.True(exit == 0, error.ToString());
            Assert.Contains("scored 0 rows", output.ToString(), StringComparison.Ordinal);
        }

        await using var db = new NpgsqlConnection(connection);
        await db.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*), count(DISTINCT id), min(probabilities_0 + probabilities_1 + probabilities_2), max(probabilities_0 + probabilities_1 + probabilities_2) FROM iris_scores", db);
        await using var reader = await count.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(300L, reader.GetInt64(0));
        Assert.Equal(300L, reader.GetInt64(1));
        Assert.InRange(reader.GetFloat(2), 0.999f, 1.001f);
        Assert.InRange(reader.GetFloat(3), 0.999f, 1.001f);
        await reader.DisposeAsync();
        await using var rejects = new NpgsqlCommand("SELECT id FROM iris_scores_rejects", db);
        Assert.Equal("bad", await rejects.ExecuteScalarAsync());
    }
}
