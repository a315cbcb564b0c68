namespace StreamingVad;

/// <summary>Finds the model file before the app starts, with a message that says where to get it.</summary>
internal static class ModelFile
{
    /// <summary>Returns the full path of <paramref name="path"/>: as is when absolute, else against the content root, then the app's directory.</summary>
    /// <exception cref="FileNotFoundException">The file is in none of those places.</exception>
    public static string Resolve(string path, string contentRoot)
    {
        string[] candidates = Path.IsPathRooted(path)
            ? [path]
            : [Path.GetFullPath(Path.Combine(contentRoot, path)), Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, path))];
        foreach (var candidate in candidates)
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(
            $"The Silero VAD model was not found at '{path}' (looked at {string.Join(", ", candidates)}). Download silero_vad.onnx " +
            "(v5, MIT) from https://github.com/snakers4/silero-vad (src/silero_vad/data/silero_vad.onnx) and pass its path: " +
            "--Vad:ModelPath /path/to/silero_vad.onnx (or set Vad:ModelPath in appsettings.json).",
            path);
    }
}
