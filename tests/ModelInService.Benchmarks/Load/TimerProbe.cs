using System.Diagnostics;
using System.Globalization;

namespace ModelInService.Benchmarks.Load;

/// <summary>
/// How late the waits the batcher relies on fire on this machine: a <see cref="CancellationTokenSource"/> with a
/// TimeProvider delay (the batcher's MaxDelay wait and deadline timers use the runtime's timer queue, which runs on
/// <see cref="Environment.TickCount64"/>) against blocking waits. <c>load --timers</c>.
/// </summary>
internal static class TimerProbe
{
    public static async Task<int> RunAsync()
    {
        Console.WriteLine($"Timer resolution on this machine ({Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}); 40 samples each, ms");
        Console.WriteLine();
        Console.WriteLine("| wait | requested ms | median ms | min ms | max ms |");
        Console.WriteLine("|---|--:|--:|--:|--:|");
        foreach (var ms in new[] { 0.5, 1.0, 2.0, 5.0 })
        {
            var samples = new List<double>();
            for (var i = 0; i < 40; i++)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(ms), TimeProvider.System);
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var started = Stopwatch.GetTimestamp();
                using var registration = cts.Token.Register(() => done.TrySetResult());
                await done.Task;
                samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            Print("CancellationTokenSource(delay, TimeProvider.System) (batcher MaxDelay wait)", ms, samples);
        }

        using var gate = new ManualResetEventSlim(false);
        Print("ManualResetEventSlim.Wait(2) (blocking)", 2, Measure(() => gate.Wait(2)));
        Print("Thread.Sleep(2)", 2, Measure(() => Thread.Sleep(2)));
        var tick = Environment.TickCount64;
        long next;
        while ((next = Environment.TickCount64) == tick)
        {
        }

        var start = next;
        while ((next = Environment.TickCount64) == start)
        {
        }

        Console.WriteLine();
        Console.WriteLine($"Environment.TickCount64 advances in steps of {next - start} ms here (the timer queue's clock).");
        return 0;
    }

    private static List<double> Measure(Action wait)
    {
        var samples = new List<double>();
        for (var i = 0; i < 40; i++)
        {
            var started = Stopwatch.GetTimestamp();
            wait();
            samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        return samples;
    }

    private static void Print(string name, double requested, List<double> samples)
    {
        samples.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {requested:0.#} | {samples[samples.Count / 2]:0.00} | {samples[0]:0.00} | {samples[^1]:0.00} |"));
    }
}
