using System.Globalization;
using System.Text;
using ModelInService;

namespace ModelInService.ReferenceTool;

/// <summary>Builds a <see cref="MonitorReference"/> from a CSV file in two passes (column types, then values).</summary>
internal static class CsvReference
{
    public static MonitorReference Build(string path, int chunkSize, IReadOnlySet<string> forcedCategorical, string? model)
    {
        string[] header;
        bool[] numeric;
        using (var reader = new StreamReader(path))
        {
            header = ReadRecord(reader) ?? throw new FormatException($"{path} is empty.");
            numeric = [.. header.Select(h => !forcedCategorical.Contains(h))];
            var line = 1;
            while (ReadRecord(reader) is { } record)
            {
                line++;
                if (record.Length != header.Length)
                {
                    throw new FormatException($"{path} line {line}: {record.Length} fields, the header has {header.Length}.");
                }

                for (var c = 0; c < record.Length; c++)
                {
                    if (numeric[c] && record[c].Length > 0 && !double.TryParse(record[c], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                    {
                        numeric[c] = false;
                    }
                }
            }
        }

        var builder = new MonitorReferenceBuilder(chunkSize);
        using (var reader = new StreamReader(path))
        {
            ReadRecord(reader);
            while (ReadRecord(reader) is { } record)
            {
                for (var c = 0; c < record.Length; c++)
                {
                    var cell = record[c];
                    if (numeric[c])
                    {
                        if (cell.Length == 0)
                        {
                            builder.AddMissing(header[c]);
                        }
                        else
                        {
                            builder.AddNumeric(header[c], double.Parse(cell, NumberStyles.Float, CultureInfo.InvariantCulture));
                        }
                    }
                    else
                    {
                        builder.AddCategorical(header[c], cell.Length == 0 ? null : cell);
                    }
                }

                builder.EndRow();
            }
        }

        return builder.Build("csv", model);
    }

    /// <summary>Reads one RFC 4180 record (quoted fields may hold commas, quotes and newlines); null at the end.</summary>
    internal static string[]? ReadRecord(TextReader reader)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        var any = false;
        while (true)
        {
            var next = reader.Read();
            if (next == -1)
            {
                if (!any)
                {
                    return null;
                }

                fields.Add(field.ToString());
                return [.. fields];
            }

            any = true;
            var c = (char)next;
            if (quoted)
            {
                if (c == '"')
                {
                    if (reader.Peek() == '"')
                    {
                        reader.Read();
                        field.Append('"');
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else if (c == '\n' || c == '\r')
            {
                if (c == '\r' && reader.Peek() == '\n')
                {
                    reader.Read();
                }

                fields.Add(field.ToString());
                return [.. fields];
            }
            else
            {
                field.Append(c);
            }
        }
    }
}
