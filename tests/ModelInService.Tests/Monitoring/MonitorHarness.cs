using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ModelInService.Monitoring;

namespace ModelInService.Tests.Monitoring;

/// <summary>A synthetic model's input: two numeric features, one categorical, an id that is not a feature.</summary>
public sealed class Row
{
    public double X { get; set; }

    public double Y { get; set; }

    public string? Color { get; set; }

    [ModelIgnore]
    public string? Id { get; set; }
}

/// <summary>A synthetic classifier's output: a label and class probabilities.</summary>
public sealed class Prediction
{
    public long Label { get; set; }

    public float[] Probabilities { get; set; } = [];
}

/// <summary>A deterministic stream of rows with controllable drift, and the model's "predictions" (a fixed logistic rule).</summary>
internal sealed class SyntheticStream(int seed)
{
    private readonly Random _random = new(seed);

    public double Shift { get; set; }

    public double NaNShare { get; set; }

    /// <summary>Category shares of red, green, blue.</summary>
    public (double Red, double Green) Colors { get; set; } = (0.5, 0.3);

    /// <summary>Periodic drift: amplitude (in sigma) and period (rows).</summary>
    public (double Amplitude, int Period) Seasonality { get; set; }

    public long Produced { get; private set; }

    public (Row, Prediction) Next()
    {
        var x = Normal() + Shift;
        if (Seasonality.Period > 0)
        {
            x += Seasonality.Amplitude * Math.Sin(2 * Math.PI * Produced / Seasonality.Period);
        }

        if (NaNShare > 0 && _random.NextDouble() < NaNShare)
        {
            x = double.NaN;
        }

        var u = _random.NextDouble();
        var color = u < Colors.Red ? "red" : u < Colors.Red + Colors.Green ? "green" : "blue";
        var row = new Row { X = x, Y = (Normal() * 2) + 5, Color = color, Id = "p" + Produced };
        var p = double.IsNaN(x) ? 0.5 : 1 / (1 + Math.Exp(-2 * x));
        Produced++;
        return (row, new Prediction { Label = p > 0.5 ? 1 : 0, Probabilities = [(float)(1 - p), (float)p] });
    }

    private double Normal()
    {
        var u1 = 1.0 - _random.NextDouble();
        var u2 = _random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}

/// <summary>A monitor of the synthetic model driven directly through its recorder, on fake time.</summary>
internal sealed class MonitorHarness : IDisposable
{
    public static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public MonitorHarness(Action<MonitoringOptions>? configure = null, IEnumerable<IModelMonitorHandler>? handlers = null, FakeTimeProvider? time = null, string name = "synthetic", Microsoft.Extensions.Logging.ILogger? logger = null)
    {
        // Scenarios record a minute's rows at one fake instant: profile them all (SamplingTests set a budget).
        Options = new MonitoringOptions { Retention = TimeSpan.FromMinutes(30), MaxProfiledRowsPerSecond = 0 };
        Options.Windows.Clear();
        Options.Windows.Add(TimeSpan.FromMinutes(10));
        Options.ReferenceChunkSize = 10_000;
        configure?.Invoke(Options);
        var validation = new MonitoringOptionsValidator().Validate(name, Options);
        Assert.True(validation.Succeeded, validation.FailureMessage);
        Time = time ?? new FakeTimeProvider(Start);
        Recorder = PredictionRecorder<Row, Prediction>.Create(Options, Time);
        var list = handlers?.ToArray() ?? [];
        Monitor = new ModelMonitor(name, Options, Recorder, Recorder, Time, () => list, logger ?? NullLogger.Instance, new MonitorMetrics(null, name));
    }

    public MonitoringOptions Options { get; }

    public FakeTimeProvider Time { get; }

    public PredictionRecorder<Row, Prediction> Recorder { get; }

    public ModelMonitor Monitor { get; }

    /// <summary>Records <paramref name="perMinute"/> rows in each of <paramref name="minutes"/> minutes, advancing fake time.</summary>
    public void Run(SyntheticStream stream, int minutes, int perMinute)
    {
        for (var m = 0; m < minutes; m++)
        {
            for (var i = 0; i < perMinute; i++)
            {
                var (row, prediction) = stream.Next();
                Recorder.Record(row, prediction);
            }

            // Let the consumer keep up (as it does in production at these rates), then move on.
            Monitor.FlushAsync().GetAwaiter().GetResult();
            Time.Advance(TimeSpan.FromMinutes(1));
        }
    }

    /// <summary>Builds a reference the way BuildReferenceAsync does, from a stream instead of a model.</summary>
    public MonitorReference BuildReference(SyntheticStream stream, int rows) =>
        BuildReference(Options, Recorder, stream.Next, rows, "synthetic", Start);

    /// <summary>Builds a reference the way BuildReferenceAsync does, from rows a delegate makes, for any recorder.</summary>
    public static MonitorReference BuildReference<TIn, TOut>(MonitoringOptions options, PredictionRecorder<TIn, TOut> recorder, Func<(TIn Row, TOut Prediction)> next, int rows, string modelName, DateTimeOffset at)
    {
        var accumulator = new ReferenceAccumulator(new FeatureCatalog(), new ProfileFactory(options.SketchK, options.Seed), options.ReferenceChunkSize);
        var decoder = new RowDecoder(recorder.Schema, accumulator.Catalog, options);
        var block = new RecordBlock(RecorderBase.BlockNumbers, 1024);
        var left = rows;
        while (left > 0)
        {
            var n = Math.Min(Math.Min(RecordBlock.MaxRows, accumulator.Room), left);
            block.Reset(0);
            for (var i = 0; i < n; i++)
            {
                var (row, prediction) = next();
                recorder.EncodeInto(block, row, prediction);
            }

            decoder.Apply(block, accumulator.Current, accumulator.Factory, null);
            accumulator.AfterDecode();
            left -= n;
        }

        return accumulator.Build("training", modelName, at, null);
    }

    public void Dispose() => Monitor.Dispose();
}

/// <summary>Collects events.</summary>
internal sealed class CollectingHandler : IModelMonitorHandler
{
    private readonly List<ModelMonitorEvent> _events = [];

    /// <summary>Completed (and replaced) whenever an event arrives.</summary>
    private TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<ModelMonitorEvent> Events
    {
        get
        {
            lock (_events)
            {
                return [.. _events];
            }
        }
    }

    public Task HandleAsync(ModelMonitorEvent monitorEvent, CancellationToken cancellationToken)
    {
        TaskCompletionSource arrived;
        lock (_events)
        {
            _events.Add(monitorEvent);
            arrived = _arrived;
            _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        arrived.TrySetResult();
        return Task.CompletedTask;
    }

    /// <summary>Waits until an event matching <paramref name="match"/> has arrived.</summary>
    public async Task<ModelMonitorEvent> WaitForAsync(Func<ModelMonitorEvent, bool> match)
    {
        while (true)
        {
            Task arrived;
            lock (_events)
            {
                if (_events.FirstOrDefault(match) is { } found)
                {
                    return found;
                }

                arrived = _arrived.Task;
            }

            await arrived;
        }
    }
}
