using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using ModelInService;

namespace BatchScoring;

/// <summary>
/// Scores every row of the input at full throughput and writes the results in input order, then stops the host.
/// Several batches are in flight at once (one per core by default), each one <c>PredictBatchAsync</c> call that runs
/// many rows per ONNX Runtime run; a bounded channel of the running batches keeps the output in order and the memory
/// bounded.
/// </summary>
internal sealed partial class ScoringWorker(
    IPredictor<IrisFlower, IrisPrediction> predictor,
    IOptions<ScoringOptions> options,
    IHostEnvironment environment,
    IHostApplicationLifetime lifetime,
    ILogger<ScoringWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        try
        {
            var input = Resolve(settings.Input);
            var output = Path.GetFullPath(settings.Output);
            LogStarting(logger, input, settings.Repeat, output);

            var stopwatch = Stopwatch.StartNew();
            var (rows, correct, labelled) = await ScoreAsync(input, output, settings, stoppingToken);
            stopwatch.Stop();

            var seconds = stopwatch.Elapsed.TotalSeconds;
            LogDone(logger, rows, seconds, rows / seconds, output);
            if (labelled > 0)
            {
                LogAccuracy(logger, correct / (double)labelled, labelled);
            }
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
            // A worker that is done ends the process.
            lifetime.StopApplication();
        }
    }

    private async Task<(long Rows, long Correct, long Labelled)> ScoreAsync(string input, string output, ScoringOptions settings, CancellationToken stoppingToken)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var token = failed.Token;
        var batchesInFlight = settings.BatchesInFlight > 0 ? settings.BatchesInFlight : Environment.ProcessorCount;

        // The producer starts batches in input order; at most batchesInFlight wait here while they run.
        var running = Channel.CreateBounded<Task<(IrisRow[] Rows, IReadOnlyList<IrisPrediction> Predictions)>>(
            new BoundedChannelOptions(batchesInFlight) { SingleReader = true, SingleWriter = true });

        var producer = Task.Run(async () =>
        {
            try
            {
                await foreach (var rows in IrisCsv.ReadAsync(input, settings.Repeat, token).Chunk(settings.BatchSize).WithCancellation(token))
                {
                    await running.Writer.WriteAsync(PredictAsync(rows, token), token);
                }

                running.Writer.Complete();
            }
            catch (Exception ex)
            {
                running.Writer.Complete(ex);
            }
        }, CancellationToken.None);

        long count = 0, correct = 0, labelled = 0;
        try
        {
            await using var writer = new StreamWriter(output);
            await writer.WriteLineAsync(IrisCsv.OutputHeader);
            await foreach (var batch in running.Reader.ReadAllAsync(token))
            {
                var (rows, predictions) = await batch;
                for (var i = 0; i < rows.Length; i++)
                {
                    await IrisCsv.WriteAsync(writer, rows[i], predictions[i]);
                    if (rows[i].Species is { } species)
                    {
                        labelled++;
                        correct += species == predictions[i].Species ? 1 : 0;
                    }
                }

                count += rows.Length;
            }
        }
        finally
        {
            // On failure, stop the producer and the batches still running before leaving.
            await failed.CancelAsync();
            await producer;
        }

        return (count, correct, labelled);
    }

    private async Task<(IrisRow[] Rows, IReadOnlyList<IrisPrediction> Predictions)> PredictAsync(IrisRow[] rows, CancellationToken cancellationToken)
    {
        var flowers = Array.ConvertAll(rows, row => row.Flower);
        return (rows, await predictor.PredictBatchAsync(flowers, cancellationToken));
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

    [LoggerMessage(1, LogLevel.Information, "Scoring {Input} ({Repeat} times over) into {Output}")]
    private static partial void LogStarting(ILogger logger, string input, int repeat, string output);

    [LoggerMessage(2, LogLevel.Information, "Scored {Rows} rows in {Seconds:0.000} s: {RowsPerSecond:N0} rows/s. Wrote {Output}")]
    private static partial void LogDone(ILogger logger, long rows, double seconds, double rowsPerSecond, string output);

    [LoggerMessage(3, LogLevel.Information, "Accuracy against the input's species column: {Accuracy:P1} of {Rows} rows")]
    private static partial void LogAccuracy(ILogger logger, double accuracy, long rows);

    [LoggerMessage(4, LogLevel.Error, "Scoring failed")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(5, LogLevel.Warning, "Scoring canceled before the end of the input")]
    private static partial void LogCanceled(ILogger logger);
}
