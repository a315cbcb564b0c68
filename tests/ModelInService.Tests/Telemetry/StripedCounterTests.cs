using ModelInService.Telemetry;

namespace ModelInService.Tests.Telemetry;

public class StripedCounterTests
{
    [Fact]
    public async Task ConcurrentIncrements_AreAllCounted()
    {
        var counter = new StripedCounter();
        const int Threads = 8;
        const int PerThread = 200_000;
        using var start = new Barrier(Threads);
        var workers = new Task[Threads];
        for (var t = 0; t < Threads; t++)
        {
            workers[t] = Task.Factory.StartNew(
                () =>
                {
                    start.SignalAndWait();
                    for (var i = 0; i < PerThread; i++)
                    {
                        counter.Increment();
                    }
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
        }

        await Task.WhenAll(workers);

        Assert.Equal((long)Threads * PerThread, counter.Value);
    }
}
