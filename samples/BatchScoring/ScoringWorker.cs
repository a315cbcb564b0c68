using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Options;
using ModelInService;
using ModelInService.BatchScoring;
using Npgsql;
using Parquet;
using Parquet.Schema;
using Spectre.Console;

namespace BatchScoringSample;

/// <summary>
/// Scores the input with <see cref="BatchScorer"/> into a file or PostgreSQL, with a progress bar in a terminal and
/// plain lines otherwise, then stops the host. All the pipeline (chunked reading, binding by column name, overlapped
/// prediction, COPY with a checkpoint, rejects) is the library's: this worker only chooses the options.
/// </summary>
internal sealed partial class ScoringWorker(
    IPredictor<IrisFlower, IrisPrediction> predictor,
    IModelManager model,
    BatchScorer scorer,
    IOptions<ScoringOptions> options,
    IHostEnvironment environment,
    IHostApplicationLifetime lifetime,
    IServiceProvider services,
    ILogger<ScoringWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        try
        {
            var xgboost = string.Equals(settings.Model, "xgboost", StringComparison.OrdinalIgnoreCase);
            // The untyped path: the shared xgboost model (no C# types here), or iris when asked (--Scoring:Untyped=true).
            var runner = xgboost ? services.GetRequiredKeyedService<IModelRunner>("xgboost") : settings.Untyped ? services.GetRequiredService<IModelRunner>() : null;
            if (xgboost && settings.Rows <= 0)
            {
                throw new InvalidOperationException("--Scoring:Model=xgboost scores generated rows: set --Scoring:Rows.");
            }

            var input = settings.Rows > 0 ? await GeneratedAsync(xgboost, settings.Rows, stoppingToken) : Repeated(Resolve(settings.Input), settings.Repeat);
            var version = xgboost ? "tract_xgboost_classifier_tree" : model.Current.Name ?? $"{model.ModelName}@{model.Current.Sha256}";
            var scoring = new BatchScoringOptions { InputPath = input, IdColumn = "id", ModelVersion = version, ChunkRows = settings.ChunkRows, PostgresConnections = settings.Connections };
            if (settings.Postgres is { } connection)
            {
                scoring.PostgresConnectionString = connection;
                scoring.PostgresTable = settings.Table;
                if (settings.NaiveRows > 0)
                {
                    await NaiveAsync(connection, runner, xgboost, settings.NaiveRows, version, stoppingToken);
                    if (!xgboost)
                    {
                        await RawAsync(Math.Max(settings.Rows, 100_000), settings.ChunkRows, stoppingToken);
                    }

                    await RawTensorAsync(runner ?? services.GetRequiredService<IModelRunner>(), xgboost, Math.Max(settings.Rows, 100_000), settings.ChunkRows, stoppingToken);
                }
            }
            else
            {
                scoring.OutputPath = Path.GetFullPath(settings.Output);
            }

            LogStarting(logger, input, settings.Postgres is null ? scoring.OutputPath! : settings.Table, runner is null ? "IPredictor<IrisFlower, IrisPrediction>" : "IModelRunner");
            var result = await WithProgressAsync(progress => runner is null
                ? scorer.ScoreAsync(predictor, scoring, progress, stoppingToken)
                : scorer.ScoreAsync(runner, scoring, progress, stoppingToken));
            LogDone(logger, result.RowsWritten, result.Elapsed.TotalSeconds, result.RowsPerSecond, result.RowsRejected, result.RowsSkipped);
            using var self = Process.GetCurrentProcess();
            LogPeak(logger, self.PeakWorkingSet64 / (1024.0 * 1024.0));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            LogCanceled(logger);
            Environment.ExitCode = 1;
        }
        catch (Exception ex)
        {
            LogFailed(logger, ex);
            Environment.ExitCode = 1;
        }
        finally
        {
            lifetime.StopApplication();
        }
    }

    /// <summary>A Spectre.Console bar (rows/s, ETA) in a terminal; a plain line every 2 s when the output is redirected.</summary>
    private static async Task<BatchScoringResult> WithProgressAsync(Func<IProgress<BatchScoringProgress>, Task<BatchScoringResult>> run)
    {
        if (!Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive)
        {
            return await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask("scoring", maxValue: 1.0);
                    var result = await run(new Reporter(p =>
                    {
                        task.Value = p.InputFraction;
                        task.Description = string.Create(CultureInfo.InvariantCulture, $"{p.RowsDone:N0} rows, {p.RowsPerSecond:N0} rows/s, {p.RowsRejected:N0} rejected");
                    }));
                    task.Value = 1.0;
                    return result;
                });
        }

        var last = Stopwatch.StartNew();
        return await run(new Reporter(p =>
        {
            if (last.Elapsed >= TimeSpan.FromSeconds(2))
            {
                last.Restart();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"progress: {p.InputFraction:P0}, {p.RowsDone:N0} rows, {p.RowsPerSecond:N0} rows/s, {p.RowsRejected:N0} rejected, ETA {p.EstimatedRemaining?.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) ?? "?"}"));
            }
        }));
    }

    /// <summary>The baseline: one row at a time, <c>PredictAsync</c> (or <c>RunAsync</c> of one row), an autocommitted INSERT.</summary>
    private async Task NaiveAsync(string connectionString, IModelRunner? runner, bool xgboost, int rows, string version, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using (var create = new NpgsqlCommand("DROP TABLE IF EXISTS naive_scores; CREATE TABLE naive_scores (id text PRIMARY KEY, model_version text, scored_at timestamptz, label bigint, p0 real, p1 real, p2 real)", connection))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        var random = new Random(1);
        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < rows; i++)
        {
            long label;
            float[] probabilities;
            if (runner is null)
            {
                var prediction = await predictor.PredictAsync(NextFlower(random), cancellationToken);
                (label, probabilities) = (prediction.Label, prediction.Probabilities);
            }
            else
            {
                var row = xgboost ? NextWine(random) : Flat(NextFlower(random));
                var outputs = await runner.RunAsync([NamedTensor.Create(runner.Signature.Inputs[0].Name, row, 1, row.Length)], cancellationToken);
                (label, probabilities) = (((long[])outputs[0].Data)[0], (float[])outputs[1].Data);
            }

            await using var insert = new NpgsqlCommand("INSERT INTO naive_scores VALUES (@id, @v, now(), @l, @p0, @p1, @p2)", connection);
            insert.Parameters.AddWithValue("id", i.ToString(CultureInfo.InvariantCulture));
            insert.Parameters.AddWithValue("v", version);
            insert.Parameters.AddWithValue("l", label);
            insert.Parameters.AddWithValue("p0", probabilities[0]);
            insert.Parameters.AddWithValue("p1", probabilities[1]);
            insert.Parameters.AddWithValue("p2", probabilities[2]);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        LogNaive(logger, rows, stopwatch.Elapsed.TotalSeconds, rows / stopwatch.Elapsed.TotalSeconds);
    }

    /// <summary>The untyped limit: <c>IModelRunner.RunAsync</c> on tensors already built in memory, chunks as the pipeline sends them, one per core at once.</summary>
    private async Task RawTensorAsync(IModelRunner runner, bool xgboost, int rows, int chunkRows, CancellationToken cancellationToken)
    {
        var random = new Random(1);
        var name = runner.Signature.Inputs[0].Name;
        var width = xgboost ? 13 : 4;
        var chunks = new List<NamedTensor>();
        for (var start = 0; start < rows; start += chunkRows)
        {
            var count = Math.Min(chunkRows, rows - start);
            var data = new float[count * width];
            for (var r = 0; r < count; r++)
            {
                (xgboost ? NextWine(random) : Flat(NextFlower(random))).CopyTo(data, r * width);
            }

            chunks.Add(NamedTensor.Create(name, data, count, width));
        }

        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken },
            async (chunk, token) => await runner.RunAsync([chunk], token));
        LogRawTensor(logger, rows, stopwatch.Elapsed.TotalSeconds, rows / stopwatch.Elapsed.TotalSeconds);
    }

    /// <summary>The model's limit: <c>PredictBatchAsync</c> over rows already in memory, chunks as the pipeline sends them, one per core at once.</summary>
    private async Task RawAsync(int rows, int chunkRows, CancellationToken cancellationToken)
    {
        var random = new Random(1);
        var chunks = Enumerable.Range(0, (rows + chunkRows - 1) / chunkRows)
            .Select(c => Enumerable.Range(0, Math.Min(chunkRows, rows - c * chunkRows)).Select(_ => NextFlower(random)).ToArray())
            .ToArray();
        var stopwatch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken },
            async (chunk, token) => await predictor.PredictBatchAsync(chunk, token));
        LogRaw(logger, rows, stopwatch.Elapsed.TotalSeconds, rows / stopwatch.Elapsed.TotalSeconds);
    }

    // A wine row from the model's io.npz, jittered by +-30% per feature so the trees take different paths.
    private static readonly float[] Wine = [14.23f, 1.71f, 2.43f, 15.6f, 127f, 2.8f, 3.06f, 0.28f, 2.29f, 5.64f, 1.04f, 3.92f, 1065f];

    private static float[] NextWine(Random random)
    {
        var row = new float[Wine.Length];
        for (var i = 0; i < row.Length; i++)
        {
            row[i] = Wine[i] * (0.7f + (0.6f * random.NextSingle()));
        }

        return row;
    }

    private static float[] Flat(IrisFlower f) => [f.SepalLength, f.SepalWidth, f.PetalLength, f.PetalWidth];

    private static IrisFlower NextFlower(Random random) => new()
    {
        SepalLength = (float)(4 + random.NextDouble() * 4),
        SepalWidth = (float)(2 + random.NextDouble() * 2.5),
        PetalLength = (float)(1 + random.NextDouble() * 6),
        PetalWidth = (float)(random.NextDouble() * 2.5),
    };

    /// <summary>A Parquet file of <paramref name="rows"/> seeded iris (or xgboost wine) rows, row groups of 100,000, made once.</summary>
    private static async Task<string> GeneratedAsync(bool xgboost, int rows, CancellationToken cancellationToken)
    {
        var path = Path.Combine(Path.GetTempPath(), $"mis-{(xgboost ? "wine" : "iris")}-{rows}.parquet");
        if (File.Exists(path))
        {
            return path;
        }

        var id = new DataField<string>("id");
        DataField<float>[] features = xgboost
            ? [.. Enumerable.Range(0, 13).Select(i => new DataField<float>($"input_{i}"))]
            : [new("sepal_length"), new("sepal_width"), new("petal_length"), new("petal_width")];
        var random = new Random(1);
        await using (var stream = File.Create(path + ".partial"))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema([id, .. features]), stream, cancellationToken: cancellationToken))
        {
            for (var start = 0; start < rows; start += 100_000)
            {
                var count = Math.Min(100_000, rows - start);
                var ids = new string[count];
                var columns = new float[features.Length][];
                for (var c = 0; c < columns.Length; c++)
                {
                    columns[c] = new float[count];
                }

                for (var i = 0; i < count; i++)
                {
                    ids[i] = (start + i).ToString(CultureInfo.InvariantCulture);
                    var row = xgboost ? NextWine(random) : Flat(NextFlower(random));
                    for (var c = 0; c < columns.Length; c++)
                    {
                        columns[c][i] = row[c];
                    }
                }

                using var group = writer.CreateRowGroup();
                await group.WriteAsync(id, ids, null);
                for (var c = 0; c < columns.Length; c++)
                {
                    await group.WriteAsync<float>(features[c], columns[c], null, null, cancellationToken);
                }
            }
        }

        File.Move(path + ".partial", path, overwrite: true);
        return path;
    }

    /// <summary>The input copied <paramref name="repeat"/> times into a temporary CSV, ids made unique as "pass.id".</summary>
    private static string Repeated(string input, int repeat)
    {
        if (repeat <= 1)
        {
            return input;
        }

        var lines = File.ReadAllLines(input);
        var path = Path.Combine(Path.GetTempPath(), $"mis-batch-{Environment.ProcessId}-{repeat}.csv");
        using var writer = new StreamWriter(path);
        writer.WriteLine(lines[0]);
        for (var pass = 1; pass <= repeat; pass++)
        {
            foreach (var line in lines.Skip(1).Where(l => l.Length > 0))
            {
                writer.Write(pass.ToString(CultureInfo.InvariantCulture));
                writer.Write('.');
                writer.WriteLine(line);
            }
        }

        return path;
    }

    private string Resolve(string path)
    {
        // Like the model path: the content root (the current directory) first, then the app's own directory.
        if (Path.IsPathRooted(path))
        {
            return path;
        }

        var fromContentRoot = Path.Combine(environment.ContentRootPath, path);
        return File.Exists(fromContentRoot) ? fromContentRoot : Path.Combine(AppContext.BaseDirectory, path);
    }

    private sealed class Reporter(Action<BatchScoringProgress> report) : IProgress<BatchScoringProgress>
    {
        public void Report(BatchScoringProgress value) => report(value);
    }

    [LoggerMessage(1, LogLevel.Information, "Scoring {Input} into {Output} through {Path}")]
    private static partial void LogStarting(ILogger logger, string input, string output, string path);

    [LoggerMessage(7, LogLevel.Information, "Model limit, untyped (IModelRunner.RunAsync on tensors in memory): {Rows} rows in {Seconds:0.000} s: {RowsPerSecond:N0} rows/s")]
    private static partial void LogRawTensor(ILogger logger, int rows, double seconds, double rowsPerSecond);

    [LoggerMessage(8, LogLevel.Information, "Peak working set: {Megabytes:N0} MB")]
    private static partial void LogPeak(ILogger logger, double megabytes);

    [LoggerMessage(2, LogLevel.Information, "Scored {Rows} rows in {Seconds:0.000} s: {RowsPerSecond:N0} rows/s ({Rejected} rejected, {Skipped} done by an earlier run)")]
    private static partial void LogDone(ILogger logger, long rows, double seconds, double rowsPerSecond, long rejected, long skipped);

    [LoggerMessage(3, LogLevel.Information, "Naive loop (read a row, PredictAsync, INSERT): {Rows} rows in {Seconds:0.000} s: {RowsPerSecond:N0} rows/s")]
    private static partial void LogNaive(ILogger logger, int rows, double seconds, double rowsPerSecond);

    [LoggerMessage(6, LogLevel.Information, "Model limit, typed (PredictBatchAsync on in-memory rows): {Rows} rows in {Seconds:0.000} s: {RowsPerSecond:N0} rows/s")]
    private static partial void LogRaw(ILogger logger, int rows, double seconds, double rowsPerSecond);

    [LoggerMessage(4, LogLevel.Error, "Scoring failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(5, LogLevel.Warning, "Scoring canceled before the end of the input")]
    private static partial void LogCanceled(ILogger logger);
}
