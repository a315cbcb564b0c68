using System.Reflection;

namespace ModelInService.Benchmarks.Load;

/// <summary>
/// Diagnostics only: how many of a batcher's worker loops have died (faulted tasks in its private <c>_workers</c>
/// array). A dead worker no longer takes requests, so throughput drops and, once all are dead, requests wait until
/// their deadline. Reflection keeps this out of the library's API; if the field is renamed the check reports nothing.
/// </summary>
internal static class BatcherHealth
{
    public static (int Faulted, string? FirstError) FaultedWorkers(object? batcher)
    {
        if (batcher?.GetType().GetField("_workers", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(batcher) is not Task[] workers)
        {
            return (0, null);
        }

        var faulted = workers.Where(w => w.IsFaulted).ToList();
        var error = faulted.Select(w => w.Exception?.InnerException).FirstOrDefault(e => e is not null);
        return (faulted.Count, error is null ? null : $"{error.GetType().Name}: {error.Message} at {error.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}");
    }

    /// <summary>The batcher's private counters and worker states, for a stuck-window report.</summary>
    public static string Describe(object? batcher)
    {
        if (batcher is null)
        {
            return "no batcher";
        }

        var type = batcher.GetType();
        object? Field(string name) => type.GetField(name, BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(batcher);
        var parts = new List<string>();
        foreach (var name in new[] { "_queued", "_pending", "_running", "_accepting", "_streak" })
        {
            if (Field(name) is { } value)
            {
                parts.Add($"{name}={value}");
            }
        }

        if ((Field("_channels") ?? Field("_concurrentQueues")) is Array queues)
        {
            var counts = new List<string>();
            foreach (var queue in queues)
            {
                var counted = queue?.GetType().GetProperty("Reader")?.GetValue(queue) ?? queue;
                counts.Add(counted?.GetType().GetProperty("Count")?.GetValue(counted)?.ToString() ?? "?");
            }

            parts.Add($"queue lengths=[{string.Join(",", counts)}]");
        }

        if (Field("_workers") is Task[] workers)
        {
            parts.Add($"workers=[{string.Join(",", workers.Select(w => w.Status))}]");
        }

        return string.Join(" ", parts);
    }
}
