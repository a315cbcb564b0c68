using ModelInService.TestUtilities;

namespace ModelInService.Tool.Tests;

/// <summary>The models the tests run on: the repository's samples/models and every *.onnx under the shared folder.</summary>
internal static class Models
{
    /// <summary>The shared folder's intentionally broken models (ONNX Runtime refuses them at load).</summary>
    public const string NegativeFolder = "negative/";

    /// <summary>The entry used when the shared folder is absent, so the theory still has a row (which skips).</summary>
    public const string SharedAbsent = "(shared models absent)";

    public static TheoryData<string> Shared()
    {
        var data = new TheoryData<string>();
        if (!SharedData.IsAvailable)
        {
            data.Add(SharedAbsent);
            return data;
        }

        foreach (var file in Directory.EnumerateFiles(SharedData.ModelsDir, "*.onnx", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(SharedData.ModelsDir, file).Replace('\\', '/'));
        }

        return data;
    }

    public static TheoryData<string> Repo()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(SharedData.RepoModelsDir, "*.onnx").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    /// <summary>The path of a shared model, skipping the test when the folder is absent.</summary>
    public static string SharedPath(string relative)
    {
        Skip.If(relative == SharedAbsent || !SharedData.IsAvailable, SharedData.SkipReason);
        return Path.Combine(SharedData.ModelsDir, relative);
    }
}
