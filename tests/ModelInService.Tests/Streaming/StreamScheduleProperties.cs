using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime;
using ModelInService.TestUtilities;

namespace ModelInService.Tests.Streaming;

/// <summary>
/// Random schedules of chunks from several streams, sent without waiting for earlier ones, some canceled before or
/// while they wait: every chunk is answered exactly once (a result or a typed error), and each stream's answers are,
/// in call order, what the stream gets run alone through a direct session over the chunks that succeeded.
/// </summary>
public class StreamScheduleProperties
{
    private const int Schedules = 40;

    public sealed record Send(int Stream, int Signal, int CancelMs);

    public sealed record Schedule(int Streams, Send[] Sends, int MaxDelayMs)
    {
        public override string ToString() => $"streams={Streams} delay={MaxDelayMs}ms sends=[{string.Join(", ", Sends.Select(s => $"{s.Stream}{(s.CancelMs >= 0 ? "c" + s.CancelMs : "")}"))}]";
    }

    private static readonly Arbitrary<Schedule> Arbitrary = (
        from streams in Gen.Choose(1, 6)
        from sends in Gen.ArrayOf(
            from stream in Gen.Choose(0, 5)
            from signal in Gen.Choose(0, 15)
            from cancel in Gen.Frequency((6, Gen.Constant(-1)), (1, Gen.Constant(0)), (1, Gen.Choose(1, 4)))
            select new Send(stream, signal, cancel))
        from delay in Gen.Elements(0, 1, 3)
        select new Schedule(streams, sends.Where(s => s.Stream < streams).Take(40).ToArray(), delay)).ToArbitrary();

    [SkippableFact]
    public async Task EveryChunkIsAnsweredOnce_AndEachStreamKeepsItsOrder_OverRandomSchedules()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var pool = SileroVad.Signal(77, 16);
        using var session = SileroVad.Session();
        await using var provider = await TestModels.ProviderAsync(s => SileroVad.Add(s, o => o.MaxStreams = 16));
        var predictor = provider.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();
        var run = 0;

        Prop.ForAll(Arbitrary, schedule =>
        {
            var id = Interlocked.Increment(ref run);
            return Task.Run(() => RunAsync(predictor, session, pool, schedule, id)).GetAwaiter().GetResult();
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(Schedules).WithQuietOnSuccess(true));

        Assert.Equal(Schedules, run);
        Assert.Equal(0, predictor.OpenStreams);
    }

    private static async Task<bool> RunAsync(IStreamPredictor<VadChunk, VadResult> predictor, InferenceSession session, float[][] pool, Schedule schedule, int run)
    {
        var streams = Enumerable.Range(0, schedule.Streams).Select(i => predictor.OpenStream($"run{run}-s{i}")).ToArray();
        var calls = new List<(Send Send, Task<VadResult> Call, CancellationTokenSource? Cancel)>();
        try
        {
            foreach (var send in schedule.Sends)
            {
                CancellationTokenSource? cancel = null;
                if (send.CancelMs == 0)
                {
                    cancel = new CancellationTokenSource();
                    await cancel.CancelAsync();
                }
                else if (send.CancelMs > 0)
                {
                    cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(send.CancelMs));
                }

                calls.Add((send, streams[send.Stream].PredictAsync(new VadChunk { Samples = pool[send.Signal] }, cancel?.Token ?? default).AsTask(), cancel));
            }

            try
            {
                await Task.WhenAll(calls.Select(c => c.Call));
            }
            catch (Exception ex) when (ex is OperationCanceledException or ModelException)
            {
                // Inspected per call below.
            }
        }
        finally
        {
            foreach (var stream in streams)
            {
                await stream.DisposeAsync();
            }

            foreach (var call in calls)
            {
                call.Cancel?.Dispose();
            }
        }

        for (var s = 0; s < schedule.Streams; s++)
        {
            var mine = calls.Where(c => c.Send.Stream == s).ToList();
            Assert.All(mine, c => Assert.True(c.Call.IsCompleted));
            Assert.All(mine.Where(c => !c.Call.IsCompletedSuccessfully), c => Assert.True(c.Send.CancelMs >= 0 && c.Call.IsCanceled, $"only canceled chunks may fail: {c.Call.Exception}"));
            var succeeded = mine.Where(c => c.Call.IsCompletedSuccessfully).ToList();
            var expected = SileroVad.Reference(session, succeeded.Select(c => pool[c.Send.Signal]).ToArray());
            for (var i = 0; i < succeeded.Count; i++)
            {
                Assert.True(Math.Abs(expected[i] - succeeded[i].Call.Result.Probability) <= 1e-5f, $"{schedule}: stream {s} answer {i}: expected {expected[i]}, got {succeeded[i].Call.Result.Probability}");
            }

            Assert.Equal(succeeded.Count, streams[s].ChunkCount);
        }

        return true;
    }
}
