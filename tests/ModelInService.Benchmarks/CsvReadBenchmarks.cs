using System.Globalization;
using BenchmarkDotNet.Attributes;
using ModelInService.BatchScoring;
using nietras.SeparatedValues;

namespace ModelInService.Benchmarks;

/// <summary>
/// Reading a CSV input for batch scoring (an id column and four numeric features, 100,000 rows, chunks of 4,096 rows
/// as <c>mis score</c> reads them): the library's <see cref="CsvRowSource"/> (each column's fields in one character
/// buffer, numbers parsed from spans) against the same Sep reader with a string per field, then parsed (what
/// CsvRowSource did before). Both read every field and parse every number; the id is made a string in both (the
/// output needs it).
/// <code>dotnet run -c Release --project tests/ModelInService.Benchmarks -- --filter *CsvRead* --job short</code>
/// </summary>
[MemoryDiagnoser]
public class CsvReadBenchmarks
{
    private const int Rows = 100_000;
    private const int ChunkRows = 4096;
    private static readonly string[] Columns = ["id", "sepal_length", "sepal_width", "petal_length", "petal_width"];
    private string _path = null!;

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), $"mis-csvread-{Environment.ProcessId}.csv");
        var random = new Random(42);
        using var writer = new StreamWriter(_path);
        writer.WriteLine(string.Join(',', Columns));
        for (var i = 0; i < Rows; i++)
        {
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"row-{i},{4 + random.NextDouble() * 4:0.###},{2 + random.NextDouble() * 2.5:0.###},{1 + random.NextDouble() * 6:0.###},{random.NextDouble() * 2.5:0.###}"));
        }
    }

    [GlobalCleanup]
    public void Cleanup() => File.Delete(_path);

    /// <summary>Sep, a string per field (<c>col.ToString()</c>), then <c>double.TryParse</c> on the strings.</summary>
    [Benchmark(Baseline = true)]
    public double StringPerField()
    {
        var sum = 0.0;
        using var reader = new SepReaderOptions(new Sep(',')) { Unescape = true, HasHeader = true }.FromFile(_path);
        var ids = new string?[ChunkRows];
        var values = new string?[4][];
        for (var c = 0; c < 4; c++)
        {
            values[c] = new string?[ChunkRows];
        }

        var count = 0;
        foreach (var row in reader)
        {
            ids[count] = row[0].ToString();
            for (var c = 0; c < 4; c++)
            {
                values[c][count] = row[c + 1].ToString();
            }

            if (++count == ChunkRows)
            {
                sum += Consume(ids, values, count);
                count = 0;
                ids = new string?[ChunkRows];
                values = [new string?[ChunkRows], new string?[ChunkRows], new string?[ChunkRows], new string?[ChunkRows]];
            }
        }

        return sum + Consume(ids, values, count);

        static double Consume(string?[] ids, string?[][] values, int count)
        {
            var total = 0.0;
            for (var r = 0; r < count; r++)
            {
                total += ids[r]!.Length;
                for (var c = 0; c < 4; c++)
                {
                    if (double.TryParse(values[c][r], NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                    {
                        total += v;
                    }
                }
            }

            return total;
        }
    }

    /// <summary>The library's reader: <see cref="CsvRowSource"/> chunks, numbers parsed from spans.</summary>
    [Benchmark]
    public async Task<double> CsvRowSourceChunks()
    {
        var sum = 0.0;
        await using var source = CsvRowSource.Open(_path, ',');
        await foreach (var chunk in source.ReadAsync(Columns, 0, new ChunkSize(ChunkRows, 1L << 30), CancellationToken.None))
        {
            for (var r = 0; r < chunk.Count; r++)
            {
                sum += chunk.Columns[0].GetString(r)!.Length;
                for (var c = 1; c < 5; c++)
                {
                    if (chunk.Columns[c].TryGetDouble(r, out var v))
                    {
                        sum += v;
                    }
                }
            }
        }

        return sum;
    }
}
