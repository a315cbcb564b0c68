using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;

namespace ModelInService.Monitoring;

/// <summary>
/// The request-path half of the monitor: encodes rows into a <see cref="RecordBlock"/> under a short lock and hands
/// full blocks to a bounded channel with <c>TryWrite</c>. When the channel is full the block is dropped whole (its
/// rows counted per interval for the volume rule) and reused: recording never waits and, once warm, never allocates.
/// </summary>
[DebuggerDisplay("{Schema.Slots.Count} slots, {_channel.Reader.Count} queued blocks, {_droppedTotal} dropped")]
internal abstract class RecorderBase
{
    /// <summary>
    /// Predictions whose recording is still to happen (a request answered asynchronously, recorded in its
    /// continuation), counted per processor stripe (every 16th int, one cache line apart) so the request path never
    /// contends on one counter; see <see cref="WhenRecordedAsync"/>.
    /// </summary>
    private readonly int[] _pending = new int[16 * PendingStripes];

    private const int PendingStripes = 16;

    /// <summary>Marks a prediction whose result will be recorded once it completes; pass the result to <see cref="EndPending"/>.</summary>
    public int BeginPending()
    {
        var slot = (Thread.GetCurrentProcessorId() & (PendingStripes - 1)) * 16;
        Interlocked.Increment(ref _pending[slot]);
        return slot;
    }

    /// <summary>The prediction marked by <see cref="BeginPending"/> was recorded (or failed).</summary>
    public void EndPending(int slot) => Interlocked.Decrement(ref _pending[slot]);

    /// <summary>Waits until every prediction answered so far has been recorded (at shutdown, after the batchers drained).</summary>
    public async Task WhenRecordedAsync(CancellationToken cancellationToken)
    {
        // Only at shutdown, and only for the continuations of already answered requests: a short poll is simplest.
        while (Outstanding() > 0)
        {
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }

        int Outstanding()
        {
            var sum = 0;
            for (var i = 0; i < _pending.Length; i += 16)
            {
                sum += Volatile.Read(ref _pending[i]);
            }

            return sum;
        }
    }

    /// <summary>Numbers per block: keeps a block near 128 KB, so the queue's memory is bounded whatever the row width.</summary>
    internal const int BlockNumbers = 16 * 1024;

    /// <summary>A row never grows a block beyond this (larger rows are dropped and counted).</summary>
    private const int MaxBlockNumbers = 1 << 24;

    /// <summary>Serializes writers of the current block (request threads) with flushes (the evaluator).</summary>
    private readonly Lock _gate = new();

    /// <summary>Full blocks waiting for the consumer; bounded so a slow consumer costs drops, not memory or latency.</summary>
    private readonly Channel<RecordBlock> _channel;

    /// <summary>Processed blocks returned by the consumer for reuse (at most the channel's capacity plus a few).</summary>
    private readonly ConcurrentQueue<RecordBlock> _free = new();

    /// <summary>Rows (and schema violations, and unsampled rows) dropped per interval, until the consumer takes them. Guarded by <see cref="_gate"/>.</summary>
    private readonly Dictionary<long, (long Rows, long Violations, long Unsampled)> _drops = [];

    /// <summary>Ticks of one interval.</summary>
    private readonly long _intervalTicks;

    /// <summary>Ticks between two profiled rows at the sampling budget; 0 when every row is profiled.</summary>
    private readonly long _emissionTicks;

    /// <summary>How far ahead of the clock the budget may be spent: one second, so no second profiles more than twice the budget.</summary>
    private readonly long _burstTicks;

    /// <summary>The budget's theoretical arrival time (GCRA): a row is profiled while this stays within the burst tolerance of now.</summary>
    private long _budgetTicks;

    /// <summary>Per-processor counters of unsampled predictions (a power of two of them).</summary>
    private readonly UnsampledStripe[] _stripes = CreateStripes();

    /// <summary>The block being filled; null between a flush and the next row. Guarded by <see cref="_gate"/>.</summary>
    private RecordBlock? _current;

    /// <summary>All rows ever dropped (read without the lock for statistics).</summary>
    private long _droppedTotal;

    /// <summary>A new, empty recorder of the same types and options (the cluster view's, which records nothing itself).</summary>
    public abstract RecorderBase CreateEmpty(MonitoringOptions options, TimeProvider time);

    protected RecorderBase(RowSchema schema, TimeProvider time, TimeSpan interval, int queueCapacity, int maxProfiledRowsPerSecond)
    {
        Schema = schema;
        Time = time;
        _intervalTicks = interval.Ticks;
        _emissionTicks = maxProfiledRowsPerSecond > 0 ? Math.Max(1, TimeSpan.TicksPerSecond / maxProfiledRowsPerSecond) : 0;
        _burstTicks = TimeSpan.TicksPerSecond;
        _channel = Channel.CreateBounded<RecordBlock>(new BoundedChannelOptions(Math.Max(2, queueCapacity / RecordBlock.MaxRows))
        {
            // The single consumer is the monitor's loop; writers are request threads (TryWrite never waits).
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public RowSchema Schema { get; }

    public ChannelReader<RecordBlock> Reader => _channel.Reader;

    public long DroppedTotal => Interlocked.Read(ref _droppedTotal);

    public long UnsampledTotal
    {
        get
        {
            long total = 0;
            foreach (var stripe in _stripes)
            {
                lock (stripe)
                {
                    total += stripe.Total;
                }
            }

            return total;
        }
    }

    protected TimeProvider Time { get; }

    protected long IntervalTicks => _intervalTicks;

    /// <summary>
    /// Counts requests the validator rejected, or whose output was non-finite (for the schema rule: both are
    /// requests the model could not answer with a usable value).
    /// </summary>
    public void RecordRejected(int requests = 1)
    {
        var interval = CurrentInterval();
        lock (_gate)
        {
            CurrentFor(interval).SchemaViolations += requests;
        }
    }

    /// <summary>Takes the partly filled block (for a flush), or null when it is empty.</summary>
    public RecordBlock? TakeCurrent()
    {
        lock (_gate)
        {
            FoldStripes();
            var block = _current;
            _current = null;
            if (block is null || IsEmpty(block))
            {
                if (block is not null)
                {
                    _free.Enqueue(block);
                }

                return null;
            }

            return block;
        }
    }

    /// <summary>Takes the per-interval drop counts accumulated since the last call.</summary>
    public List<KeyValuePair<long, (long Rows, long Violations, long Unsampled)>>? TakeDrops()
    {
        lock (_gate)
        {
            if (_drops.Count == 0)
            {
                return null;
            }

            var list = _drops.ToList();
            _drops.Clear();
            return list;
        }
    }

    /// <summary>Writes a block from outside the request path (a flush or a barrier), waiting for room.</summary>
    public ValueTask WriteAsync(RecordBlock block, CancellationToken cancellationToken) => _channel.Writer.WriteAsync(block, cancellationToken);

    /// <summary>Writes a block (a barrier) if the channel has room, without waiting.</summary>
    public bool TryWrite(RecordBlock block) => _channel.Writer.TryWrite(block);

    /// <summary>Returns a processed block for reuse.</summary>
    public void Return(RecordBlock block)
    {
        if (block.Barrier is null)
        {
            block.Reset(0);
            _free.Enqueue(block);
        }
    }

    /// <summary>Stops the consumer after the queued blocks.</summary>
    public void Complete() => _channel.Writer.TryComplete();

    protected long CurrentInterval() => Time.GetUtcNow().UtcTicks / _intervalTicks;

    /// <summary>
    /// The sampling budget (a generic cell rate algorithm, lock-free): true when the row at <paramref name="nowTicks"/>
    /// should be profiled. Under the budget every row is; above it rows are taken evenly in time at the budget's rate, so
    /// the consumer's cost stays bounded however fast the model serves. The rest is counted by <see cref="CountUnsampled"/>.
    /// </summary>
    protected bool TakeSample(long nowTicks)
    {
        if (_emissionTicks == 0)
        {
            return true;
        }

        while (true)
        {
            var budget = Volatile.Read(ref _budgetTicks);
            var next = Math.Max(budget, nowTicks) + _emissionTicks;
            if (next - nowTicks > _burstTicks)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _budgetTicks, next, budget) == budget)
            {
                return true;
            }
        }
    }

    /// <summary>
    /// Counts a prediction left out by sampling into its interval (for the volume rule). On the hot path above the
    /// budget, so it touches only a per-processor stripe (no shared lock or cache line); the stripes are folded into
    /// blocks when their interval moves on and at every flush.
    /// </summary>
    protected void CountUnsampled(long interval, long count)
    {
        var stripe = _stripes[Thread.GetCurrentProcessorId() & (_stripes.Length - 1)];
        long movedInterval = 0;
        long moved = 0;
        lock (stripe)
        {
            if (stripe.Interval != interval)
            {
                (movedInterval, moved) = (stripe.Interval, stripe.Count);
                stripe.Interval = interval;
                stripe.Count = 0;
            }

            stripe.Count += count;
            stripe.Total += count;
        }

        if (moved > 0)
        {
            lock (_gate)
            {
                CurrentFor(movedInterval).Unsampled += moved;
            }
        }
    }

    /// <summary>Moves every stripe's pending unsampled count into blocks. Under <see cref="_gate"/>.</summary>
    private void FoldStripes()
    {
        foreach (var stripe in _stripes)
        {
            long interval;
            long count;
            lock (stripe)
            {
                (interval, count) = (stripe.Interval, stripe.Count);
                stripe.Count = 0;
            }

            if (count > 0)
            {
                CurrentFor(interval).Unsampled += count;
            }
        }
    }

    /// <summary>Unsampled predictions counted on one processor, not yet in a block. Guarded by its own monitor.</summary>
    private sealed class UnsampledStripe
    {
        public long Interval;
        public long Count;
        public long Total;

        // Keeps two stripes off one cache line (the object header and fields above take 40 bytes).
#pragma warning disable CS0169, IDE0051 // padding
        private readonly long _pad0, _pad1, _pad2, _pad3, _pad4, _pad5;
#pragma warning restore CS0169, IDE0051
    }

    private static UnsampledStripe[] CreateStripes()
    {
        var stripes = new UnsampledStripe[(int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(Environment.ProcessorCount, 1, 64))];
        for (var i = 0; i < stripes.Length; i++)
        {
            stripes[i] = new UnsampledStripe();
        }

        return stripes;
    }

    private static bool IsEmpty(RecordBlock block) => block.Rows == 0 && block.SchemaViolations == 0 && block.Unsampled == 0;

    /// <summary>
    /// Appends one row: <paramref name="encode"/> writes it into the block and returns false when it does not fit, in
    /// which case the partial row is undone, the block submitted and the row retried on a fresh block.
    /// </summary>
    /// <param name="interval">The row's interval.</param>
    /// <param name="version">The answering generation's <see cref="ModelVersionInfo.Sha256"/>, or null when unknown.</param>
    /// <param name="state">The row.</param>
    /// <param name="encode">The encoder.</param>
    protected void Append<TState>(long interval, string? version, TState state, Func<RecordBlock, TState, bool> encode)
    {
        lock (_gate)
        {
            var block = CurrentFor(interval, version);
            while (true)
            {
                var numbers = block.NumberCount;
                var labels = block.LabelCount;
                if (encode(block, state))
                {
                    break;
                }

                block.NumberCount = numbers;
                Array.Clear(block.Labels, labels, block.LabelCount - labels);
                block.LabelCount = labels;
                if (block.Rows > 0)
                {
                    Submit();
                    block = CurrentFor(interval, version);
                }
                else if (block.Numbers.Length < MaxBlockNumbers)
                {
                    block.Grow();
                }
                else
                {
                    AddDrop(interval, 1, 0, 0);
                    return;
                }
            }

            block.Rows++;
            block.CountVersion(version);
            if (block.Rows >= RecordBlock.MaxRows)
            {
                Submit();
            }
        }
    }

    /// <summary>
    /// The current block for a row of <paramref name="version"/>: a block counts the rows of up to
    /// <see cref="RecordBlock.MaxVersions"/> versions (the common case is one reference comparison with the last
    /// row's); a row of a further version submits the block and starts a new one. Under the lock.
    /// </summary>
    private RecordBlock CurrentFor(long interval, string? version)
    {
        var block = CurrentFor(interval);
        if (!block.HasRoomFor(version))
        {
            Submit();
            block = CurrentFor(interval);
        }

        return block;
    }

    private RecordBlock CurrentFor(long interval)
    {
        if (_current is { } current)
        {
            if (current.Interval == interval)
            {
                return current;
            }

            Submit();
        }

        var block = _free.TryDequeue(out var free) ? free : new RecordBlock(BlockNumbers, BlockNumbers / 4);
        block.Reset(interval);
        _current = block;
        return block;
    }

    /// <summary>Hands the current block to the consumer, or drops it when the channel is full. Under the lock.</summary>
    private void Submit()
    {
        var block = _current!;
        _current = null;
        if (IsEmpty(block))
        {
            _free.Enqueue(block);
            return;
        }

        if (!_channel.Writer.TryWrite(block))
        {
            AddDrop(block.Interval, block.Rows, block.SchemaViolations, block.Unsampled);
            block.Reset(0);
            _free.Enqueue(block);
        }
    }

    private void AddDrop(long interval, long rows, long violations, long unsampled)
    {
        _drops.TryGetValue(interval, out var existing);
        _drops[interval] = (existing.Rows + rows, existing.Violations + violations, existing.Unsampled + unsampled);
        Interlocked.Add(ref _droppedTotal, rows);
    }
}

/// <summary>Marks the current async flow as building a reference: its predictions are not recorded as production traffic.</summary>
internal static class RecordingSuppression
{
    /// <summary>Flows currently suppressed anywhere; lets <see cref="IsSuppressed"/> skip the async-local read when 0.</summary>
    private static int s_active;

    private static readonly AsyncLocal<bool> s_suppressed = new();

    public static bool IsSuppressed => Volatile.Read(ref s_active) != 0 && s_suppressed.Value;

    public static IDisposable Begin()
    {
        Interlocked.Increment(ref s_active);
        s_suppressed.Value = true;
        return new Scope();
    }

    private sealed class Scope : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                s_suppressed.Value = false;
                Interlocked.Decrement(ref s_active);
            }
        }
    }
}
