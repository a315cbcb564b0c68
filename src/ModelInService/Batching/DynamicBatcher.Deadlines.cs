namespace ModelInService.Batching;

internal sealed partial class DynamicBatcher<TInput, TOutput>
{
    /// <summary>
    /// The deadlines of a batcher's requests under one <see cref="ITimer"/> armed for the earliest: adding a request
    /// costs a queue append instead of creating, starting and disposing a timer of its own (the per-request timer cost
    /// 35-57% of throughput on cheap models, docs/batching-performance.md). Requests with the default timeout arrive
    /// in deadline order: they are appended without a lock to a concurrent FIFO, which the collector (once per batch)
    /// and the timer move into an ordered FIFO under the lock, dropping entries already answered; shorter per-call
    /// timeouts go to a min-heap under the lock. Entries name the request's generation (requests are pooled): an
    /// answered or reused request's entry is dropped lazily, when it reaches the front (requests are mostly answered
    /// in arrival order), or in a compaction once a structure holds four times more entries than requests are pending.
    /// </summary>
    private sealed class DeadlineSweeper : IDisposable
    {
        private readonly DynamicBatcher<TInput, TOutput> _owner;
        /// <summary>Default-timeout entries not yet sorted in (producers append without the lock).</summary>
        private readonly System.Collections.Concurrent.ConcurrentQueue<Entry> _fresh = new();

        /// <summary>Default-timeout entries older than every entry of <see cref="_fresh"/>, in deadline order; under the lock.</summary>
        private readonly Queue<Entry> _inOrder = new();
        private readonly PriorityQueue<Entry, long> _heap = new();
        private readonly List<(Entry, long)> _scratch = [];
        private readonly Lock _gate = new();
        private readonly ITimer _timer;
        private long _armedFor = long.MaxValue;
        private bool _disposed;

        public DeadlineSweeper(DynamicBatcher<TInput, TOutput> owner)
        {
            _owner = owner;
            _timer = owner._time.CreateTimer(static s => ((DeadlineSweeper)s!).OnTimer(), this, System.Threading.Timeout.InfiniteTimeSpan, System.Threading.Timeout.InfiniteTimeSpan);
        }

        /// <summary>Tracks the request's deadline; <paramref name="inOrder"/> when it has the batcher's default timeout.</summary>
        public void Add(Request request, bool inOrder)
        {
            var entry = new Entry(request, request.Generation, request.DeadlineTicks);
            if (inOrder)
            {
                _fresh.Enqueue(entry);

                // Dekker with OnTimer, which clears _armedFor before it sorts _fresh in: either it sees this entry, or
                // this thread sees the timer unarmed and arms it. Otherwise the timer is armed for an earlier
                // deadline (default-timeout deadlines only grow, and shorter per-call ones come earlier still).
                Interlocked.MemoryBarrier();
                if (Volatile.Read(ref _armedFor) != long.MaxValue)
                {
                    return;
                }
            }

            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                if (!inOrder)
                {
                    _heap.Enqueue(entry, entry.Deadline);
                    if (_heap.Count > Limit)
                    {
                        Compact();
                    }
                }

                if (entry.Deadline < _armedFor)
                {
                    Arm(entry.Deadline);
                }
            }
        }

        /// <summary>Sorts the appended entries in and drops answered ones; the collector calls it once per batch.</summary>
        public void Trim()
        {
            if (_fresh.IsEmpty)
            {
                return;
            }

            lock (_gate)
            {
                if (!_disposed)
                {
                    SortInLocked();
                }
            }
        }

        private int Limit => Math.Max(1024, 4 * _owner.Pending);

        /// <summary>Moves <see cref="_fresh"/> into <see cref="_inOrder"/> (answered entries dropped). Under the lock.</summary>
        private void SortInLocked()
        {
            while (_inOrder.TryPeek(out var head) && head.IsDone)
            {
                _inOrder.Dequeue();
            }

            while (_fresh.TryDequeue(out var entry))
            {
                if (!entry.IsDone)
                {
                    _inOrder.Enqueue(entry);
                }
            }

            if (_inOrder.Count > Limit)
            {
                for (var n = _inOrder.Count; n > 0; n--)
                {
                    var kept = _inOrder.Dequeue();
                    if (!kept.IsDone)
                    {
                        _inOrder.Enqueue(kept);
                    }
                }
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _disposed = true;
                _fresh.Clear();
                _inOrder.Clear();
                _heap.Clear();
            }

            _timer.Dispose();
        }

        /// <summary>Fails (or marks, under <see cref="DeadlineAction.Delay"/>) every request whose deadline passed, then re-arms.</summary>
        private void OnTimer()
        {
            List<Entry>? expired = null;
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                // Cleared before _fresh is looked at (see Add); full fence.
                Interlocked.Exchange(ref _armedFor, long.MaxValue);
                SortInLocked();
                var now = _owner._time.GetTimestamp();
                while (_inOrder.TryPeek(out var head) && (head.IsDone || head.Deadline <= now))
                {
                    _inOrder.Dequeue();
                    if (!head.IsDone)
                    {
                        (expired ??= []).Add(head);
                    }
                }

                while (_heap.TryPeek(out var head, out _) && (head.IsDone || head.Deadline <= now))
                {
                    _heap.Dequeue();
                    if (!head.IsDone)
                    {
                        (expired ??= []).Add(head);
                    }
                }

                var next = long.MaxValue;
                if (_inOrder.TryPeek(out var first))
                {
                    next = first.Deadline;
                }

                if (_heap.TryPeek(out _, out var earliest) && earliest < next)
                {
                    next = earliest;
                }

                if (next != long.MaxValue)
                {
                    Arm(next);
                }
            }

            if (expired is not null)
            {
                // Outside the lock: answering a request runs the batcher's bookkeeping.
                foreach (var entry in expired)
                {
                    entry.Request.OnDeadline(entry.Generation);
                }
            }
        }

        /// <summary>Starts the timer for <paramref name="due"/> (a timestamp). Under the lock.</summary>
        private void Arm(long due)
        {
            Volatile.Write(ref _armedFor, due);
            var remaining = due - _owner._time.GetTimestamp();

            // Rounded up, so the timer never fires before the deadline (it would only re-arm).
            var delay = remaining <= 0 ? TimeSpan.Zero : TimeSpan.FromTicks((long)Math.Ceiling(remaining * (double)TimeSpan.TicksPerSecond / _owner._time.TimestampFrequency));
            _timer.Change(delay, System.Threading.Timeout.InfiniteTimeSpan);
        }

        /// <summary>Drops answered and reused requests from the heap. Under the lock.</summary>
        private void Compact()
        {
            foreach (var (entry, deadline) in _heap.UnorderedItems)
            {
                if (!entry.IsDone)
                {
                    _scratch.Add((entry, deadline));
                }
            }

            _heap.Clear();
            _heap.EnqueueRange(_scratch);
            _scratch.Clear();
        }

        /// <summary>One request's deadline, for the generation it was set for.</summary>
        private readonly record struct Entry(Request Request, int Generation, long Deadline)
        {
            public bool IsDone => Request.IsDone(Generation);
        }
    }
}
