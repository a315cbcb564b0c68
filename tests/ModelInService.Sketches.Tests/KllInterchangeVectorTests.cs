using System.Globalization;
using System.Numerics;
using Xunit;

namespace ModelInService.Sketches.Tests;

/// <summary>
/// The compatibility suite: the 72 KLL sketches serialized by Apache DataSketches Java, C++ and Go
/// (../shared/sketches/kll, see its README). Skipped when the shared folder is absent.
/// </summary>
public sealed class KllInterchangeVectorTests
{
    private static readonly long[] Sizes = [0, 1, 10, 100, 1000, 10000, 100000, 1000000];
    private static readonly string[] Types = ["double", "float", "long"];
    private static readonly string[] Languages = ["java", "cpp", "go"];

    public static TheoryData<string, long, string> AllFiles()
    {
        var data = new TheoryData<string, long, string>();
        foreach (var type in Types)
        {
            foreach (var n in Sizes)
            {
                foreach (var lang in Languages)
                {
                    data.Add(type, n, lang);
                }
            }
        }

        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(AllFiles))]
    public void Vector_ReadValidateAndRoundTrip(string type, long n, string language)
    {
        var bytes = ReadVector(type, n, language);
        switch (type)
        {
            case "double":
                Check(KllDoublesSketch.Deserialize(bytes), bytes, n, i => i, () => new KllDoublesSketch(random: new Random(1)));
                break;
            case "float":
                Check(KllFloatsSketch.Deserialize(bytes), bytes, n, i => i, () => new KllFloatsSketch(random: new Random(1)));
                break;
            default:
                Check(KllLongsSketch.Deserialize(bytes), bytes, n, i => i, () => new KllLongsSketch(random: new Random(1)));
                break;
        }
    }

    [SkippableFact]
    public void Vectors_AllSeventyTwoFilesArePresent()
    {
        var dir = SharedData.KllVectorsDirectory;
        Skip.If(dir is null, SharedData.SkipReason);
        Assert.Equal(72, Directory.GetFiles(dir!, "kll_*.sk").Length);
    }

    [SkippableTheory]
    [InlineData("double")]
    [InlineData("float")]
    [InlineData("long")]
    public void Vectors_SmallSketchesAreIdenticalAcrossLanguages(string type)
    {
        foreach (var n in Sizes.Where(s => s <= 100))
        {
            var java = ReadVector(type, n, "java");
            Assert.Equal(java, ReadVector(type, n, "cpp"));
            Assert.Equal(java, ReadVector(type, n, "go"));
        }
    }

    private static byte[] ReadVector(string type, long n, string language)
    {
        var dir = SharedData.KllVectorsDirectory;
        Skip.If(dir is null, SharedData.SkipReason);
        var path = Path.Combine(dir!, string.Create(CultureInfo.InvariantCulture, $"kll_{type}_n{n}_{language}.sk"));
        Skip.IfNot(File.Exists(path), "Missing vector " + path);
        return File.ReadAllBytes(path);
    }

    private static void Check<T>(KllSketch<T> sketch, byte[] bytes, long n, Func<long, T> fromLong, Func<KllSketch<T>> fresh)
        where T : unmanaged, INumber<T>
    {
        // Properties every file must have (README of the vectors).
        Assert.Equal(200, sketch.K);
        Assert.Equal(n, sketch.N);
        Assert.Equal(n == 0, sketch.IsEmpty);
        Assert.Equal(n > 100, sketch.IsEstimationMode);

        // Reading then writing gives the same bytes (same n, min, max, levels and items).
        Assert.Equal(bytes, sketch.ToByteArray());
        Assert.Equal(bytes.Length, sketch.GetSerializedSizeBytes());

        var reference = fresh();
        for (long i = 1; i <= n; i++)
        {
            reference.Update(fromLong(i));
        }

        if (n == 0)
        {
            Assert.Equal(bytes, reference.ToByteArray());
            return;
        }

        Assert.Equal(fromLong(1), sketch.Min);
        Assert.Equal(fromLong(n), sketch.Max);
        var view = sketch.GetSortedView();
        Assert.Equal(n, view.CumulativeWeights[^1]);
        Assert.All(view.Items, item => Assert.InRange(item, sketch.Min, sketch.Max));

        // Rank of every retained item and of a grid of values is within the single-sided bound.
        var eps = KllSketch.GetNormalizedRankError(200, pmf: false);
        var step = Math.Max(1, n / 2000);
        for (var v = 1L; v <= n; v += step)
        {
            Assert.InRange(Math.Abs(sketch.GetRank(fromLong(v)) - ((double)v / n)), 0.0, eps);
        }

        foreach (var item in view.Items)
        {
            var trueRank = double.CreateTruncating(item) / n;
            Assert.InRange(Math.Abs(sketch.GetRank(item) - trueRank), 0.0, eps);
        }

        if (n <= 100)
        {
            // Before the first compaction the format is deterministic: a fresh sketch writes the same bytes.
            Assert.Equal(bytes, reference.ToByteArray());
        }
        else
        {
            // Compaction is randomized, but the level structure is not: it must match DataSketches exactly.
            var (expectedSizes, _) = sketch.GetLevelsAndItems();
            var (actualSizes, _) = reference.GetLevelsAndItems();
            Assert.Equal(expectedSizes, actualSizes);
            Assert.Equal(bytes.Length, reference.GetSerializedSizeBytes());
            Assert.Equal(sketch.Min, reference.Min);
            Assert.Equal(sketch.Max, reference.Max);
        }
    }
}
