// Turns a CSV file into a monitor reference file (see docs/monitoring.md, "Reference from a CSV file").
//
//   dotnet run --project samples/ReferenceTool -- train.csv iris.reference [--chunk-size 1000] [--categorical a,b] [--model iris]
//
// The header row names the features; name columns as the monitor names features ("Features[0]", "Label", ...) so
// that the reference matches the model's profiles. A column whose non-empty values all parse as numbers (invariant
// culture) is numeric, any other column categorical; --categorical forces columns to be categorical (e.g. integer
// codes). Empty cells are missing values.
using System.Globalization;
using ModelInService;
using ModelInService.ReferenceTool;

if (args.Length < 2 || args.Contains("--help"))
{
    Console.Error.WriteLine("usage: ReferenceTool <input.csv> <output.reference> [--chunk-size N] [--categorical col1,col2] [--model name]");
    return 2;
}

var input = args[0];
var output = args[1];
var chunkSize = 1000;
var categorical = new HashSet<string>(StringComparer.Ordinal);
string? model = null;
for (var i = 2; i < args.Length - 1; i += 2)
{
    switch (args[i])
    {
        case "--chunk-size":
            chunkSize = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            break;
        case "--categorical":
            categorical.UnionWith(args[i + 1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            break;
        case "--model":
            model = args[i + 1];
            break;
        default:
            Console.Error.WriteLine($"unknown option {args[i]}");
            return 2;
    }
}

try
{
    var reference = CsvReference.Build(input, chunkSize, categorical, model);
    reference.Save(output);
    Console.WriteLine($"{output}: {reference.Rows} rows, {reference.FeatureNames.Count} features ({string.Join(", ", reference.FeatureNames)}), {reference.ChunkCount} chunks of {chunkSize}");
    return 0;
}
catch (Exception ex) when (ex is IOException or FormatException or ArgumentException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 1;
}
