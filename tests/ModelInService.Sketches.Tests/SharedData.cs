namespace ModelInService.Sketches.Tests;

/// <summary>Locates the read-only shared data folder (../shared beside the repository, or MIS_SHARED_DIR).</summary>
internal static class SharedData
{
    private static readonly Lazy<string?> Root = new(Locate);

    /// <summary>The KLL interchange vectors folder, or null when the shared data is not present.</summary>
    public static string? KllVectorsDirectory
    {
        get
        {
            var root = Root.Value;
            if (root is null)
            {
                return null;
            }

            var dir = Path.Combine(root, "sketches", "kll");
            return Directory.Exists(dir) ? dir : null;
        }
    }

    public const string SkipReason =
        "The shared KLL interchange vectors (../shared/sketches/kll beside the folder holding ModelInService.sln, or $MIS_SHARED_DIR/sketches/kll) are not present.";

    private static string? Locate()
    {
        var fromEnv = Environment.GetEnvironmentVariable("MIS_SHARED_DIR");
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            return Directory.Exists(fromEnv) ? Path.GetFullPath(fromEnv) : null;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelInService.sln")))
            {
                var shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
                return Directory.Exists(shared) ? shared : null;
            }
        }

        return null;
    }
}
