namespace Ocr.Tests;

/// <summary>The pixels of images processed at once: bounded, first come first served, nothing leaked on timeout or cancellation.</summary>
public sealed class PixelBudgetTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Random_schedules_never_exceed_the_budget_and_every_request_is_answered_once(int seed)
    {
        var random = new Random(seed);
        const long Capacity = 1_000;
        var budget = new PixelBudget(Capacity);
        var granted = 0;
        var refused = 0;
        var canceled = 0;
        var peak = 0L;
        var tasks = Enumerable.Range(0, 200).Select(async i =>
        {
            var pixels = random.Next(1, 1_400); // some larger than the whole budget: they run alone
            var wait = TimeSpan.FromMilliseconds(random.Next(0, 40));
            using var cancel = new CancellationTokenSource();
            if (random.Next(10) == 0)
            {
                cancel.CancelAfter(random.Next(0, 10));
            }

            await Task.Delay(random.Next(0, 20));
            try
            {
                using var lease = await budget.AcquireAsync(pixels, wait, cancel.Token);
                Interlocked.Increment(ref granted);
                var used = budget.Used;
                Assert.InRange(used, 1, Capacity);
                InterlockedMax(ref peak, used);
                await Task.Delay(random.Next(0, 8));
            }
            catch (OcrBusyException)
            {
                Interlocked.Increment(ref refused);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref canceled);
            }
        }).ToArray();

        await Task.WhenAll(tasks);

        Assert.Equal(200, granted + refused + canceled);
        Assert.True(granted > 0);
        Assert.Equal(0, budget.Used); // nothing leaked by timeouts, cancellations or grants racing them
        Assert.InRange(peak, 1, Capacity);
    }

    [Fact]
    public async Task A_request_that_does_not_fit_in_time_is_refused_and_the_next_one_gets_the_room()
    {
        var budget = new PixelBudget(100);
        var first = await budget.AcquireAsync(80, TimeSpan.Zero, CancellationToken.None);

        var busy = await Assert.ThrowsAsync<OcrBusyException>(() => budget.AcquireAsync(50, TimeSpan.FromMilliseconds(30), CancellationToken.None));
        Assert.Contains("Ocr:MaxPixelsInFlight", busy.Message, StringComparison.Ordinal);
        Assert.Equal(80, budget.Used);

        var waiting = budget.AcquireAsync(50, TimeSpan.FromSeconds(10), CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        first.Dispose();
        first.Dispose(); // a second dispose releases nothing more
        using var second = await waiting;
        Assert.Equal(50, budget.Used);
    }

    [Fact]
    public async Task Waiting_is_first_come_first_served_and_a_canceled_head_lets_the_others_through()
    {
        var budget = new PixelBudget(100);
        var held = await budget.AcquireAsync(60, TimeSpan.Zero, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var big = budget.AcquireAsync(90, TimeSpan.FromSeconds(10), cancel.Token);
        var small = budget.AcquireAsync(30, TimeSpan.FromSeconds(10), CancellationToken.None);

        await Task.Delay(50);
        Assert.False(small.IsCompleted); // 30 would fit beside the 60 held, but the 90 came first

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => big);
        using var lease = await small.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(90, budget.Used);
        held.Dispose();
        Assert.Equal(30, budget.Used);
    }

    [Fact]
    public async Task An_image_larger_than_the_budget_runs_alone()
    {
        var budget = new PixelBudget(100);
        using (await budget.AcquireAsync(1_000, TimeSpan.Zero, CancellationToken.None))
        {
            Assert.Equal(100, budget.Used);
            await Assert.ThrowsAsync<OcrBusyException>(() => budget.AcquireAsync(1, TimeSpan.FromMilliseconds(10), CancellationToken.None));
        }

        Assert.Equal(0, budget.Used);
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
