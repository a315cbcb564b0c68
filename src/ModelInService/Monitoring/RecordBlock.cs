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

    /// <summary>The most model versions one block counts rows of; a row of a further version goes to a new block.</summary>
    public const int MaxVersions = 4;

    /// <summary>The model versions (<see cref="ModelVersionInfo.Sha256"/>) whose rows the block holds; the first <see cref="VersionCount"/> are used.</summary>
    private readonly string?[] _versions = new string?[MaxVersions];

    /// <summary>Rows per version, parallel to <see cref="_versions"/>.</summary>
    private readonly int[] _versionRows = new int[MaxVersions];

    /// <summary>The slot of the last version counted: rows come in runs of one version, so this is the common hit.</summary>
    private int _lastVersion;

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

    /// <summary>Gets how many model versions the block counts rows of.</summary>
    public int VersionCount { get; private set; }

    /// <summary>Gets the version at <paramref name="i"/>.</summary>
    public string VersionAt(int i) => _versions[i]!;

    /// <summary>Gets the rows of the version at <paramref name="i"/>.</summary>
    public int VersionRowsAt(int i) => _versionRows[i];

    /// <summary>
    /// Whether a row of <paramref name="version"/> can be counted here: unknown (null), already counted, or room for one
    /// more. A canary's rows interleave with the serving model's, so a block counts several versions instead of
    /// being cut at every change (which would fill the queue with one-row blocks).
    /// </summary>
    public bool HasRoomFor(string? version)
    {
        if (version is null || VersionCount < MaxVersions || ReferenceEquals(_versions[_lastVersion], version))
        {
            return true;
        }

        return IndexOf(version) >= 0;
    }

    /// <summary>Counts one written row of <paramref name="version"/> (null: unknown, not counted). After <see cref="HasRoomFor"/>.</summary>
    public void CountVersion(string? version)
    {
        if (version is null)
        {
            return;
        }

        // The common case: the same string instance as the last row (the runtime's own Sha256).
        if (VersionCount > 0 && ReferenceEquals(_versions[_lastVersion], version))
        {
            _versionRows[_lastVersion]++;
            return;
        }

        var i = IndexOf(version);
        if (i < 0)
        {
            i = VersionCount++;
            _versions[i] = version;
            _versionRows[i] = 0;
        }

        _lastVersion = i;
        _versionRows[i]++;
    }

    private int IndexOf(string version)
    {
        for (var i = 0; i < VersionCount; i++)
        {
            if (string.Equals(_versions[i], version, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

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
        Array.Clear(_versions, 0, VersionCount);
        VersionCount = 0;
        _lastVersion = 0;
        Rows = 0;
        NumberCount = 0;
        Array.Clear(Labels, 0, LabelCount);
        LabelCount = 0;
        SchemaViolations = 0;
        Unsampled = 0;
    }
}
