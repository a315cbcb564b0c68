using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Numerics;

namespace ModelInService.Sketches;

/// <summary>
/// Constants and error formulas shared by the KLL sketches.
/// </summary>
/// <remarks>This type is stateless and thread-safe.</remarks>
public static class KllSketch
{
    /// <summary>The default k, 200: about 1.33% single-sided normalized rank error (1.65% for PMF) at 99% confidence.</summary>
    public const int DefaultK = KllHelper.DefaultK;

    /// <summary>The smallest k accepted by the constructors (8).</summary>
    public const int MinK = KllHelper.MinK;

    /// <summary>The largest k the binary format can store (65535).</summary>
    public const int MaxK = KllHelper.MaxK;

    /// <summary>
    /// The normalized rank error of a KLL sketch with parameter <paramref name="k"/> at 99% confidence, from Apache
    /// DataSketches' empirical fit: 2.296 / k^0.9723 for rank, CDF and quantile queries ("single-sided"; 1.33% at
    /// k = 200) and 2.446 / k^0.9433 for PMF queries ("double-sided"; 1.65% at k = 200). The figure bounds the largest
    /// error over all queries of one sketch, so it applies to every point of a CDF at once.
    /// </summary>
    /// <param name="k">The sketch parameter (for a merged sketch use its <see cref="KllSketch{T}.MinK"/>).</param>
    /// <param name="pmf"><see langword="true"/> for the PMF (bin mass) error; <see langword="false"/> for rank error.</param>
    /// <returns>The error as a fraction of n.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is below 1 or above <see cref="MaxK"/>.</exception>
    public static double GetNormalizedRankError(int k, bool pmf)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(k, MaxK);
        return KllHelper.NormalizedRankError(k, pmf);
    }
}

/// <summary>
/// A KLL quantile sketch (Karnin, Lang, Liberty 2016) implementing Apache DataSketches' algorithm: level capacities
/// max(m, k·(2/3)^depth), randomized compaction, exact n, min and max, and mergeability. Its compact serialized form
/// is byte-compatible with the Java, C++, Go and Python DataSketches libraries (family 15).
/// </summary>
/// <typeparam name="T">The item type: <see cref="double"/>, <see cref="float"/> or <see cref="long"/>, through
/// <see cref="KllDoublesSketch"/>, <see cref="KllFloatsSketch"/> and <see cref="KllLongsSketch"/>.</typeparam>
/// <remarks>
/// <para>Ranks and quantiles are approximate: with 99% confidence every rank answered by the sketch is within
/// <see cref="GetNormalizedRankError"/> (about 1.33% at k = 200) of the true rank. A sketch that has never compacted
/// (<see cref="IsEstimationMode"/> is <see langword="false"/>) is exact.</para>
/// <para>Thread safety: instances are not thread-safe. Updates and merges must be serialized by the caller, and a
/// query must not run concurrently with an update or a merge (queries build and cache a sorted view). Distinct
/// instances are independent.</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public abstract partial class KllSketch<T>
    where T : unmanaged, INumber<T>
{
    /// <summary>The k parameter: controls accuracy and size. Fixed at construction.</summary>
    private readonly int _k;

    /// <summary>Minimum level width (m). 8 for sketches made here; other values only come from deserialization.</summary>
    private readonly int _m;

    /// <summary>Source of the random bit of each compaction; injectable so tests and replays are deterministic.</summary>
    private readonly Random _random;

    /// <summary>Smallest k of any sketch merged in while that sketch was in estimation mode; drives the error bound.</summary>
    private int _minK;

    /// <summary>Number of items presented (NaN excluded).</summary>
    private long _n;

    /// <summary>Number of levels in use (at least 1).</summary>
    private int _numLevels;

    /// <summary>
    /// Level boundaries into <see cref="_items"/>: level h occupies [_levels[h], _levels[h + 1]).
    /// _levels[_numLevels] == _items.Length always. The array may be longer than _numLevels + 1.
    /// </summary>
    private int[] _levels;

    /// <summary>
    /// Item storage. Level 0 grows downwards from _levels[0]; [0, _levels[0]) is free space. Its length normally
    /// equals the total capacity for _numLevels; a deserialized sketch holds only its retained items and grows to
    /// full capacity on its first update, so decoding never allocates more than the input's size.
    /// </summary>
    private T[] _items;

    /// <summary>Exact minimum item (meaningful when _n &gt; 0).</summary>
    private T _min;

    /// <summary>Exact maximum item (meaningful when _n &gt; 0).</summary>
    private T _max;

    /// <summary>Whether level 0 is known to be sorted (serialized as flag bit 1).</summary>
    private bool _isLevelZeroSorted;

    /// <summary>Cached sorted view; null after any mutation. Built on demand by queries.</summary>
    private KllSortedView<T>? _sortedView;

    /// <summary>Creates an empty sketch.</summary>
    /// <param name="k">Accuracy parameter, between <see cref="KllSketch.MinK"/> and <see cref="KllSketch.MaxK"/>.</param>
    /// <param name="random">Random source for compaction; <see cref="Random.Shared"/> when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is out of range.</exception>
    private protected KllSketch(int k, Random? random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, KllHelper.MinK);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(k, KllHelper.MaxK);
        _k = k;
        _m = KllHelper.DefaultM;
        _minK = k;
        _random = random ?? Random.Shared;
        _numLevels = 1;
        _levels = [k, k];
        _items = new T[k];
    }

    /// <summary>Creates a sketch from validated decoded state (see the serialization part).</summary>
    private protected KllSketch(in KllDecodedState<T> state, Random? random)
    {
        _k = state.K;
        _m = state.M;
        _minK = state.MinK;
        _random = random ?? Random.Shared;
        _n = state.N;
        _numLevels = state.NumLevels;
        _levels = state.Levels;
        _items = state.Items;
        _min = state.Min;
        _max = state.Max;
        _isLevelZeroSorted = state.IsLevelZeroSorted;
        AssertInvariants();
    }

    /// <summary>The k parameter this sketch was created with.</summary>
    public int K => _k;

    /// <summary>
    /// The smallest k among this sketch and the estimation-mode sketches merged into it; the error bound uses it.
    /// </summary>
    public int MinK => _minK;

    /// <summary>Number of items presented to the sketch (NaN values are ignored and not counted). Exact.</summary>
    public long N => _n;

    /// <summary>Whether no item has been presented.</summary>
    public bool IsEmpty => _n == 0;

    /// <summary>
    /// Whether the sketch has compacted (more than one level), so answers are approximate. When false every rank,
    /// quantile, CDF and PMF is exact.
    /// </summary>
    public bool IsEstimationMode => _numLevels > 1;

    /// <summary>Number of items the sketch currently retains.</summary>
    public int NumRetained => _levels[_numLevels] - _levels[0];

    /// <summary>The exact smallest item presented.</summary>
    /// <exception cref="InvalidOperationException">The sketch is empty.</exception>
    public T Min
    {
        get
        {
            ThrowIfEmpty();
            return _min;
        }
    }

    /// <summary>The exact largest item presented.</summary>
    /// <exception cref="InvalidOperationException">The sketch is empty.</exception>
    public T Max
    {
        get
        {
            ThrowIfEmpty();
            return _max;
        }
    }

    /// <summary>Number of levels (for diagnostics and format tests).</summary>
    internal int NumLevels => _numLevels;

    /// <summary>The m parameter.</summary>
    internal int M => _m;

    /// <summary>
    /// The normalized rank error of this sketch at 99% confidence, or 0 when it is exact
    /// (<see cref="IsEstimationMode"/> is false). Uses <see cref="MinK"/>.
    /// </summary>
    /// <param name="pmf"><see langword="true"/> for PMF (bin mass) queries; <see langword="false"/> for rank, CDF and
    /// quantile queries.</param>
    /// <returns>The error as a fraction of n.</returns>
    public double GetNormalizedRankError(bool pmf) => IsEstimationMode ? KllHelper.NormalizedRankError(_minK, pmf) : 0.0;

    /// <summary>
    /// Presents one item. NaN is ignored (as in DataSketches); infinities are accepted as ordinary items.
    /// Amortized O(1) and allocation-free except when the sketch grows a level.
    /// </summary>
    /// <param name="value">The item.</param>
    public void Update(T value)
    {
        if (T.IsNaN(value))
        {
            return;
        }

        if (_n == 0)
        {
            _min = value;
            _max = value;
        }
        else
        {
            if (value < _min)
            {
                _min = value;
            }

            if (value > _max)
            {
                _max = value;
            }
        }

        var levels = _levels;
        if (levels[0] == 0)
        {
            CompressWhileUpdating();
            levels = _levels;
        }

        _n++;
        _isLevelZeroSorted = false;
        _sortedView = null;
        var index = --levels[0];
        _items[index] = value;
    }

    /// <summary>
    /// Merges another sketch into this one. The result summarizes the union of both streams, with the accuracy of
    /// the smaller k. <paramref name="other"/> is not modified. Merging a sketch into itself doubles every weight.
    /// </summary>
    /// <param name="other">The sketch to merge in.</param>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is null.</exception>
    /// <exception cref="ArgumentException">The sketches have different m parameters (only possible for sketches
    /// decoded from another library's bytes).</exception>
    /// <exception cref="OverflowException">The merged count would exceed <see cref="long.MaxValue"/>; this sketch is
    /// unchanged.</exception>
    public void Merge(KllSketch<T> other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.IsEmpty)
        {
            return;
        }

        if (other._m != _m)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"Cannot merge KLL sketches with different m: {_m} and {other._m}."),
                nameof(other));
        }

        // Checked before anything changes, so an overflowing merge leaves this sketch as it was.
        var finalN = checked(_n + other._n);
        if (ReferenceEquals(other, this))
        {
            other = CloneState();
        }

        if (IsEmpty)
        {
            _min = other._min;
            _max = other._max;
        }
        else
        {
            if (other._min < _min)
            {
                _min = other._min;
            }

            if (other._max > _max)
            {
                _max = other._max;
            }
        }

        var otherItems = other._items;
        if (other._levels[1] > other._levels[0])
        {
            _isLevelZeroSorted = false;
        }

        for (var i = other._levels[0]; i < other._levels[1]; i++)
        {
            if (_levels[0] == 0)
            {
                CompressWhileUpdating();
            }

            _items[--_levels[0]] = otherItems[i];
        }

        if (other._numLevels >= 2)
        {
            MergeHigherLevels(other, finalN);
        }

        _n = finalN;
        if (other.IsEstimationMode)
        {
            _minK = Math.Min(_minK, other._minK);
        }

        _sortedView = null;
        AssertInvariants();
    }

    /// <summary>Returns the sketch to its empty state, keeping k and the random source.</summary>
    public void Reset()
    {
        _n = 0;
        _minK = _k;
        _numLevels = 1;
        _levels = [_k, _k];
        if (_items.Length != _k)
        {
            _items = new T[_k];
        }

        _min = default;
        _max = default;
        _isLevelZeroSorted = false;
        _sortedView = null;
    }

    /// <summary>
    /// The approximate normalized rank of <paramref name="value"/>: the fraction of items &lt;= value (inclusive, the
    /// default) or &lt; value (exclusive). Within <see cref="GetNormalizedRankError"/>(false) of the true rank.
    /// </summary>
    /// <param name="value">The query point.</param>
    /// <param name="criteria">Whether items equal to <paramref name="value"/> count.</param>
    /// <returns>A rank in [0, 1].</returns>
    /// <exception cref="InvalidOperationException">The sketch is empty.</exception>
    /// <exception cref="ArgumentException"><paramref name="value"/> is NaN.</exception>
    public double GetRank(T value, QuantileSearchCriteria criteria = QuantileSearchCriteria.Inclusive)
    {
        ThrowIfEmpty();
        ThrowIfNaN(value, nameof(value));
        return GetSortedView().GetRank(value, criteria);
    }

    /// <summary>
    /// The approximate quantile at a normalized rank: the smallest retained item whose inclusive rank is at least
    /// <paramref name="rank"/> (inclusive) or greater than it (exclusive). Rank 0 gives <see cref="Min"/> and rank 1
    /// gives <see cref="Max"/>, both exact.
    /// </summary>
    /// <param name="rank">A rank in [0, 1].</param>
    /// <param name="criteria">Search criteria.</param>
    /// <returns>An item that was presented to the sketch.</returns>
    /// <exception cref="InvalidOperationException">The sketch is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="rank"/> is outside [0, 1] or NaN.</exception>
    public T GetQuantile(double rank, QuantileSearchCriteria criteria = QuantileSearchCriteria.Inclusive)
    {
        ThrowIfEmpty();
        ValidateRank(rank, nameof(rank));
        return QuantileCore(GetSortedView(), rank, criteria);
    }

    /// <summary>Quantiles at several ranks (see <see cref="GetQuantile"/>).</summary>
    /// <param name="ranks">Ranks in [0, 1].</param>
    /// <param name="criteria">Search criteria.</param>
    /// <returns>One quantile per rank.</returns>
    /// <exception cref="InvalidOperationException">The sketch is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A rank is outside [0, 1] or NaN.</exception>
    public T[] GetQuantiles(ReadOnlySpan<double> ranks, QuantileSearchCriteria criteria = QuantileSearchCriteria.Inclusive)
    {
        ThrowIfEmpty();
        foreach (var r in ranks)
        {
            ValidateRank(r, nameof(ranks));
        }

        var view = GetSortedView();
        var result = new T[ranks.Length];
        for (var i = 0; i < ranks.Length; i++)
        {
            result[i] = QuantileCore(view, ranks[i], criteria);
        }

        return result;
    }

    /// <summary>
    /// The approximate CDF at split points: element i is the rank of <paramref name="splitPoints"/>[i]; a final
    /// element 1.0 is appended, so the result has splitPoints.Length + 1 elements.
    /// </summary>
    /// <param name="splitPoints">Strictly increasing points, no NaN.</param>
    /// <param name="criteria">Search criteria.</param>
    /// <returns>The cumulative fractions.</returns>
    /// <exception cref="InvalidOperationException">The sketch is empty.</exception>
    /// <exception cref="ArgumentException">The split points are not strictly increasing or contain NaN.</exception>
    public double[] GetCdf(ReadOnlySpan<T> splitPoints, QuantileSearchCriteria criteria = QuantileSearchCriteria.Inclusive)
    {
        ThrowIfEmpty();
        ValidateSplitPoints(splitPoints);
        var view = GetSortedView();
        var result = new double[splitPoints.Length + 1];
        for (var i = 0; i < splitPoints.Length; i++)
        {
            result[i] = view.GetRank(splitPoints[i], criteria);
        }

        result[^1] = 1.0;
        return result;
    }

    /// <summary>
    /// The approximate probability mass between split points: with inclusive criteria, element 0 is the mass of
    /// (-inf, s0], element i the mass of (s[i-1], s[i]], and the last the mass above the last split point
    /// (exclusive criteria: [s[i-1], s[i])). Each mass is within <see cref="GetNormalizedRankError"/>(true).
    /// </summary>
    /// <param name="splitPoints">Strictly increasing points, no NaN.</param>
    /// <param name="criteria">Search criteria.</param>
    /// <returns>splitPoints.Length + 1 masses summing to 1.</returns>
    /// <exception cref="InvalidOperationException">The sketch is empty.</exception>
    /// <exception cref="ArgumentException">The split points are not strictly increasing or contain NaN.</exception>
    public double[] GetPmf(ReadOnlySpan<T> splitPoints, QuantileSearchCriteria criteria = QuantileSearchCriteria.Inclusive)
    {
        var cdf = GetCdf(splitPoints, criteria);
        for (var i = cdf.Length - 1; i > 0; i--)
        {
            cdf[i] -= cdf[i - 1];
        }

        return cdf;
    }

    /// <summary>A one-line summary: k, n, retained items, levels, min and max.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() =>
        IsEmpty
            ? string.Create(CultureInfo.InvariantCulture, $"{GetType().Name}(k={_k}, empty)")
            : string.Create(
                CultureInfo.InvariantCulture,
                $"{GetType().Name}(k={_k}, n={_n}, retained={NumRetained}, levels={_numLevels}, min={_min}, max={_max}, estimation={IsEstimationMode})");

    /// <summary>The cached sorted view, built if needed. Not thread-safe (see the type remarks).</summary>
    internal KllSortedView<T> GetSortedView()
    {
        var view = _sortedView;
        if (view is not null)
        {
            return view;
        }

        var count = NumRetained;
        var items = new T[count];
        var weights = new long[count];
        var dst = 0;
        long weight = 1;
        for (var level = 0; level < _numLevels; level++)
        {
            var from = _levels[level];
            var to = _levels[level + 1];
            Array.Copy(_items, from, items, dst, to - from);
            weights.AsSpan(dst, to - from).Fill(weight);
            dst += to - from;
            weight <<= 1;
        }

        Array.Sort(items, weights);
        long cumulative = 0;
        for (var i = 0; i < count; i++)
        {
            cumulative += weights[i];
            weights[i] = cumulative;
        }

        Debug.Assert(cumulative == _n, "weights sum to n");
        view = new KllSortedView<T>(items, weights, _n);
        _sortedView = view;
        return view;
    }

    /// <summary>Level sizes and items by level, for format tests and diagnostics.</summary>
    internal (int[] LevelSizes, T[] Items) GetLevelsAndItems()
    {
        var sizes = new int[_numLevels];
        for (var i = 0; i < _numLevels; i++)
        {
            sizes[i] = _levels[i + 1] - _levels[i];
        }

        return (sizes, _items.AsSpan(_levels[0], NumRetained).ToArray());
    }

    private T QuantileCore(KllSortedView<T> view, double rank, QuantileSearchCriteria criteria)
    {
        if (rank == 0.0 && criteria == QuantileSearchCriteria.Inclusive)
        {
            return _min;
        }

        if (rank == 1.0)
        {
            return _max;
        }

        return view.GetQuantile(rank, criteria);
    }

    private void ThrowIfEmpty()
    {
        if (_n == 0)
        {
            throw new InvalidOperationException("The sketch is empty.");
        }
    }

    private static void ThrowIfNaN(T value, string paramName)
    {
        if (T.IsNaN(value))
        {
            throw new ArgumentException("NaN is not a valid query point.", paramName);
        }
    }

    private static void ValidateRank(double rank, string paramName)
    {
        if (!(rank >= 0.0 && rank <= 1.0))
        {
            throw new ArgumentOutOfRangeException(paramName, rank, "A normalized rank must be in [0, 1].");
        }
    }

    private static void ValidateSplitPoints(ReadOnlySpan<T> splitPoints)
    {
        for (var i = 0; i < splitPoints.Length; i++)
        {
            ThrowIfNaN(splitPoints[i], nameof(splitPoints));
            if (i > 0 && !(splitPoints[i - 1] < splitPoints[i]))
            {
                throw new ArgumentException("Split points must be strictly increasing.", nameof(splitPoints));
            }
        }
    }

    private KllSketch<T> CloneState()
    {
        var copy = (KllSketch<T>)MemberwiseClone();
        copy._items = (T[])_items.Clone();
        copy._levels = (int[])_levels.Clone();
        copy._sortedView = null;
        return copy;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Compaction (DataSketches kll_sketch::compress_while_updating and helpers).
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>Frees space at the bottom of the buffer: grows a compact (decoded) buffer, or compacts one level.</summary>
    private void CompressWhileUpdating()
    {
        var capacity = KllHelper.ComputeTotalCapacity(_k, _m, _numLevels);
        if (_items.Length < capacity)
        {
            GrowToCapacity(capacity);
            return;
        }

        var level = FindLevelToCompact();

        // Adding the new top level here grows the buffer, shifts the data and the boundaries up, and increments
        // _numLevels, so the +2 below is always in range.
        if (level == _numLevels - 1)
        {
            AddEmptyTopLevelToCompletelyFullSketch();
        }

        var levels = _levels;
        var items = _items;
        var rawBeg = levels[level];
        var rawLim = levels[level + 1];
        var popAbove = levels[level + 2] - rawLim;
        var rawPop = rawLim - rawBeg;
        var oddPop = (rawPop & 1) == 1;
        var adjBeg = oddPop ? rawBeg + 1 : rawBeg;
        var adjPop = oddPop ? rawPop - 1 : rawPop;
        var halfAdjPop = adjPop / 2;

        // Level zero might not be sorted; sort the part that is compacted (the odd leftover item stays out).
        if (level == 0 && !_isLevelZeroSorted)
        {
            Array.Sort(items, adjBeg, adjPop);
        }

        if (popAbove == 0)
        {
            RandomlyHalveUp(items, adjBeg, adjPop);
        }
        else
        {
            RandomlyHalveDown(items, adjBeg, adjPop);
            MergeSortedInPlace(items, adjBeg, halfAdjPop, rawLim, popAbove, adjBeg + halfAdjPop);
        }

        levels[level + 1] -= halfAdjPop;
        if (oddPop)
        {
            levels[level] = levels[level + 1] - 1; // the current level now holds the one leftover item
            if (levels[level] != rawBeg)
            {
                items[levels[level]] = items[rawBeg];
            }
        }
        else
        {
            levels[level] = levels[level + 1]; // the current level is now empty
        }

        Debug.Assert(levels[level] == rawBeg + halfAdjPop, "compaction freed halfAdjPop slots below the level");

        // Shift the levels below up so that the freed space ends up below level 0.
        if (level > 0)
        {
            var amount = rawBeg - levels[0];
            Array.Copy(items, levels[0], items, levels[0] + halfAdjPop, amount);
            for (var lvl = 0; lvl < level; lvl++)
            {
                levels[lvl] += halfAdjPop;
            }
        }
    }

    private int FindLevelToCompact()
    {
        var level = 0;
        while (true)
        {
            Debug.Assert(level < _numLevels, "capacity calculation error");
            var pop = _levels[level + 1] - _levels[level];
            var cap = KllHelper.LevelCapacity(_k, _numLevels, level, _m);
            if (pop >= cap)
            {
                return level;
            }

            level++;
        }
    }

    private void AddEmptyTopLevelToCompletelyFullSketch()
    {
        var curTotalCap = _levels[_numLevels];
        Debug.Assert(_levels[0] == 0 && _items.Length == curTotalCap, "full sketch expected");
        if (_numLevels >= KllHelper.MaxLevels)
        {
            throw new InvalidOperationException("The KLL sketch reached its maximum number of levels.");
        }

        if (_levels.Length < _numLevels + 2)
        {
            Array.Resize(ref _levels, _numLevels + 2);
        }

        var deltaCap = KllHelper.LevelCapacity(_k, _numLevels + 1, 0, _m);
        var newTotalCap = curTotalCap + deltaCap;
        var newItems = new T[newTotalCap];
        Array.Copy(_items, 0, newItems, deltaCap, curTotalCap);
        _items = newItems;

        // This loop includes the old "extra" index at the top.
        for (var i = 0; i <= _numLevels; i++)
        {
            _levels[i] += deltaCap;
        }

        _numLevels++;
        _levels[_numLevels] = newTotalCap;
    }

    private void GrowToCapacity(int capacity)
    {
        var shift = capacity - _items.Length;
        var grown = new T[capacity];
        Array.Copy(_items, 0, grown, shift, _items.Length);
        _items = grown;
        for (var i = 0; i <= _numLevels; i++)
        {
            _levels[i] += shift;
        }
    }

    private int RandomBit() => _random.Next(2);

    /// <summary>Keeps every other item of buf[start, start+length), writing the survivors to the lower half.</summary>
    private void RandomlyHalveDown(T[] buf, int start, int length)
    {
        Debug.Assert((length & 1) == 0, "length must be even");
        var halfLength = length / 2;
        var j = start + RandomBit();
        for (var i = start; i < start + halfLength; i++)
        {
            buf[i] = buf[j];
            j += 2;
        }
    }

    /// <summary>Keeps every other item of buf[start, start+length), writing the survivors to the upper half.</summary>
    private void RandomlyHalveUp(T[] buf, int start, int length)
    {
        Debug.Assert((length & 1) == 0, "length must be even");
        var halfLength = length / 2;
        var j = start + length - 1 - RandomBit();
        for (var i = start + length - 1; i >= start + halfLength; i--)
        {
            buf[i] = buf[j];
            j -= 2;
        }
    }

    /// <summary>
    /// Merges two sorted runs of <paramref name="buf"/> into a run starting at <paramref name="startC"/>. Safe in place
    /// because the output never overtakes the unread part of either input (DataSketches' layout guarantees it).
    /// </summary>
    private static void MergeSortedInPlace(T[] buf, int startA, int lenA, int startB, int lenB, int startC)
    {
        var limA = startA + lenA;
        var limB = startB + lenB;
        var limC = startC + lenA + lenB;
        var a = startA;
        var b = startB;
        for (var c = startC; c < limC; c++)
        {
            if (a == limA)
            {
                buf[c] = buf[b++];
            }
            else if (b == limB)
            {
                buf[c] = buf[a++];
            }
            else if (buf[a] < buf[b])
            {
                buf[c] = buf[a++];
            }
            else
            {
                buf[c] = buf[b++];
            }
        }
    }

    /// <summary>Merges two sorted runs from different arrays into <paramref name="dst"/>.</summary>
    private static void MergeSorted(T[] bufA, int startA, int lenA, T[] bufB, int startB, int lenB, T[] dst, int startC)
    {
        var limA = startA + lenA;
        var limB = startB + lenB;
        var limC = startC + lenA + lenB;
        var a = startA;
        var b = startB;
        for (var c = startC; c < limC; c++)
        {
            if (a == limA)
            {
                dst[c] = bufB[b++];
            }
            else if (b == limB)
            {
                dst[c] = bufA[a++];
            }
            else if (bufA[a] < bufB[b])
            {
                dst[c] = bufA[a++];
            }
            else
            {
                dst[c] = bufB[b++];
            }
        }
    }

    private int SafeLevelSize(int level) => level < _numLevels ? _levels[level + 1] - _levels[level] : 0;

    private void MergeHigherLevels(KllSketch<T> other, long finalN)
    {
        var otherAboveZero = other._levels[other._numLevels] - other._levels[1];
        var tmpNumItems = NumRetained + otherAboveZero;
        var provisionalNumLevels = Math.Max(_numLevels, other._numLevels);

        // Level arrays: general compression may write two entries above the final number of levels, which is at
        // most MaxLevels, so this fixed size always suffices.
        Span<int> workLevels = stackalloc int[KllHelper.MaxLevels + 3];
        Span<int> outLevels = stackalloc int[KllHelper.MaxLevels + 3];
        workLevels.Clear();
        outLevels.Clear();

        var workBuf = ArrayPool<T>.Shared.Rent(Math.Max(tmpNumItems, 1));
        try
        {
            // Populate the work arrays: self's level 0 (which already holds other's level 0), then each level
            // above, merging self's and other's sorted runs.
            var selfPopZero = SafeLevelSize(0);
            Array.Copy(_items, _levels[0], workBuf, 0, selfPopZero);
            workLevels[0] = 0;
            workLevels[1] = selfPopZero;
            for (var lvl = 1; lvl < provisionalNumLevels; lvl++)
            {
                var selfPop = SafeLevelSize(lvl);
                var otherPop = other.SafeLevelSize(lvl);
                workLevels[lvl + 1] = workLevels[lvl] + selfPop + otherPop;
                if (selfPop > 0 && otherPop == 0)
                {
                    Array.Copy(_items, _levels[lvl], workBuf, workLevels[lvl], selfPop);
                }
                else if (selfPop == 0 && otherPop > 0)
                {
                    Array.Copy(other._items, other._levels[lvl], workBuf, workLevels[lvl], otherPop);
                }
                else if (selfPop > 0 && otherPop > 0)
                {
                    MergeSorted(_items, _levels[lvl], selfPop, other._items, other._levels[lvl], otherPop, workBuf, workLevels[lvl]);
                }
            }

            var (finalNumLevels, finalCapacity, finalPop) =
                GeneralCompress(provisionalNumLevels, workBuf, workLevels, outLevels);
            Debug.Assert(finalNumLevels <= KllHelper.UpperBoundOnNumLevels(finalN), "levels within the upper bound");

            if (finalCapacity != _items.Length)
            {
                _items = new T[finalCapacity];
            }

            var freeSpaceAtBottom = finalCapacity - finalPop;
            Array.Copy(workBuf, outLevels[0], _items, freeSpaceAtBottom, finalPop);
            var theShift = freeSpaceAtBottom - outLevels[0];
            if (_levels.Length < finalNumLevels + 1)
            {
                Array.Resize(ref _levels, finalNumLevels + 1);
            }

            for (var lvl = 0; lvl < finalNumLevels + 1; lvl++)
            {
                _levels[lvl] = outLevels[lvl] + theShift;
            }

            _numLevels = finalNumLevels;
        }
        finally
        {
            ArrayPool<T>.Shared.Return(workBuf);
        }
    }

    /// <summary>
    /// DataSketches' general_compress: walks the levels bottom-up and compacts each one that is over capacity while
    /// the sketch as a whole is over capacity; may add levels. Works in place on <paramref name="items"/>.
    /// </summary>
    private (int FinalNumLevels, int FinalCapacity, int FinalPop) GeneralCompress(
        int numLevelsIn, T[] items, Span<int> inLevels, Span<int> outLevels)
    {
        var startingItemCount = inLevels[numLevelsIn] - inLevels[0];
        var currentNumLevels = numLevelsIn;
        var currentItemCount = startingItemCount;
        var targetItemCount = KllHelper.ComputeTotalCapacity(_k, _m, currentNumLevels);
        var doneYet = false;
        outLevels[0] = 0;
        var currentLevel = 0;
        while (!doneYet)
        {
            // At the current top level, add an empty level above it for convenience (numLevels grows later).
            if (currentLevel == currentNumLevels - 1)
            {
                inLevels[currentLevel + 2] = inLevels[currentLevel + 1];
            }

            var rawBeg = inLevels[currentLevel];
            var rawLim = inLevels[currentLevel + 1];
            var rawPop = rawLim - rawBeg;

            if (currentItemCount < targetItemCount || rawPop < KllHelper.LevelCapacity(_k, currentNumLevels, currentLevel, _m))
            {
                // Move the level over as is (never upwards).
                Debug.Assert(rawBeg >= outLevels[currentLevel], "wrong move");
                if (rawBeg != outLevels[currentLevel])
                {
                    Array.Copy(items, rawBeg, items, outLevels[currentLevel], rawPop);
                }

                outLevels[currentLevel + 1] = outLevels[currentLevel] + rawPop;
            }
            else
            {
                // The sketch is too full AND this level is too full: compact it (this can add a level).
                var popAbove = inLevels[currentLevel + 2] - rawLim;
                var oddPop = (rawPop & 1) == 1;
                var adjBeg = oddPop ? rawBeg + 1 : rawBeg;
                var adjPop = oddPop ? rawPop - 1 : rawPop;
                var halfAdjPop = adjPop / 2;

                if (oddPop)
                {
                    items[outLevels[currentLevel]] = items[rawBeg];
                    outLevels[currentLevel + 1] = outLevels[currentLevel] + 1;
                }
                else
                {
                    outLevels[currentLevel + 1] = outLevels[currentLevel];
                }

                if (currentLevel == 0 && !_isLevelZeroSorted)
                {
                    Array.Sort(items, adjBeg, adjPop);
                }

                if (popAbove == 0)
                {
                    RandomlyHalveUp(items, adjBeg, adjPop);
                }
                else
                {
                    RandomlyHalveDown(items, adjBeg, adjPop);
                    MergeSortedInPlace(items, adjBeg, halfAdjPop, rawLim, popAbove, adjBeg + halfAdjPop);
                }

                currentItemCount -= halfAdjPop;
                inLevels[currentLevel + 1] -= halfAdjPop;

                if (currentLevel == currentNumLevels - 1)
                {
                    if (currentNumLevels >= KllHelper.MaxLevels)
                    {
                        throw new InvalidOperationException("The KLL sketch reached its maximum number of levels.");
                    }

                    currentNumLevels++;
                    targetItemCount += KllHelper.LevelCapacity(_k, currentNumLevels, 0, _m);
                }
            }

            if (currentLevel == currentNumLevels - 1)
            {
                doneYet = true;
            }

            currentLevel++;
        }

        Debug.Assert(outLevels[currentNumLevels] - outLevels[0] == currentItemCount, "inconsistent state");
        return (currentNumLevels, targetItemCount, currentItemCount);
    }

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(_numLevels >= 1 && _levels.Length >= _numLevels + 1, "levels array large enough");
        Debug.Assert(_levels[_numLevels] == _items.Length, "top boundary equals buffer length");
        long total = 0;
        for (var lvl = 0; lvl < _numLevels; lvl++)
        {
            Debug.Assert(_levels[lvl] <= _levels[lvl + 1], "levels non-decreasing");
            total += (long)(_levels[lvl + 1] - _levels[lvl]) << lvl;
        }

        Debug.Assert(total == _n, "weights sum to n");
    }
}
