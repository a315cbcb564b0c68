using System.Diagnostics;
using Microsoft.Extensions.Logging;
using ModelInService.Sketches;

namespace ModelInService.AI;

/// <summary>One window's profile and its test against the reference window.</summary>
/// <param name="Window">The window's number (0 is the reference).</param>
/// <param name="Count">The embeddings in the window.</param>
/// <param name="NormMedian">The median length of the pooled vectors before normalization.</param>
/// <param name="TokensMedian">The median token count.</param>
/// <param name="UnknownRate">[UNK] tokens over all tokens.</param>
/// <param name="ProjectionMedians">The median of each fixed random projection.</param>
/// <param name="Mmd2">The MMD² against the reference (0 for the reference).</param>
/// <param name="PValue">The permutation p-value (1 for the reference).</param>
/// <param name="Drifted">Whether the p-value is below the threshold.</param>
internal sealed record EmbeddingWindowReport(int Window, long Count, double NormMedian, double TokensMedian, double UnknownRate, double[] ProjectionMedians, double Mmd2, double PValue, bool Drifted);

/// <summary>
/// Profiles embeddings per window and tests each window's reservoir sample against the reference window's
/// (docs/embeddings.md). The work of a window's end (the MMD test, tens of milliseconds at the defaults) runs inline
/// on the call that completes the window, under the lock, so windows are deterministic; handlers are awaited by that
/// call after its embeddings are computed. Thread-safe.
/// </summary>
[DebuggerDisplay("Embedding monitor {_name}: window {_window}, {_count} in window")]
internal sealed class EmbeddingDriftMonitor : IEmbeddingObserver
{
    /// <summary>The model name, for events and logs.</summary>
    private readonly string _name;

    /// <summary>The options (read only).</summary>
    private readonly EmbeddingMonitoringOptions _options;

    /// <summary>Receives drift events.</summary>
    private readonly IModelMonitorHandler[] _handlers;

    /// <summary>Stamps events and measures the window's span.</summary>
    private readonly TimeProvider _time;

    /// <summary>Drift warnings.</summary>
    private readonly ILogger _logger;

    /// <summary>Guards every field below.</summary>
    private readonly Lock _lock = new();

    /// <summary>The reservoir's and the permutations' generator (seeded: reproducible).</summary>
    private readonly Random _random;

    /// <summary>The fixed projection directions [projection][dimension], made at the first embedding.</summary>
    private float[][]? _directions;

    /// <summary>The reference window's reservoir; null until the first window is complete.</summary>
    private List<float[]>? _reference;

    /// <summary>The current window's reservoir.</summary>
    private List<float[]> _reservoir = [];

    /// <summary>Embeddings seen in the current window.</summary>
    private long _count;

    /// <summary>Tokens and [UNK] tokens in the current window.</summary>
    private long _tokens, _unknown;

    /// <summary>The current window's sketches: norm, token count, and one per projection.</summary>
    private KllFloatsSketch _norms = new(), _tokenCounts = new();

    /// <summary>The current window's projection sketches.</summary>
    private KllFloatsSketch[] _projections = [];

    /// <summary>The current window's number.</summary>
    private int _window;

    /// <summary>When the current window started.</summary>
    private DateTimeOffset _windowStart;

    /// <summary>Events of completed windows not yet handed to the handlers.</summary>
    private List<ModelMonitorEvent>? _pending;

    public EmbeddingDriftMonitor(string name, EmbeddingMonitoringOptions options, IEnumerable<IModelMonitorHandler> handlers, TimeProvider time, ILogger logger)
    {
        _name = name;
        _options = options;
        _handlers = [.. handlers];
        _time = time;
        _logger = logger;
        _random = new Random(options.Seed);
        _windowStart = time.GetUtcNow();
    }

    /// <summary>The most window reports kept (the oldest are dropped: a long-running service would keep one per window forever).</summary>
    internal const int MaxReports = 1024;

    /// <summary>Gets the last <see cref="MaxReports"/> completed windows' reports, oldest first.</summary>
    public List<EmbeddingWindowReport> Reports { get; } = [];

    /// <summary>Throws when an option is out of range.</summary>
    public static void Check(EmbeddingMonitoringOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.WindowSize, 20, "WindowSize");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.WindowSize, 1_000_000, "WindowSize");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ReservoirSize, 10, "ReservoirSize");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.ReservoirSize, 1000, "ReservoirSize");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Permutations, 20, "Permutations");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Permutations, 100_000, "Permutations");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Projections, 0, "Projections");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Projections, 64, "Projections");
        if (!(options.PValue > 0 && options.PValue < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.PValue, "EmbeddingMonitoringOptions.PValue must be above 0 and below 1.");
        }

        if (options.HandlerTimeout <= TimeSpan.Zero || options.HandlerTimeout > TimeSpan.FromHours(1))
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.HandlerTimeout, "EmbeddingMonitoringOptions.HandlerTimeout must be above 0 and at most an hour.");
        }
    }

    public void Observe(ReadOnlySpan<float> embedding, float norm, int tokens, int unknownTokens)
    {
        lock (_lock)
        {
            _directions ??= Directions(embedding.Length);
            if (_projections.Length != _directions.Length)
            {
                _projections = NewSketches(_directions.Length);
            }

            _count++;
            _tokens += tokens;
            _unknown += unknownTokens;
            _norms.Update(norm);
            _tokenCounts.Update(tokens);
            for (var p = 0; p < _directions.Length; p++)
            {
                _projections[p].Update(Dot(_directions[p], embedding));
            }

            // Algorithm R: the first ReservoirSize are kept, then each replaces a random slot with probability size/count.
            if (_reservoir.Count < _options.ReservoirSize)
            {
                _reservoir.Add(embedding.ToArray());
            }
            else
            {
                var slot = _random.NextInt64(_count);
                if (slot < _options.ReservoirSize)
                {
                    _reservoir[(int)slot] = embedding.ToArray();
                }
            }

            if (_count >= _options.WindowSize)
            {
                CloseWindow();
            }
        }
    }

    public async ValueTask DeliverAsync(CancellationToken cancellationToken)
    {
        List<ModelMonitorEvent>? events;
        lock (_lock)
        {
            events = _pending;
            _pending = null;
        }

        if (events is null)
        {
            return;
        }

        foreach (var monitorEvent in events)
        {
            foreach (var handler in _handlers)
            {
                // Isolated as the core monitor's handlers are: one that throws or hangs is logged and abandoned, the
                // others still run, and the caller's embeddings are returned (a throwing handler failed the call).
                using var timeout = new CancellationTokenSource(_options.HandlerTimeout, _time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
                try
                {
                    await handler.HandleAsync(monitorEvent, linked.Token).WaitAsync(linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                {
                    EmbeddingLog.HandlerTimedOut(_logger, _name, handler.GetType().Name, _options.HandlerTimeout);
                }
#pragma warning disable CA1031 // Isolation: a failing handler must not fail the caller's request nor stop the others.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    EmbeddingLog.HandlerFailed(_logger, _name, handler.GetType().Name, ex);
                }
            }
        }
    }

    /// <summary>Ends the window: reports it, tests it against the reference (or makes it the reference), starts the next.</summary>
    private void CloseWindow()
    {
        var now = _time.GetUtcNow();
        double mmd2 = 0, pValue = 1;
        if (_reference is not null)
        {
            (mmd2, pValue) = MmdTest.Run(_reference, _reservoir, _options.Permutations, _random);
        }

        var medians = new double[_projections.Length];
        for (var p = 0; p < medians.Length; p++)
        {
            medians[p] = _projections[p].GetQuantile(0.5);
        }

        var drifted = _reference is not null && pValue < _options.PValue;
        var report = new EmbeddingWindowReport(_window, _count, _norms.GetQuantile(0.5), _tokenCounts.GetQuantile(0.5), _tokens == 0 ? 0 : (double)_unknown / _tokens, medians, mmd2, pValue, drifted);
        Reports.Add(report);
        if (Reports.Count > MaxReports)
        {
            Reports.RemoveAt(0);
        }
        if (drifted)
        {
            EmbeddingLog.Drift(_logger, _name, _window, pValue, mmd2, report.NormMedian, report.TokensMedian, report.UnknownRate);
            (_pending ??= []).Add(new ModelMonitorEvent
            {
                ModelName = _name,
                Kind = ModelMonitorEventKind.DatasetDriftDetected,
                Window = now - _windowStart,
                Feature = "embedding",
                Rule = "mmd",
                Value = pValue,
                Threshold = _options.PValue,
                SampleSize = _count,
                Timestamp = now,
                Message = $"Embedding model '{_name}': window {_window} drifted from the reference (MMD² {mmd2:G4}, p = {pValue:G3} < {_options.PValue}; median norm {report.NormMedian:G4}, median tokens {report.TokensMedian:G4}, unknown-token rate {report.UnknownRate:P2}).",
            });
        }

        _reference ??= _reservoir;
        _reservoir = [];
        _count = 0;
        _tokens = 0;
        _unknown = 0;
        _norms = new KllFloatsSketch();
        _tokenCounts = new KllFloatsSketch();
        _projections = NewSketches(_projections.Length);
        _window++;
        _windowStart = now;
    }

    private static KllFloatsSketch[] NewSketches(int count)
    {
        var sketches = new KllFloatsSketch[count];
        for (var i = 0; i < count; i++)
        {
            sketches[i] = new KllFloatsSketch();
        }

        return sketches;
    }

    /// <summary>Unit Gaussian directions (Box-Muller), fixed by the seed.</summary>
    private float[][] Directions(int dimensions)
    {
        var random = new Random(_options.Seed + 1);
        var directions = new float[_options.Projections][];
        for (var p = 0; p < directions.Length; p++)
        {
            var direction = new float[dimensions];
            for (var i = 0; i < dimensions; i++)
            {
                var u1 = 1.0 - random.NextDouble();
                direction[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * random.NextDouble()));
            }

            Pooling.Normalize(direction, scale: true);
            directions[p] = direction;
        }

        return directions;
    }

    private static float Dot(float[] a, ReadOnlySpan<float> b)
    {
        var sum = 0f;
        for (var i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }
}
