using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ModelInService;

namespace Ocr;

/// <summary>
/// Counts the batches each model ran and the requests in them, from the library's <c>model_in_service.batch.size</c>
/// histogram (recorded by the batcher only; models without batching record nothing).
/// </summary>
/// <remarks>Thread-safe.</remarks>
internal sealed class BatchCounter : IDisposable
{
    private readonly MeterListener listener = new();
    private readonly ConcurrentDictionary<string, (long Runs, long Items)> counts = new(StringComparer.Ordinal);

    /// <summary>Starts listening to every ModelInService meter in the process.</summary>
    public BatchCounter()
    {
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ModelMetricNames.Meter && instrument.Name == ModelMetricNames.BatchSize)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, size, tags, _) => Add(size, tags));
        listener.SetMeasurementEventCallback<long>((_, size, tags, _) => Add(size, tags));
        listener.Start();
    }

    /// <summary>Forgets what was counted.</summary>
    public void Reset() => counts.Clear();

    /// <summary>The runs and requests counted for a model.</summary>
    public (long Runs, long Items) Of(string model) => counts.TryGetValue(model, out var c) ? c : (0, 0);

    /// <inheritdoc/>
    public void Dispose() => listener.Dispose();

    private void Add(long size, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == "model" && tag.Value is string model)
            {
                counts.AddOrUpdate(model, (1, size), (_, c) => (c.Runs + 1, c.Items + size));
            }
        }
    }
}
