using System.Collections.Concurrent;
using System.Threading.Channels;
using ModelInService.Batching;

namespace ModelInService.Tests.Batching;

/// <summary>
/// A fake model for the batcher: output = input * 10 + 1. Inputs listed in <see cref="Poison"/> make any batch that
/// contains them fail; <see cref="Gate"/> (when set) holds every run until released; <see cref="ComputeTime"/> is
/// spent on the injected clock.
/// </summary>
internal sealed class FakeExecutor : IBatchExecutor<int, int>
{
    private readonly TimeProvider _time;

    public FakeExecutor(TimeProvider time, int maxRowsPerRun = int.MaxValue)
    {
        _time = time;
        MaxRowsPerRun = maxRowsPerRun;
    }

    public int MaxRowsPerRun { get; }

    public HashSet<int> Poison { get; } = [];

    public Func<int, long> Bucket { get; set; } = _ => 0;

    public TimeSpan ComputeTime { get; set; }

    /// <summary>When set, each run awaits it (tests release it).</summary>
    public TaskCompletionSource? Gate { get; set; }

    public ConcurrentQueue<int[]> Batches { get; } = new();

    /// <summary>Every run's rows, in the order the runs started (tests read them one by one; none is missed).</summary>
    public Channel<int[]> StartedRuns { get; } = Channel.CreateUnbounded<int[]>();

    public static int Expected(int input) => (input * 10) + 1;

    /// <summary>The bucket a caller passes for <paramref name="input"/> (the stage asks the binder; tests ask this).</summary>
    public long BucketOf(int input) => Bucket(input);

    /// <summary>Rows recorded as answered (after a successful run, before its callers get results), in order.</summary>
    public ConcurrentQueue<int> AnsweredRows { get; } = new();

    public async ValueTask<int[]> ExecuteAsync(ReadOnlyMemory<int> rows, CancellationToken cancellationToken)
    {
        var copy = rows.ToArray();
        Batches.Enqueue(copy);
        StartedRuns.Writer.TryWrite(copy);
        if (Gate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }

        if (ComputeTime > TimeSpan.Zero)
        {
            await Task.Delay(ComputeTime, _time, cancellationToken);
        }

        foreach (var row in copy)
        {
            if (Poison.Contains(row))
            {
                throw new ModelInferenceException("fake", $"poison {row}", null);
            }
        }

        var outputs = new int[copy.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            outputs[i] = Expected(copy[i]);
        }

        // Like the real executor: the monitor records a successful run's rows before the run returns.
        foreach (var row in copy)
        {
            AnsweredRows.Enqueue(row);
        }

        return outputs;
    }
}
