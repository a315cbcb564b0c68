using System.Globalization;
using nietras.SeparatedValues;
using Npgsql;
using NpgsqlTypes;
using Parquet;
using Parquet.Schema;

namespace ModelInService.BatchScoring;

/// <summary>Where predicted chunks go, in input order.</summary>
internal interface IScoreSink<TOutput> : IAsyncDisposable
{
    /// <summary>Prepares the destination; returns the input rows already done by earlier runs of the job.</summary>
    Task<long> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Writes a chunk's rows and rejects and records it as done, all or nothing.</summary>
    Task WriteAsync(ScoredChunk<TOutput> chunk, CancellationToken cancellationToken);

    /// <summary>Finishes the destination after the last chunk.</summary>
    Task CompleteAsync(CancellationToken cancellationToken);
}

/// <summary>
/// PostgreSQL: each chunk's rows (binary COPY), its rejects and the job's checkpoint are one transaction, so a run
/// stopped anywhere and rerun writes every row exactly once. The checkpoint update checks the previous position: two
/// runs of one job cannot both commit a chunk.
/// </summary>
internal sealed class PostgresSink<TOutput>(BatchScoringOptions options) : IScoreSink<TOutput>
{
    internal const string CheckpointTable = "mis_batch_checkpoints";

    private readonly string _job = options.EffectiveJobName;
    private readonly string _table = Quote(options.PostgresTable!);
    private readonly string _rejects = Quote(options.PostgresTable! + "_rejects");
    private NpgsqlConnection? _connection;
    private IReadOnlyList<OutputColumn<TOutput>>? _columns;
    private string? _copy;

    public async Task<long> OpenAsync(CancellationToken cancellationToken)
    {
        _connection = new NpgsqlConnection(options.PostgresConnectionString);
        await _connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync($"""
            CREATE TABLE IF NOT EXISTS {CheckpointTable} (
              job text PRIMARY KEY, input text NOT NULL, rows_done bigint NOT NULL, rows_written bigint NOT NULL,
              rows_rejected bigint NOT NULL, model_version text NOT NULL, updated_at timestamptz NOT NULL, completed_at timestamptz);
            INSERT INTO {CheckpointTable} VALUES (@job, @input, 0, 0, 0, @version, now(), NULL) ON CONFLICT (job) DO NOTHING;
            """, cancellationToken).ConfigureAwait(false);
        var select = new NpgsqlCommand($"SELECT rows_done FROM {CheckpointTable} WHERE job = @job", _connection);
        await using var selectScope = select.ConfigureAwait(false);
        select.Parameters.AddWithValue("job", _job);
        return (long)(await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    public async Task WriteAsync(ScoredChunk<TOutput> chunk, CancellationToken cancellationToken)
    {
        var connection = _connection!;
        if (_columns is null && chunk.Outputs.Count > 0)
        {
            _columns = OutputSchema<TOutput>.From(chunk.Outputs[0]);
            var id = Quote(options.IdColumn);
            await ExecuteAsync($"""
                CREATE TABLE IF NOT EXISTS {_table} ({id} text PRIMARY KEY, model_version text NOT NULL, scored_at timestamptz NOT NULL,
                  {string.Join(", ", _columns.Select(c => $"{Quote(c.Name)} {c.PostgresType}"))});
                """, cancellationToken).ConfigureAwait(false);
            _copy = $"COPY {_table} ({id}, model_version, scored_at, {string.Join(", ", _columns.Select(c => Quote(c.Name)))}) FROM STDIN (FORMAT BINARY)";
        }

        if (chunk.Rejects.Count > 0)
        {
            await ExecuteAsync($"""
                CREATE TABLE IF NOT EXISTS {_rejects} (job text NOT NULL, row_number bigint NOT NULL, id text, reason text NOT NULL,
                  model_version text NOT NULL, rejected_at timestamptz NOT NULL, PRIMARY KEY (job, row_number));
                """, cancellationToken).ConfigureAwait(false);
        }

        var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var transactionScope = transaction.ConfigureAwait(false);
        if (chunk.Outputs.Count > 0)
        {
            var importer = await connection.BeginBinaryImportAsync(_copy!, cancellationToken).ConfigureAwait(false);
            await using var importerScope = importer.ConfigureAwait(false);
            for (var i = 0; i < chunk.Outputs.Count; i++)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(chunk.Ids[i], NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(options.ModelVersion, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await importer.WriteAsync(chunk.ScoredAt, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                foreach (var column in _columns!)
                {
                    await column.WriteAsync(importer, chunk.Outputs[i], cancellationToken).ConfigureAwait(false);
                }
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        options.FaultInjector?.Invoke("after-copy", chunk.FirstRow);
        if (chunk.Rejects.Count > 0)
        {
            var importer = await connection.BeginBinaryImportAsync(
                $"COPY {_rejects} (job, row_number, id, reason, model_version, rejected_at) FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false);
            await using var importerScope = importer.ConfigureAwait(false);
            foreach (var reject in chunk.Rejects)
            {
                await importer.WriteRowAsync(cancellationToken, _job, reject.Row + 1, (object?)reject.Id ?? DBNull.Value, reject.Reason, options.ModelVersion, chunk.ScoredAt).ConfigureAwait(false);
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        var checkpoint = new NpgsqlCommand($"""
            UPDATE {CheckpointTable} SET rows_done = @end, rows_written = rows_written + @written, rows_rejected = rows_rejected + @rejected,
              model_version = @version, updated_at = now() WHERE job = @job AND rows_done = @start
            """, connection, transaction);
        await using (checkpoint.ConfigureAwait(false))
        {
            checkpoint.Parameters.AddWithValue("job", _job);
            checkpoint.Parameters.AddWithValue("start", chunk.FirstRow);
            checkpoint.Parameters.AddWithValue("end", chunk.FirstRow + chunk.InputRows);
            checkpoint.Parameters.AddWithValue("written", (long)chunk.Outputs.Count);
            checkpoint.Parameters.AddWithValue("rejected", (long)chunk.Rejects.Count);
            checkpoint.Parameters.AddWithValue("version", options.ModelVersion);
            if (await checkpoint.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) != 1)
            {
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"The checkpoint of job '{_job}' is no longer at row {chunk.FirstRow}: another run of the same job is writing. Stop it, or give this run another JobName."));
            }
        }

        options.FaultInjector?.Invoke("before-commit", chunk.FirstRow);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        options.FaultInjector?.Invoke("after-commit", chunk.FirstRow);
    }

    public Task CompleteAsync(CancellationToken cancellationToken) =>
        ExecuteAsync($"UPDATE {CheckpointTable} SET completed_at = now() WHERE job = @job", cancellationToken);

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, _connection);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.AddWithValue("job", _job);
        command.Parameters.AddWithValue("input", Path.GetFullPath(options.InputPath));
        command.Parameters.AddWithValue("version", options.ModelVersion);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    internal static string Quote(string name) =>
        string.Join('.', name.Split('.').Select(part => "\"" + part.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""));

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>A CSV or Parquet output file, written to <c>{path}.partial</c> and renamed when complete (not resumable: a rerun starts over).</summary>
internal sealed class FileSink<TOutput>(BatchScoringOptions options) : IScoreSink<TOutput>
{
    private readonly string _path = Path.GetFullPath(options.OutputPath!);
    private readonly bool _parquet = BatchScoringOptions.Resolve(options.OutputFormat, options.OutputPath!) == BatchFileFormat.Parquet;
    private string Partial => _path + ".partial";
    private string RejectPath => options.RejectPath ?? _path + ".rejects.csv";
    private IReadOnlyList<OutputColumn<TOutput>>? _columns;
    private SepWriter? _csv;
    private SepWriter? _rejects;
    private Stream? _parquetStream;
    private ParquetWriter? _parquetWriter;
    private DataField[]? _fields;

    private static SepWriterOptions Writer() => new(new Sep(',')) { Escape = true };

    public Task<long> OpenAsync(CancellationToken cancellationToken)
    {
        File.Delete(Partial);
        File.Delete(RejectPath);
        return Task.FromResult(0L);
    }

    public async Task WriteAsync(ScoredChunk<TOutput> chunk, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        foreach (var reject in chunk.Rejects)
        {
            _rejects ??= Writer().ToFile(RejectPath);
            // Sep's rows write synchronously (the writer buffers); the token is checked once per chunk.
#pragma warning disable CA2016
            using var row = _rejects.NewRow();
#pragma warning restore CA2016
            row["row"].Format(reject.Row + 1);
            row["id"].Set(reject.Id ?? "");
            row["reason"].Set(reject.Reason);
        }

        if (chunk.Outputs.Count == 0)
        {
            return;
        }

        _columns ??= OutputSchema<TOutput>.From(chunk.Outputs[0]);
        if (_parquet)
        {
            await WriteParquetAsync(chunk, cancellationToken).ConfigureAwait(false);
            return;
        }

        _csv ??= Writer().ToFile(Partial);
        var at = chunk.ScoredAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
        for (var i = 0; i < chunk.Outputs.Count; i++)
        {
            // Sep's rows write synchronously (the writer buffers); the token is checked once per chunk.
#pragma warning disable CA2016
            using var row = _csv.NewRow();
#pragma warning restore CA2016
            row[options.IdColumn].Set(chunk.Ids[i]);
            row["model_version"].Set(options.ModelVersion);
            row["scored_at"].Set(at);
            foreach (var column in _columns)
            {
                row[column.Name].Set(column.Text(chunk.Outputs[i]));
            }
        }
    }

    private async Task WriteParquetAsync(ScoredChunk<TOutput> chunk, CancellationToken cancellationToken)
    {
        if (_parquetWriter is null)
        {
            _fields = [new DataField<string>(options.IdColumn), new DataField<string>("model_version"), new DataField<DateTime>("scored_at"),
                .. _columns!.Select(c => new DataField(c.Name, c.ClrType))];
            _parquetStream = new FileStream(Partial, FileMode.Create, FileAccess.ReadWrite);
            _parquetWriter = await ParquetWriter.CreateAsync(new ParquetSchema(_fields), _parquetStream, null, false, cancellationToken).ConfigureAwait(false);
        }

        using var group = _parquetWriter.CreateRowGroup();
        var versions = new string[chunk.Outputs.Count];
        Array.Fill(versions, options.ModelVersion);
        var times = new DateTime[chunk.Outputs.Count];
        Array.Fill(times, chunk.ScoredAt.UtcDateTime);
        await group.WriteAsync(_fields![0], chunk.Ids, null).ConfigureAwait(false);
        await group.WriteAsync(_fields[1], versions, null).ConfigureAwait(false);
        await group.WriteAsync<DateTime>(_fields[2], times, null, null, cancellationToken).ConfigureAwait(false);
        for (var c = 0; c < _columns!.Count; c++)
        {
            await WriteColumnAsync(group, _fields[c + 3], _columns[c].Collect(chunk.Outputs), cancellationToken).ConfigureAwait(false);
        }

        group.CompleteValidate();
    }

    private static Task WriteColumnAsync(ParquetRowGroupWriter group, DataField field, Array values, CancellationToken cancellationToken) => values switch
    {
        float[] f => group.WriteAsync<float>(field, f, null, null, cancellationToken),
        double[] d => group.WriteAsync<double>(field, d, null, null, cancellationToken),
        long[] l => group.WriteAsync<long>(field, l, null, null, cancellationToken),
        int[] i => group.WriteAsync<int>(field, i, null, null, cancellationToken),
        bool[] b => group.WriteAsync<bool>(field, b, null, null, cancellationToken),
        string[] s => group.WriteAsync(field, s, null),
        _ => throw new NotSupportedException($"Cannot write {values.GetType().Name} to Parquet."),
    };

    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        await CloseAsync().ConfigureAwait(false);
        if (!File.Exists(Partial))
        {
            // No row was written: an empty file still marks the run as complete.
            await File.WriteAllTextAsync(Partial, "", cancellationToken).ConfigureAwait(false);
        }

        File.Move(Partial, _path, overwrite: true);
    }

    private async Task CloseAsync()
    {
        _csv?.Dispose();
        _csv = null;
        _rejects?.Dispose();
        _rejects = null;
        if (_parquetWriter is not null)
        {
            await _parquetWriter.DisposeAsync().ConfigureAwait(false);
            _parquetWriter = null;
        }

        if (_parquetStream is not null)
        {
            await _parquetStream.DisposeAsync().ConfigureAwait(false);
            _parquetStream = null;
        }
    }

    public ValueTask DisposeAsync() => new(CloseAsync());
}
