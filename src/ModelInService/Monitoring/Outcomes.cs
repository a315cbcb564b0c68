using System.Diagnostics;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ModelInService.Monitoring;

/// <summary>
/// Prediction ids as kept by the monitor: a seeded 128-bit XxHash of the id's UTF-16 chars, so pending outcomes and
/// the evaluation store's index cost 16 bytes per id whatever its length. The seed is random per process, so ids
/// that collide cannot be chosen in advance.
/// </summary>
internal static class PredictionIds
{
    /// <summary>Ids longer than this (in chars) are not kept: the row is profiled, its outcome cannot be joined.</summary>
    public const int MaxLength = 1024;

    private static readonly long s_seed = BitConverter.ToInt64(RandomNumberGenerator.GetBytes(8));

    public static UInt128 Key(string id) => XxHash128.HashToUInt128(MemoryMarshal.AsBytes(id.AsSpan()), s_seed);
}

/// <summary>A prediction with an id, waiting for its outcome.</summary>
internal readonly record struct PendingOutcome(long Interval, bool IsClassification, string? Label, double Value, double Top);

/// <summary>
/// Predictions waiting for their outcome, by id key (<see cref="PredictionIds"/>); bounded, forgetting the oldest first. Not thread-safe: used under
/// the monitor's state lock.
/// </summary>
[DebuggerDisplay("{_byId.Count} pending")]
internal sealed class OutcomeJoin(int capacity)
{
    /// <summary>Pending predictions by id, with their node in <see cref="_order"/>.</summary>
    private readonly Dictionary<UInt128, (PendingOutcome Pending, LinkedListNode<UInt128> Node)> _byId = [];

    /// <summary>Ids oldest first, for eviction.</summary>
    private readonly LinkedList<UInt128> _order = new();

    public int Count => _byId.Count;

    public void Add(UInt128 id, PendingOutcome pending)
    {
        if (capacity <= 0)
        {
            return;
        }

        if (_byId.Remove(id, out var existing))
        {
            _order.Remove(existing.Node);
        }

        _byId[id] = (pending, _order.AddLast(id));
        while (_byId.Count > capacity)
        {
            var oldest = _order.First!;
            _order.RemoveFirst();
            _byId.Remove(oldest.Value);
        }
    }

    public bool Contains(UInt128 id) => _byId.ContainsKey(id);

    public bool TryPeek(UInt128 id, out PendingOutcome pending)
    {
        if (_byId.TryGetValue(id, out var entry))
        {
            pending = entry.Pending;
            return true;
        }

        pending = default;
        return false;
    }

    public bool TryTake(UInt128 id, out PendingOutcome pending)
    {
        if (_byId.Remove(id, out var entry))
        {
            _order.Remove(entry.Node);
            pending = entry.Pending;
            return true;
        }

        pending = default;
        return false;
    }
}

/// <summary>
/// A bounded sample of predictions that prefers uncertain ones: weighted reservoir sampling (Efraimidis-Spirakis
/// A-Res) with weight 1 − margin (or 1 − top probability; 1 for regressions), so the sample is random but
/// low-confidence predictions are much likelier to be kept. Not thread-safe: used under the monitor's state lock.
/// </summary>
[DebuggerDisplay("{_heap.Count} of {_capacity} samples")]
internal sealed class EvaluationStore
{
    private readonly int _capacity;

    /// <summary>Seeded: the same stream keeps the same sample.</summary>
    private readonly Random _random;

    /// <summary>The kept samples, smallest key first (the next to be replaced).</summary>
    private readonly PriorityQueue<EvaluationSample, double> _heap = new();

    /// <summary>Kept samples with an id, for outcome updates.</summary>
    private readonly Dictionary<UInt128, EvaluationSample> _byId = [];

    private readonly Dictionary<EvaluationSample, string> _outcomes = new(ReferenceEqualityComparer.Instance);

    public EvaluationStore(int capacity, int seed)
    {
        _capacity = capacity;
        _random = new Random(seed);
    }

    public bool Enabled => _capacity > 0;

    public void Offer(in RowFacts facts, UInt128 idKey, DateTimeOffset timestamp, Func<Dictionary<string, object?>> inputs)
    {
        if (_capacity <= 0)
        {
            return;
        }

        var uncertainty = !double.IsNaN(facts.Margin) ? 1 - facts.Margin : !double.IsNaN(facts.Top) ? 1 - facts.Top : 1;
        var weight = Math.Clamp(uncertainty, 0.01, 1);
#pragma warning disable CA5394 // Sampling, not security.
        var key = Math.Pow(_random.NextDouble(), 1 / weight);
#pragma warning restore CA5394
        if (_heap.Count >= _capacity && (!_heap.TryPeek(out _, out var smallest) || key <= smallest))
        {
            return;
        }

        var sample = new EvaluationSample(facts.Id, timestamp, inputs(), facts.Label ?? (double.IsNaN(facts.Value) ? null : facts.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)), facts.Top, facts.Margin, null);
        if (_heap.Count >= _capacity)
        {
            var evicted = _heap.Dequeue();
            if (evicted.PredictionId is { } evictedId && _byId.TryGetValue(PredictionIds.Key(evictedId), out var current) && ReferenceEquals(current, evicted))
            {
                _byId.Remove(PredictionIds.Key(evictedId));
            }

            _outcomes.Remove(evicted);
        }

        _heap.Enqueue(sample, key);
        if (sample.PredictionId is not null)
        {
            _byId[idKey] = sample;
        }
    }

    public void SetOutcome(UInt128 id, string outcome)
    {
        if (_byId.TryGetValue(id, out var sample))
        {
            _outcomes[sample] = outcome;
        }
    }

    /// <summary>The samples, most uncertain first, with outcomes filled in.</summary>
    public List<EvaluationSample> Export() =>
        [.. _heap.UnorderedItems
            .Select(e => _outcomes.TryGetValue(e.Element, out var outcome) ? e.Element with { Outcome = outcome } : e.Element)
            .OrderBy(s => double.IsNaN(s.Margin) ? (double.IsNaN(s.TopProbability) ? 1 : s.TopProbability) : s.Margin)];
}
