using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelInService.Schema;

namespace ModelInService.Sessions;

/// <summary>Creates the sessions of a model, reads its signature, binds the typed schema and warms it up.</summary>
internal static class ModelLoader
{
    /// <summary>Execution providers by the name users configure, with ONNX Runtime's own name.</summary>
    internal static readonly IReadOnlyDictionary<string, string> Providers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["CPU"] = "CPUExecutionProvider",
        ["CUDA"] = "CUDAExecutionProvider",
        ["TensorRT"] = "TensorrtExecutionProvider",
        ["DirectML"] = "DmlExecutionProvider",
        ["OpenVINO"] = "OpenVINOExecutionProvider",
        ["ROCm"] = "ROCMExecutionProvider",
        ["CoreML"] = "CoreMLExecutionProvider",
        ["DNNL"] = "DnnlExecutionProvider",
        ["XNNPACK"] = "XnnpackExecutionProvider",
    };

    /// <param name="name">The registered name.</param>
    /// <param name="options">The options, with the source to load.</param>
    /// <param name="contentRoot">Where relative paths resolve.</param>
    /// <param name="bind">Creates the typed binder, or null for an untyped model.</param>
    /// <param name="logger">Where the load is logged.</param>
    /// <param name="strictWarmup">Whether a failed warm-up fails the load (a reload while a version that passed its warm-up serves) instead of being logged and served anyway.</param>
    public static ModelRuntime Load(string name, ModelOptions options, string? contentRoot, Func<string, ModelSignature, ModelOptions, IModelBinder>? bind, ILogger logger, bool strictWarmup = false)
    {
        var source = options.Source ?? throw new ModelLoadException(name, $"Model '{name}' has no source; set ModelOptions.Source.");
        var started = Stopwatch.GetTimestamp();
        var path = source.ResolvePath(contentRoot);
        var description = path ?? source.Description;
        Log.ModelLoading(logger, name, description);

        byte[]? bytes = null;
        try
        {
            if (path is null)
            {
                bytes = source.Read(contentRoot);
            }
            else if (!File.Exists(path))
            {
                source.Read(contentRoot); // Throws FileNotFoundException naming every place looked at.
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            throw new ModelLoadException(name, $"Model '{name}' could not be read from {description}: {ex.Message}", ex);
        }

        // The file's hash before the copies are created and after: a file replaced while it loads (a deploy renaming a new
        // model over it) would otherwise leave copies of two models in one generation, or a hash naming the other file.
        var hashBefore = path is null ? null : Hash(path, null);
        OnnxRuntimeLog.Attach(name, logger);
        var threads = ThreadPlan.For(options);
        var provider = ModelLoader.Providers[options.ExecutionProvider];
        if (options.UseSharedAllocator)
        {
            SharedAllocator.EnsureRegistered(name, options.SharedArenaMaxBytes, logger);
        }

        var zipMaps = options.RemoveZipMap ? FindZipMaps(name, path, bytes, logger) : null;
        var sessionPath = zipMaps is null ? path : null;
        var sessionBytes = zipMaps is null ? bytes : zipMaps.Model;
        var sessions = new InferenceSession[threads.Copies];
        PrePackedWeightsContainer? prePacked = threads.Copies > 1 ? new PrePackedWeightsContainer() : null;
        var created = 0;
        using var loading = OnnxRuntimeLog.BeginLoad(logger);
        try
        {
            for (; created < sessions.Length; created++)
            {
                try
                {
                    sessions[created] = CreateSession(name, options, threads, sessionPath, sessionBytes, description, prePacked, logger, ref provider);
                }
                catch (ModelLoadException ex) when (created == 0 && zipMaps is not null)
                {
                    // The edited graph should load whenever the original does; if it ever does not, serve the original.
                    Log.ZipMapKept(logger, name, "ONNX Runtime refused the model without it: " + ex.Message);
                    (zipMaps, sessionPath, sessionBytes) = (null, path, bytes);
                    sessions[created] = CreateSession(name, options, threads, sessionPath, sessionBytes, description, prePacked, logger, ref provider);
                }
            }

            var signature = ReadSignature(sessions[0]);
            if (zipMaps is not null)
            {
                signature = WithZipMaps(signature, zipMaps);
                foreach (var (output, removed) in zipMaps.Removed)
                {
                    Log.ZipMapRemoved(logger, name, output, removed.Source.TensorName, removed.Source.Width);
                }
            }

            signature = DeclaredTypes.Mark(signature, path, bytes);
            var binder = bind?.Invoke(name, signature, options);
            signature.Batching = binder?.Batching ?? AnalyzeBatching(name, signature, options);
            var sha256 = Hash(path, bytes);
            if (hashBefore is not null && hashBefore != sha256)
            {
                throw new ModelLoadException(name, $"Model '{name}': {path} changed while it was being loaded (SHA-256 {hashBefore} before, {sha256} after), so its copies could come from different files. Load it again once the file is complete (a watched file reloads on its next change).", null);
            }

            var runtime = new ModelRuntime(name, sessions, prePacked, signature, binder, threads.MaxConcurrency, description, sha256) { FilePath = path, Source = source };
            runtime.WarmupFailed = !Warmup(runtime, sessions, options.WarmupRuns, logger, strictWarmup);
            var elapsedMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            Log.ModelLoaded(logger, name, elapsedMs, sessions.Length, threads.MaxConcurrency, threads.IntraOpThreads, provider,
                Describe(signature.Inputs), Describe(signature.Outputs), signature.Batching.ToString());
            return runtime;
        }
        catch
        {
            for (var i = 0; i < created; i++)
            {
                sessions[i].Dispose();
            }

            prePacked?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The model without its removable ZipMap nodes (<see cref="ZipMapRemoval"/>), or null when it has none or
    /// <see cref="ModelOptions.RemoveZipMap"/> is off; a ZipMap that is kept is logged with the reason.
    /// </summary>
    private static ZipMapRemoval.Result? FindZipMaps(string name, string? path, byte[]? bytes, ILogger logger)
    {
        try
        {
            if (bytes is null && (path is null || new FileInfo(path).Length > ZipMapRemoval.MaxModelBytes))
            {
                return null;
            }

            var result = ZipMapRemoval.TryRemove(bytes ?? File.ReadAllBytes(path!), out var kept);
            if (kept is not null)
            {
                Log.ZipMapKept(logger, name, kept);
            }

            return result;
        }
        catch (IOException)
        {
            return null; // Reading failed: ONNX Runtime reads the file next and reports what is wrong.
        }
    }

    /// <summary>
    /// The signature as the original model declares it: each removed ZipMap's output is back in its place as a
    /// sequence of maps (run as its input tensor), and the input tensor the edited graph added is not listed.
    /// </summary>
    private static ModelSignature WithZipMaps(ModelSignature signature, ZipMapRemoval.Result zipMaps)
    {
        var outputs = new List<TensorSpec>(zipMaps.GraphOutputs.Count);
        foreach (var output in zipMaps.GraphOutputs)
        {
            if (zipMaps.Removed.TryGetValue(output, out var removed))
            {
                outputs.Add(new TensorSpec(output, ModelValueKind.SequenceOfMaps, ModelElementType.Float32, [], [], removed.KeyType) { ZipMap = removed.Source });
            }
            else if (signature.FindOutput(output) is { } spec)
            {
                outputs.Add(spec);
            }
        }

        return new ModelSignature(signature.Inputs, outputs, signature.Metadata, signature.ProducerName, signature.Version);
    }

    private static ModelBatchingInfo AnalyzeBatching(string name, ModelSignature signature, ModelOptions options)
    {
        var errors = new List<string>();
        var batching = BatchAxisAnalysis.Analyze(signature, options, null, errors);
        return errors.Count > 0 ? throw new ModelSchemaException(name, errors) : batching;
    }

    /// <summary>Tensors as the logs show them: <c>name type [shape]</c>, comma-separated.</summary>
    internal static string Describe(IReadOnlyList<TensorSpec> tensors) => string.Join(", ", tensors.Select(t => $"{t.Name} {t}"));

    /// <summary>The first 16 hex digits of the model's SHA-256: which file is live, at a glance.</summary>
    private static string Hash(string? path, byte[]? bytes)
    {
        try
        {
            byte[] digest;
            if (path is not null)
            {
                using var stream = File.OpenRead(path);
                digest = System.Security.Cryptography.SHA256.HashData(stream);
            }
            else
            {
                digest = System.Security.Cryptography.SHA256.HashData(bytes!);
            }

            return Convert.ToHexStringLower(digest)[..16];
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static InferenceSession CreateSession(string name, ModelOptions options, ThreadPlan threads, string? path, byte[]? bytes, string description, PrePackedWeightsContainer? prePacked, ILogger logger, ref string provider)
    {
        using var sessionOptions = CreateSessionOptions(name, options, threads, logger, ref provider);
        var onCpu = provider == "CPUExecutionProvider";
        try
        {
            return Create(sessionOptions, onCpu);
        }
        catch (OnnxRuntimeException ex) when (!onCpu && !options.ExecutionProviderRequired)
        {
            // The provider registered but could not start (e.g. its native libraries are missing): retry on CPU.
            Log.ExecutionProviderFallback(logger, name, options.ExecutionProvider, ex.Message);
            provider = "CPUExecutionProvider";
            using var cpuOptions = CreateSessionOptions(name, options, threads, logger, ref provider);
            return Create(cpuOptions, cpu: true);
        }

        InferenceSession Create(SessionOptions so, bool cpu)
        {
            try
            {
                if (path is not null)
                {
                    return prePacked is null ? new InferenceSession(path, so) : new InferenceSession(path, so, prePacked);
                }

                return prePacked is null ? new InferenceSession(bytes!, so) : new InferenceSession(bytes!, so, prePacked);
            }
            catch (OnnxRuntimeException ex) when (cpu || options.ExecutionProviderRequired)
            {
                // ONNX Runtime's C# API builds the inputs' and outputs' metadata while it creates the session and refuses
                // element types it has no .NET type for (float8, int4) without naming the value: name it from the file.
                var unsupported = ex.Message.Contains("Unregistered TensorElementType", StringComparison.Ordinal) ? DeclaredTypes.DescribeUnsupported(path, bytes) : null;
                var why = unsupported is null ? "" : $" ({unsupported}: an element type ONNX Runtime's C# API, and so ModelInService, cannot carry; cast it to a supported type in the model, e.g. float16 or float32)";
                throw new ModelLoadException(name, $"Model '{name}' could not be loaded from {description}: ONNX Runtime {OnnxRuntimeLog.Environment().GetVersionString()} refused it: {ex.Message}{why}", ex);
            }
        }
    }

    private static SessionOptions CreateSessionOptions(string name, ModelOptions options, ThreadPlan threads, ILogger logger, ref string provider)
    {
        var so = new SessionOptions
        {
            LogId = name,
            GraphOptimizationLevel = options.GraphOptimizationLevel,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = threads.IntraOpThreads,
            InterOpNumThreads = 1,
            EnableCpuMemArena = options.EnableMemoryArena,
            EnableMemoryPattern = options.EnableMemoryPattern,
        };
        try
        {
            so.AddSessionConfigEntry("session.intra_op.allow_spinning", threads.AllowSpinning ? "1" : "0");
            so.AddSessionConfigEntry("session.inter_op.allow_spinning", "0");
            if (options.UseSharedAllocator)
            {
                so.AddSessionConfigEntry("session.use_env_allocators", "1");
            }

            if (provider != "CPUExecutionProvider")
            {
                var reason = AppendProvider(so, options, provider);
                if (reason is not null)
                {
                    if (options.ExecutionProviderRequired)
                    {
                        throw new ModelLoadException(name,
                            $"Execution provider '{options.ExecutionProvider}' is required for model '{name}' but is not available: {reason}. "
                            + "Reference the ONNX Runtime package built with it (e.g. Microsoft.ML.OnnxRuntime.Gpu for CUDA) and install its native libraries, "
                            + "or set ExecutionProviderRequired = false to fall back to CPU.");
                    }

                    Log.ExecutionProviderFallback(logger, name, options.ExecutionProvider, reason);
                    provider = "CPUExecutionProvider";
                }
            }

            options.ConfigureSessionOptions?.Invoke(so);
            return so;
        }
        catch
        {
            so.Dispose();
            throw;
        }
    }

    /// <summary>Appends the provider; returns why it is unavailable, or null on success.</summary>
    private static string? AppendProvider(SessionOptions so, ModelOptions options, string provider)
    {
        var available = OnnxRuntimeLog.Environment().GetAvailableProviders();
        if (Array.IndexOf(available, provider) < 0)
        {
            return $"{provider} is not in this ONNX Runtime build (available: {string.Join(", ", available)})";
        }

        try
        {
            switch (provider)
            {
                case "CUDAExecutionProvider":
                    using (var cuda = new OrtCUDAProviderOptions())
                    {
                        var settings = new Dictionary<string, string>(options.ExecutionProviderOptions) { ["device_id"] = options.DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture) };
                        cuda.UpdateOptions(settings);
                        so.AppendExecutionProvider_CUDA(cuda);
                    }

                    break;
                case "TensorrtExecutionProvider":
                    using (var trt = new OrtTensorRTProviderOptions())
                    {
                        var settings = new Dictionary<string, string>(options.ExecutionProviderOptions) { ["device_id"] = options.DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture) };
                        trt.UpdateOptions(settings);
                        so.AppendExecutionProvider_Tensorrt(trt);
                    }

                    break;
                case "DmlExecutionProvider":
                    so.AppendExecutionProvider_DML(options.DeviceId);
                    break;
                case "ROCMExecutionProvider":
                    so.AppendExecutionProvider_ROCm(options.DeviceId);
                    break;
                case "DnnlExecutionProvider":
                    so.AppendExecutionProvider_Dnnl(1);
                    break;
                case "OpenVINOExecutionProvider":
                    so.AppendExecutionProvider("OpenVINO", new Dictionary<string, string>(options.ExecutionProviderOptions));
                    break;
                case "CoreMLExecutionProvider":
                    so.AppendExecutionProvider("CoreML", new Dictionary<string, string>(options.ExecutionProviderOptions));
                    break;
                case "XnnpackExecutionProvider":
                    so.AppendExecutionProvider("XNNPACK", new Dictionary<string, string>(options.ExecutionProviderOptions));
                    break;
                default:
                    return $"{provider} cannot be configured by this library";
            }

            return null;
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException or NotSupportedException)
        {
            return ex.Message;
        }
    }

    internal static ModelSignature ReadSignature(InferenceSession session)
    {
        var inputs = new List<TensorSpec>();
        foreach (var name in session.InputNames)
        {
            inputs.Add(ToSpec(name, session.InputMetadata[name]));
        }

        var outputs = new List<TensorSpec>();
        foreach (var name in session.OutputNames)
        {
            outputs.Add(ToSpec(name, session.OutputMetadata[name]));
        }

        var metadata = session.ModelMetadata;
        return new ModelSignature(inputs, outputs, new Dictionary<string, string>(metadata.CustomMetadataMap), metadata.ProducerName, metadata.Version);
    }

    private static TensorSpec ToSpec(string name, NodeMetadata meta)
    {
        if (meta.OnnxValueType == OnnxValueType.ONNX_TYPE_TENSOR)
        {
            var dims = new long[meta.Dimensions.Length];
            for (var i = 0; i < dims.Length; i++)
            {
                dims[i] = meta.Dimensions[i];
            }

            var symbolic = new string[dims.Length];
            for (var i = 0; i < symbolic.Length; i++)
            {
                symbolic[i] = i < meta.SymbolicDimensions.Length ? meta.SymbolicDimensions[i] ?? "" : "";
            }

            var element = OrtElementTypes.FromOrt(meta.ElementDataType);
            return new TensorSpec(name, ModelValueKind.Tensor, element, dims, symbolic)
            {
                OnnxTypeName = element == ModelElementType.Unknown ? OrtElementTypes.OnnxName(meta.ElementDataType) : null,
            };
        }

        if (meta.OnnxValueType == OnnxValueType.ONNX_TYPE_SEQUENCE)
        {
            var element = meta.AsSequenceMetadata().ElementMeta;
            if (element.OnnxValueType == OnnxValueType.ONNX_TYPE_MAP)
            {
                var map = element.AsMapMetadata();
                return new TensorSpec(name, ModelValueKind.SequenceOfMaps, OrtElementTypes.FromOrt(map.ValueMetadata.ElementDataType), [], [], OrtElementTypes.FromOrt(map.KeyDataType));
            }
        }

        return new TensorSpec(name, ModelValueKind.Other, ModelElementType.Unknown, [], []) { OnnxTypeName = OnnxType(meta) };
    }

    /// <summary>ONNX's spelling of a value type the library does not carry: <c>seq(tensor(float32))</c>, <c>map(int64,seq(...))</c>, <c>optional(...)</c>.</summary>
    private static string OnnxType(NodeMetadata meta, int depth = 0)
    {
        if (depth > 8)
        {
            return "...";
        }

        try
        {
            return meta.OnnxValueType switch
            {
                OnnxValueType.ONNX_TYPE_TENSOR => "tensor(" + OrtElementTypes.OnnxName(meta.ElementDataType) + ")",
                OnnxValueType.ONNX_TYPE_SPARSETENSOR => "sparse_tensor(" + OrtElementTypes.OnnxName(meta.ElementDataType) + ")",
                OnnxValueType.ONNX_TYPE_SEQUENCE => "seq(" + OnnxType(meta.AsSequenceMetadata().ElementMeta, depth + 1) + ")",
                OnnxValueType.ONNX_TYPE_MAP => "map(" + OrtElementTypes.OnnxName(meta.AsMapMetadata().KeyDataType) + "," + OnnxType(meta.AsMapMetadata().ValueMetadata, depth + 1) + ")",
                OnnxValueType.ONNX_TYPE_OPTIONAL => "optional(" + OnnxType(meta.AsOptionalMetadata().ElementMeta, depth + 1) + ")",
                _ => "non-tensor value",
            };
        }
        catch (OnnxRuntimeException)
        {
            return "non-tensor value"; // Metadata ONNX Runtime cannot describe further.
        }
    }

    /// <summary>Runs every copy with zeros (empty strings) shaped like the inputs, free dimensions set to 1.</summary>
    /// <returns>False when a run failed (logged; thrown as a <see cref="ModelLoadException"/> when <paramref name="strict"/>).</returns>
    private static bool Warmup(ModelRuntime runtime, InferenceSession[] sessions, int runs, ILogger logger, bool strict)
    {
        if (runs <= 0)
        {
            return true;
        }

        var inputs = runtime.Signature.Inputs;
        foreach (var spec in inputs)
        {
            if (spec.Kind != ModelValueKind.Tensor || spec.ElementType == ModelElementType.Unknown)
            {
                Log.WarmupSkipped(logger, runtime.Name, spec.Name);
                return true;
            }
        }

        var names = inputs.Select(i => i.Name).ToArray();
        var outputNames = runtime.Signature.Outputs.Select(o => o.RunName).ToArray();
        var values = new OrtValue[inputs.Count];
        try
        {
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = CreateZeros(inputs[i]);
            }

            using var runOptions = new RunOptions();
            foreach (var session in sessions)
            {
                for (var r = 0; r < runs; r++)
                {
                    using var results = session.Run(runOptions, names, values, outputNames);
                }
            }
        }
        catch (OnnxRuntimeException ex) when (strict)
        {
            throw new ModelLoadException(runtime.Name, $"Model '{runtime.Name}' failed its warm-up run (zeros shaped like the inputs), which the version serving now passes, so it would likely fail requests too: {ex.Message}", ex);
        }
        catch (OnnxRuntimeException ex)
        {
            Log.WarmupFailed(logger, runtime.Name, ex);
            return false;
        }
        finally
        {
            foreach (var value in values)
            {
                value?.Dispose();
            }
        }

        return true;
    }

    internal static OrtValue CreateZeros(TensorSpec spec)
    {
        var shape = new long[spec.Dimensions.Count];
        for (var i = 0; i < shape.Length; i++)
        {
            shape[i] = spec.Dimensions[i] < 0 ? 1 : spec.Dimensions[i];
        }

        if (spec.ElementType == ModelElementType.String)
        {
            return OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
        }

        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, OrtElementTypes.ToOrt(spec.ElementType), shape);
        value.GetTensorMutableRawData().Clear();
        return value;
    }
}

/// <summary>Concurrency and thread counts derived from the options and the core count.</summary>
internal readonly record struct ThreadPlan(int MaxConcurrency, int IntraOpThreads, bool AllowSpinning, int Copies)
{
    public static ThreadPlan For(ModelOptions options)
    {
        var cores = Environment.ProcessorCount;
        var concurrency = options.MaxConcurrency > 0 ? options.MaxConcurrency : cores;
        var intraOp = options.IntraOpThreads > 0 ? options.IntraOpThreads : Math.Max(1, cores / concurrency);
        var spinning = options.AllowSpinning ?? (concurrency == 1 && intraOp > 1);
        var copies = options.SessionCopies > 0 ? options.SessionCopies : Math.Max(1, Math.Min(concurrency, cores / intraOp));
        return new ThreadPlan(concurrency, intraOp, spinning, copies);
    }
}
