namespace ModelInService.Batching;

/// <summary>
/// Online estimate of a batch's run time as a·n + b (least squares over the last <see cref="Window"/> batches) and of
/// the arrival interval (exponentially weighted). Used by the adaptive batcher; thread-safe by a lock because updates
/// happen once per batch and reads once per wait decision.
/// </summary>
internal sealed class BatchCostModel
{
    public const int Window = 50;

    private readonly Lock _lock = new();

    /// <summary>Ring of (batch size, seconds).</summary>
    private readonly (int Size, double Seconds)[] _samples = new (int, double)[Window];

    private int _count;
    private int _next;

    /// <summary>Fitted slope (seconds per item) and intercept (seconds per batch).</summary>
    private double _a;
    private double _b;

    /// <summary>Smoothed seconds between arrivals; 0 until two arrivals were seen.</summary>
    private double _interval;
    private long _lastArrival;

    public bool HasEstimate
    {
        get
        {
            lock (_lock)
            {
                return _count >= 3;
            }
        }
    }

    public void AddBatch(int size, double seconds)
    {
        lock (_lock)
        {
            _samples[_next] = (size, seconds);
            _next = (_next + 1) % Window;
            _count = Math.Min(_count + 1, Window);
            Fit();
        }
    }

    public void AddArrival(long timestamp, long frequency)
    {
        lock (_lock)
        {
            if (_lastArrival != 0 && timestamp > _lastArrival)
            {
                var seconds = (timestamp - _lastArrival) / (double)frequency;
                _interval = _interval == 0 ? seconds : (0.9 * _interval) + (0.1 * seconds);
            }

            _lastArrival = timestamp;
        }
    }

    /// <summary>Predicted seconds to run a batch of <paramref name="size"/>.</summary>
    public double Predict(int size)
    {
        lock (_lock)
        {
            return Math.Max(0, (_a * size) + _b);
        }
    }

    /// <summary>
    /// Whether waiting for one more request pays: the <paramref name="waiting"/> requests already collected each wait
    /// about one arrival interval plus the per-item cost, while the newcomer saves the fixed cost b of a run of its own.
    /// </summary>
    public bool ShouldWait(int waiting)
    {
        lock (_lock)
        {
            if (_count < 3 || _interval <= 0)
            {
                return true; // no estimate yet: behave like the plain batcher
            }

            return waiting * (_interval + _a) < _b;
        }
    }

    public (double A, double B, double Interval) Snapshot()
    {
        lock (_lock)
        {
            return (_a, _b, _interval);
        }
    }

    private void Fit()
    {
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (var i = 0; i < _count; i++)
        {
            var (x, y) = _samples[i];
            sx += x;
            sy += y;
            sxx += (double)x * x;
            sxy += x * y;
        }

        var n = _count;
        var denominator = (n * sxx) - (sx * sx);
        if (n >= 2 && Math.Abs(denominator) > 1e-12)
        {
            _a = Math.Max(0, ((n * sxy) - (sx * sy)) / denominator);
            _b = Math.Max(0, (sy - (_a * sx)) / n);
        }
        else
        {
            // All batches the same size: attribute the cost to the batch, not the items.
            _a = 0;
            _b = sy / n;
        }
    }
}
