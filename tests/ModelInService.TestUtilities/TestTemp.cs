namespace ModelInService.TestUtilities;

/// <summary>
/// Temporary files of this test run, in a directory of its own that is deleted when the run ends with everything the
/// commands wrote beside them (rejects, checkpoints, partial outputs): runs used to leave thousands of files in /tmp.
/// </summary>
public static class TestTemp
{
    private static readonly Lazy<string> Root = new(() =>
    {
        // The test host is often ended without running exit handlers, so each run also removes what runs more than
        // six hours old left (no run lasts that long; a run beside this one is younger).
        foreach (var stale in Directory.EnumerateDirectories(Path.GetTempPath(), "mis-test-*"))
        {
            if (Directory.GetLastWriteTimeUtc(stale) < DateTime.UtcNow.AddHours(-6))
            {
                TryDelete(stale);
            }
        }

        var root = Directory.CreateTempSubdirectory("mis-test-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
        return root;
    });

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: what is still open or not ours stays until the system cleans its temporary directory.
        }
    }

    /// <summary>A new file name (not created) with the given extension.</summary>
    public static string File(string extension) => Path.Combine(Root.Value, Guid.NewGuid().ToString("N")[..10] + extension);
}
