using System.Globalization;

namespace ModelInService.TestUtilities;

/// <summary>
/// An ONNX backend-test style folder: <c>model.onnx</c> plus <c>test_data_set_N/input_K.pb</c> and
/// <c>output_K.pb</c>. Tensors whose TensorProto has no name (the pytorch-converted tests, the vision outputs) take the
/// model's input/output name at the same position.
/// </summary>
public sealed record OnnxTestCase(string Name, string ModelPath, IReadOnlyList<TestTensor> Inputs, IReadOnlyList<TestTensor> Outputs)
{
    public static OnnxTestCase Load(string testDirectory, string dataSet = "test_data_set_0")
    {
        var modelPath = Path.Combine(testDirectory, "model.onnx");
        var info = OnnxModelInfo.Read(modelPath);
        var dataDirectory = Path.Combine(testDirectory, dataSet);
        return new OnnxTestCase(
            Path.GetFileName(Path.TrimEndingDirectorySeparator(testDirectory)),
            modelPath,
            ReadNumbered(dataDirectory, "input_", info.Inputs),
            ReadNumbered(dataDirectory, "output_", info.Outputs));
    }

    /// <summary>Every folder under <paramref name="root"/> holding a model.onnx and a test_data_set_0, sorted.</summary>
    public static IReadOnlyList<string> FindAll(string root) =>
        Directory.EnumerateFiles(root, "model.onnx", SearchOption.AllDirectories)
            .Select(p => Path.GetDirectoryName(p)!)
            .Where(d => Directory.Exists(Path.Combine(d, "test_data_set_0")))
            .Order(StringComparer.Ordinal)
            .ToArray();

    /// <summary><c>prefix0.pb</c>, <c>prefix1.pb</c>, ... in numeric order (so 10 sorts after 9).</summary>
    public static IReadOnlyList<string> NumberedFiles(string directory, string prefix) =>
        Directory.EnumerateFiles(directory, prefix + "*.pb")
            .Select(path => (Path: path, Index: int.Parse(Path.GetFileNameWithoutExtension(path)[prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture)))
            .OrderBy(f => f.Index)
            .Select(f => f.Path)
            .ToArray();

    private static TestTensor[] ReadNumbered(string directory, string prefix, IReadOnlyList<ValueInfo> declared)
    {
        var files = NumberedFiles(directory, prefix);
        var tensors = new TestTensor[files.Count];
        for (var i = 0; i < files.Count; i++)
        {
            var tensor = TensorProtoReader.Read(files[i]);
            tensors[i] = tensor.Name.Length == 0 && i < declared.Count ? tensor.WithName(declared[i].Name) : tensor;
        }

        return tensors;
    }
}
