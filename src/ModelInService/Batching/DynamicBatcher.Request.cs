using System.Threading.Tasks.Sources;

namespace ModelInService.Batching;

internal sealed partial class DynamicBatcher<TInput, TOutput>
{
    /// <summary>
    /// One queued prediction, pooled: the caller awaits it as an <see cref="IValueTaskSource{TResult}"/> (no Task per
    /// request). It goes back to the pool when both its holders let go: the caller (after reading the answer) and the
    /// batcher (the queue entry, then the worker's batch). Whatever else may still point at it after that (a deadline
    /// entry) carries the generation it meant, and every state change compares it in the same exchange, so a stale
    /// reference can never touch the request's next use.
    /// </summary>
    private sealed class Request : IValueTaskSource<TOutput>
    {
        /// <summary>A worker took it from the queue.</summary>
        private const long Taken = 1;

        /// <summary>Answered before a worker took it: its queue entry is dead.</summary>
        private const long LeftQueue = 2;

        /// <summary>Its one answer was claimed (set before the answer is published).</summary>
        private const long Claimed = 4;

        /// <summary>Its deadline passed under <see cref="DeadlineAction.Delay"/>.</summary>
        private const long Expired = 8;

        private readonly DynamicBatcher<TInput, TOutput> _owner;
        private ManualResetValueTaskSourceCore<TOutput> _core = new() { RunContinuationsAsynchronously = true };

        /// <summary>The generation (high 32 bits) and the flags above: one word, so one exchange checks both.</summary>
        private long _word;
        private int _refs;
        private int _callerReleased;
        private CancellationToken _token;
        private CancellationTokenRegistration _registration;
        private bool _disarmed;

        public Request(DynamicBatcher<TInput, TOutput> owner) => _owner = owner;

        public TInput Input { get; private set; } = default!;

        public int Priority { get; private set; }

        public long Enqueued { get; private set; }

        public TimeSpan Timeout { get; private set; }

        public long Bucket { get; private set; }

        public long DeadlineTicks { get; private set; }

        /// <summary>The caller's prediction span, when the package's spans are listened to: the worker tags its batch and queue wait.</summary>
        public System.Diagnostics.Activity? Activity { get; private set; }

        /// <summary>The current generation (stable while the caller or the batcher holds the request).</summary>
        public int Generation => (int)(Volatile.Read(ref _word) >> 32);

        /// <summary>Whether the answer is claimed. Only for holders (the generation cannot change under them).</summary>
        public bool IsClaimed => (Volatile.Read(ref _word) & Claimed) != 0;

        /// <summary>Whether the deadline passed under <see cref="DeadlineAction.Delay"/>. Only for holders.</summary>
        public bool IsExpired => (Volatile.Read(ref _word) & Expired) != 0;

        public ValueTask<TOutput> AsValueTask() => new(this, _core.Version);

        /// <summary>Starts a new use; held by the caller and the batcher.</summary>
        public void Init(TInput input, int priority, long enqueued, TimeSpan timeout, long bucket, CancellationToken token)
        {
            var generation = (long)(int)((Volatile.Read(ref _word) >> 32) + 1);
            Volatile.Write(ref _word, generation << 32);
            _refs = 2;
            _callerReleased = 0;
            _disarmed = false;
            _registration = default;
            _token = token;
            Input = input;
            Priority = priority;
            Enqueued = enqueued;
            Timeout = timeout;
            Bucket = bucket;
            Activity = Telemetry.ModelTracing.Current;
            DeadlineTicks = timeout == System.Threading.Timeout.InfiniteTimeSpan
                ? long.MaxValue
                : enqueued + (long)(timeout.TotalSeconds * _owner._time.TimestampFrequency);
        }

        /// <summary>Whether generation <paramref name="generation"/> is answered or over (for entries that hold no reference).</summary>
        public bool IsDone(int generation)
        {
            var word = Volatile.Read(ref _word);
            return (int)(word >> 32) != generation || (word & Claimed) != 0;
        }

        /// <summary>Queued → taken by a worker. False when it was answered while queued (its entry is dead).</summary>
        public bool TryTake()
        {
            var word = Volatile.Read(ref _word);
            while ((word & (Taken | LeftQueue)) == 0)
            {
                var seen = Interlocked.CompareExchange(ref _word, word | Taken, word);
                if (seen == word)
                {
                    return true;
                }

                word = seen;
            }

            return false;
        }

        /// <summary>
        /// Claims the one answer of <paramref name="generation"/>; a request still queued leaves the queue (its input
        /// is released now, its entry stays until dequeued). The claimer then publishes with <see cref="SetResult"/> or
        /// <see cref="SetException"/>, its last touch.
        /// </summary>
        public bool TryClaim(int generation)
        {
            var word = Volatile.Read(ref _word);
            while ((int)(word >> 32) == generation && (word & Claimed) == 0)
            {
                var next = word | Claimed | ((word & Taken) == 0 ? LeftQueue : 0);
                var seen = Interlocked.CompareExchange(ref _word, next, word);
                if (seen == word)
                {
                    if ((next & LeftQueue) != 0)
                    {
                        Input = default!; // nobody reads the input of a request that left the queue
                    }

                    Disarm();
                    return true;
                }

                word = seen;
            }

            return false;
        }

        /// <summary>Marks generation <paramref name="generation"/> late (<see cref="DeadlineAction.Delay"/>); nothing if answered.</summary>
        public void MarkExpired(int generation)
        {
            var word = Volatile.Read(ref _word);
            while ((int)(word >> 32) == generation && (word & (Claimed | Expired)) == 0)
            {
                var seen = Interlocked.CompareExchange(ref _word, word | Expired, word);
                if (seen == word)
                {
                    return;
                }

                word = seen;
            }
        }

        public void SetResult(TOutput output) => _core.SetResult(output);

        public void SetException(Exception error) => _core.SetException(error);

        /// <summary>Registers the cancellation callback (after the request is queued; the caller has no handle yet).</summary>
        public void Arm()
        {
            if (!_token.CanBeCanceled)
            {
                return;
            }

            var registration = _token.UnsafeRegister(static s => ((Request)s!).OnCanceled(), this);
            lock (this)
            {
                if (!_disarmed)
                {
                    _registration = registration;
                    return;
                }
            }

            // Answered meanwhile: the callback must be gone (Dispose waits for a running one) before the caller can
            // read the answer and the request can be reused.
            registration.Dispose();
        }

        /// <summary>The batcher lets go (its queue entry, or the worker's batch). The last holder returns it to the pool.</summary>
        public void Release()
        {
            if (Interlocked.Decrement(ref _refs) == 0)
            {
                Input = default!;
                Activity = null;
                _token = default;
                _core.Reset();
                _owner._pool.Enqueue(this);
            }
        }

        public TOutput GetResult(short token)
        {
            var done = _core.GetStatus(token) != ValueTaskSourceStatus.Pending; // also checks the token
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                if (done && Interlocked.Exchange(ref _callerReleased, 1) == 0)
                {
                    Release();
                }
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        /// <summary>Drops the cancellation callback before the answer is published; waits for it if it is running elsewhere.</summary>
        private void Disarm()
        {
            if (!_token.CanBeCanceled)
            {
                return; // nothing was registered
            }

            CancellationTokenRegistration registration;
            lock (this)
            {
                _disarmed = true;
                registration = _registration;
                _registration = default;
            }

            registration.Dispose();
        }

        private void OnCanceled()
        {
            // Runs only for the current generation: Disarm removes the callback before an answer is published.
            var generation = Generation;
            if (TryClaim(generation))
            {
                _owner.Publish(this, new OperationCanceledException(_token), RequestOutcome.Canceled);
            }
        }

        /// <summary>The deadline of <paramref name="generation"/> passed (called by the sweeper; nothing if answered or reused).</summary>
        public void OnDeadline(int generation)
        {
            if (_owner._options.DeadlineAction == DeadlineAction.Delay)
            {
                MarkExpired(generation);
                return;
            }

            var timeout = Timeout;
            if (TryClaim(generation))
            {
                _owner.Publish(this, new ModelDeadlineExceededException(_owner.ModelName,
                    $"Request to model '{_owner.ModelName}' exceeded its {timeout.TotalMilliseconds:0} ms deadline (queue time included).", timeout), RequestOutcome.TimedOut);
            }
        }
    }
}
