using Xunit;

namespace ModelInService.Sketches.Tests;

public sealed class DriftMetricsTests
{
    /// <summary>Independent, textbook implementations over exact bin fractions.</summary>
    private static class Exact
    {
        public static double L1(double[] p, double[] q) => p.Zip(q, (a, b) => Math.Abs(a - b)).Sum();

        public static double LInf(double[] p, double[] q) => p.Zip(q, (a, b) => Math.Abs(a - b)).Max();

        public static double Psi(double[] p, double[] q, double floor) =>
            p.Zip(q, (a, b) => (Math.Max(b, floor) - Math.Max(a, floor)) * Math.Log(Math.Max(b, floor) / Math.Max(a, floor))).Sum();

        public static double Kl(double[] p, double[] q, double floor) =>
            p.Zip(q, (a, b) => Math.Max(a, floor) * Math.Log(Math.Max(a, floor) / Math.Max(b, floor))).Sum();

        public static double Jsd(double[] p, double[] q)
        {
            double sum = 0;
            for (var i = 0; i < p.Length; i++)
            {
                var m = (p[i] + q[i]) / 2;
                sum += (p[i] > 0 ? 0.5 * p[i] * Math.Log(p[i] / m) : 0) + (q[i] > 0 ? 0.5 * q[i] * Math.Log(q[i] / m) : 0);
            }

            return sum;
        }

        public static double Hellinger(double[] p, double[] q) =>
            Math.Sqrt(p.Zip(q, (a, b) => (Math.Sqrt(a) - Math.Sqrt(b)) * (Math.Sqrt(a) - Math.Sqrt(b))).Sum() / 2);
    }

    private static void AssertWithin(DistanceEstimate estimate, double exact, string name, double slack = 1e-9)
    {
        Assert.True(
            exact >= estimate.LowerBound - slack && exact <= estimate.UpperBound + slack,
            $"{name}: exact {exact} outside [{estimate.LowerBound}, {estimate.UpperBound}] (value {estimate.Value})");
    }

    public static TheoryData<string, int, int, int> Scenarios() => new()
    {
        { "same distribution", 0, 200_000, 150_000 },
        { "mean shift", 1, 200_000, 150_000 },
        { "scale change", 2, 100_000, 120_000 },
        { "discrete with a new value", 3, 80_000, 60_000 },
        { "heavy tail", 4, 150_000, 50_000 },
    };

    private static (double[] Reference, double[] Measurement) Data(int scenario, int n1, int n2)
    {
        var random = new Random(100 + scenario);
        double[] Gen(int n, Func<double> f) => Enumerable.Range(0, n).Select(_ => f()).ToArray();
        return scenario switch
        {
            0 => (Gen(n1, () => TestStreams.Normal(random)), Gen(n2, () => TestStreams.Normal(random))),
            1 => (Gen(n1, () => TestStreams.Normal(random)), Gen(n2, () => TestStreams.Normal(random) + 0.2)),
            2 => (Gen(n1, () => TestStreams.Normal(random) * 10), Gen(n2, () => TestStreams.Normal(random) * 13)),
            3 => (Gen(n1, () => random.Next(6)), Gen(n2, () => random.Next(7))),
            _ => (Gen(n1, () => Math.Exp(TestStreams.Normal(random) * 2)), Gen(n2, () => Math.Exp(TestStreams.Normal(random) * 2.2))),
        };
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void SketchDistances_ContainExactFullSampleValues(string name, int scenario, int n1, int n2)
    {
        var (reference, measurement) = Data(scenario, n1, n2);
        var r = TestStreams.Sketch(reference, 200, 1);
        var m = TestStreams.Sketch(measurement, 200, 2);
        var drift = DriftMetrics.CompareNumeric(r, m, new DriftOptions { BinCount = 10 });
        Assert.True(drift.IsDefined, name);

        // KS: |sketch KS - exact two-sample KS| <= eps1 + eps2.
        var exactKs = TestStreams.ExactKs(reference, measurement);
        var eps = r.GetNormalizedRankError(false) + m.GetNormalizedRankError(false);
        Assert.InRange(Math.Abs(drift.KolmogorovSmirnov.Value - exactKs), 0, eps);
        Assert.Equal(eps, drift.KolmogorovSmirnov.ErrorBound, 9);
        AssertWithin(drift.KolmogorovSmirnov, exactKs, "KS");

        // Binned distances with the same edges, computed exactly from the full samples.
        var p = TestStreams.ExactBinFractions(reference, drift.BinEdges);
        var q = TestStreams.ExactBinFractions(measurement, drift.BinEdges);
        AssertWithin(drift.L1, Exact.L1(p, q), "L1");
        AssertWithin(drift.LInfinity, Exact.LInf(p, q), "Linf");
        AssertWithin(drift.PopulationStabilityIndex, Exact.Psi(p, q, 1e-4), "PSI");
        AssertWithin(drift.KullbackLeibler, Exact.Kl(p, q, 1e-4), "KL");
        AssertWithin(drift.JensenShannonDivergence, Exact.Jsd(p, q), "JSD");
        AssertWithin(drift.JensenShannonDistance, Math.Sqrt(Exact.Jsd(p, q)), "JS distance");
        AssertWithin(drift.Hellinger, Exact.Hellinger(p, q), "Hellinger");
        AssertWithin(drift.Wasserstein1, TestStreams.ExactWasserstein1(reference, measurement), "W1");

        // The bin fractions themselves are within the PMF error.
        var pmfError = r.GetNormalizedRankError(true);
        for (var i = 0; i < p.Length; i++)
        {
            Assert.InRange(Math.Abs(drift.ReferenceFractions[i] - p[i]), 0, pmfError);
        }
    }

    [Fact]
    public void ExactSketches_GiveExactValues()
    {
        var random = new Random(8);
        var reference = Enumerable.Range(0, 150).Select(_ => TestStreams.Normal(random)).ToArray();
        var measurement = Enumerable.Range(0, 120).Select(_ => TestStreams.Normal(random) + 0.5).ToArray();
        var drift = DriftMetrics.CompareNumeric(TestStreams.Sketch(reference), TestStreams.Sketch(measurement), new DriftOptions { BinCount = 5 });
        var p = TestStreams.ExactBinFractions(reference, drift.BinEdges);
        var q = TestStreams.ExactBinFractions(measurement, drift.BinEdges);
        Assert.True(drift.KolmogorovSmirnov.IsExact);
        Assert.Equal(TestStreams.ExactKs(reference, measurement), drift.KolmogorovSmirnov.Value, 12);
        Assert.Equal(TestStreams.ExactWasserstein1(reference, measurement), drift.Wasserstein1.Value, 9);
        Assert.Equal(Exact.Psi(p, q, 1e-4), drift.PopulationStabilityIndex.Value, 12);
        Assert.Equal(Exact.Kl(p, q, 1e-4), drift.KullbackLeibler.Value, 12);
        Assert.Equal(Exact.Jsd(p, q), drift.JensenShannonDivergence.Value, 12);
        Assert.Equal(Exact.Hellinger(p, q), drift.Hellinger.Value, 12);
        Assert.True(drift.PopulationStabilityIndex.IsExact);
        Assert.Equal(4, drift.BinEdges.Count);
        Assert.Equal(0.2, drift.ReferenceFractions[0], 12); // 150 / 5 = 30 values per bin exactly
    }

    [Fact]
    public void IdenticalSketches_GiveZero()
    {
        var sketch = TestStreams.Sketch(TestStreams.Make(1, 50_000, new Random(2)));
        var drift = DriftMetrics.CompareNumeric(sketch, sketch);
        Assert.Equal(0, drift.KolmogorovSmirnov.Value);
        Assert.Equal(0, drift.PopulationStabilityIndex.Value);
        Assert.Equal(0, drift.Wasserstein1.Value);
        Assert.Equal(0, drift.JensenShannonDistance.Value);
        Assert.Equal(0, drift.Hellinger.Value);
        Assert.Equal(0, drift.KolmogorovSmirnov.LowerBound);
        Assert.True(drift.KolmogorovSmirnov.UpperBound > 0);
    }

    [Fact]
    public void BinCount_IsUsed_AndDuplicatesCollapse()
    {
        var continuous = TestStreams.Sketch(TestStreams.Make(0, 10_000, new Random(1)));
        Assert.Equal(19, DriftMetrics.CompareNumeric(continuous, continuous, new DriftOptions { BinCount = 20 }).BinEdges.Count);
        Assert.Equal(20, DriftMetrics.CompareNumeric(continuous, continuous, new DriftOptions { BinCount = 20 }).ReferenceFractions.Count);
        Assert.Equal(4, DriftMetrics.CompareNumeric(continuous, continuous, new DriftOptions { BinCount = 5 }).BinEdges.Count);
        var discrete = TestStreams.Sketch(Enumerable.Range(0, 1000).Select(i => (double)(i % 3)));
        Assert.Equal([0.0, 1.0, 2.0], DriftMetrics.CompareNumeric(discrete, discrete, new DriftOptions { BinCount = 10 }).BinEdges);

        var equalWidth = DriftMetrics.CompareNumeric(discrete, discrete, new DriftOptions { BinCount = 4, Binning = NumericBinning.EqualWidth });
        Assert.Equal([0.5, 1.0, 1.5], equalWidth.BinEdges);

        var explicitEdges = DriftMetrics.CompareNumeric(continuous, continuous, new DriftOptions { BinEdges = [100, 500] });
        Assert.Equal([100.0, 500.0], explicitEdges.BinEdges);
        Assert.Equal(0.1, explicitEdges.ReferenceFractions[0], 1);
    }

    [Fact]
    public void LogBaseAndFloor_AreApplied()
    {
        var a = TestStreams.Sketch(Enumerable.Range(0, 100).Select(i => (double)i));
        var b = TestStreams.Sketch(Enumerable.Range(50, 100).Select(i => (double)i));
        var nats = DriftMetrics.CompareNumeric(a, b);
        var bits = DriftMetrics.CompareNumeric(a, b, new DriftOptions { LogBase = 2 });
        Assert.Equal(nats.JensenShannonDivergence.Value / Math.Log(2), bits.JensenShannonDivergence.Value, 12);
        Assert.InRange(bits.JensenShannonDivergence.Value, 0, 1);
        Assert.Equal(nats.PopulationStabilityIndex.Value / Math.Log(2), bits.PopulationStabilityIndex.Value, 12);

        // Half of the measurement lies above every reference edge: PSI is finite thanks to the floor and grows as it shrinks.
        var coarse = DriftMetrics.CompareNumeric(a, b, new DriftOptions { EmptyBinFloor = 1e-2 });
        Assert.True(double.IsFinite(nats.PopulationStabilityIndex.Value));
        Assert.True(nats.PopulationStabilityIndex.Value > coarse.PopulationStabilityIndex.Value);
        Assert.Equal(0.01, coarse.EmptyBinFloor);
    }

    [Fact]
    public void NormalizedWasserstein_UsesProfileStandardDeviation()
    {
        var reference = FeatureProfile.CreateNumeric(random: new Random(1));
        var measurement = FeatureProfile.CreateNumeric(random: new Random(2));
        for (var i = 0; i < 100; i++)
        {
            reference.Update(i);
            measurement.Update(i + 10);
        }

        var drift = Assert.IsType<NumericDrift>(DriftMetrics.Compare(reference, measurement));
        Assert.Equal(10, drift.Wasserstein1.Value, 9);
        Assert.Equal(reference.Moments!.StandardDeviation, drift.ReferenceStandardDeviation);
        Assert.Equal(10 / reference.Moments.StandardDeviation, drift.NormalizedWasserstein1.Value, 9);

        var constant = TestStreams.Sketch([5, 5, 5]);
        Assert.Equal(double.PositiveInfinity, DriftMetrics.CompareNumeric(constant, TestStreams.Sketch([6.0])).NormalizedWasserstein1.Value);
        Assert.Equal(0, DriftMetrics.CompareNumeric(constant, constant).NormalizedWasserstein1.Value);
    }

    [Fact]
    public void EmptySide_GivesNaN()
    {
        var drift = DriftMetrics.CompareNumeric(new KllDoublesSketch(), TestStreams.Sketch([1.0]));
        Assert.False(drift.IsDefined);
        Assert.True(double.IsNaN(drift.KolmogorovSmirnov.Value));
        Assert.True(double.IsNaN(drift.PopulationStabilityIndex.UpperBound));
        var categorical = DriftMetrics.CompareCategorical(new CategoricalSketch(), new CategoricalSketch());
        Assert.False(categorical.IsDefined);
        Assert.True(double.IsNaN(categorical.ChiSquare.Value));
    }

    [Theory]
    [InlineData(1, 1e-4, 2.0)]
    [InlineData(10, 0.5, 2.0)]
    [InlineData(10, 1e-4, 1.0)]
    [InlineData(10, 1e-4, -1.0)]
    public void InvalidOptions_Throw(int bins, double floor, double logBase)
    {
        var sketch = TestStreams.Sketch([1.0, 2.0]);
        Assert.ThrowsAny<ArgumentException>(() => DriftMetrics.CompareNumeric(sketch, sketch, new DriftOptions { BinCount = bins, EmptyBinFloor = floor, LogBase = logBase }));
    }

    [Fact]
    public void InvalidBinEdges_Throw()
    {
        var sketch = TestStreams.Sketch([1.0, 2.0]);
        Assert.ThrowsAny<ArgumentException>(() => DriftMetrics.CompareNumeric(sketch, sketch, new DriftOptions { BinEdges = [2, 1] }));
        Assert.ThrowsAny<ArgumentException>(() => DriftMetrics.CompareNumeric(sketch, sketch, new DriftOptions { BinEdges = [double.NaN] }));
        Assert.ThrowsAny<ArgumentException>(() => DriftMetrics.CompareNumeric(sketch, sketch, new DriftOptions { BinEdges = [] }));
    }

    [Fact]
    public void Categorical_ExactTable_MatchesTextbookChiSquare_AndReportsUnseen()
    {
        var reference = new CategoricalSketch();
        var measurement = new CategoricalSketch();
        Add(reference, ("a", 60), ("b", 40));
        Add(measurement, ("a", 30), ("b", 50), ("new", 20));

        var drift = DriftMetrics.CompareCategorical(reference, measurement);
        // Columns a, b, new: totals 90, 90, 20; N = 200; rows 100 / 100: expected 45, 45, 10 in each row.
        var expected = (2 * Math.Pow(15, 2) / 45) + (2 * Math.Pow(5, 2) / 45) + (2 * Math.Pow(10, 2) / 10);
        Assert.Equal(expected, drift.ChiSquare.Value, 9);
        Assert.True(drift.ChiSquare.IsExact);
        Assert.Equal(2, drift.ChiSquareDegreesOfFreedom);
        Assert.Equal(Math.Exp(-expected / 2), drift.ChiSquarePValue.Value, 9); // chi-square(2) survival = exp(-x/2)
        Assert.Equal(Math.Sqrt(expected / 200), drift.CramersV.Value, 9);
        Assert.Equal(0.3, drift.LInfinity.Value, 12);
        Assert.False(drift.HasOtherBin);
        Assert.Equal(["a", "b", "new"], drift.Categories.Select(c => c.ToString()));
        var unseen = Assert.Single(drift.UnseenCategories);
        Assert.Equal("new", unseen.Category.Label);
        Assert.Equal(0.2, drift.UnseenFraction, 12);
        Assert.True(double.IsFinite(drift.PopulationStabilityIndex.Value));

        var p = new[] { 0.6, 0.4, 0.0 };
        var q = new[] { 0.3, 0.5, 0.2 };
        Assert.Equal(Exact.Jsd(p, q), drift.JensenShannonDivergence.Value, 12);
        Assert.Equal(Exact.Psi(p, q, 1e-4), drift.PopulationStabilityIndex.Value, 12);
    }

    [Fact]
    public void Categorical_SketchMode_BoundsContainExactValues()
    {
        var random = new Random(77);
        var reference = new CategoricalSketch(16);
        var measurement = new CategoricalSketch(16);
        var refTruth = new Dictionary<long, long>();
        var measTruth = new Dictionary<long, long>();
        for (var i = 0; i < 50_000; i++)
        {
            var r = (long)Math.Floor(Math.Pow(random.NextDouble(), 2.5) * 60);
            var m = (long)Math.Floor(Math.Pow(random.NextDouble(), 2.0) * 60);
            reference.Update(r);
            measurement.Update(m);
            refTruth[r] = refTruth.GetValueOrDefault(r) + 1;
            measTruth[m] = measTruth.GetValueOrDefault(m) + 1;
        }

        var drift = DriftMetrics.CompareCategorical(reference, measurement);
        Assert.True(drift.HasOtherBin);

        // Exact fractions over the same bins: the compared categories plus "everything else".
        var codes = drift.Categories.Select(c => c.Code).ToArray();
        double[] Fractions(Dictionary<long, long> truth, double n)
        {
            var f = codes.Select(c => truth.GetValueOrDefault(c) / n).ToList();
            f.Add(1 - f.Sum());
            return [.. f];
        }

        var p = Fractions(refTruth, 50_000);
        var q = Fractions(measTruth, 50_000);
        AssertWithin(drift.LInfinity, Exact.LInf(p, q), "Linf", 1e-12);
        AssertWithin(drift.JensenShannonDivergence, Exact.Jsd(p, q), "JSD", 1e-12);
        AssertWithin(drift.PopulationStabilityIndex, Exact.Psi(p, q, 1e-4), "PSI", 1e-12);
        var chi = 50_000.0 * 50_000 * p.Zip(q, (a, b) => a + b > 0 ? (a - b) * (a - b) / ((50_000 * a) + (50_000 * b)) : 0).Sum();
        AssertWithin(drift.ChiSquare, chi, "chi-square", 1e-6);
        Assert.True(drift.ChiSquarePValue.LowerBound <= drift.ChiSquarePValue.Value);
    }

    [Theory]
    [InlineData(3.841458820694124, 1, 0.05)]
    [InlineData(6.634896601021214, 1, 0.01)]
    [InlineData(5.991464547107979, 2, 0.05)]
    [InlineData(18.307038053275146, 10, 0.05)]
    [InlineData(124.34211340400407, 100, 0.05)]
    [InlineData(0.0, 3, 1.0)]
    public void ChiSquareSurvival_MatchesTables(double statistic, int dof, double expected)
    {
        Assert.Equal(expected, SpecialFunctions.ChiSquareSurvival(statistic, dof), 9);
    }

    private static void Add(CategoricalSketch sketch, params (string Label, int Count)[] items)
    {
        foreach (var (label, count) in items)
        {
            for (var i = 0; i < count; i++)
            {
                sketch.Update(label);
            }
        }
    }
}
