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
    /// <param name="emptyColumns">The output columns known without a row (<see cref="IChunkScorer.EmptyColumns"/>): a file output with no rows at all is written with them as its header or schema.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    Task CompleteAsync(ColumnData[] emptyColumns, CancellationToken cancellationToken);
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

    public async Task CompleteAsync(ColumnData[] emptyColumns, CancellationToken cancellationToken)
    {
        // No table is created for a run without rows: a later run whose first row brings map or array columns could
        // not COPY into a table created from the columns known without one.
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

/// <summary>
/// A CSV or Parquet output file, written to <c>{path}.partial</c> and renamed when complete; resumable. After each
/// chunk the data (and the rejects file) are flushed to disk, then a checkpoint (<c>{path}.partial.checkpoint</c>:
/// input rows done, the output's length and, for Parquet, its footer) replaces the previous one atomically. A rerun
/// of a stopped job restores the output to the last checkpoint (truncates what a later chunk appended; for Parquet
/// writes the saved footer back, since appending a row group overwrites the old footer) and goes on from there, so
/// every row is written exactly once. The files stay open without sharing during the run: a concurrent run of the
/// same job fails instead of writing twice.
/// </summary>
internal sealed class FileSink(BatchScoringOptions options) : IScoreSink
{
    private readonly string _path = Path.GetFullPath(options.OutputPath!);
    private readonly bool _parquet = BatchScoringOptions.Resolve(options.OutputFormat, options.OutputPath!) == BatchFileFormat.Parquet;
    private readonly string _input = Path.GetFullPath(options.InputPath);
    private string Partial => _path + ".partial";
    private string RejectPath => Path.GetFullPath(options.RejectPath ?? _path + ".rejects.csv");
    internal string CheckpointPath => Partial + ".checkpoint";
    private FileStream? _output;
    private FileStream? _rejects;
    private DataField[]? _fields;
    private ParquetSchema? _schema;
    private FileCheckpoint _state = null!;

    private static SepWriterOptions Writer(bool header) => new(new Sep(',')) { Escape = true, WriteHeader = header };

    public Task<long> OpenAsync(CancellationToken cancellationToken)
    {
        var checkpoint = FileCheckpoint.Read(CheckpointPath);
        if (checkpoint is not null && File.Exists(Partial))
        {
            checkpoint.CheckSameJob(CheckpointPath, _input, new FileInfo(_input).Length, _parquet, options.IdColumn);
            _output = Restore(Partial, checkpoint.OutputLength, checkpoint.OutputTail);
            _rejects = checkpoint.RejectsLength > 0 || File.Exists(RejectPath) ? Restore(RejectPath, checkpoint.RejectsLength, []) : null;
            _state = checkpoint;
            return Task.FromResult(checkpoint.RowsDone);
        }

        // No checkpoint (or one left after the rename that completed the last run): start over.
        File.Delete(CheckpointPath);
        File.Delete(RejectPath);
        _output = new FileStream(Partial, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
        _state = new FileCheckpoint(_input, new FileInfo(_input).Length, _parquet, options.IdColumn, 0, 0, 0, 0, [], 0);
        return Task.FromResult(0L);
    }

    /// <summary>Opens <paramref name="path"/> without sharing and brings it back to <paramref name="length"/> bytes (the last <paramref name="tail"/> written back).</summary>
    private static FileStream Restore(string path, long length, byte[] tail)
    {
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        try
        {
            var keep = length - tail.Length;
            if (stream.Length < keep)
            {
                throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                    $"'{path}' has {stream.Length} bytes, fewer than the {keep} its checkpoint recorded: it was changed outside the run. Delete it and its checkpoint to start the job over."));
            }

            stream.SetLength(keep);
            stream.Position = keep;
            stream.Write(tail);
            stream.Flush(flushToDisk: true);
            return stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    public async Task WriteAsync(ScoredChunk chunk, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (chunk.Rejects.Count > 0)
        {
            _rejects ??= new FileStream(RejectPath, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
            WriteRejects(_rejects, chunk.Rejects);
        }

        var tail = _state.OutputTail;
        if (chunk.Rows > 0)
        {
            if (_parquet)
            {
                tail = await AppendParquetAsync(chunk, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                AppendCsv(chunk);
            }
        }

        // The data is on disk before the checkpoint that counts it; a stop in between is undone by the next run.
        options.FaultInjector?.Invoke("after-write", chunk.FirstRow);
        _state = _state with
        {
            RowsDone = _state.RowsDone + chunk.InputRows,
            RowsWritten = _state.RowsWritten + chunk.Rows,
            RowsRejected = _state.RowsRejected + chunk.Rejects.Count,
            OutputLength = _output!.Length,
            OutputTail = tail,
            RejectsLength = _rejects?.Length ?? 0,
        };
        await _state.WriteAsync(CheckpointPath, cancellationToken).ConfigureAwait(false);
        options.FaultInjector?.Invoke("after-checkpoint", chunk.FirstRow);
    }

    private static void WriteRejects(FileStream stream, List<RejectedRow> rejects)
    {
        stream.Position = stream.Length;
        using (var text = new StreamWriter(stream, Utf8NoBom, 1 << 14, leaveOpen: true))
        using (var writer = Writer(header: stream.Length == 0).To(text))
        {
            foreach (var reject in rejects)
            {
                using var row = writer.NewRow();
                row["row"].Format(reject.Row + 1);
                row["id"].Set(reject.Id ?? "");
                row["reason"].Set(reject.Reason);
            }
        }

        stream.Flush(flushToDisk: true);
    }

    private static readonly System.Text.UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    private void AppendCsv(ScoredChunk chunk)
    {
        var stream = _output!;
        stream.Position = stream.Length;
        var at = chunk.ScoredAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
        var columns = chunk.Columns;
        using (var text = new StreamWriter(stream, Utf8NoBom, 1 << 16, leaveOpen: true))
        using (var writer = Writer(header: stream.Length == 0).To(text))
        {
            for (var i = 0; i < chunk.Rows; i++)
            {
                using var row = writer.NewRow();
                row[options.IdColumn].Set(chunk.Ids[i]);
                row["model_version"].Set(options.ModelVersion);
                row["scored_at"].Set(at);
                for (var c = 0; c < columns.Length; c++)
                {
                    columns[c].Format(row[columns[c].Name], i);
                }
            }
        }

        stream.Flush(flushToDisk: true);
    }

    /// <summary>Appends the chunk as one row group (Parquet.Net rewrites the footer after it) and returns the file's new footer.</summary>
    private async Task<byte[]> AppendParquetAsync(ScoredChunk chunk, CancellationToken cancellationToken)
    {
        EnsureSchema(chunk.Columns);
        var stream = _output!;
        var append = stream.Length > 0;
        stream.Position = append ? 0 : stream.Length;
        var writer = await ParquetWriter.CreateAsync(_schema, stream, null, append, cancellationToken).ConfigureAwait(false);
        await using (writer.ConfigureAwait(false))
        {
            using var group = writer.CreateRowGroup();
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

        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        stream.Flush(flushToDisk: true);
        return ReadFooter(stream);
    }

    [System.Diagnostics.CodeAnalysis.MemberNotNull(nameof(_schema), nameof(_fields))]
    private void EnsureSchema(ColumnData[] columns)
    {
        if (_schema is not null && _fields is not null)
        {
            return;
        }

        var fields = new DataField[columns.Length + 3];
        fields[0] = new DataField<string>(options.IdColumn);
        fields[1] = new DataField<string>("model_version");
        fields[2] = new DataField<DateTime>("scored_at");
        for (var c = 0; c < columns.Length; c++)
        {
            if (columns[c].HasNulls && columns[c].ClrType != typeof(string))
            {
                throw new NotSupportedException($"Output column '{columns[c].Name}' can be null, which the Parquet output does not write yet: write to CSV or PostgreSQL.");
            }

            fields[c + 3] = new DataField(columns[c].Name, columns[c].ClrType);
        }

        _fields = fields;
        _schema = new ParquetSchema(fields);
    }

    /// <summary>
    /// Writes an output that got no rows (an input with only a header, every row rejected) as a valid file: the CSV
    /// header or a Parquet schema with no row groups, from the columns known without a row. It was a 0-byte file,
    /// which CSV readers refuse (no header) and is no Parquet file at all.
    /// </summary>
    private async Task WriteEmptyAsync(ColumnData[] columns, CancellationToken cancellationToken)
    {
        var stream = _output!;
        stream.Position = 0;
        if (_parquet)
        {
            EnsureSchema(columns);
            var writer = await ParquetWriter.CreateAsync(_schema, stream, null, false, cancellationToken).ConfigureAwait(false);
            await writer.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            using var text = new StreamWriter(stream, Utf8NoBom, 1 << 12, leaveOpen: true);
            using var writer = Writer(header: true).To(text);
            writer.Header.Add([options.IdColumn, "model_version", "scored_at", .. columns.Select(c => c.Name)]);
        }

        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>The footer of a complete Parquet file: the metadata, its 4-byte length and the "PAR1" magic.</summary>
    private byte[] ReadFooter(FileStream stream)
    {
        Span<byte> end = stackalloc byte[8];
        RandomAccess.Read(stream.SafeFileHandle, end, stream.Length - 8);
        var metadata = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(end);
        if (metadata <= 0 || metadata > stream.Length - 12 || !end[4..].SequenceEqual("PAR1"u8))
        {
            throw new InvalidOperationException($"'{Partial}' does not end with a Parquet footer after a row group was appended.");
        }

        var tail = new byte[metadata + 8];
        RandomAccess.Read(stream.SafeFileHandle, tail, stream.Length - tail.Length);
        return tail;
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

    public async Task CompleteAsync(ColumnData[] emptyColumns, CancellationToken cancellationToken)
    {
        if (_output!.Length == 0)
        {
            await WriteEmptyAsync(emptyColumns, cancellationToken).ConfigureAwait(false);
        }

        await CloseAsync().ConfigureAwait(false);
        File.Move(Partial, _path, overwrite: true);
        // After the rename: a stop in between leaves a checkpoint without a partial file, which the next run ignores.
        File.Delete(CheckpointPath);
    }

    private async Task CloseAsync()
    {
        if (_rejects is not null)
        {
            await _rejects.DisposeAsync().ConfigureAwait(false);
            _rejects = null;
        }

        if (_output is not null)
        {
            await _output.DisposeAsync().ConfigureAwait(false);
            _output = null;
        }
    }

    public ValueTask DisposeAsync() => new(CloseAsync());
}
