namespace ModelInService.ModelGenerator;

/// <summary>One generated model: its file name in samples/models and its exact bytes.</summary>
public sealed record GeneratedModel(string FileName, byte[] Bytes);

/// <summary>Every generated model, plus the Iris network's training accuracy (for the log).</summary>
public sealed record ModelSet(IReadOnlyList<GeneratedModel> Models, double IrisTrainingAccuracy);

/// <summary>A committed file that does not match what the generator produces.</summary>
public sealed record ModelDifference(string FileName, string Reason);

/// <summary>
/// Builds every sample model in memory (training the Iris network first), verifies each with ONNX Runtime, and writes
/// or checks them. Used by Program and by the conformance tests, so a drift between this code and the committed bytes
/// fails the test suite as well as the CI check.
/// </summary>
public static class ModelCatalog
{
    /// <summary>File names of every model this generator owns, in generation order.</summary>
    public static IReadOnlyList<string> FileNames { get; } =
    [
        "iris_mlp.onnx",
        "iris_mlp_zipmap.onnx",
        "iris_mlp_fixed.onnx",
        "multi_input.onnx",
        "variable_length.onnx",
        "image_like.onnx",
        .. ExporterConventionModels.FileNames,
    ];

    /// <summary>Builds all models and verifies each with ONNX Runtime; throws <see cref="ModelVerificationException"/> on a mismatch.</summary>
    public static ModelSet BuildAll()
    {
        var network = IrisTrainer.Train();
        if (network.TrainingAccuracy < 0.95)
        {
            throw new ModelVerificationException($"Iris training accuracy {network.TrainingAccuracy:P1} is below 95%.");
        }

        var models = new List<GeneratedModel>();
        void Add(string fileName, byte[] bytes, Action<byte[]> verify)
        {
            verify(bytes);
            models.Add(new GeneratedModel(fileName, bytes));
        }

        Add("iris_mlp.onnx", SampleModels.IrisMlp(network), bytes => ModelVerifier.IrisMlp(bytes, network));
        Add("iris_mlp_zipmap.onnx", SampleModels.IrisMlpZipMap(network), ModelVerifier.IrisMlpZipMap);
        Add("iris_mlp_fixed.onnx", SampleModels.IrisMlpFixed(network), ModelVerifier.IrisMlpFixed);
        Add("multi_input.onnx", SampleModels.MultiInput(), ModelVerifier.MultiInput);
        Add("variable_length.onnx", SampleModels.VariableLength(), ModelVerifier.VariableLength);
        Add("image_like.onnx", SampleModels.ImageLike(), ModelVerifier.ImageLike);
        foreach (var (fileName, bytes) in ExporterConventionModels.BuildAll())
        {
            models.Add(new GeneratedModel(fileName, bytes));
        }

        return new ModelSet(models, network.TrainingAccuracy);
    }

    /// <summary>Compares freshly built models with the files in <paramref name="modelsDirectory"/>, byte by byte.</summary>
    public static IReadOnlyList<ModelDifference> Check(string modelsDirectory, IReadOnlyList<GeneratedModel> models)
    {
        ArgumentNullException.ThrowIfNull(models);
        var differences = new List<ModelDifference>();
        foreach (var model in models)
        {
            var path = Path.Combine(modelsDirectory, model.FileName);
            if (!File.Exists(path))
            {
                differences.Add(new ModelDifference(model.FileName, "missing"));
                continue;
            }

            var committed = File.ReadAllBytes(path);
            if (!committed.AsSpan().SequenceEqual(model.Bytes))
            {
                var at = committed.AsSpan().CommonPrefixLength(model.Bytes);
                differences.Add(new ModelDifference(
                    model.FileName,
                    $"differs from the generator's output ({committed.Length} bytes on disk, {model.Bytes.Length} generated, first difference at byte {at})"));
            }
        }

        return differences;
    }

    /// <summary>Writes the models into <paramref name="modelsDirectory"/>, replacing files whose bytes changed.</summary>
    public static void Write(string modelsDirectory, IReadOnlyList<GeneratedModel> models)
    {
        ArgumentNullException.ThrowIfNull(models);
        Directory.CreateDirectory(modelsDirectory);
        foreach (var model in models)
        {
            File.WriteAllBytes(Path.Combine(modelsDirectory, model.FileName), model.Bytes);
        }
    }

    /// <summary>
    /// The repository root: the nearest directory holding ModelInService.sln above the program's own folder, else above
    /// the current directory. Null when neither is inside the repo.
    /// </summary>
    public static string? FindRepoRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "ModelInService.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return null;
    }
}
