using System.Diagnostics;

namespace ModelInService.Monitoring;

/// <summary>
/// A block of encoded rows of one interval, written on the request path under the recorder's lock and handed whole to
/// the consumer through the bounded channel. Blocks are recycled, so steady-state recording allocates nothing.
/// </summary>
[DebuggerDisplay("interval {Interval}: {Rows} rows, {NumberCount} numbers, {LabelCount} labels")]
internal sealed class RecordBlock
{
    /// <summary>Rows per block: one channel write (and at most one consumer wake-up) per this many predictions.</summary>
    public const int MaxRows = 256;

    public RecordBlock(int numbers, int labels)
    {
        Numbers = new double[Math.Max(16, numbers)];
        Labels = new string?[Math.Max(4, labels)];
    }

    /// <summary>The interval index (UTC ticks / interval ticks) of every row in the block.</summary>
    public long Interval { get; set; }

    /// <summary>
    /// The version (<see cref="ModelVersionInfo.Sha256"/>) of the generation that answered every row of the block, or
    /// null when unknown. A row of another version starts a new block, so a block never mixes versions.
    /// </summary>
    public string? Version { get; set; }

    /// <summary>Rows written.</summary>
    public int Rows { get; set; }

    /// <summary>Encoded numbers; see <see cref="SlotEncoding"/>.</summary>
    public double[] Numbers { get; private set; }

    public int NumberCount { get; set; }

    /// <summary>Encoded labels; strings are immutable, so holding references is safe.</summary>
    public string?[] Labels { get; private set; }

    public int LabelCount { get; set; }

    /// <summary>Non-null for a barrier: completed by the consumer once every earlier block is processed.</summary>
    public TaskCompletionSource? Barrier { get; init; }

    /// <summary>Schema violations counted into this block (rows rejected by the validator).</summary>
    public long SchemaViolations { get; set; }

    /// <summary>Predictions of this interval left out of profiling by the sampling budget (counted for volume only).</summary>
    public long Unsampled { get; set; }

    public bool TryAddNumber(double value)
    {
        if (NumberCount == Numbers.Length)
        {
            return false;
        }

        Numbers[NumberCount++] = value;
        return true;
    }

    public bool TryAddLabel(string? value)
    {
        if (LabelCount == Labels.Length)
        {
            return false;
        }

        Labels[LabelCount++] = value;
        return true;
    }

    /// <summary>Room for <paramref name="count"/> more numbers, as a span to fill (empty when there is none).</summary>
    public Span<double> TakeNumbers(int count)
    {
        if (Numbers.Length - NumberCount < count)
        {
            return default;
        }

        var span = Numbers.AsSpan(NumberCount, count);
        NumberCount += count;
        return span;
    }

    /// <summary>Doubles the arrays (a row larger than an empty block; rare).</summary>
    public void Grow()
    {
        var numbers = Numbers;
        Array.Resize(ref numbers, Numbers.Length * 2);
        Numbers = numbers;
        var labels = Labels;
        Array.Resize(ref labels, Labels.Length * 2);
        Labels = labels;
    }

    public void Reset(long interval)
    {
        Interval = interval;
        Version = null;
        Rows = 0;
        NumberCount = 0;
        Array.Clear(Labels, 0, LabelCount);
        LabelCount = 0;
        SchemaViolations = 0;
        Unsampled = 0;
    }
}
