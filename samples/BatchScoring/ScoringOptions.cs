namespace BatchScoring;

/// <summary>What the worker scores and how (section "Scoring" of the configuration).</summary>
public sealed class ScoringOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Scoring";

    /// <summary>The CSV to score: a header with sepal_length, sepal_width, petal_length, petal_width (any order), optionally id and species.</summary>
    public string Input { get; set; } = "data/iris.csv";

    /// <summary>Where the scores are written (relative to the current directory).</summary>
    public string Output { get; set; } = "scores.csv";

    /// <summary>How many times the input is read: a way to get enough rows to measure throughput.</summary>
    public int Repeat { get; set; } = 1000;

    /// <summary>Rows per <c>PredictBatchAsync</c> call (the model runs up to <c>ModelOptions.MaxRowsPerRun</c>, 256, rows at a time).</summary>
    public int BatchSize { get; set; } = 256;

    /// <summary>Batches scored at once; 0 means one per core (the session pool runs one batch per core).</summary>
    public int BatchesInFlight { get; set; }
}
