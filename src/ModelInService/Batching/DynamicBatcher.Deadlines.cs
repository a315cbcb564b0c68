namespace ModelInService.Batching;

internal sealed partial class DynamicBatcher<TInput, TOutput>
{
    /// <summary>
    /// The deadlines of a batcher's requests under one <see cref="ITimer"/> armed for the earliest: adding a request
    /// costs a queue append instead of creating, starting and disposing a timer of its own (the per-request timer cost
    /// 35-57% of throughput on cheap models, docs/batching-performance.md). Requests with the default timeout arrive
    /// in deadline order, so they wait in a FIFO; shorter per-call timeouts go to a min-heap. Entries name the
    /// request's generation (requests are pooled): an answered or reused request's entry is dropped lazily, when it
    /// reaches the front (the FIFO's front is trimmed on every append, and requests are mostly answered in arrival
    /// order), or in a compaction once a structure holds four times more entries than requests are pending.
    /// </summary>
    private sealed class DeadlineSweeper : IDisposable
    {
        private readonly DynamicBatcher<TInput, TOutput> _owner;
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
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                var limit = Math.Max(1024, 4 * Volatile.Read(ref _owner._pending));
                if (inOrder)
                {
                    while (_inOrder.TryPeek(out var head) && head.IsDone)
                    {
                        _inOrder.Dequeue();
                    }

                    _inOrder.Enqueue(entry);
                    if (_inOrder.Count > limit)
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
                else
                {
                    _heap.Enqueue(entry, entry.Deadline);
                    if (_heap.Count > limit)
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

        public void Dispose()
        {
            lock (_gate)
            {
                _disposed = true;
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

                _armedFor = long.MaxValue;
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
            _armedFor = due;
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
