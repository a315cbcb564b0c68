// Generates the repo's own sample models into samples/models (see samples/models/README.md).
//
//   dotnet run --project samples/ModelGenerator              write the models
//   dotnet run --project samples/ModelGenerator -- --check   rebuild in memory and compare with the committed files
//   ... -- --out DIR                                          use DIR instead of samples/models
//
// Every model is verified with ONNX Runtime before it is written or compared. Output is deterministic: the same code
// produces byte-identical files on every run.
using System.Globalization;
using ModelInService.ModelGenerator;

var check = false;
string? outDir = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--check":
            check = true;
            break;
        case "--out" when i + 1 < args.Length:
            outDir = Path.GetFullPath(args[++i]);
            break;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. Usage: ModelGenerator [--check] [--out DIR]");
            return 2;
    }
}

if (outDir is null)
{
    var root = ModelCatalog.FindRepoRoot();
    if (root is null)
    {
        Console.Error.WriteLine("Cannot find ModelInService.sln above this program or the current directory; pass --out DIR.");
        return 2;
    }

    outDir = Path.Combine(root, "samples", "models");
}

ModelSet generated;
try
{
    generated = ModelCatalog.BuildAll();
}
catch (ModelVerificationException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}

var models = generated.Models;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Iris MLP training accuracy: {generated.IrisTrainingAccuracy:P2}"));
Console.WriteLine("All models verified with ONNX Runtime.");

if (check)
{
    var differences = ModelCatalog.Check(outDir, models);
    foreach (var difference in differences)
    {
        Console.Error.WriteLine($"{Path.Combine(outDir, difference.FileName)}: {difference.Reason}");
    }

    if (differences.Count > 0)
    {
        Console.Error.WriteLine("Regenerate with: dotnet run --project samples/ModelGenerator");
        return 1;
    }

    Console.WriteLine($"{models.Count} models in {outDir} match the generator byte for byte.");
    return 0;
}

ModelCatalog.Write(outDir, models);
foreach (var model in models)
{
    Console.WriteLine($"wrote {Path.Combine(outDir, model.FileName)} ({model.Bytes.Length} bytes)");
}

return 0;
