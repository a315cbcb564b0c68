using System.Globalization;
using System.Runtime.CompilerServices;

namespace BatchScoring;

/// <summary>One input row: its id, the features, and the known species when the file has one.</summary>
public sealed record IrisRow(string Id, IrisFlower Flower, string? Species);

/// <summary>Reads and writes the sample's CSV files (plain comma-separated, invariant culture, no quoting).</summary>
public static class IrisCsv
{
    /// <summary>Streams the rows of <paramref name="path"/>, <paramref name="repeat"/> times over. Any other
    /// <see cref="IAsyncEnumerable{T}"/> (a database query, a queue) can take its place.</summary>
    public static async IAsyncEnumerable<IrisRow> ReadAsync(string path, int repeat, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        for (var pass = 1; pass <= repeat; pass++)
        {
            using var reader = new StreamReader(path);
            var header = (await reader.ReadLineAsync(cancellationToken) ?? "").Split(',', StringSplitOptions.TrimEntries);
            var id = Array.IndexOf(header, "id");
            var species = Array.IndexOf(header, "species");
            int[] features = [Column("sepal_length"), Column("sepal_width"), Column("petal_length"), Column("petal_width")];

            var lineNumber = 1;
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                lineNumber++;
                if (line.Length == 0)
                {
                    continue;
                }

                var fields = line.Split(',', StringSplitOptions.TrimEntries);
                var flower = new IrisFlower
                {
                    SepalLength = Parse(fields, features[0], lineNumber),
                    SepalWidth = Parse(fields, features[1], lineNumber),
                    PetalLength = Parse(fields, features[2], lineNumber),
                    PetalWidth = Parse(fields, features[3], lineNumber),
                };
                var rowId = id >= 0 ? fields[id] : (lineNumber - 1).ToString(CultureInfo.InvariantCulture);
                yield return new IrisRow(repeat == 1 ? rowId : $"{pass}.{rowId}", flower, species >= 0 ? fields[species] : null);
            }

            int Column(string name) => Array.IndexOf(header, name) is var index and >= 0
                ? index
                : throw new FormatException($"{path}: the header has no '{name}' column.");

            float Parse(string[] fields, int column, int line) =>
                column < fields.Length && float.TryParse(fields[column], NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                    ? value
                    : throw new FormatException($"{path}, line {line}: column {column + 1} is not a number.");
        }
    }

    /// <summary>The header of the output file.</summary>
    public const string OutputHeader = "id,label,species,p_setosa,p_versicolor,p_virginica";

    /// <summary>Writes one scored row.</summary>
    public static Task WriteAsync(TextWriter writer, IrisRow row, IrisPrediction prediction) =>
        writer.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{row.Id},{prediction.Label},{prediction.Species},{prediction.Probabilities[0]:G6},{prediction.Probabilities[1]:G6},{prediction.Probabilities[2]:G6}"));
}
