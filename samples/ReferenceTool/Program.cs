// Turns a CSV or Parquet file into a monitor reference file (see docs/monitoring.md, "Reference from a file").
//
//   dotnet run --project samples/ReferenceTool -- train.csv iris.reference [--chunk-size 1000] [--categorical a,b] [--model iris]
//
// The header row (or the Parquet schema) names the features; name columns as the monitor names features
// ("Features[0]", "Label", ...) so that the reference matches the model's profiles. A column whose non-empty values
// all parse as numbers (invariant culture) is numeric, any other column categorical; --categorical forces columns to
// be categorical (e.g. integer codes). Empty cells are missing values. Reading, the numeric/categorical decision and
// the errors are the library's (ModelInService.BatchScoring's ReferenceFile, the same code as `mis reference`).
using System.Globalization;
using ModelInService.BatchScoring;

if (args.Length < 2 || args.Contains("--help"))
{
    Console.Error.WriteLine("usage: ReferenceTool <input.csv|input.parquet> <output.reference> [--chunk-size N] [--categorical col1,col2] [--model name]");
    return 2;
}

var input = args[0];
var output = args[1];
var options = new ReferenceFileOptions();
for (var i = 2; i < args.Length - 1; i += 2)
{
    switch (args[i])
    {
        case "--chunk-size":
            options.ChunkSize = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            break;
        case "--categorical":
            foreach (var name in args[i + 1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                options.Categorical.Add(name);
            }

            break;
        case "--model":
            options.ModelName = args[i + 1];
            break;
        default:
            Console.Error.WriteLine($"unknown option {args[i]}");
            return 2;
    }
}

try
{
    var built = await ReferenceFile.BuildAsync(input, options);
    var reference = built.Reference;
    reference.Save(output);
    Console.WriteLine($"{output}: {reference.Rows} rows, {reference.FeatureNames.Count} features ({string.Join(", ", reference.FeatureNames)}), {reference.ChunkCount} chunks of {options.ChunkSize}");
    if (built.SkippedRows > 0)
    {
        Console.WriteLine($"{built.SkippedRows} invalid rows skipped; the first: {built.FirstSkipReasons[0]}");
    }

    return 0;
}
catch (Exception ex) when (ex is IOException or BatchInputException or ArgumentException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 1;
}
