namespace ModelInService.Tests.Monitoring;

/// <summary>Rows of known distributions for the outside probe's monitor tests, and a window's worth of recording on fake time.</summary>
internal static class ProbeStreams
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    internal static double Normal(Random r)
    {
        var u1 = 1.0 - r.NextDouble();
        var u2 = r.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    internal static Func<Random, double> Shape(string name) => name switch
    {
        "normal" => Normal,
        "cauchy" => r => Math.Tan(Math.PI * (r.NextDouble() - 0.5)),
        "lognormal" => r => Math.Exp(Normal(r) * 2),
        "zeros90" => r => r.NextDouble() < 0.9 ? 0 : r.Next(1, 5),
        "huge" => r => Normal(r) * 1e30,
        "signedzero" => r => r.Next(2) == 0 ? -0.0 : 0.0,
        "const5" => _ => 5,
        "const7" => _ => 7,
        "nan" => _ => double.NaN,
        _ => throw new ArgumentException(name),
    };

    /// <summary>Rows whose X follows <see cref="X"/>; Y normal; Color red/green/blue 50/30/20 unless <see cref="Purple"/>.</summary>
    internal sealed class Source(int seed)
    {
        private readonly Random _random = new(seed);

        public Func<Random, double> X { get; set; } = Normal;

        public double Purple { get; set; }

        /// <summary>When set, Color is one of this many equally likely categories.</summary>
        public int Categories { get; set; }

        public (Row, Prediction) Next()
        {
            var x = X(_random);
            var u = _random.NextDouble();
            var color = Categories > 0 ? "c" + _random.Next(Categories) : u < Purple ? "purple" : u < 0.5 ? "red" : u < 0.8 ? "green" : "blue";
            var row = new Row { X = x, Y = (Normal(_random) * 2) + 5, Color = color };
            var p = double.IsFinite(x) ? 1 / (1 + Math.Exp(-Math.Clamp(x, -50, 50))) : 0.5;
            return (row, new Prediction { Label = p > 0.5 ? 1 : 0, Probabilities = [(float)(1 - p), (float)p] });
        }
    }

    internal static MonitorHarness Start(Source training, int referenceRows, int chunk, Action<MonitoringOptions>? configure = null)
    {
        var harness = new MonitorHarness(o =>
        {
            o.Windows.Clear();
            o.Windows.Add(Window);
            o.ReferenceChunkSize = chunk;
            configure?.Invoke(o);
        });
        harness.Monitor.SetReference(MonitorHarness.BuildReference(harness.Options, harness.Recorder, training.Next, referenceRows, "synthetic", MonitorHarness.Start));
        return harness;
    }

    internal static async Task<List<ModelMonitorEvent>> WindowAsync(MonitorHarness harness, Source source, int rows)
    {
        for (var i = 0; i < rows; i++)
        {
            var (row, prediction) = source.Next();
            harness.Recorder.Record(row, prediction);
        }

        await harness.Monitor.FlushAsync();
        harness.Time.Advance(Window);
        return [.. await harness.Monitor.EvaluateAsync()];
    }

    /// <summary>Exact KS and Wasserstein-1 between two samples (step CDFs over the union of their values).</summary>
    internal static (double Ks, double W1) ExactKsW1(double[] a, double[] b)
    {
        var sa = (double[])a.Clone();
        var sb = (double[])b.Clone();
        Array.Sort(sa);
        Array.Sort(sb);
        var xs = sa.Concat(sb).Distinct().OrderBy(x => x).ToArray();
        double ks = 0, w1 = 0;
        for (var i = 0; i < xs.Length; i++)
        {
            var d = Math.Abs(Cdf(sa, xs[i]) - Cdf(sb, xs[i]));
            ks = Math.Max(ks, d);
            if (i + 1 < xs.Length)
            {
                w1 += d * (xs[i + 1] - xs[i]);
            }
        }

        return (ks, w1);
    }

    private static double Cdf(double[] sorted, double x)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (sorted[mid] <= x)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return (double)lo / sorted.Length;
    }
}
