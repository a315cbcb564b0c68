using System.Reflection;

namespace ModelInService;

/// <summary>
/// Where a model's ONNX bytes come from: a file, bytes in memory, a stream, or an embedded resource.
/// </summary>
/// <remarks>Instances are immutable and safe to share between threads.</remarks>
public abstract class ModelSource
{
    private protected ModelSource()
    {
    }

    /// <summary>Gets a short description used in logs and errors, e.g. the resolved file path.</summary>
    public abstract string Description { get; }

    /// <summary>A model file on disk. A relative path is resolved against the host's content root, then the app's base directory.</summary>
    /// <param name="path">The path to the <c>.onnx</c> file.</param>
    /// <returns>The source.</returns>
    /// <remarks>
    /// An empty or blank path, or the path of a directory, is reported when the host starts (options validation, naming
    /// the model), not here: the path often comes from configuration, read inside the options callback.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    public static ModelSource FromFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return new FileModelSource(path);
    }

    /// <summary>A model held in memory.</summary>
    /// <param name="bytes">The ONNX bytes (not copied; do not mutate them afterwards).</param>
    /// <param name="description">A name for logs and errors.</param>
    /// <returns>The source.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="bytes"/> is null.</exception>
    public static ModelSource FromBytes(byte[] bytes, string description = "in-memory model")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return new BytesModelSource(bytes, description);
    }

    /// <summary>A model read from a stream each time it is loaded (the stream is disposed after reading).</summary>
    /// <param name="openStream">Opens the stream.</param>
    /// <param name="description">A name for logs and errors.</param>
    /// <returns>The source.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="openStream"/> is null.</exception>
    public static ModelSource FromStream(Func<Stream> openStream, string description = "stream")
    {
        ArgumentNullException.ThrowIfNull(openStream);
        return new StreamModelSource(openStream, description);
    }

    /// <summary>A model embedded as a manifest resource of an assembly.</summary>
    /// <param name="assembly">The assembly holding the resource.</param>
    /// <param name="resourceName">The manifest resource name, e.g. <c>MyApp.Models.iris.onnx</c>.</param>
    /// <returns>The source.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="assembly"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="resourceName"/> is null or empty.</exception>
    public static ModelSource FromEmbeddedResource(Assembly assembly, string resourceName)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentException.ThrowIfNullOrEmpty(resourceName);
        return new ResourceModelSource(assembly, resourceName);
    }

    /// <summary>Reads the model. Called on the loading thread, never on a request path.</summary>
    internal abstract byte[] Read(string? contentRoot);

    /// <summary>Gets the file path when the model is loaded from a file, else <see langword="null"/>.</summary>
    internal virtual string? ResolvePath(string? contentRoot) => null;

    /// <summary>
    /// The file to watch for changes: the resolved file, or, while no file exists yet, where it would be looked for first
    /// (a relative path under the content root); null when the source is not a file.
    /// </summary>
    internal virtual string? WatchPath(string? contentRoot) => null;

    /// <summary>What is wrong with a file source's path ("is empty", "is a directory; ..."); null when nothing is, or not a file.</summary>
    internal virtual string? PathProblem(string? contentRoot) => null;

    /// <inheritdoc/>
    public override string ToString() => Description;

    private sealed class FileModelSource(string path) : ModelSource
    {
        public override string Description => path;

        internal override string? ResolvePath(string? contentRoot)
        {
            if (Path.IsPathRooted(path))
            {
                return path;
            }

            if (contentRoot is not null)
            {
                var candidate = Path.GetFullPath(Path.Combine(contentRoot, path));
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }

            return Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, path));
        }

        internal override string? WatchPath(string? contentRoot)
        {
            var resolved = ResolvePath(contentRoot)!;
            return File.Exists(resolved) || Path.IsPathRooted(path) || contentRoot is null
                ? resolved
                : Path.GetFullPath(Path.Combine(contentRoot, path));
        }

        internal override string? PathProblem(string? contentRoot)
        {
            if (string.IsNullOrWhiteSpace(path))
            {
                return $"is empty{(path.Length > 0 ? " (blank)" : "")}; set it to the model's .onnx file";
            }

            // The places Read looks, in its order: a directory there would only be reported as "not found".
            string[] candidates = Path.IsPathRooted(path) ? [path]
                : contentRoot is null ? [Path.Combine(AppContext.BaseDirectory, path)]
                : [Path.Combine(contentRoot, path), Path.Combine(AppContext.BaseDirectory, path)];
            foreach (var candidate in candidates)
            {
                if (File.Exists(candidate))
                {
                    return null;
                }

                if (Directory.Exists(candidate))
                {
                    return $"'{path}' ({Path.GetFullPath(candidate)}) is a directory; point it at the .onnx file";
                }
            }

            return null;
        }

        internal override byte[] Read(string? contentRoot)
        {
            if (PathProblem(contentRoot) is { } problem)
            {
                throw new FileNotFoundException($"Model file path {problem}.", path);
            }

            var resolved = ResolvePath(contentRoot)!;
            if (!File.Exists(resolved))
            {
                var tried = contentRoot is null || Path.IsPathRooted(path)
                    ? $"'{resolved}'"
                    : $"'{Path.GetFullPath(Path.Combine(contentRoot, path))}' and '{resolved}'";
                throw new FileNotFoundException($"Model file '{path}' was not found (looked at {tried}).", resolved);
            }

            return File.ReadAllBytes(resolved);
        }
    }

    private sealed class BytesModelSource(byte[] bytes, string description) : ModelSource
    {
        public override string Description => description;

        internal override byte[] Read(string? contentRoot) => bytes;
    }

    private sealed class StreamModelSource(Func<Stream> open, string description) : ModelSource
    {
        public override string Description => description;

        internal override byte[] Read(string? contentRoot)
        {
            using var stream = open() ?? throw new InvalidOperationException($"The stream factory of '{description}' returned null.");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        }
    }

    private sealed class ResourceModelSource(Assembly assembly, string name) : ModelSource
    {
        public override string Description => $"resource '{name}' in {assembly.GetName().Name}";

        internal override byte[] Read(string? contentRoot)
        {
            using var stream = assembly.GetManifestResourceStream(name)
                ?? throw new FileNotFoundException(
                    $"Assembly '{assembly.GetName().Name}' has no embedded resource '{name}' (it has: {string.Join(", ", assembly.GetManifestResourceNames())}).");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        }
    }
}
