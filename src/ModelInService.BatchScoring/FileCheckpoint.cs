using System.Globalization;
using System.Text.Json;

namespace ModelInService.BatchScoring;

/// <summary>
/// A file output's progress (<c>{output}.partial.checkpoint</c>, JSON): which input it belongs to, the input rows done,
/// the rows written and rejected, the output's length and, for Parquet, the footer that ends it at that length, and the
/// rejects file's length. Replaced atomically after each chunk (written beside it, flushed, renamed over it).
/// </summary>
internal sealed record FileCheckpoint(
    string Input,
    long InputLength,
    bool Parquet,
    string IdColumn,
    long RowsDone,
    long RowsWritten,
    long RowsRejected,
    long OutputLength,
    byte[] OutputTail,
    long RejectsLength)
{
    /// <summary>A checkpoint larger than this is not ours (a Parquet footer of a million row groups is far smaller).</summary>
    private const long MaxBytes = 64L << 20;

    private const int FormatVersion = 1;

    /// <summary>Reads the checkpoint at <paramref name="path"/>, or returns null when there is none.</summary>
    /// <exception cref="InvalidOperationException">The file exists but is not a checkpoint this version wrote; the message says how to start over.</exception>
    public static FileCheckpoint? Read(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > MaxBytes)
            {
                throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"it has {stream.Length} bytes, more than a checkpoint can have ({MaxBytes})"));
            }

            var bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
            using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 4 });
            var root = document.RootElement;
            if (root.GetProperty("format").GetInt32() != FormatVersion)
            {
                throw new FormatException($"format {root.GetProperty("format").GetInt32()} is not {FormatVersion}");
            }

            var checkpoint = new FileCheckpoint(
                root.GetProperty("input").GetString() ?? throw new FormatException("input is null"),
                root.GetProperty("inputLength").GetInt64(),
                root.GetProperty("output").GetString() switch
                {
                    "parquet" => true,
                    "csv" => false,
                    var other => throw new FormatException($"output '{other}' is neither csv nor parquet"),
                },
                root.GetProperty("idColumn").GetString() ?? throw new FormatException("idColumn is null"),
                root.GetProperty("rowsDone").GetInt64(),
                root.GetProperty("rowsWritten").GetInt64(),
                root.GetProperty("rowsRejected").GetInt64(),
                root.GetProperty("outputLength").GetInt64(),
                root.GetProperty("outputTail").GetBytesFromBase64(),
                root.GetProperty("rejectsLength").GetInt64());
            if (checkpoint.RowsDone < 0 || checkpoint.RowsWritten < 0 || checkpoint.RowsRejected < 0
                || checkpoint.RowsWritten + checkpoint.RowsRejected > checkpoint.RowsDone
                || checkpoint.OutputLength < checkpoint.OutputTail.Length || checkpoint.RejectsLength < 0)
            {
                throw new FormatException("its counts or lengths are inconsistent");
            }

            return checkpoint;
        }
        catch (Exception ex) when (ex is JsonException or FormatException or KeyNotFoundException or InvalidOperationException or IOException)
        {
            throw new InvalidOperationException($"The checkpoint '{path}' cannot be read ({ex.Message}). Delete it and the '.partial' output beside it to start the job over.", ex);
        }
    }

    /// <summary>Throws when this checkpoint was written by a run with a different input, output format or id column.</summary>
    public void CheckSameJob(string path, string input, long inputLength, bool parquet, string idColumn)
    {
        string? difference = null;
        if (!string.Equals(Input, input, StringComparison.Ordinal))
        {
            difference = $"it was written for input '{Input}', this run reads '{input}'";
        }
        else if (InputLength != inputLength)
        {
            difference = string.Create(CultureInfo.InvariantCulture, $"the input had {InputLength} bytes then and has {inputLength} now (it changed)");
        }
        else if (Parquet != parquet)
        {
            difference = $"it was written for {(Parquet ? "Parquet" : "CSV")} output, this run writes {(parquet ? "Parquet" : "CSV")}";
        }
        else if (!string.Equals(IdColumn, idColumn, StringComparison.Ordinal))
        {
            difference = $"it was written with id column '{IdColumn}', this run uses '{idColumn}'";
        }

        if (difference is not null)
        {
            throw new InvalidOperationException($"Cannot resume from the checkpoint '{path}': {difference}. Delete it and the '.partial' output beside it to start the job over.");
        }
    }

    /// <summary>Replaces the checkpoint at <paramref name="path"/>: written to a temporary file, flushed to disk and renamed over it.</summary>
    public async Task WriteAsync(string path, CancellationToken cancellationToken)
    {
        var temporary = path + ".tmp";
        var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None);
        await using (stream.ConfigureAwait(false))
        {
            var json = new Utf8JsonWriter(stream);
            await using (json.ConfigureAwait(false))
            {
                json.WriteStartObject();
                json.WriteNumber("format", FormatVersion);
                json.WriteString("input", Input);
                json.WriteNumber("inputLength", InputLength);
                json.WriteString("output", Parquet ? "parquet" : "csv");
                json.WriteString("idColumn", IdColumn);
                json.WriteNumber("rowsDone", RowsDone);
                json.WriteNumber("rowsWritten", RowsWritten);
                json.WriteNumber("rowsRejected", RowsRejected);
                json.WriteNumber("outputLength", OutputLength);
                json.WriteBase64String("outputTail", OutputTail);
                json.WriteNumber("rejectsLength", RejectsLength);
                json.WriteEndObject();
                await json.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }
}
