namespace ModelInService.BatchScoring;

/// <summary>Where a run is: reported after each committed chunk.</summary>
/// <param name="RowsDone">Input rows done (written or rejected), including those done by earlier runs of the same job.</param>
/// <param name="RowsWritten">Rows written by this run.</param>
/// <param name="RowsRejected">Rows rejected by this run.</param>
/// <param name="TotalRows">The input's row count when the format says it (Parquet), else null.</param>
/// <param name="InputFraction">How far through the input the reader is (0 to 1), from rows or bytes.</param>
/// <param name="Elapsed">Time since this run started.</param>
/// <param name="RowsPerSecond">Rows done by this run per second.</param>
public sealed record BatchScoringProgress(long RowsDone, long RowsWritten, long RowsRejected, long? TotalRows, double InputFraction, TimeSpan Elapsed, double RowsPerSecond)
{
    /// <summary>Gets the estimated time left, or null before any rate is known.</summary>
    public TimeSpan? EstimatedRemaining => RowsPerSecond > 0 && InputFraction is > 0 and < 1
        ? TimeSpan.FromSeconds(Elapsed.TotalSeconds * (1 - InputFraction) / InputFraction)
        : null;
}

/// <summary>The counts of a finished run.</summary>
/// <param name="RowsWritten">Rows predicted and written by this run.</param>
/// <param name="RowsRejected">Rows rejected by this run, each with its reason in the reject table or file.</param>
/// <param name="RowsSkipped">Rows already done by an earlier run of the same job (resumed past).</param>
/// <param name="Chunks">Chunks committed by this run.</param>
/// <param name="Elapsed">The run's duration.</param>
public sealed record BatchScoringResult(long RowsWritten, long RowsRejected, long RowsSkipped, long Chunks, TimeSpan Elapsed)
{
    /// <summary>Gets the rows done by this run per second.</summary>
    public double RowsPerSecond => Elapsed > TimeSpan.Zero ? (RowsWritten + RowsRejected) / Elapsed.TotalSeconds : 0;
}

/// <summary>An input file is unreadable (corrupt, truncated, or missing a column): the run stops.</summary>
public sealed class BatchInputException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    public BatchInputException()
        : this("The input is unreadable.")
    {
    }

    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">The message.</param>
    public BatchInputException(string message)
        : base(message)
    {
        FilePath = "";
    }

    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public BatchInputException(string message, Exception innerException)
        : base(message, innerException)
    {
        FilePath = "";
    }

    /// <summary>Initializes a new instance.</summary>
    /// <param name="filePath">The file.</param>
    /// <param name="location">Where in the file, e.g. "line 12" or "row group 3 (rows 2,000,000 to 2,999,999)".</param>
    /// <param name="reason">What is wrong.</param>
    /// <param name="innerException">The cause, or null.</param>
    public BatchInputException(string filePath, string location, string reason, Exception? innerException)
        : base($"{filePath}: {location}: {reason}", innerException)
    {
        FilePath = filePath;
        Location = location;
    }

    /// <summary>Gets the unreadable file.</summary>
    public string FilePath { get; }

    /// <summary>Gets where in the file reading stopped, or null.</summary>
    public string? Location { get; }
}
