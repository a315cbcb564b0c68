using System.Globalization;
using System.Text;

namespace ModelInService.BatchScoring.Tests;

/// <summary>
/// The CSV reader's column buffers (one character buffer per column and chunk, no string per field): every field
/// read back equals what was written, whatever its length, quoting or position, across chunk sizes — including a
/// chunk whose fields are far longer than the previous chunk's (the buffer sized from that one must grow).
/// </summary>
public sealed class CsvRowSourceTests
{
    [Theory]
    [InlineData(1, 1L << 30)]
    [InlineData(3, 1L << 30)]
    [InlineData(64, 1L << 30)]
    [InlineData(1000, 1L << 30)]
    [InlineData(1000, 4096)] // chunks end at the byte budget, after a few rows (or one long one)
    [InlineData(64, 1)] // a budget below one row: one row per chunk
    public async Task Every_field_reads_back_as_written(int chunkRows, long maxChunkBytes)
    {
        var random = new Random(chunkRows);
        var rows = new List<string?[]>();
        for (var r = 0; r < 500; r++)
        {
            // Short fields first, then much longer ones (the buffer estimate from the first chunks is too small).
            var longFields = r >= 250;
            rows.Add([Field(random, longFields), Field(random, longFields), random.Next(4) == 0 ? null : (random.NextDouble() * 100).ToString("R", CultureInfo.InvariantCulture)]);
        }

        var path = TestData.TempFile(".csv");
        var text = new StringBuilder("a,b,x\n");
        foreach (var row in rows)
        {
            text.AppendJoin(',', row.Select(Quote)).Append('\n');
        }

        await File.WriteAllTextAsync(path, text.ToString());

        await using var source = CsvRowSource.Open(path, ',');
        var read = 0;
        var chunks = 0;
        await foreach (var chunk in source.ReadAsync(["x", "a", "b"], 0, new ChunkSize(chunkRows, maxChunkBytes), CancellationToken.None))
        {
            chunks++;
            Assert.InRange(chunk.Count, 1, chunkRows);
            Assert.Equal(read, chunk.FirstRow);
            for (var i = 0; i < chunk.Count; i++, read++)
            {
                var expected = rows[read];
                Assert.Equal(expected[0], chunk.Columns[1].GetString(i));
                Assert.Equal(expected[1], chunk.Columns[2].GetString(i));
                Assert.Equal(expected[0] is null, chunk.Columns[1].IsNull(i));
                if (expected[2] is null)
                {
                    Assert.True(chunk.Columns[0].IsNull(i));
                    Assert.False(chunk.Columns[0].TryGetDouble(i, out _));
                }
                else
                {
                    Assert.True(chunk.Columns[0].TryGetDouble(i, out var value));
                    Assert.Equal(double.Parse(expected[2]!, CultureInfo.InvariantCulture), value);
                }
            }
        }

        Assert.Equal(rows.Count, read);
        if (maxChunkBytes == 1)
        {
            // One row per chunk, except that a row whose kept fields are all empty adds no text and joins the next.
            Assert.InRange(chunks, rows.Count * 9 / 10, rows.Count);
        }
        else if (maxChunkBytes < 1L << 30)
        {
            Assert.InRange(chunks, 10, rows.Count - 1);
        }
    }

    [Fact]
    public async Task Skipped_rows_are_not_read_and_the_rest_start_at_the_right_row()
    {
        var path = TestData.TempFile(".csv");
        await File.WriteAllTextAsync(path, "id,v\n" + string.Concat(Enumerable.Range(0, 10).Select(i => $"r{i},{i}\n")));
        await using var source = CsvRowSource.Open(path, ',');
        var ids = new List<string>();
        await foreach (var chunk in source.ReadAsync(["id"], 7, new ChunkSize(2, 1L << 30), CancellationToken.None))
        {
            Assert.Equal(7 + ids.Count, chunk.FirstRow);
            for (var i = 0; i < chunk.Count; i++)
            {
                ids.Add(chunk.Columns[0].GetString(i)!);
            }
        }

        Assert.Equal(["r7", "r8", "r9"], ids);
    }

    private static string? Field(Random random, bool longField)
    {
        if (random.Next(5) == 0)
        {
            return null;
        }

        const string alphabet = "abcXYZ 019,\"\n;é";
        var length = longField ? random.Next(50, 400) : random.Next(1, 4);
        var chars = new char[length];
        for (var i = 0; i < length; i++)
        {
            chars[i] = alphabet[random.Next(alphabet.Length)];
        }

        return new string(chars);
    }

    private static string Quote(string? field) => field is null ? "" : "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
