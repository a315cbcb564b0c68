using System.Buffers;

namespace ModelInService.Streaming;

/// <summary>
/// One open stream's state and bookkeeping. The state buffer is written only by the stream's own caller, after its
/// chunk succeeded, while it holds <see cref="Gate"/>; batches only read it (a chunk abandoned by its deadline may still
/// be read by a running batch, whose row is then discarded).
/// </summary>
internal class StreamSlot(string id, float[] state, long now)
{
    private long _lastUsed = now;
    private long _chunks;
    private int _closed;

    public string Id { get; } = id;

    /// <summary>Every state without its batch axis, then the context (rented; the first StateFloats are used).</summary>
    public float[] State { get; } = state;

    /// <summary>One chunk at a time, in call order (SemaphoreSlim's asynchronous waiters are served first in, first out).</summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);

    public long LastUsed => Volatile.Read(ref _lastUsed);

    public long ChunkCount => Interlocked.Read(ref _chunks);

    /// <summary>0 open, 1 closed, 2 expired.</summary>
    public int Closed => Volatile.Read(ref _closed);

    public bool IsOpen => Closed == 0;

    public void Touch(long now) => Volatile.Write(ref _lastUsed, now);

    /// <summary>Commits the next state of a chunk that succeeded and returns its buffer to the pool.</summary>
    public void Commit(float[]? next, int floats)
    {
        if (next is not null)
        {
            next.AsSpan(0, floats).CopyTo(State);
            ArrayPool<float>.Shared.Return(next);
        }

        Interlocked.Increment(ref _chunks);
    }

    /// <summary>Marks the stream closed (1) or expired (2); false when it was already.</summary>
    public bool TryClose(bool expired) => Interlocked.CompareExchange(ref _closed, expired ? 2 : 1, 0) == 0;

    /// <summary>Gives the state buffer back once nothing of this stream runs (the caller holds <see cref="Gate"/>).</summary>
    public void Free() => ArrayPool<float>.Shared.Return(State);
}
