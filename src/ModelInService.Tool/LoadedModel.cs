using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Tool;

/// <summary>A model file read through the library: the signature it sees, and the file's header fields.</summary>
/// <param name="Path">The full path of the file.</param>
/// <param name="FileSize">The file's size in bytes.</param>
/// <param name="Signature">The signature as the library reads it (the same <see cref="TensorSpec"/>s its binder sees).</param>
/// <param name="Header">IR version, producer and opset imports.</param>
/// <param name="LoadTime">How long the library took to load it (one ONNX Runtime session, no warm-up).</param>
internal sealed record LoadedModel(string Path, long FileSize, ModelSignature Signature, OnnxHeader Header, TimeSpan LoadTime)
{
    /// <summary>The name the model is registered under while the tool reads it.</summary>
    public const string RegistrationName = "model";

    /// <summary>Loads <paramref name="path"/> with ModelInService (<c>AddModel</c> without C# types, one session, no warm-up).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a protobuf message.</exception>
    /// <exception cref="ModelLoadException">ONNX Runtime or the library refused the model.</exception>
    public static async Task<LoadedModel> LoadAsync(string path, CancellationToken cancellationToken)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"No model file at {full}.", full);
        }

        var header = OnnxHeader.Read(full);
        var services = new ServiceCollection();
        services.AddModel(RegistrationName, o =>
        {
            o.Source = ModelSource.FromFile(full);
            o.WarmupRuns = 0;
            o.MaxConcurrency = 1;
            o.SessionCopies = 1;
            o.IntraOpThreads = 1;
        });
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var provider = services.BuildServiceProvider();
        await using (provider.ConfigureAwait(false))
        {
            await provider.StartModelsAsync(cancellationToken).ConfigureAwait(false);
            var signature = provider.GetRequiredKeyedService<IModelRunner>(RegistrationName).Signature;
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            return new LoadedModel(full, new FileInfo(full).Length, signature, header, elapsed);
        }
    }
}
