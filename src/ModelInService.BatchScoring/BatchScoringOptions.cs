using System.Globalization;

namespace ModelInService.BatchScoring;

/// <summary>The format of an input or output file.</summary>
public enum BatchFileFormat
{
    /// <summary>Taken from the file's extension: <c>.parquet</c> is Parquet, anything else is CSV.</summary>
    Auto,

    /// <summary>Comma-separated values with a header row (RFC 4180 quoting).</summary>
    Csv,

    /// <summary>Apache Parquet.</summary>
    Parquet,
}

/// <summary>What <see cref="BatchScorer.ScoreAsync{TInput, TOutput}(IPredictor{TInput, TOutput}, BatchScoringOptions, IProgress{BatchScoringProgress}?, CancellationToken)"/> reads, how, and where it writes.</summary>
/// <remarks>
/// Exactly one destination: <see cref="PostgresConnectionString"/> with <see cref="PostgresTable"/> (resumable,
/// exactly-once), or <see cref="OutputPath"/> (a CSV or Parquet file, written whole or not at all).
/// </remarks>
public sealed class BatchScoringOptions
{
    /// <summary>Gets or sets the file to score (CSV or Parquet). Required.</summary>
    public string InputPath { get; set; } = "";

    /// <summary>Gets or sets the input's format; <see cref="BatchFileFormat.Auto"/> by default.</summary>
    public BatchFileFormat InputFormat { get; set; }

    /// <summary>Gets or sets the CSV separator; a comma by default.</summary>
    public char CsvSeparator { get; set; } = ',';

    /// <summary>Gets or sets the input column whose value keys each output row. Required; its values should be unique.</summary>
    public string IdColumn { get; set; } = "";

    /// <summary>
    /// Gets the input member to column mapping, for members whose name does not match a column. The key is the input
    /// type's property name; the value a column name, or for an array property (<c>float[] Features</c>) the
    /// comma-separated columns packed into it in order. Unmapped properties match a column by name, ignoring case and
    /// underscores (<c>SepalLength</c> matches <c>sepal_length</c>). Scoring through an <see cref="IModelRunner"/>,
    /// the key is a model input's name and the value the columns of one row of it, in row-major order.
    /// </summary>
    public IDictionary<string, string> ColumnMapping { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets or sets the rows per chunk: the unit of prediction calls, of commits and of resumption. 8,192 by default.</summary>
    public int ChunkRows { get; set; } = 8192;

    /// <summary>
    /// Gets or sets the most text a CSV chunk keeps (the fields of the columns read, as UTF-16) before it ends early, at
    /// fewer than <see cref="ChunkRows"/> rows: wide rows (long ids, long text) would otherwise make each chunk hundreds
    /// of MB. 16 MiB by default; between 64 KiB and 1 GiB. A chunk always holds at least one row. Parquet chunks are
    /// cut from row groups, which are read whole: their size is the writer's choice.
    /// </summary>
    public long MaxChunkBytes { get; set; } = DefaultMaxChunkBytes;

    /// <summary>The default of <see cref="MaxChunkBytes"/>: 16 MiB.</summary>
    internal const long DefaultMaxChunkBytes = 16L << 20;

    /// <summary>Gets or sets the chunks bound and predicted at once; 0 (the default) means the processor count. Memory is bounded by about (this + 4) chunks.</summary>
    public int ChunksInFlight { get; set; }

    /// <summary>Gets or sets the version written into every output row (<c>model_version</c>). Required: for instance <c>IModelManager.Current</c>'s name or hash.</summary>
    public string ModelVersion { get; set; } = "";

    /// <summary>Gets or sets the Npgsql connection string of the destination database.</summary>
    public string? PostgresConnectionString { get; set; }

    /// <summary>Gets or sets the destination table (created when absent; may be schema-qualified). Rejected rows go to <c>{table}_rejects</c>.</summary>
    public string? PostgresTable { get; set; }

    /// <summary>
    /// Gets or sets the PostgreSQL connections that copy chunks at the same time; 1 by default. Above 1, consecutive
    /// chunks are copied in parallel on separate connections while their commits (and checkpoint updates) stay in
    /// input order, so resumption stays exactly-once. Worth it when the database server has cores to spare.
    /// </summary>
    public int PostgresConnections { get; set; } = 1;

    /// <summary>Gets or sets the checkpoint key of this job; defaults to the table name and the input file name. A rerun with the same key resumes.</summary>
    public string? JobName { get; set; }

    /// <summary>Gets or sets the output file (CSV or Parquet), the alternative to PostgreSQL. Written to <c>{path}.partial</c> and renamed at the end.</summary>
    public string? OutputPath { get; set; }

    /// <summary>Gets or sets the output file's format; <see cref="BatchFileFormat.Auto"/> by default.</summary>
    public BatchFileFormat OutputFormat { get; set; }

    /// <summary>Gets or sets where a file destination's rejected rows are written (CSV: row, id, reason); defaults to <c>{output}.rejects.csv</c>.</summary>
    public string? RejectPath { get; set; }

    /// <summary>Gets or sets how many rows may be rejected before the run stops; -1 (the default) means no limit.</summary>
    public long MaxRejectedRows { get; set; } = -1;

    /// <summary>
    /// Gets or sets what happens to a row whose prediction holds NaN or an infinity (the model's answer to an input far
    /// outside the range it was trained on, such as 3.4e38) when scoring through an <see cref="IModelRunner"/>:
    /// <see cref="NonFiniteValuePolicy.Reject"/> (the default) rejects the row with the output named,
    /// <see cref="NonFiniteValuePolicy.Allow"/> writes the values. The typed path follows the output type instead: a
    /// member marked <c>[AllowNonFinite]</c> is written, any other rejects the row.
    /// </summary>
    public NonFiniteValuePolicy NonFiniteOutputs { get; set; }

    /// <summary>Test hook: called at named points of the write path (after the COPY of a chunk, before its commit, after it).</summary>
    internal Action<string, long>? FaultInjector { get; set; }

    internal bool ToPostgres => PostgresConnectionString is not null;

    internal ChunkSize ChunkSize => new(ChunkRows, MaxChunkBytes);

    internal int EffectiveChunksInFlight => ChunksInFlight > 0 ? ChunksInFlight : Environment.ProcessorCount;

    internal string EffectiveJobName => JobName ?? $"{PostgresTable}:{Path.GetFileName(InputPath)}";

    /// <summary>Whether two full paths name the same file (ordinal: Linux file names are case-sensitive; a hard link is not caught).</summary>
    private static bool SamePath(string a, string b) =>
        string.Equals(a, b, OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase);

    internal static BatchFileFormat Resolve(BatchFileFormat format, string path) => format != BatchFileFormat.Auto
        ? format
        : path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) ? BatchFileFormat.Parquet : BatchFileFormat.Csv;

    /// <summary>Checks the options and says what to change.</summary>
    /// <exception cref="ArgumentException">An option is missing or out of range.</exception>
    public void Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(InputPath))
        {
            errors.Add("InputPath is required: set it to the CSV or Parquet file to score.");
        }
        else if (!File.Exists(InputPath))
        {
            errors.Add($"InputPath '{InputPath}' does not exist.");
        }

        if (string.IsNullOrWhiteSpace(IdColumn))
        {
            errors.Add("IdColumn is required: name the input column that keys each output row.");
        }

        if (string.IsNullOrWhiteSpace(ModelVersion))
        {
            errors.Add("ModelVersion is required: it is written into every output row (e.g. IModelManager.Current.Sha256).");
        }

        if (ChunkRows is < 1 or > 1_000_000)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"ChunkRows is {ChunkRows}: set it between 1 and 1,000,000 (8,192 is a good start)."));
        }

        if (MaxChunkBytes is < 64 << 10 or > 1L << 30)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"MaxChunkBytes is {MaxChunkBytes}: set it between 65,536 (64 KiB) and 1,073,741,824 (1 GiB); 16 MiB is the default."));
        }

        if (!Enum.IsDefined(NonFiniteOutputs))
        {
            errors.Add($"NonFiniteOutputs is {NonFiniteOutputs}: use Reject or Allow.");
        }

        if (PostgresConnections is < 1 or > 64)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"PostgresConnections is {PostgresConnections}: set it between 1 and 64."));
        }

        if (ChunksInFlight < 0)
        {
            errors.Add("ChunksInFlight must be 0 (one per processor) or more.");
        }

        var toPostgres = PostgresConnectionString is not null;
        var toFile = OutputPath is not null;
        if (toPostgres == toFile)
        {
            errors.Add("Set exactly one destination: PostgresConnectionString with PostgresTable, or OutputPath.");
        }

        if (toPostgres && string.IsNullOrWhiteSpace(PostgresTable))
        {
            errors.Add("PostgresTable is required with PostgresConnectionString: name the table the predictions go to.");
        }

        if (CsvSeparator is '"' or '\r' or '\n')
        {
            errors.Add("CsvSeparator cannot be a quote or a line break.");
        }

        if (toFile && !string.IsNullOrWhiteSpace(InputPath) && !string.IsNullOrWhiteSpace(OutputPath))
        {
            // Output and rejects are written to '<path>.partial' (with a '.checkpoint' beside it) and renamed at the end;
            // a path shared with the input, or with each other, would overwrite the input or lose the rejects.
            var input = Path.GetFullPath(InputPath);
            var output = Path.GetFullPath(OutputPath);
            var rejects = Path.GetFullPath(RejectPath ?? OutputPath + ".rejects.csv");
            foreach (var (name, path) in new[] { ("OutputPath", output), ("RejectPath", rejects) })
            {
                if (SamePath(path, input) || SamePath(path + ".partial", input) || SamePath(path + ".partial.checkpoint", input))
                {
                    errors.Add($"{name} '{path}' would overwrite the input file: write the {(name == "OutputPath" ? "predictions" : "rejected rows")} somewhere else.");
                }

                if (Directory.Exists(path))
                {
                    errors.Add($"{name} '{path}' is a directory: give a file path.");
                }
            }

            if (SamePath(output, rejects))
            {
                errors.Add($"RejectPath and OutputPath are both '{output}': the predictions would overwrite the rejected rows.");
            }
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid batch scoring options: " + string.Join(" ", errors));
        }
    }
}
