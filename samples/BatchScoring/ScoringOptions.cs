namespace BatchScoringSample;

/// <summary>What the worker scores and where (section "Scoring" of the configuration, or <c>--Scoring:Name=value</c>).</summary>
public sealed class ScoringOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Scoring";

    /// <summary>The CSV or Parquet file to score: columns sepal_length, sepal_width, petal_length, petal_width (any order) and id.</summary>
    public string Input { get; set; } = "data/iris.csv";

    /// <summary>The output file (CSV or Parquet by extension), used when <see cref="Postgres"/> is not set.</summary>
    public string Output { get; set; } = "scores.csv";

    /// <summary>An Npgsql connection string: when set, the scores go to <see cref="Table"/> in that database (resumable).</summary>
    public string? Postgres { get; set; }

    /// <summary>The PostgreSQL table.</summary>
    public string Table { get; set; } = "iris_scores";

    /// <summary>How many times the input is read (copied into a temporary file with ids "pass.id"): a way to get enough rows to measure.</summary>
    public int Repeat { get; set; } = 1000;

    /// <summary>When above 0, scores this many generated iris rows (a Parquet file made once under the temp directory) instead of <see cref="Input"/>.</summary>
    public int Rows { get; set; }

    /// <summary>When above 0 (and <see cref="Postgres"/> is set), first times a naive loop over this many rows: read a row, predict it, INSERT it.</summary>
    public int NaiveRows { get; set; }

    /// <summary>Rows per chunk (prediction call, commit, resume unit).</summary>
    public int ChunkRows { get; set; } = 8192;

    /// <summary>
    /// The model: <c>iris</c> (the repository's Iris MLP, typed as <see cref="IrisFlower"/>) or <c>xgboost</c> (the
    /// shared tract xgboost classifier at <see cref="XgboostPath"/>, float32 [?,13], scored through the untyped
    /// <c>IModelRunner</c> path; generated rows have columns input_0..input_12).
    /// </summary>
    public string Model { get; set; } = "iris";

    /// <summary>The xgboost model file (read-only, outside the repository); relative to the current directory, which <c>dotnet run --project samples/BatchScoring</c> sets to the project folder.</summary>
    public string XgboostPath { get; set; } = "../../../shared/models/tabular/tract_xgboost_classifier_tree/model.onnx";

    /// <summary>Score iris through the untyped <c>IModelRunner</c> path (columns straight into the tensor) instead of <c>IPredictor&lt;IrisFlower, IrisPrediction&gt;</c>.</summary>
    public bool Untyped { get; set; }

    /// <summary>PostgreSQL connections copying chunks at once (commits stay in input order).</summary>
    public int Connections { get; set; } = 1;
}
