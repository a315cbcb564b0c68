using System.Diagnostics;
using System.Globalization;

namespace ModelInService.Fuzz.Tests;

/// <summary>
/// The time budget and seed of a fuzz test: a few seconds each by default, so the suite runs in every
/// <c>dotnet test</c>; set <c>MIS_FUZZ_SECONDS</c> for longer runs and <c>MIS_FUZZ_SEED</c> to replay one.
/// Failures name the seed and the iteration.
/// </summary>
internal static class FuzzBudget
{
    public const int DefaultSeconds = 3;

    public const int DefaultSeed = 20251204;

    public static TimeSpan Duration { get; } = TimeSpan.FromSeconds(
        double.TryParse(Environment.GetEnvironmentVariable("MIS_FUZZ_SECONDS"), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : DefaultSeconds);

    public static int Seed { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("MIS_FUZZ_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : DefaultSeed;

    /// <summary>Runs <paramref name="iteration"/> with a fresh seeded <see cref="Random"/> per iteration until the budget is spent (at least <paramref name="minimum"/> times); returns the count.</summary>
    public static int Run(int minimum, Action<Random, int> iteration)
    {
        var clock = Stopwatch.StartNew();
        var count = 0;
        while (count < minimum || clock.Elapsed < Duration)
        {
            var random = new Random(HashCode.Combine(Seed, count));
            try
            {
                iteration(random, count);
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                throw new InvalidOperationException($"Fuzz iteration {count} (MIS_FUZZ_SEED={Seed}) failed: {ex.GetType().Name}: {ex.Message}", ex);
            }
            catch (Xunit.Sdk.XunitException ex)
            {
                throw new InvalidOperationException($"Fuzz iteration {count} (MIS_FUZZ_SEED={Seed}) broke an invariant: {ex.Message}", ex);
            }

            count++;
        }

        return count;
    }

    /// <summary>
    /// Runs <paramref name="call"/> and checks the invariants: it returns or throws one of <paramref name="allowed"/>
    /// (anything else is rethrown), allocates at most <paramref name="perInputByte"/> bytes per input byte plus
    /// 1 MiB on this thread, and takes at most <paramref name="maxTime"/> (default 15 s).
    /// </summary>
    public static T? Check<T>(string what, int inputLength, Func<T> call, Type[] allowed, double perInputByte = 16, TimeSpan? maxTime = null)
        where T : class
    {
        // Generous: catches hangs and runaway work, not a slow shared CI machine.
        var limit = maxTime ?? TimeSpan.FromSeconds(15);
        // On its own thread, so a call that never returns (an infinite loop) fails the test instead of hanging it.
        var run = Task.Factory.StartNew(
            () =>
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                var clock = Stopwatch.StartNew();
                T? value = null;
                Exception? thrown = null;
                try
                {
                    value = call();
                }
                catch (Exception ex)
                {
                    thrown = ex;
                }

                return (value, thrown, clock.Elapsed, GC.GetAllocatedBytesForCurrentThread() - before);
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        if (!run.Wait(limit * 2))
        {
            Assert.Fail($"{what} did not return within {(limit * 2).TotalSeconds:N0} s for a {inputLength:N0}-byte input (it is still running)");
        }

        var (result, error, elapsed, allocated) = run.Result;
        if (error is not null && !allowed.Contains(error.GetType()))
        {
            Assert.Fail($"{what} threw an undocumented {error.GetType().Name}: {error}");
        }

        Assert.True(allocated <= (perInputByte * inputLength) + (1 << 20), $"{what} allocated {allocated:N0} bytes for a {inputLength:N0}-byte input");
        Assert.True(elapsed <= limit, $"{what} took {elapsed.TotalMilliseconds:N0} ms for a {inputLength:N0}-byte input");
        return result;
    }
}
