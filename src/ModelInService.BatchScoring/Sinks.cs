using System.Globalization;
using nietras.SeparatedValues;
using Npgsql;
using NpgsqlTypes;
using Parquet;
using Parquet.Schema;

namespace ModelInService.BatchScoring;

/// <summary>Where predicted chunks go, in input order.</summary>
internal interface IScoreSink : IAsyncDisposable
{
    /// <summary>Prepares the destination; returns the input rows already done by earlier runs of the job.</summary>
    Task<long> OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Writes a chunk's rows and rejects and records it as done, all or nothing. May return before the chunk is
    /// committed (PostgreSQL with several connections); a failure then surfaces from a later call or <see cref="CompleteAsync"/>.
    /// </summary>
    Task WriteAsync(ScoredChunk chunk, CancellationToken cancellationToken);

    /// <summary>Waits for every chunk to be committed and finishes the destination after the last one.</summary>
    Task CompleteAsync(CancellationToken cancellationToken);
}

/// <summary>
/// PostgreSQL: each chunk's rows (binary COPY), its rejects and the job's checkpoint are one transaction, so a run
/// stopped anywhere and rerun writes every row exactly once. The checkpoint update checks the previous position: two
/// runs of one job cannot both commit a chunk. With <see cref="BatchScoringOptions.PostgresConnections"/> above 1,
/// consecutive chunks are copied on different connections at the same time, but each chunk's checkpoint update and
/// commit wait for the previous chunk's commit: commits stay in input order, so the checkpoint is still a contiguous
/// prefix of the input and a failed chunk rolls back itself and every later chunk.
/// </summary>
internal sealed class PostgresSink(BatchScoringOptions options) : IScoreSink
{
    internal const string CheckpointTable = "mis_batch_checkpoints";

    private readonly string _job = options.EffectiveJobName;
    private readonly string _table = Quote(options.PostgresTable!);
    private readonly string _rejects = Quote(options.PostgresTable! + "_rejects");
    private readonly NpgsqlConnection?[] _connections = new NpgsqlConnection?[Math.Max(1, options.PostgresConnections)];
    private readonly Task[] _lanes = new Task[Math.Max(1, options.PostgresConnections)];
    private Task _lastCommit = Task.CompletedTask;
    private long _sequence;
    private string? _copy;
    private bool _rejectTable;

    public async Task<long> OpenAsync(CancellationToken cancellationToken)
    {
        for (var i = 0; i < _connections.Length; i++)
        {
            _connections[i] = new NpgsqlConnection(options.PostgresConnectionString);
            await _connections[i]!.OpenAsync(cancellationToken).ConfigureAwait(false);
            _lanes[i] = Task.CompletedTask;
        }

        await ExecuteAsync($"""
            CREATE TABLE IF NOT EXISTS {CheckpointTable} (
              job text PRIMARY KEY, input text NOT NULL, rows_done bigint NOT NULL, rows_written bigint NOT NULL,
              rows_rejected bigint NOT NULL, model_version text NOT NULL, updated_at timestamptz NOT NULL, completed_at timestamptz);
            INSERT INTO {CheckpointTable} VALUES (@job, @input, 0, 0, 0, @version, now(), NULL) ON CONFLICT (job) DO NOTHING;
            """, cancellationToken).ConfigureAwait(false);
        var select = new NpgsqlCommand($"SELECT rows_done FROM {CheckpointTable} WHERE job = @job", _connections[0]);
        await using var selectScope = select.ConfigureAwait(false);
        select.Parameters.AddWithValue("job", _job);
        return (long)(await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    public async Task WriteAsync(ScoredChunk chunk, CancellationToken cancellationToken)
    {
        if (_copy is null && chunk.Rows > 0)
        {
            var id = QuoteColumn(options.IdColumn);
            var names = new string[chunk.Columns.Length];
            var definitions = new string[chunk.Columns.Length];
            for (var c = 0; c < names.Length; c++)
            {
                names[c] = QuoteColumn(chunk.Columns[c].Name);
                definitions[c] = names[c] + " " + chunk.Columns[c].PostgresType;
            }

            // Table creation is not transactional with the chunks: wait for the lanes so no COPY runs before it.
            await Task.WhenAll(_lanes).ConfigureAwait(false);
            await ExecuteAsync($"""
                CREATE TABLE IF NOT EXISTS {_table} ({id} text PRIMARY KEY, model_version text NOT NULL, scored_at timestamptz NOT NULL,
                  {string.Join(", ", definitions)});
                """, cancellationToken).ConfigureAwait(false);
            _copy = $"COPY {_table} ({id}, model_version, scored_at, {string.Join(", ", names)}) FROM STDIN (FORMAT BINARY)";
        }

        if (chunk.Rejects.Count > 0 && !_rejectTable)
        {
            await Task.WhenAll(_lanes).ConfigureAwait(false);
            await ExecuteAsync($"""
                CREATE TABLE IF NOT EXISTS {_rejects} (job text NOT NULL, row_number bigint NOT NULL, id text, reason text NOT NULL,
                  model_version text NOT NULL, rejected_at timestamptz NOT NULL, PRIMARY KEY (job, row_number));
                """, cancellationToken).ConfigureAwait(false);
            _rejectTable = true;
        }

        // One chunk at a time per connection: wait for this lane's previous chunk (its failure surfaces here).
        var lane = (int)(_sequence++ % _lanes.Length);
        await _lanes[lane].ConfigureAwait(false);
        var previous = _lastCommit;
        var task = WriteChunkAsync(_connections[lane]!, chunk, previous, cancellationToken);
        _lanes[lane] = task;
        _lastCommit = task;
        if (_lanes.Length == 1)
        {
            await task.ConfigureAwait(false);
        }
    }

    private async Task WriteChunkAsync(NpgsqlConnection connection, ScoredChunk chunk, Task previousCommit, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var transactionScope = transaction.ConfigureAwait(false);
        if (chunk.Rows > 0)
        {
            var importer = await connection.BeginBinaryImportAsync(_copy!, cancellationToken).ConfigureAwait(false);
            await using var importerScope = importer.ConfigureAwait(false);
            var columns = chunk.Columns;
            var at = chunk.ScoredAt;
            // Synchronous writes: the importer buffers (and flushes to the socket every few thousand values); an
            // awaited call per value cost more than the value.
            for (var i = 0; i < chunk.Rows; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                importer.StartRow();
                importer.Write(chunk.Ids[i], NpgsqlDbType.Text);
                importer.Write(options.ModelVersion, NpgsqlDbType.Text);
                importer.Write(at, NpgsqlDbType.TimestampTz);
                for (var c = 0; c < columns.Length; c++)
                {
                    columns[c].Write(importer, i);
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

        // Commits stay in input order: the previous chunk's commit first (if it failed, so does this chunk, uncommitted).
        await previousCommit.ConfigureAwait(false);
        var checkpoint = new NpgsqlCommand($"""
            UPDATE {CheckpointTable} SET rows_done = @end, rows_written = rows_written + @written, rows_rejected = rows_rejected + @rejected,
              model_version = @version, updated_at = now() WHERE job = @job AND rows_done = @start
            """, connection, transaction);
        await using (checkpoint.ConfigureAwait(false))
        {
            checkpoint.Parameters.AddWithValue("job", _job);
            checkpoint.Parameters.AddWithValue("start", chunk.FirstRow);
            checkpoint.Parameters.AddWithValue("end", chunk.FirstRow + chunk.InputRows);
            checkpoint.Parameters.AddWithValue("written", (long)chunk.Rows);
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

    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAll(_lanes).ConfigureAwait(false);
        await ExecuteAsync($"UPDATE {CheckpointTable} SET completed_at = now() WHERE job = @job", cancellationToken).ConfigureAwait(false);
    }

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, _connections[0]);
        await using var commandScope = command.ConfigureAwait(false);
        command.Parameters.AddWithValue("job", _job);
        command.Parameters.AddWithValue("input", Path.GetFullPath(options.InputPath));
        command.Parameters.AddWithValue("version", options.ModelVersion);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Quotes a table name, schema-qualified or not (<c>schema.table</c>).</summary>
    internal static string Quote(string name) =>
        string.Join('.', name.Split('.').Select(QuoteColumn));

    /// <summary>Quotes one identifier (a column name may contain dots).</summary>
    internal static string QuoteColumn(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public async ValueTask DisposeAsync()
    {
        // Wait for the lanes still writing (a failed run): their transactions roll back when the connections close.
        foreach (var lane in _lanes)
        {
            if (lane is not null)
            {
                await lane.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            }
        }

        foreach (var connection in _connections)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}

/// <summary>A CSV or Parquet output file, written to <c>{path}.partial</c> and renamed when complete (not resumable: a rerun starts over).</summary>
internal sealed class FileSink(BatchScoringOptions options) : IScoreSink
{
    private readonly string _path = Path.GetFullPath(options.OutputPath!);
    private readonly bool _parquet = BatchScoringOptions.Resolve(options.OutputFormat, options.OutputPath!) == BatchFileFormat.Parquet;
    private string Partial => _path + ".partial";
    private string RejectPath => options.RejectPath ?? _path + ".rejects.csv";
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

    public async Task WriteAsync(ScoredChunk chunk, CancellationToken cancellationToken)
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

        if (chunk.Rows == 0)
        {
            return;
        }

        if (_parquet)
        {
            await WriteParquetAsync(chunk, cancellationToken).ConfigureAwait(false);
            return;
        }

        _csv ??= Writer().ToFile(Partial);
        var at = chunk.ScoredAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
        var columns = chunk.Columns;
        for (var i = 0; i < chunk.Rows; i++)
        {
            // Sep's rows write synchronously (the writer buffers); the token is checked once per chunk.
#pragma warning disable CA2016
            using var row = _csv.NewRow();
#pragma warning restore CA2016
            row[options.IdColumn].Set(chunk.Ids[i]);
            row["model_version"].Set(options.ModelVersion);
            row["scored_at"].Set(at);
            for (var c = 0; c < columns.Length; c++)
            {
                columns[c].Format(row[columns[c].Name], i);
            }
        }
    }

    private async Task WriteParquetAsync(ScoredChunk chunk, CancellationToken cancellationToken)
    {
        if (_parquetWriter is null)
        {
            var fields = new DataField[chunk.Columns.Length + 3];
            fields[0] = new DataField<string>(options.IdColumn);
            fields[1] = new DataField<string>("model_version");
            fields[2] = new DataField<DateTime>("scored_at");
            for (var c = 0; c < chunk.Columns.Length; c++)
            {
                if (chunk.Columns[c].HasNulls && chunk.Columns[c].ClrType != typeof(string))
                {
                    throw new NotSupportedException($"Output column '{chunk.Columns[c].Name}' can be null, which the Parquet output does not write yet: write to CSV or PostgreSQL.");
                }

                fields[c + 3] = new DataField(chunk.Columns[c].Name, chunk.Columns[c].ClrType);
            }

            _fields = fields;
            _parquetStream = new FileStream(Partial, FileMode.Create, FileAccess.ReadWrite);
            _parquetWriter = await ParquetWriter.CreateAsync(new ParquetSchema(_fields), _parquetStream, null, false, cancellationToken).ConfigureAwait(false);
        }

        using var group = _parquetWriter.CreateRowGroup();
        var versions = new string[chunk.Rows];
        Array.Fill(versions, options.ModelVersion);
        var times = new DateTime[chunk.Rows];
        Array.Fill(times, chunk.ScoredAt.UtcDateTime);
        await group.WriteAsync(_fields![0], chunk.Ids, null).ConfigureAwait(false);
        await group.WriteAsync(_fields[1], versions, null).ConfigureAwait(false);
        await group.WriteAsync<DateTime>(_fields[2], times, null, null, cancellationToken).ConfigureAwait(false);
        for (var c = 0; c < chunk.Columns.Length; c++)
        {
            await WriteColumnAsync(group, _fields[c + 3], chunk.Columns[c].Values, cancellationToken).ConfigureAwait(false);
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
