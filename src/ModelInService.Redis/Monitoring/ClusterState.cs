using System.Text.Json;
using System.Text.Json.Serialization;
using ModelInService.Monitoring;

namespace ModelInService.Redis.Monitoring;

/// <summary>What the lease holder committed: the last cluster interval it evaluated and the hysteresis state it left.</summary>
internal sealed class ClusterState
{
    /// <summary>Bytes of state JSON read at most (it lists drifted features and violating rules per window).</summary>
    public const int MaxBytes = 1024 * 1024;

    /// <summary>Windows and names per list read at most.</summary>
    public const int MaxItems = 65_536;

    public long LastEvaluated { get; set; } = long.MinValue;

    public List<ClusterWindowState>? Windows { get; set; } = [];

    public static byte[] Write(long lastEvaluated, IReadOnlyList<WindowStatus> windows) => JsonSerializer.SerializeToUtf8Bytes(
        new ClusterState
        {
            LastEvaluated = lastEvaluated,
            Windows = [.. windows.Select(w => new ClusterWindowState { WindowTicks = w.Window.Ticks, Drifted = [.. w.Drifted], Violating = [.. w.Violating], DatasetDrift = w.DatasetDrift })],
        },
        ClusterJsonContext.Default.ClusterState);

    /// <summary>Reads and validates a state; throws <see cref="FormatException"/> for anything this library did not write.</summary>
    public static (long LastEvaluated, IReadOnlyList<WindowStatus> Windows) Read(byte[] bytes)
    {
        if (bytes.Length > MaxBytes)
        {
            throw new FormatException($"Invalid cluster monitor state: {bytes.Length} bytes (at most {MaxBytes}).");
        }

        ClusterState? state;
        try
        {
            state = JsonSerializer.Deserialize(bytes, ClusterJsonContext.Default.ClusterState);
        }
        catch (JsonException ex)
        {
            throw new FormatException("Invalid cluster monitor state: bad JSON.", ex);
        }

        if (state?.Windows is not { Count: <= MaxItems } windows)
        {
            throw new FormatException("Invalid cluster monitor state: no window list, or too many windows.");
        }

        var result = new List<WindowStatus>(windows.Count);
        foreach (var w in windows)
        {
            if (w is null || w.WindowTicks <= 0 || w.Drifted is not { Count: <= MaxItems } drifted || w.Violating is not { Count: <= MaxItems } violating
                || drifted.Any(n => n is null) || violating.Any(n => n is null))
            {
                throw new FormatException("Invalid cluster monitor state: a window is null, not positive, or has a null or oversized list.");
            }

            result.Add(new WindowStatus(TimeSpan.FromTicks(w.WindowTicks), drifted, violating, w.DatasetDrift));
        }

        return (state.LastEvaluated, result);
    }
}

/// <summary>One window's hysteresis state in <see cref="ClusterState"/>.</summary>
internal sealed class ClusterWindowState
{
    public long WindowTicks { get; set; }

    public List<string>? Drifted { get; set; } = [];

    public List<string>? Violating { get; set; } = [];

    public bool DatasetDrift { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ClusterState))]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;
