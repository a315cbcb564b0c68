using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Tool;

/// <summary>A model file read through the library: the signature it sees, and the file's header fields.</summary>
/// <param name="Path">The full path of the file.</param>
/// <param name="FileSize">The file's size in bytes.</param>
/// <param name="Signature">The signature as the library reads it (the same <see cref="TensorSpec"/>s its binder sees).</param>
/// <param name="Header">IR version, producer and opset imports.</param>
/// <param name="LoadTime">How long the library took to load it (one ONNX Runtime session, no warm-up).</param>
/// <param name="BatchAxes">The batch axes declared for it (<c>--batch-axis</c>), passed to the library as <see cref="ModelOptions.BatchAxes"/>.</param>
/// <param name="GraphEdits">What the library changed in the graph at load and why, or why not (the ZipMap decision), as its log said it.</param>
/// <param name="RuntimeMessages">ONNX Runtime's own warnings and errors while it loaded the model (e.g. an opset it only partly supports), each once.</param>
internal sealed record LoadedModel(string Path, long FileSize, ModelSignature Signature, OnnxHeader Header, TimeSpan LoadTime, IReadOnlyDictionary<string, int> BatchAxes, IReadOnlyList<string> GraphEdits, IReadOnlyList<string> RuntimeMessages)
{
    /// <summary>The name the model is registered under while the tool reads it.</summary>
    public const string RegistrationName = "model";

    /// <summary>
    /// Loads <paramref name="path"/> with ModelInService (<c>AddModel</c> without C# types, one session, no warm-up),
    /// which decides the batching (<see cref="ModelSignature.Batching"/>) with <paramref name="batchAxes"/> as
    /// <see cref="ModelOptions.BatchAxes"/>.
    /// </summary>
    /// <param name="path">The model file.</param>
    /// <param name="batchAxes">Declared batch axes by input or output name (-1: none); null or empty for the library's automatic rule.</param>
    /// <param name="cancellationToken">Cancels the load.</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a protobuf message.</exception>
    /// <exception cref="ModelSchemaException">The library refused a declared batch axis (unknown name, out of range, fixed dimension).</exception>
    /// <exception cref="ModelLoadException">ONNX Runtime or the library refused the model.</exception>
    public static async Task<LoadedModel> LoadAsync(string path, IReadOnlyDictionary<string, int>? batchAxes, CancellationToken cancellationToken)
    {
        var axes = new Dictionary<string, int>(batchAxes ?? new Dictionary<string, int>(), StringComparer.Ordinal);
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw Directory.Exists(full)
                ? new InvalidDataException($"{full} is a directory: pass the .onnx file in it.")
                : new FileNotFoundException($"No model file at {full}.", full);
        }

        // A pipe or a FIFO has no length and cannot be read twice (the header, then ONNX Runtime): opening a FIFO with
        // no writer would also block forever. Only regular files with content are models.
        if (new FileInfo(full).Length == 0)
        {
            throw new InvalidDataException($"{full} is empty or not a regular file (a pipe, a FIFO, a device): pass the model file's path.");
        }

        var header = OnnxHeader.Read(full);
        var services = new ServiceCollection();
        var decisions = new DecisionLog(RegistrationName);
        services.AddSingleton<Microsoft.Extensions.Logging.ILoggerFactory>(decisions);
        services.AddModel(RegistrationName, o =>
        {
            o.Source = ModelSource.FromFile(full);
            o.WarmupRuns = 0;
            o.MaxConcurrency = 1;
            o.SessionCopies = 1;
            o.IntraOpThreads = 1;
            foreach (var (name, axis) in axes)
            {
                o.BatchAxes[name] = axis;
            }
        });
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var provider = services.BuildServiceProvider();
        await using (provider.ConfigureAwait(false))
        {
            try
            {
                await provider.StartModelsAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (ModelLoadException ex) when (ex is not ModelSchemaException && decisions.RuntimeMessages.Count > 0)
            {
                // What ONNX Runtime said before it refused the model often names the cause (an opset older than 7, say).
                throw new ModelLoadException(ex.ModelName, ex.Message + Environment.NewLine + "ONNX Runtime's log while loading:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", decisions.RuntimeMessages), ex);
            }

            var signature = provider.GetRequiredKeyedService<IModelRunner>(RegistrationName).Signature;
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            return new LoadedModel(full, new FileInfo(full).Length, signature, header, elapsed, axes, decisions.Lines, decisions.RuntimeMessages);
        }
    }
}
