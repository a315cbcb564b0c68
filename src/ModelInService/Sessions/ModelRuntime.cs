using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using ModelInService.Schema;

namespace ModelInService.Sessions;

/// <summary>
/// One loaded model: its ONNX Runtime sessions (copies), the gate that bounds concurrent runs, and the compiled
/// binder. Runs are synchronous on the caller's thread once a slot is held; waiting for a slot is asynchronous.
/// </summary>
[DebuggerDisplay("{Name}: {_sessions.Length} copies, {MaxConcurrency} concurrent runs")]
internal sealed class ModelRuntime : IDisposable
{
    /// <summary>The sessions (model copies). Runs are spread round-robin; <see cref="InferenceSession.Run(RunOptions, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue}, IReadOnlyCollection{string})"/> is thread-safe.</summary>
    private readonly InferenceSession[] _sessions;

    /// <summary>Weights pre-packed once and shared by every copy; disposed after the sessions.</summary>
    private readonly PrePackedWeightsContainer? _prePacked;

    /// <summary>Bounds concurrent runs to <see cref="MaxConcurrency"/>; never disposed so late callers cannot hit ObjectDisposedException.</summary>
    private readonly SemaphoreSlim _gate;

    /// <summary>
    /// RunOptions reused between runs (never by two runs at once: Terminate stops every run using one). An instance
    /// whose Terminate flag was set by a cancellation is disposed instead of returned.
    /// </summary>
    private readonly ConcurrentQueue<RunOptions> _runOptions = new();

    /// <summary>Source of <see cref="Version"/>: every load in the process gets a new number.</summary>
    private static long s_versions;

    /// <summary>Round-robin cursor over <see cref="_sessions"/>.</summary>
    private int _next;

    /// <summary>1 once disposal started; checked after a slot is acquired.</summary>
    private int _disposed;

    public ModelRuntime(string name, InferenceSession[] sessions, PrePackedWeightsContainer? prePacked, ModelSignature signature, IModelBinder? binder, int maxConcurrency, string source = "", string sha256 = "")
    {
        Name = name;
        _sessions = sessions;
        _prePacked = prePacked;
        Signature = signature;
        Binder = binder;
        MaxConcurrency = maxConcurrency;
        _gate = new SemaphoreSlim(maxConcurrency, maxConcurrency);
        Version = Interlocked.Increment(ref s_versions);
        Info = new ModelVersionInfo(Version, source, sha256, DateTimeOffset.UtcNow, signature.Version);
    }

    /// <summary>What this generation is: its number, source, content hash and load time.</summary>
    public ModelVersionInfo Info { get; internal set; }

    /// <summary>The resolved file the model was loaded from, or null when it came from bytes, a stream or a resource.</summary>
    public string? FilePath { get; internal set; }

    /// <summary>The source this generation was loaded from: what "reload the same source" reads again while it serves (after a rollback or a promotion too).</summary>
    public ModelSource? Source { get; internal set; }

    /// <summary>Whether the warm-up runs failed (logged, served anyway at the first load): a reload is then not held to them.</summary>
    public bool WarmupFailed { get; internal set; }

    /// <summary>A number unique to this load: cache keys include it, so a reloaded model never answers from the old one's entries.</summary>
    public long Version { get; }

    public string Name { get; }

    public ModelSignature Signature { get; }

    /// <summary>The typed binder, or null when the model was registered without types.</summary>
    public IModelBinder? Binder { get; }

    public int MaxConcurrency { get; }

    public int Copies => _sessions.Length;

    /// <summary>Takes a run slot without waiting.</summary>
    public bool TryEnter()
    {
        if (!_gate.Wait(0))
        {
            return false;
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            _gate.Release();
            throw NotReady();
        }

        return true;
    }

    /// <summary>Waits for a run slot.</summary>
    public async ValueTask EnterAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (Volatile.Read(ref _disposed) != 0)
        {
            _gate.Release();
            throw NotReady();
        }
    }

    public void Exit() => _gate.Release();

    /// <summary>Runs the model once. The caller holds a slot (<see cref="TryEnter"/>/<see cref="EnterAsync"/>).</summary>
    public IDisposableReadOnlyCollection<OrtValue> Run(IReadOnlyCollection<string> inputNames, IReadOnlyCollection<OrtValue> inputs, IReadOnlyCollection<string> outputNames, CancellationToken cancellationToken)
    {
        var session = _sessions.Length == 1 ? _sessions[0] : _sessions[(int)((uint)Interlocked.Increment(ref _next) % (uint)_sessions.Length)];
        if (!_runOptions.TryDequeue(out var runOptions))
        {
            runOptions = new RunOptions();
        }

        var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static state => ((RunOptions)state!).Terminate = true, runOptions)
            : default;
        try
        {
            return session.Run(runOptions, inputNames, inputs, outputNames);
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The prediction was canceled while the model was running.", cancellationToken);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ModelInferenceException(Name, $"ONNX Runtime failed running model '{Name}': {ex.Message}", ex);
        }
        finally
        {
            // Dispose waits for a callback in progress, so Terminate is final when read below.
            registration.Dispose();
            if (runOptions.Terminate)
            {
                runOptions.Dispose();
            }
            else
            {
                _runOptions.Enqueue(runOptions);
            }
        }
    }

    /// <summary>Stops new runs, waits up to <paramref name="drainTimeout"/> for running ones, then releases native resources.</summary>
    public void Dispose(TimeSpan drainTimeout)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var deadline = Stopwatch.GetTimestamp() + (long)(drainTimeout.TotalSeconds * Stopwatch.Frequency);
        var acquired = 0;
        for (; acquired < MaxConcurrency; acquired++)
        {
            var remaining = (deadline - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
            if (!_gate.Wait((int)Math.Max(0, remaining)))
            {
                break;
            }
        }

        if (acquired < MaxConcurrency)
        {
            // Runs are still in flight: disposing the sessions under them would crash the process. Leave them to the
            // finalizer, and give back what we took so waiters wake up, see the disposed flag and fail cleanly.
            if (acquired > 0)
            {
                _gate.Release(acquired);
            }

            return;
        }

        foreach (var session in _sessions)
        {
            session.Dispose();
        }

        _prePacked?.Dispose();
        while (_runOptions.TryDequeue(out var runOptions))
        {
            runOptions.Dispose();
        }

        // Wake every waiter: each takes a slot, sees the disposed flag and throws ModelNotReadyException.
        _gate.Release(MaxConcurrency);
    }

    public void Dispose() => Dispose(TimeSpan.FromSeconds(30));

    private ModelNotReadyException NotReady() => new(Name, $"Model '{Name}' is shutting down and no longer accepts predictions.");
}
