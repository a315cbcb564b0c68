using Microsoft.Extensions.DependencyInjection;
using ModelInService.Hosting;
using ModelInService.Streaming;
using ModelInService.TestUtilities;

namespace ModelInService.Tests.Streaming;

/// <summary>A chunk that fails, is canceled or misses its deadline leaves its own stream's state as it was, and never touches another stream's.</summary>
public class StreamIsolationTests
{
    private const float Tolerance = 1e-5f;
    private const int Streams = 8;
    private const int Steps = 10;

    [SkippableFact]
    public async Task AFailingChunkInABatch_FailsAlone_AndNoStateMovesOnForIt()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var signals = Enumerable.Range(0, Streams).Select(i => SileroVad.Signal(200 + i, Steps)).ToArray();

        // Every step's chunks arrive together and fill one batch of 8; the model "fails" on any batch holding stream 3's chunk 4.
        await using var provider = await TestModels.ProviderAsync(s => SileroVad.Add(s, o =>
        {
            o.Batching.MaxBatchSize = Streams;
            o.Batching.MaxDelay = TimeSpan.FromMilliseconds(200);
            o.Batching.DispatchWhenIdle = false;
        }));
        var predictor = provider.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();
        var poison = signals[3][4];
        ((StreamPredictor<VadChunk, VadResult>)predictor).BeforeRun = rows =>
        {
            foreach (var row in rows)
            {
                if (ReferenceEquals(row.Chunk.Samples, poison))
                {
                    throw new ModelInferenceException(SileroVad.Name, "injected failure", null);
                }
            }
        };

        var outcomes = await RunInStepsAsync(predictor, signals, (_, _) => (null, CancellationToken.None));

        var failure = Assert.Single(outcomes.Errors);
        Assert.Equal((3, 4), (failure.Stream, failure.Step));
        Assert.IsType<ModelInferenceException>(failure.Error);
        AssertMatchesReference(signals, outcomes.Outputs, skipped: [(3, 4)]);
        var stats = provider.GetRequiredService<ModelRegistry>().Get(SileroVad.Name).Features.Batcher!.Statistics;
        Assert.True(stats.PoisonSplits > 0, "the failing batch should have been split to isolate the chunk");
        Assert.Equal(Streams, stats.LargestBatch);
    }

    [SkippableFact]
    public async Task CanceledAndTimedOutChunks_LeaveTheirStreamsState_AndOtherStreamsRunOn()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var signals = Enumerable.Range(0, Streams).Select(i => SileroVad.Signal(300 + i, Steps)).ToArray();

        // Batches wait 100 ms for more chunks (never full), so a cancellation or a 1 ms deadline hits the queued chunk.
        await using var provider = await TestModels.ProviderAsync(s => SileroVad.Add(s, o =>
        {
            o.Batching.MaxBatchSize = 64;
            o.Batching.MaxDelay = TimeSpan.FromMilliseconds(100);
            o.Batching.DispatchWhenIdle = false;
        }));
        var predictor = provider.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();
        using var cancel = new CancellationTokenSource();

        var outcomes = await RunInStepsAsync(predictor, signals, (stream, step) => (stream, step) switch
        {
            (1, 2) => (null, Cancel(cancel)),
            (5, 6) => (new PredictionOptions { Timeout = TimeSpan.FromMilliseconds(1) }, CancellationToken.None),
            _ => (null, CancellationToken.None),
        });

        Assert.Equal(2, outcomes.Errors.Count);
        Assert.Contains(outcomes.Errors, e => (e.Stream, e.Step) == (1, 2) && e.Error is OperationCanceledException);
        Assert.Contains(outcomes.Errors, e => (e.Stream, e.Step) == (5, 6) && e.Error is ModelDeadlineExceededException);
        AssertMatchesReference(signals, outcomes.Outputs, skipped: [(1, 2), (5, 6)]);
    }

    [SkippableFact]
    public async Task AnInvalidChunk_IsRejectedBeforeTheBatch_AndTheStreamRunsOn()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var signal = SileroVad.Signal(9, 4);
        await using var provider = await TestModels.ProviderAsync(s => SileroVad.Add(s));
        await using var stream = provider.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>().OpenStream("x");

        var first = (await stream.PredictAsync(new VadChunk { Samples = signal[0] })).Probability;
        var bad = signal[1].ToArray();
        bad[10] = float.NaN;
        await Assert.ThrowsAsync<ModelInputException>(async () => await stream.PredictAsync(new VadChunk { Samples = bad }));
        var rest = new List<float> { first };
        for (var c = 1; c < signal.Length; c++)
        {
            rest.Add((await stream.PredictAsync(new VadChunk { Samples = signal[c] })).Probability);
        }

        using var session = SileroVad.Session();
        var expected = SileroVad.Reference(session, signal);
        for (var c = 0; c < signal.Length; c++)
        {
            Assert.Equal(expected[c], rest[c], Tolerance);
        }
    }

    private static CancellationToken Cancel(CancellationTokenSource source)
    {
        source.CancelAfter(TimeSpan.FromMilliseconds(5));
        return source.Token;
    }

    /// <summary>Runs every stream's chunk of step k together (concurrently), step after step; records each chunk's output or error.</summary>
    private static async Task<Outcomes> RunInStepsAsync(IStreamPredictor<VadChunk, VadResult> predictor, float[][][] signals, Func<int, int, (PredictionOptions?, CancellationToken)> per)
    {
        var streams = signals.Select((_, i) => predictor.OpenStream($"s{i}")).ToArray();
        var outputs = signals.Select(s => new float?[s.Length]).ToArray();
        var errors = new List<(int Stream, int Step, Exception Error)>();
        try
        {
            for (var step = 0; step < Steps; step++)
            {
                var calls = new Task[signals.Length];
                for (var i = 0; i < signals.Length; i++)
                {
                    var (stream, k) = (i, step);
                    var (options, token) = per(i, step);
                    calls[i] = Task.Run(async () =>
                    {
                        try
                        {
                            outputs[stream][k] = (await streams[stream].PredictAsync(new VadChunk { Samples = signals[stream][k] }, options, token)).Probability;
                        }
                        catch (Exception ex) when (ex is ModelException or OperationCanceledException)
                        {
                            lock (errors)
                            {
                                errors.Add((stream, k, ex));
                            }
                        }
                    });
                }

                await Task.WhenAll(calls);
            }
        }
        finally
        {
            foreach (var stream in streams)
            {
                await stream.DisposeAsync();
            }
        }

        return new Outcomes(outputs, errors);
    }

    /// <summary>Each stream's answered chunks equal the stream run alone through a direct session without its failed chunks.</summary>
    private static void AssertMatchesReference(float[][][] signals, float?[][] outputs, (int Stream, int Step)[] skipped)
    {
        using var session = SileroVad.Session();
        for (var i = 0; i < signals.Length; i++)
        {
            var kept = Enumerable.Range(0, signals[i].Length).Where(c => !skipped.Contains((i, c))).ToArray();
            var expected = SileroVad.Reference(session, kept.Select(c => signals[i][c]).ToArray());
            for (var j = 0; j < kept.Length; j++)
            {
                var actual = outputs[i][kept[j]];
                Assert.True(actual is { } value && Math.Abs(value - expected[j]) <= Tolerance, $"stream {i} chunk {kept[j]}: expected {expected[j]}, got {actual}");
            }
        }
    }

    private sealed record Outcomes(float?[][] Outputs, List<(int Stream, int Step, Exception Error)> Errors);
}
