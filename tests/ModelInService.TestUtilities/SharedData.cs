namespace ModelInService.TestUtilities;

/// <summary>
/// Finds the read-only third-party data folder (<c>../shared</c> next to the repository) and the repository's own
/// sample models. Tests that need the shared data call <c>Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason)</c>
/// first, so a fresh clone without the folder still passes.
/// </summary>
public static class SharedData
{
    /// <summary>Environment variable that overrides the location of the shared folder (the one holding <c>models/</c>).</summary>
    public const string EnvironmentVariable = "MIS_SHARED_DIR";

    /// <summary>The skip message for tests that need the shared folder.</summary>
    public const string SkipReason = "../shared not found: set MIS_SHARED_DIR or place the shared folder next to the repo";

    /// <summary>The file whose directory is the repository root.</summary>
    public const string SolutionFileName = "ModelInService.sln";

    private static readonly Lazy<string?> RepoRootLazy = new(() => FindRepoRoot(AppContext.BaseDirectory));

    private static readonly Lazy<string?> RootLazy = new(() =>
        ResolveRoot(Environment.GetEnvironmentVariable(EnvironmentVariable), RepoRootLazy.Value));

    /// <summary>The shared folder (absolute), or null when it cannot be found.</summary>
    public static string? Root => RootLazy.Value;

    /// <summary>True when the shared folder and its <c>models/</c> directory exist.</summary>
    public static bool IsAvailable => Root is not null;

    /// <summary><c>&lt;shared&gt;/models</c>. Throws when the shared folder is not available (check <see cref="IsAvailable"/>).</summary>
    public static string ModelsDir => Path.Combine(Root ?? throw new InvalidOperationException(SkipReason), "models");

    /// <summary>A path under <c>&lt;shared&gt;/models</c>, e.g. <c>Model("mnist", "mnist-8.onnx")</c>.</summary>
    public static string Model(params string[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        return Path.Combine([ModelsDir, .. parts]);
    }

    /// <summary>The repository root: the nearest directory above the test binaries holding ModelInService.sln.</summary>
    public static string RepoRoot => RepoRootLazy.Value
        ?? throw new InvalidOperationException($"No {SolutionFileName} found above {AppContext.BaseDirectory}.");

    /// <summary>The repository's generated sample models: <c>samples/models</c>.</summary>
    public static string RepoModelsDir => Path.Combine(RepoRoot, "samples", "models");

    /// <summary>A file in <c>samples/models</c>, e.g. <c>RepoModel("iris_mlp.onnx")</c>.</summary>
    public static string RepoModel(string name) => Path.Combine(RepoModelsDir, name);

    /// <summary>The nearest directory at or above <paramref name="startDirectory"/> that holds ModelInService.sln.</summary>
    public static string? FindRepoRoot(string startDirectory)
    {
        for (var dir = new DirectoryInfo(startDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, SolutionFileName)))
            {
                return dir.FullName;
            }
        }

        return null;
    }

    /// <summary>
    /// The shared folder: <paramref name="overrideDirectory"/> (the environment variable) when set, else
    /// <c>&lt;repoRoot&gt;/../shared</c>. Returns null unless the candidate has a <c>models</c> subdirectory; an override
    /// that does not exist is not silently replaced by the default, so <c>MIS_SHARED_DIR=/nonexistent</c> disables the data.
    /// </summary>
    public static string? ResolveRoot(string? overrideDirectory, string? repoRoot)
    {
        string? candidate;
        if (!string.IsNullOrWhiteSpace(overrideDirectory))
        {
            candidate = Path.GetFullPath(overrideDirectory);
        }
        else if (repoRoot is not null)
        {
            candidate = Path.GetFullPath(Path.Combine(repoRoot, "..", "shared"));
        }
        else
        {
            return null;
        }

        return Directory.Exists(Path.Combine(candidate, "models")) ? candidate : null;
    }
}
