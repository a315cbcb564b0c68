namespace ModelInService.Sketches;

/// <summary>
/// A KLL quantile sketch of single-precision floating-point values, compatible with Apache DataSketches' <c>KllFloatsSketch</c>
/// (single-precision floating-point items, family 15). NaN values are ignored.
/// </summary>
/// <remarks>
/// <para>See <see cref="KllSketch{T}"/> for the algorithm, accuracy and serialized form.</para>
/// <para>Thread safety: not thread-safe; serialize updates, merges and queries on one instance.</para>
/// </remarks>
public sealed class KllFloatsSketch : KllSketch<float>
{
    /// <summary>Creates an empty sketch.</summary>
    /// <param name="k">Accuracy parameter (default 200, about 1.33% rank error), between <see cref="KllSketch.MinK"/>
    /// and <see cref="KllSketch.MaxK"/>.</param>
    /// <param name="random">Random source for compaction (inject a seeded one for reproducible results);
    /// <see cref="Random.Shared"/> when null.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is out of range.</exception>
    public KllFloatsSketch(int k = KllSketch.DefaultK, Random? random = null)
        : base(k, random)
    {
    }

    private KllFloatsSketch(in KllDecodedState<float> state, Random? random)
        : base(state, random)
    {
    }

    /// <summary>
    /// Reads a sketch serialized by <see cref="KllSketch{T}.ToByteArray"/> or by Apache DataSketches (Java, C++, Go,
    /// Python) for float items: the compact empty, single-item and full forms, and Java's updatable form.
    /// The input is validated completely; trailing bytes after the sketch are ignored.
    /// </summary>
    /// <param name="bytes">The serialized sketch.</param>
    /// <param name="random">Random source for later compactions; <see cref="Random.Shared"/> when null.</param>
    /// <returns>A new sketch that can be queried, updated and merged.</returns>
    /// <exception cref="FormatException">The bytes are truncated, inconsistent or not a KLL sketch of float items.</exception>
    public static KllFloatsSketch Deserialize(ReadOnlySpan<byte> bytes, Random? random = null) => new(Decode(bytes), random);
}
