namespace ModelInService.Benchmarks;

/// <summary>Finds the repository root (the folder with ModelInService.sln) and the shared models next to it.</summary>
internal static class Paths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string RepoModel(string name) => Path.Combine(RepoRoot, "samples", "models", name);

    public static string? SharedModels
    {
        get
        {
            var dir = Environment.GetEnvironmentVariable("MIS_SHARED_DIR") ?? Path.Combine(RepoRoot, "..", "shared");
            var models = Path.GetFullPath(Path.Combine(dir, "models"));
            return Directory.Exists(models) ? models : null;
        }
    }

    private static string FindRepoRoot()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "ModelInService.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        throw new InvalidOperationException("Run the benchmarks from inside the repository (ModelInService.sln not found).");
    }
}
