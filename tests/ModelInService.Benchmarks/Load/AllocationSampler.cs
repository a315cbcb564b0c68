using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace ModelInService.Benchmarks.Load;

/// <summary>
/// Samples managed allocations by type with the runtime's GCAllocationTick event (one event per ~100 KB allocated,
/// naming the type of the object that crossed the threshold): bytes by type in proportion, without a profiler.
/// Diagnostic only (<c>--alloc-profile</c>): the listener itself costs a little.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const int GcKeyword = 0x1;
    private const int AllocationTickEventId = 10;

    private readonly ConcurrentDictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private volatile bool _recording;

    public void Start() => _recording = true;

    public void Stop() => _recording = false;

    /// <summary>The <paramref name="count"/> types with the most sampled bytes, as bytes per request.</summary>
    public string Top(long requests, int count)
    {
        if (requests <= 0 || _bytes.IsEmpty)
        {
            return "(no samples)";
        }

        return string.Join(", ", _bytes.OrderByDescending(p => p.Value).Take(count)
            .Select(p => string.Create(CultureInfo.InvariantCulture, $"{Short(p.Key)} {p.Value / (double)requests:0.#}")));
    }

    public IReadOnlyDictionary<string, double> PerRequest(long requests) =>
        _bytes.ToDictionary(p => p.Key, p => requests > 0 ? p.Value / (double)requests : 0);

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_recording || eventData.EventId != AllocationTickEventId || eventData.Payload is null || eventData.PayloadNames is null)
        {
            return;
        }

        var name = "?";
        long amount = 0;
        for (var i = 0; i < eventData.PayloadNames.Count; i++)
        {
            switch (eventData.PayloadNames[i])
            {
                case "TypeName":
                    name = eventData.Payload[i] as string ?? "?";
                    break;
                case "AllocationAmount64":
                    amount = Convert.ToInt64(eventData.Payload[i], CultureInfo.InvariantCulture);
                    break;
                case "AllocationAmount" when amount == 0:
                    amount = Convert.ToInt64(eventData.Payload[i], CultureInfo.InvariantCulture);
                    break;
            }
        }

        _bytes.AddOrUpdate(name, amount, (_, total) => total + amount);
    }

    private static string Short(string typeName)
    {
        // System.Threading.Tasks.Task`1[[System.Boolean, System.Private.CoreLib]] -> Task`1[Boolean]
        var text = typeName;
        foreach (var prefix in new[] { "System.Threading.Tasks.", "System.Threading.", "System.Collections.Generic.", "System.Runtime.CompilerServices.", "ModelInService.Batching.", "ModelInService.Benchmarks.Load.", "ModelInService.Benchmarks.", "Microsoft.ML.OnnxRuntime.", "ModelInService.", "System." })
        {
            text = text.Replace(prefix, "", StringComparison.Ordinal);
        }

        return System.Text.RegularExpressions.Regex.Replace(text, @", [A-Za-z.]+, Version=[^\]]+", "");
    }
}
