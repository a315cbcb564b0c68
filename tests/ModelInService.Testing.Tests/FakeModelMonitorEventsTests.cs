using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;

namespace ModelInService.Testing.Tests;

public sealed class FakeModelMonitorEventsTests
{
    private sealed class Recording : IModelMonitorHandler
    {
        public ConcurrentQueue<ModelMonitorEvent> Events { get; } = new();

        public Task HandleAsync(ModelMonitorEvent monitorEvent, CancellationToken cancellationToken)
        {
            Events.Enqueue(monitorEvent);
            return Task.CompletedTask;
        }
    }

    private sealed class Throwing : IModelMonitorHandler
    {
        public Task HandleAsync(ModelMonitorEvent monitorEvent, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("handler bug");
    }

    private sealed class Hanging : IModelMonitorHandler
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task HandleAsync(ModelMonitorEvent monitorEvent, CancellationToken cancellationToken)
        {
            Started.TrySetResult();
            return new TaskCompletionSource().Task; // ignores its token, as a broken handler would
        }
    }

    [Fact]
    public void BuiltEvents_CarryTheVersionsSet_AsTheMonitorFillsThem()
    {
        var monitor = new FakeModelMonitorEvents("iris");
        Assert.Empty(monitor.DriftDetected("petal_length", 0.3, 0.2).Versions);

        var versions = new List<string> { "3f2a9c1b", "77d0e4aa" };
        monitor.Versions = versions;
        versions.Clear();

        Assert.Equal(["3f2a9c1b", "77d0e4aa"], monitor.DriftDetected("petal_length", 0.3, 0.2).Versions);
        Assert.Equal(["3f2a9c1b", "77d0e4aa"], monitor.DatasetDriftDetected(3, 4).Versions);
        Assert.Equal(["3f2a9c1b", "77d0e4aa"], monitor.QualityViolation("missing", "sepal_width", 0.9, 0.99).Versions);
        Assert.Throws<ArgumentNullException>(() => monitor.Versions = null!);
    }

    [Fact]
    public void BuildsEventsAsTheMonitorWordsThem()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 8, 0, 0, TimeSpan.Zero));
        var monitor = new FakeModelMonitorEvents("iris", time) { Window = TimeSpan.FromMinutes(15) };

        var drift = monitor.DriftDetected("petal_length", 0.31, 0.2, sampleSize: 500);

        Assert.Equal("iris", drift.ModelName);
        Assert.Equal(ModelMonitorEventKind.DriftDetected, drift.Kind);
        Assert.Equal("petal_length", drift.Feature);
        Assert.Equal("NormalizedWasserstein", drift.Rule);
        Assert.Equal(0.31, drift.Value);
        Assert.Equal(0.2, drift.Threshold);
        Assert.Equal(500, drift.SampleSize);
        Assert.Equal(TimeSpan.FromMinutes(15), drift.Window);
        Assert.Equal(time.GetUtcNow(), drift.Timestamp);
        // The monitor's wording (ModelMonitor.Evaluation.cs) shows the distance's error bounds after it.
        Assert.Equal("'petal_length' drifted: NormalizedWasserstein 0.31 [0.31, 0.31] > 0.2 over the last 00:15:00 (n = 500)", drift.Message);
        Assert.Equal(
            "'petal_length' drifted: KolmogorovSmirnov 0.31 [0.2874, 0.3326] > 0.2 over the last 00:15:00 (n = 500)",
            monitor.DriftDetected("petal_length", 0.31, 0.2, "KolmogorovSmirnov", 500, lowerBound: 0.28741, upperBound: 0.33259).Message);

        var dataset = monitor.DatasetDriftDetected(3, 4);
        Assert.Null(dataset.Feature);
        Assert.Equal(0.75, dataset.Value);
        Assert.Equal(0.5, dataset.Threshold);
        Assert.Equal("dataset", dataset.Rule);
        Assert.Equal(ModelMonitorEventKind.DatasetDriftDetected, dataset.Kind);

        var quality = monitor.QualityViolation("missing", "sepal_width", 0.9, 0.99);
        Assert.Equal(ModelMonitorEventKind.QualityViolation, quality.Kind);
        Assert.Equal("missing", quality.Rule);
        Assert.Equal(ModelMonitorEventKind.QualityResolved, monitor.QualityResolved("volume", null, 0.1, 0.5).Kind);
        Assert.Equal(ModelMonitorEventKind.DriftResolved, monitor.DriftResolved("petal_length", 0.05, 0.16).Kind);
        Assert.Equal(ModelMonitorEventKind.DatasetDriftResolved, monitor.DatasetDriftResolved(0, 4).Kind);
    }

    [Fact]
    public async Task DeliversEveryEventInOrderToEveryHandlerAndRecordsThem()
    {
        var monitor = new FakeModelMonitorEvents("iris");
        var first = new Recording();
        var second = new Recording();
        monitor.AddHandler(first).AddHandler(second);
        var events = new[] { monitor.DriftDetected("a", 0.3, 0.2), monitor.DriftDetected("b", 0.4, 0.2) };

        await monitor.RaiseAsync(events);

        Assert.Equal(events, first.Events);
        Assert.Equal(events, second.Events);
        Assert.Equal(events, monitor.Raised);
        Assert.Empty(monitor.Failures);
    }

    [Fact]
    public async Task AThrowingHandlerIsIsolatedAndRecorded()
    {
        var monitor = new FakeModelMonitorEvents("iris");
        var throwing = new Throwing();
        var recording = new Recording();
        monitor.AddHandler(throwing).AddHandler(recording);

        await monitor.RaiseAsync(monitor.QualityViolation("range", "petal_width", 0.8, 0.95));

        Assert.Single(recording.Events);
        var failure = Assert.Single(monitor.Failures);
        Assert.Same(throwing, failure.Handler);
        Assert.IsType<InvalidOperationException>(failure.Exception);
        Assert.False(failure.TimedOut);
    }

    [Fact]
    public async Task AHandlerThatIgnoresItsTokenIsAbandonedAtTheTimeout()
    {
        var time = new FakeTimeProvider();
        var monitor = new FakeModelMonitorEvents("iris", time) { HandlerTimeout = TimeSpan.FromSeconds(5) };
        var hanging = new Hanging();
        var recording = new Recording();
        monitor.AddHandler(hanging).AddHandler(recording);

        var raise = monitor.RaiseAsync(monitor.DatasetDriftDetected(3, 5));
        await hanging.Started.Task;
        Assert.False(raise.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(5));
        await raise.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Single(recording.Events);
        var failure = Assert.Single(monitor.Failures);
        Assert.Same(hanging, failure.Handler);
        Assert.True(failure.TimedOut);
    }

    [Fact]
    public async Task CancelingTheRaiseIsNotAHandlerFailure()
    {
        var monitor = new FakeModelMonitorEvents("iris");
        var hanging = new Hanging();
        monitor.AddHandler(hanging);
        using var cts = new CancellationTokenSource();

        var raise = monitor.RaiseAsync([monitor.DriftDetected("a", 1, 0.2)], cts.Token);
        await hanging.Started.Task;
        await cts.CancelAsync();
        await raise.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Empty(monitor.Failures);
        Assert.Single(monitor.Raised);
    }

    [Fact]
    public void TheDatasetDriftMessageIsTheMonitors()
    {
        var monitor = new FakeModelMonitorEvents("iris");

        var detected = monitor.DatasetDriftDetected(3, 4);

        // ModelMonitor.Evaluation.cs: $"{driftedInputs} of {judgedInputs} input features drift ({share:P0}; rule {DatasetDriftShare:P0}) over the last {window}", invariant culture.
        Assert.Equal("3 of 4 input features drift (75 %; rule 50 %) over the last 01:00:00", detected.Message);
        Assert.Equal(0.75, detected.Value);
        Assert.Equal("1 of 4 input features drift (25 %; rule 50 %) over the last 01:00:00", monitor.DatasetDriftResolved(1, 4).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => monitor.DatasetDriftDetected(5, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => monitor.DatasetDriftDetected(0, 0));
    }

    [Fact]
    public void AHandlerTimeoutTheMonitorWouldRefuseIsRefusedWhenSet()
    {
        var monitor = new FakeModelMonitorEvents("iris");

        var negative = Assert.Throws<ArgumentOutOfRangeException>(() => monitor.HandlerTimeout = TimeSpan.FromSeconds(-1));
        Assert.Contains("HandlerTimeout is -00:00:01; use a positive time", negative.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => monitor.HandlerTimeout = TimeSpan.Zero);
        Assert.Throws<ArgumentOutOfRangeException>(() => monitor.HandlerTimeout = Timeout.InfiniteTimeSpan);
        Assert.Throws<ArgumentOutOfRangeException>(() => monitor.HandlerTimeout = TimeSpan.FromDays(60));
        Assert.Equal(TimeSpan.FromSeconds(10), monitor.HandlerTimeout);

        monitor.HandlerTimeout = TimeSpan.FromMilliseconds(1);
        Assert.Equal(TimeSpan.FromMilliseconds(1), monitor.HandlerTimeout);
    }

    [Fact]
    public async Task ANullEventIsRefusedAndNothingIsRaised()
    {
        var monitor = new FakeModelMonitorEvents("iris");
        var recording = new Recording();
        monitor.AddHandler(recording);

        var error = await Assert.ThrowsAsync<ArgumentNullException>(() => monitor.RaiseAsync(monitor.DriftDetected("petal_length", 0.3, 0.2), null!));

        Assert.Equal("events", error.ParamName);
        Assert.Contains("events[1] is null", error.Message, StringComparison.Ordinal);
        Assert.Empty(monitor.Raised);
        Assert.Empty(recording.Events);
        Assert.Empty(monitor.Failures);
    }
}
