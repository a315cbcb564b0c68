using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using ModelInService.BatchScoring;
using Npgsql;
using Spectre.Console;

namespace ModelInService.Tool;

/// <summary><c>mis score</c> and <c>mis reference</c>: ModelInService.BatchScoring from the command line, on any model, without C# types.</summary>
internal static class BatchCommands
{
    /// <summary>Fewest reference chunks the monitor calibrates thresholds from (ModelMonitor.MinCalibrationChunks).</summary>
    private const int MinCalibrationChunks = 3;

    public static Command ScoreCommand(TextWriter output, TextWriter error)
    {
        var model = new Argument<FileInfo>("model") { Description = "The .onnx file." };
        var input = new Option<FileInfo>("--input", "-i") { Description = "The CSV (header row) or Parquet file to score.", Required = true };
        var id = new Option<string>("--id") { Description = "The input column that keys each output row.", Required = true };
        var outputFile = new Option<FileInfo>("--output", "-o") { Description = "Write the predictions to this CSV or Parquet file (by extension); resumable: a rerun of a stopped job goes on from its checkpoint ({file}.partial.checkpoint)." };
        var postgres = new Option<string>("--postgres") { Description = "Write to PostgreSQL: an Npgsql connection string (with --table); resumable, exactly once per chunk." };
        var table = new Option<string>("--table") { Description = "The PostgreSQL table (created when absent; rejects go to TABLE_rejects)." };
        var map = new Option<string[]>("--map") { Description = "The columns of a model input, in row-major order: --map features=sepal_length,sepal_width,petal_length,petal_width (repeatable)." };
        var chunkRows = new Option<int>("--chunk-rows") { Description = "Rows per chunk (prediction call, commit, resume unit).", DefaultValueFactory = _ => 8192 };
        var connections = new Option<int>("--connections") { Description = "PostgreSQL connections copying chunks at once (commits stay in order).", DefaultValueFactory = _ => 1 };
        var job = new Option<string>("--job") { Description = "The checkpoint key: a rerun with the same key resumes (default: TABLE:input file name)." };
        var version = new Option<string>("--model-version") { Description = "Written into every output row (default: the model file's name and SHA-256 prefix)." };
        var rejects = new Option<FileInfo>("--rejects") { Description = "With --output: where rejected rows go (default: OUTPUT.rejects.csv)." };
        var maxRejects = new Option<long>("--max-rejects") { Description = "Stop when more rows than this are rejected (-1: no limit).", DefaultValueFactory = _ => -1 };
        var separator = new Option<char>("--separator") { Description = "The CSV separator.", DefaultValueFactory = _ => ',' };
        var allowNonFinite = new Option<bool>("--allow-non-finite") { Description = "Write predictions that hold NaN or an infinity (by default such a row is rejected: the model's answer to an input far outside its training range)." };
        var axes = Program.BatchAxisOption();
        var command = new Command("score", "Score a Parquet or CSV file with the model into PostgreSQL or a file: columns bound onto the input tensors by name, outputs written as columns, rejected rows with their reason, progress as it goes.")
        {
            model, input, id, outputFile, postgres, table, map, chunkRows, connections, job, version, rejects, maxRejects, separator, allowNonFinite, axes,
        };
        command.SetAction(async (result, ct) =>
        {
            try
            {
                var path = result.GetRequiredValue(model).FullName;
                if (!File.Exists(path))
                {
                    throw new FileNotFoundException($"No model file at {path}.", path);
                }

                var options = new BatchScoringOptions
                {
                    InputPath = result.GetRequiredValue(input).FullName,
                    IdColumn = result.GetRequiredValue(id),
                    OutputPath = result.GetValue(outputFile)?.FullName,
                    PostgresConnectionString = result.GetValue(postgres),
                    PostgresTable = result.GetValue(table),
                    ChunkRows = result.GetValue(chunkRows),
                    PostgresConnections = result.GetValue(connections),
                    JobName = result.GetValue(job),
                    RejectPath = result.GetValue(rejects)?.FullName,
                    MaxRejectedRows = result.GetValue(maxRejects),
                    CsvSeparator = result.GetValue(separator),
                    NonFiniteOutputs = result.GetValue(allowNonFinite) ? NonFiniteValuePolicy.Allow : NonFiniteValuePolicy.Reject,
                    ModelVersion = result.GetValue(version) ?? await VersionAsync(path, ct).ConfigureAwait(false),
                };
                foreach (var (name, columns) in Program.ParsePairs(result.GetValue(map), "--map", s => s))
                {
                    options.ColumnMapping[name] = columns;
                }

                options.Validate();
                var batchAxes = Program.ParseBatchAxes(result.GetValue(axes));
                var services = new ServiceCollection();
                services.AddModel(LoadedModel.RegistrationName, o =>
                {
                    o.Source = ModelSource.FromFile(path);
                    foreach (var (name, axis) in batchAxes)
                    {
                        o.BatchAxes[name] = axis;
                    }
                });
                var provider = services.BuildServiceProvider();
                await using (provider.ConfigureAwait(false))
                {
                    await provider.StartModelsAsync(ct).ConfigureAwait(false);
                    var runner = provider.GetRequiredKeyedService<IModelRunner>(LoadedModel.RegistrationName);
                    var destination = options.OutputPath ?? options.PostgresTable!;
                    var scored = await WithProgressAsync(output, progress => new BatchScorer().ScoreAsync(runner, options, progress, ct)).ConfigureAwait(false);
                    await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"scored {scored.RowsWritten:N0} rows into {destination} in {scored.Elapsed.TotalSeconds:0.00} s ({scored.RowsPerSecond:N0} rows/s); {scored.RowsRejected:N0} rejected{(options.OutputPath is null ? "" : " (" + (options.RejectPath ?? options.OutputPath + ".rejects.csv") + ")")}; {scored.RowsSkipped:N0} done by an earlier run; model version {options.ModelVersion}")).ConfigureAwait(false);
                    return 0;
                }
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or ModelSchemaException)
            {
                await error.WriteLineAsync("mis score: " + e.Message).ConfigureAwait(false);
                return Program.UsageError;
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException or ModelLoadException or BatchInputException or NpgsqlException or InvalidOperationException or IOException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync("mis score: " + e.Message).ConfigureAwait(false);
                return Program.ModelError;
            }
        });
        return command;
    }

    public static Command ReferenceCommand(TextWriter output, TextWriter error)
    {
        var input = new Argument<FileInfo>("input") { Description = "The CSV (header row) or Parquet file: one feature per column, named as the monitor names features (Features[0], Label, ...)." };
        var outputFile = new Option<FileInfo>("--output", "-o") { Description = "The reference file to write (MonitoringOptions.ReferencePath loads it).", Required = true };
        var chunkSize = new Option<int>("--chunk-size") { Description = "Rows per calibration chunk (near a monitoring window's volume).", DefaultValueFactory = _ => 1000 };
        var categorical = new Option<string[]>("--categorical") { Description = "Columns profiled as categories even when numeric (comma-separated, repeatable).", AllowMultipleArgumentsPerToken = true };
        var numeric = new Option<string[]>("--numeric") { Description = "Columns that must be numbers: rows where they are not are skipped and counted.", AllowMultipleArgumentsPerToken = true };
        var columns = new Option<string[]>("--columns") { Description = "Only these columns (default: all).", AllowMultipleArgumentsPerToken = true };
        var exclude = new Option<string[]>("--exclude") { Description = "Leave these columns out (an id, a timestamp).", AllowMultipleArgumentsPerToken = true };
        var modelName = new Option<string>("--model") { Description = "The model name recorded in the reference." };
        var separator = new Option<char>("--separator") { Description = "The CSV separator.", DefaultValueFactory = _ => ',' };
        var command = new Command("reference", "Build a monitor reference file from the columns of a Parquet or CSV file, skipping and counting invalid rows.")
        {
            input, outputFile, chunkSize, categorical, numeric, columns, exclude, modelName, separator,
        };
        command.SetAction(async (result, ct) =>
        {
            try
            {
                var options = new ReferenceFileOptions { ChunkSize = result.GetValue(chunkSize), ModelName = result.GetValue(modelName), CsvSeparator = result.GetValue(separator) };
                Add(options.Categorical, result.GetValue(categorical));
                Add(options.Numeric, result.GetValue(numeric));
                Add(options.Columns, result.GetValue(columns));
                Add(options.Exclude, result.GetValue(exclude));
                var path = result.GetRequiredValue(input).FullName;
                if (!File.Exists(path))
                {
                    throw new FileNotFoundException($"No input file at {path}.", path);
                }

                var target = result.GetRequiredValue(outputFile).FullName;
                if (string.Equals(target, path, StringComparison.Ordinal))
                {
                    throw new ArgumentException($"The output '{target}' is the input file: write the reference somewhere else.");
                }

                if (Directory.Exists(target))
                {
                    throw new ArgumentException($"The output '{target}' is a directory: give a file path.");
                }

                var built = await ReferenceFile.BuildAsync(path, options, ct).ConfigureAwait(false);
                built.Reference.Save(target);
                var features = string.Join(", ", built.Features.Select(f => f.Key + (f.Value ? "" : " (categorical)")));
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{target}: {built.Reference.Rows} rows, {built.Features.Count} features ({features}), {built.Reference.ChunkCount} chunks of {options.ChunkSize}; {built.SkippedRows} rows skipped")).ConfigureAwait(false);
                foreach (var reason in built.FirstSkipReasons)
                {
                    await error.WriteLineAsync("skipped: " + reason).ConfigureAwait(false);
                }

                if (built.Reference.ChunkCount < MinCalibrationChunks)
                {
                    // Only full chunks count: 150 rows in chunks of 1,000 are 0 chunks, and the monitor then never
                    // calibrates its thresholds (its evaluation says so per feature, long after this run).
                    await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"note: {built.Reference.ChunkCount} full chunk(s) of {options.ChunkSize} rows: the monitor calibrates drift thresholds from at least {MinCalibrationChunks} and uses the fixed thresholds until then; for calibration give --chunk-size {Math.Max(1, built.Reference.Rows / MinCalibrationChunks)} or less (about a monitoring window's volume), or more rows")).ConfigureAwait(false);
                }

                return 0;
            }
            catch (ArgumentException e)
            {
                await error.WriteLineAsync("mis reference: " + e.Message).ConfigureAwait(false);
                return Program.UsageError;
            }
            catch (Exception e) when (e is FileNotFoundException or BatchInputException or IOException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync("mis reference: " + e.Message).ConfigureAwait(false);
                return Program.ModelError;
            }
        });
        return command;
    }

    private static void Add(ICollection<string> target, string[]? values)
    {
        foreach (var value in values ?? [])
        {
            foreach (var name in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                target.Add(name);
            }
        }
    }

    /// <summary>The model file's name and the first 12 hex digits of its SHA-256.</summary>
    private static async Task<string> VersionAsync(string path, CancellationToken cancellationToken)
    {
        var stream = File.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            var hash = await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false);
            return Path.GetFileName(path) + "@sha256:" + Convert.ToHexStringLower(hash)[..12];
        }
    }

    /// <summary>A progress bar (rows/s, ETA) on an interactive console; a plain line every 2 s otherwise (redirected, or a test's writer).</summary>
    private static async Task<BatchScoringResult> WithProgressAsync(TextWriter output, Func<IProgress<BatchScoringProgress>, Task<BatchScoringResult>> run)
    {
        if (ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive)
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
                    })).ConfigureAwait(false);
                    task.Value = 1.0;
                    return result;
                }).ConfigureAwait(false);
        }

        var last = Stopwatch.StartNew();
        return await run(new Reporter(p =>
        {
            if (last.Elapsed >= TimeSpan.FromSeconds(2))
            {
                last.Restart();
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"progress: {p.InputFraction:P0}, {p.RowsDone:N0} rows, {p.RowsPerSecond:N0} rows/s, {p.RowsRejected:N0} rejected, ETA {p.EstimatedRemaining?.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) ?? "?"}"));
            }
        })).ConfigureAwait(false);
    }

    private sealed class Reporter(Action<BatchScoringProgress> report) : IProgress<BatchScoringProgress>
    {
        public void Report(BatchScoringProgress value) => report(value);
    }
}
