using FsCheck;
using FsCheck.Fluent;
using ModelInService.Monitoring;

namespace ModelInService.Tests.Monitoring;

/// <summary>
/// Random sequences of (version, rows) split over two sets and merged in either order: rows are never lost (named plus
/// other equals the total), at most <see cref="VersionRows.MaxVersions"/> are named, and while the distinct versions
/// fit, the merge is the exact per-version sum whatever the order (a union).
/// </summary>
public class VersionRowsProperties
{
    public sealed record Add(int Version, int Rows, bool First);

    private static readonly Arbitrary<Add[]> Arbitrary = Gen.ArrayOf(
        from version in Gen.Choose(0, 11)
        from rows in Gen.Choose(0, 100)
        from first in Gen.Elements(true, false)
        select new Add(version, rows, first)).ToArbitrary();

    [Fact]
    public void Merge_IsAUnionThatNeverLosesRows_AndStaysBounded()
    {
        Prop.ForAll(Arbitrary, adds =>
        {
            var (a, b) = (new VersionRows(), new VersionRows());
            foreach (var add in adds)
            {
                (add.First ? a : b).Add(Name(add.Version), add.Rows);
            }

            var ab = new VersionRows();
            ab.MergeFrom(a);
            ab.MergeFrom(b);
            var ba = new VersionRows();
            ba.MergeFrom(b);
            ba.MergeFrom(a);

            var total = adds.Sum(x => (long)x.Rows);
            foreach (var merged in new[] { ab, ba })
            {
                Assert.InRange(merged.Count, 0, VersionRows.MaxVersions);
                Assert.Equal(total, Enumerable.Range(0, merged.Count).Sum(merged.RowsAt) + merged.OtherRows);
            }

            var expected = adds.GroupBy(x => x.Version).ToDictionary(g => Name(g.Key), g => g.Sum(x => (long)x.Rows));
            if (expected.Count <= VersionRows.MaxVersions)
            {
                Assert.Equal(0, ab.OtherRows);
                Assert.Equal(expected.OrderBy(e => e.Key, StringComparer.Ordinal), ab.ToList().Select(v => KeyValuePair.Create(v.Version, v.Rows)).OrderBy(e => e.Key, StringComparer.Ordinal));
                Assert.Equal(ab.ToList(), ba.ToList());
            }

            return true;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(300).WithQuietOnSuccess(true));
    }

    private static string Name(int version) => version.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
}
