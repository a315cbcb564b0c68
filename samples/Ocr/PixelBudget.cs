namespace Ocr;

/// <summary>
/// Bounds the pixels of the images being processed at once (a decoded image is 4 bytes a pixel and lives for its whole
/// request): a request waits, first come first served, until its image fits, or is refused with
/// <see cref="OcrBusyException"/> (429) when it waited too long. Without it, 50 requests of a 3 KB PNG declaring
/// 5000x5000 black pixels took the process from 0.8 to 5.9 GB. An image larger than the whole budget runs alone.
/// </summary>
/// <remarks>Thread-safe.</remarks>
public sealed class PixelBudget
{
    private readonly object gate = new();
    private readonly LinkedList<Waiter> waiters = new();
    private readonly long capacity;
    private long used;

    /// <summary>Creates a budget of <paramref name="capacity"/> pixels.</summary>
    /// <param name="capacity">The most pixels decoded at once; at least 1.</param>
    public PixelBudget(long capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        this.capacity = capacity;
    }

    /// <summary>Gets the pixels held now (for tests and diagnostics).</summary>
    public long Used
    {
        get
        {
            lock (gate)
            {
                return used;
            }
        }
    }

    /// <summary>Waits until <paramref name="pixels"/> fit in the budget, then holds them until the lease is disposed.</summary>
    /// <param name="pixels">The image's width × height.</param>
    /// <param name="wait">The longest to wait before giving up with <see cref="OcrBusyException"/>.</param>
    /// <param name="cancellationToken">Cancels waiting (the request was aborted).</param>
    /// <returns>The lease: dispose it when the image is no longer needed.</returns>
    /// <exception cref="OcrBusyException">The pixels did not fit within <paramref name="wait"/>.</exception>
    public async Task<IDisposable> AcquireAsync(long pixels, TimeSpan wait, CancellationToken cancellationToken)
    {
        var held = Math.Clamp(pixels, 1, capacity);
        LinkedListNode<Waiter> node;
        lock (gate)
        {
            // First come, first served: no overtaking of a waiting (larger) image.
            if (waiters.Count == 0 && used + held <= capacity)
            {
                used += held;
                return new Lease(this, held);
            }

            node = waiters.AddLast(new Waiter(held));
        }

        try
        {
            await node.Value.Granted.Task.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
            return new Lease(this, held);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            bool granted;
            lock (gate)
            {
                granted = node.List is null; // granted between the timeout and this lock: give the pixels back
                if (!granted)
                {
                    waiters.Remove(node);
                    GrantLocked(); // the head may have been the one blocking the others
                }
            }

            if (granted)
            {
                Release(held);
            }

            if (ex is TimeoutException)
            {
                throw new OcrBusyException($"The server is decoding {capacity:N0} pixels of other images; this one ({pixels:N0} pixels) did not fit within {wait.TotalSeconds:0.#} s (Ocr:MaxPixelsInFlight). Retry later.");
            }

            throw;
        }
    }

    private void Release(long pixels)
    {
        lock (gate)
        {
            used -= pixels;
            GrantLocked();
        }
    }

    private void GrantLocked()
    {
        while (waiters.First is { } first && used + first.Value.Pixels <= capacity)
        {
            used += first.Value.Pixels;
            waiters.RemoveFirst();
            first.Value.Granted.TrySetResult();
        }
    }

    private sealed class Waiter(long pixels)
    {
        public long Pixels { get; } = pixels;

        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Lease(PixelBudget budget, long pixels) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                budget.Release(pixels);
            }
        }
    }
}

/// <summary>Too many pixels are being processed: answered 429 with Retry-After.</summary>
/// <param name="message">What happened, for the caller.</param>
public sealed class OcrBusyException(string message) : Exception(message);
