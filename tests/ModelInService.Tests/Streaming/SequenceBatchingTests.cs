using Microsoft.Extensions.DependencyInjection;
using ModelInService.Hosting;
using ModelInService.Streaming;
using ModelInService.TestUtilities;

namespace ModelInService.Tests.Streaming;

/// <summary>Silero VAD served as a streaming model: concurrent streams batched together give each stream what it gets alone.</summary>
public class SequenceBatchingTests
{
    private const float Tolerance = 1e-5f;

    [SkippableFact]
    public async Task SixtyFourStreams_OfDifferentLengths_MatchEachStreamRunAloneThroughADirectSession()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var signals = Enumerable.Range(0, 64).Select(i => SileroVad.Signal(i, 5 + (i * 7 % 37))).ToArray();
        float[][] expected;
        using (var session = SileroVad.Session())
        {
            expected = signals.Select(s => SileroVad.Reference(session, s)).ToArray();
        }

        await using var provider = await TestModels.ProviderAsync(s => SileroVad.Add(s, o => o.Batching.MaxDelay = TimeSpan.FromMilliseconds(2)));
        var predictor = provider.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();

        var actual = await Task.WhenAll(signals.Select((signal, i) => Task.Run(async () =>
        {
            await using var stream = predictor.OpenStream($"s{i}");
            var outputs = new float[signal.Length];
            for (var c = 0; c < signal.Length; c++)
            {
                outputs[c] = (await stream.PredictAsync(new VadChunk { Samples = signal[c] })).Probability;
            }

            Assert.Equal(signal.Length, stream.ChunkCount);
            return outputs;
        })));

        for (var i = 0; i < signals.Length; i++)
        {
            for (var c = 0; c < signals[i].Length; c++)
            {
                Assert.True(Math.Abs(expected[i][c] - actual[i][c]) <= Tolerance, $"stream {i} chunk {c}: expected {expected[i][c]}, got {actual[i][c]}");
            }
        }

        var stats = provider.GetRequiredService<ModelRegistry>().Get(SileroVad.Name).Features.Batcher!.Statistics;
        Assert.Equal(signals.Sum(s => s.Length), stats.Succeeded);
        Assert.True(stats.LargestBatch > 1, "chunks of concurrent streams should share runs");
        Assert.Equal(0, predictor.OpenStreams);

        // The signals are not trivial: some chunks are speech-like, some not.
        Assert.Contains(expected.SelectMany(e => e), p => p > 0.5f);
        Assert.Contains(expected.SelectMany(e => e), p => p < 0.1f);
    }

    [SkippableFact]
    public async Task OneRunPerChunk_WithoutSequenceBatching_MatchesTheDirectSessionToo()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var signals = Enumerable.Range(0, 4).Select(i => SileroVad.Signal(100 + i, 12 + i)).ToArray();
        using var session = SileroVad.Session();
        await using var provider = await TestModels.ProviderAsync(s => SileroVad.Add(s, o => o.SequenceBatching = false));
        var predictor = provider.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();

        await Task.WhenAll(signals.Select((signal, i) => Task.Run(async () =>
        {
            await using var stream = predictor.OpenStream($"s{i}");
            var expected = SileroVad.Reference(session, signal);
            for (var c = 0; c < signal.Length; c++)
            {
                Assert.Equal(expected[c], (await stream.PredictAsync(new VadChunk { Samples = signal[c] })).Probability, Tolerance);
            }
        })));

        Assert.Null(provider.GetRequiredService<ModelRegistry>().Get(SileroVad.Name).Features.Batcher);
    }

    [SkippableFact]
    public async Task ChunksSentWithoutAwaiting_RunOneAtATime_InCallOrder()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var signal = SileroVad.Signal(7, 40);
        float[] expected;
        using (var session = SileroVad.Session())
        {
            expected = SileroVad.Reference(session, signal);
        }

        await using var provider = await TestModels.ProviderAsync(s => SileroVad.Add(s));
        var predictor = provider.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>();
        await using var stream = predictor.OpenStream("burst");

        // All 40 calls are made before any completes: the stream's gate runs them one by one, in call order.
        var pending = signal.Select(chunk => stream.PredictAsync(new VadChunk { Samples = chunk }).AsTask()).ToArray();
        var actual = await Task.WhenAll(pending);

        for (var c = 0; c < signal.Length; c++)
        {
            Assert.Equal(expected[c], actual[c].Probability, Tolerance);
        }
    }

    [SkippableFact]
    public async Task SileroSignature_StatePairAndBatchAxis_AreFoundWithoutDeclarations()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        await using var provider = await TestModels.ProviderAsync(s => SileroVad.Add(s));
        var binder = (StreamingBinder<VadChunk, VadResult>)provider.GetRequiredService<ModelRegistry>().Get(SileroVad.Name).Current.Binder!;

        var state = Assert.Single(binder.States);
        Assert.Equal(("state", "stateN", 1), (state.Input, state.Output, state.Axis));
        Assert.Equal(256, state.Floats);
        Assert.Equal(256 + 64, binder.StateFloats);
        Assert.True(binder.Batchable);
    }

    [SkippableFact]
    public async Task DeclaredInitialState_IsWhatTheFirstChunkSees()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var signal = SileroVad.Signal(3, 3);
        await using var zeros = await TestModels.ProviderAsync(s => SileroVad.Add(s, o => o.AddState("state", "stateN", 1)));
        await using var ones = await TestModels.ProviderAsync(s => SileroVad.Add(s, o => o.AddState("state", "stateN", 1, (_, row) => row.Fill(0.5f))));

        await using var a = zeros.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>().OpenStream("a");
        await using var b = ones.GetRequiredService<IStreamPredictor<VadChunk, VadResult>>().OpenStream("a");
        var fromZeros = (await a.PredictAsync(new VadChunk { Samples = signal[0] })).Probability;
        var fromHalves = (await b.PredictAsync(new VadChunk { Samples = signal[0] })).Probability;

        using var session = SileroVad.Session();
        Assert.Equal(SileroVad.Reference(session, signal)[0], fromZeros, Tolerance);
        Assert.NotEqual(fromZeros, fromHalves);
    }
}
