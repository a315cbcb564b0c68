using System.Diagnostics;

namespace ModelInService.Monitoring;

/// <summary>
/// The model versions (<see cref="ModelVersionInfo.Sha256"/>) whose answers an interval (or a window, or a reference)
/// profiled, with their row counts. Bounded: at most <see cref="MaxVersions"/> versions are named; the rows of further
/// versions are counted in <see cref="OtherRows"/>. Not thread-safe: used under the monitor's state lock.
/// </summary>
[DebuggerDisplay("{Count} versions, {OtherRows} other rows")]
internal sealed class VersionRows
{
    /// <summary>The most versions named per interval (a rolling deploy has two; a reload loop a few).</summary>
    public const int MaxVersions = 8;

    /// <summary>The longest version string kept (the runtime's are 16 hex digits; a snapshot's are checked against this).</summary>
    public const int MaxLength = 64;

    /// <summary>The named versions; only the first <see cref="Count"/> are used. Allocated at the first version.</summary>
    private string[]? _names;

    /// <summary>Rows per named version, parallel to <see cref="_names"/>.</summary>
    private long[]? _rows;

    /// <summary>Gets how many versions are named.</summary>
    public int Count { get; private set; }

    /// <summary>Gets the rows of versions beyond <see cref="MaxVersions"/> (their names are not kept).</summary>
    public long OtherRows { get; private set; }

    /// <summary>Gets the named version at <paramref name="i"/>.</summary>
    public string NameAt(int i) => _names![i];

    /// <summary>Gets the rows of the named version at <paramref name="i"/>.</summary>
    public long RowsAt(int i) => _rows![i];

    /// <summary>Whether a string is acceptable as a version: 1 to <see cref="MaxLength"/> ASCII letters, digits, '-', '_' or '.'.</summary>
    public static bool IsValid(string? version)
    {
        if (version is null || version.Length is 0 or > MaxLength)
        {
            return false;
        }

        foreach (var c in version)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Adds <paramref name="rows"/> rows answered by <paramref name="version"/>; beyond the bound they count as other.</summary>
    public void Add(string version, long rows)
    {
        for (var i = 0; i < Count; i++)
        {
            if (string.Equals(_names![i], version, StringComparison.Ordinal))
            {
                _rows![i] += rows;
                return;
            }
        }

        if (Count == MaxVersions)
        {
            OtherRows += rows;
            return;
        }

        _names ??= new string[MaxVersions];
        _rows ??= new long[MaxVersions];
        _names[Count] = version;
        _rows[Count] = rows;
        Count++;
    }

    /// <summary>Adds rows of versions whose names are not known (another set's overflow).</summary>
    public void AddOther(long rows) => OtherRows += rows;

    /// <summary>Unions <paramref name="other"/> in: rows of a version add.</summary>
    public void MergeFrom(VersionRows other)
    {
        for (var i = 0; i < other.Count; i++)
        {
            Add(other._names![i], other._rows![i]);
        }

        OtherRows += other.OtherRows;
    }

    /// <summary>Empties the set for reuse.</summary>
    public void Reset()
    {
        if (_names is not null)
        {
            Array.Clear(_names);
        }

        Count = 0;
        OtherRows = 0;
    }

    /// <summary>The file header's entries of the set; null when it names none (the field is then left out).</summary>
    public List<VersionEntry?>? ToEntries()
    {
        if (Count == 0)
        {
            return null;
        }

        var list = new List<VersionEntry?>(Count);
        for (var i = 0; i < Count; i++)
        {
            list.Add(new VersionEntry { Version = _names![i], Rows = _rows![i] });
        }

        return list;
    }

    /// <summary>
    /// Checks a file header's versions (<paramref name="what"/> starts the message, e.g. "Invalid monitor snapshot:
    /// interval 7"): at most <see cref="MaxVersions"/>, each valid and listed once, their rows and
    /// <paramref name="otherRows"/> within <paramref name="rows"/>.
    /// </summary>
    /// <exception cref="FormatException">They are not.</exception>
    public static void Validate(List<VersionEntry?>? versions, long? otherRows, long rows, string what)
    {
        var other = otherRows ?? 0;
        if (other < 0 || other > rows)
        {
            throw new FormatException($"{what} counts {other} rows of other model versions (it has {rows} rows).");
        }

        if (versions is null)
        {
            return;
        }

        if (versions.Count > MaxVersions)
        {
            throw new FormatException($"{what} lists more than {MaxVersions} model versions.");
        }

        var counted = other;
        for (var i = 0; i < versions.Count; i++)
        {
            if (versions[i] is not { } version || !IsValid(version.Version))
            {
                throw new FormatException($"{what} has a model version that is null, empty, longer than {MaxLength} characters or not made of ASCII letters, digits, '-', '_' and '.'.");
            }

            for (var j = 0; j < i; j++)
            {
                if (string.Equals(versions[j]!.Version, version.Version, StringComparison.Ordinal))
                {
                    throw new FormatException($"{what} lists model version '{version.Version}' twice.");
                }
            }

            if (version.Rows < 0 || version.Rows > rows - counted)
            {
                throw new FormatException($"{what}: its model versions count more rows than it has ({rows}).");
            }

            counted += version.Rows;
        }
    }

    /// <summary>Adds a validated header's versions (see <see cref="Validate"/>).</summary>
    public void AddEntries(List<VersionEntry?>? versions, long? otherRows)
    {
        foreach (var version in versions ?? [])
        {
            Add(version!.Version!, version.Rows);
        }

        AddOther(otherRows ?? 0);
    }

    /// <summary>The named versions, most rows first (ties by name), for reports.</summary>
    public IReadOnlyList<ModelVersionRows> ToList()
    {
        if (Count == 0)
        {
            return [];
        }

        var list = new ModelVersionRows[Count];
        for (var i = 0; i < Count; i++)
        {
            list[i] = new ModelVersionRows(_names![i], _rows![i]);
        }

        Array.Sort(list, static (a, b) => a.Rows != b.Rows ? b.Rows.CompareTo(a.Rows) : string.CompareOrdinal(a.Version, b.Version));
        return list;
    }

    /// <summary>Whether <paramref name="version"/> is one of the named versions.</summary>
    public bool Contains(string version)
    {
        for (var i = 0; i < Count; i++)
        {
            if (string.Equals(_names![i], version, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The report's note on the window's versions (<paramref name="window"/>) against the reference's
    /// (<paramref name="reference"/>, null without a reference), or null when there is nothing to say.
    /// </summary>
    public static string? Note(VersionRows window, VersionRows? reference)
    {
        var versions = window.Count + (window.OtherRows > 0 ? 1 : 0);
        if (versions > 1)
        {
            var named = string.Join(", ", window.ToList().Select(v => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{v.Version} ({v.Rows:N0} rows)")));
            var other = window.OtherRows > 0 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $" and {window.OtherRows:N0} rows of further versions") : "";
            return $"the window spans {(window.OtherRows > 0 ? "more than " + window.Count : window.Count)} model versions: {named}{other}; drift of the outputs may come from the model change, not the data";
        }

        if (window.Count == 1 && reference is { Count: > 0 } && !reference.Contains(window.NameAt(0)))
        {
            return $"the window's model version {window.NameAt(0)} is not the reference's ({string.Join(", ", reference.ToList().Select(v => v.Version))}); drift of the outputs may come from the model change, not the data";
        }

        return null;
    }
}
