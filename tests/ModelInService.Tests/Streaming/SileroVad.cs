using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime;
using ModelInService.TestUtilities;

namespace ModelInService.Tests.Streaming;

/// <summary>One 32 ms chunk of 16 kHz audio: 512 samples (the library prepends the stream's 64 samples of context).</summary>
public sealed class VadChunk
{
    [ModelInput("input")]
    public float[] Samples { get; set; } = [];
}

/// <summary>The speech probability of one chunk.</summary>
public sealed class VadResult
{
    [ModelOutput("output")]
    public float Probability { get; set; }
}

/// <summary>Silero VAD v5 from ../shared, its registration as the library expects it, synthetic signals and the direct-session reference.</summary>
internal static class SileroVad
{
    public const int ChunkSamples = 512;
    public const int ContextSamples = 64;
    public const string Name = "vad";

    public static string Path => SharedData.Model("audio", "silero_vad_v5.onnx");

    /// <summary>The registration every test uses: context on 'input', sr = 16000; the state pair is found from the signature.</summary>
    public static StreamingModelBuilder Add(IServiceCollection services, Action<StreamingOptions>? configure = null) =>
        services.AddStreamingModel<VadChunk, VadResult>(Name, Path, o =>
        {
            o.ContextInput = "input";
            o.ContextLength = ContextSamples;
            o.Constants["sr"] = 16000L;
            configure?.Invoke(o);
        });

    /// <summary>
    /// A deterministic signal of <paramref name="chunks"/> chunks for stream <paramref name="seed"/>: silence, tone bursts
    /// (with harmonics, like a voiced sound) and noise in turns, so the speech probability moves.
    /// </summary>
    public static float[][] Signal(int seed, int chunks)
    {
        var random = new Random(seed);
        var result = new float[chunks][];
        var phase = 0.0;
        var frequency = 120 + random.Next(200);
        for (var c = 0; c < chunks; c++)
        {
            var kind = ((c / 6) + seed) % 3;
            var chunk = new float[ChunkSamples];
            for (var i = 0; i < chunk.Length; i++)
            {
                phase += 2 * Math.PI * frequency / 16000;
                chunk[i] = kind switch
                {
                    0 => (float)(random.NextDouble() - 0.5) * 0.002f,
                    1 => (float)((0.4 * Math.Sin(phase)) + (0.2 * Math.Sin(2 * phase)) + (0.1 * Math.Sin(3 * phase)) + ((random.NextDouble() - 0.5) * 0.02)),
                    _ => (float)(random.NextDouble() - 0.5) * 0.6f,
                };
            }

            result[c] = chunk;
        }

        return result;
    }

    /// <summary>The stream run alone, chunk by chunk, through a direct InferenceSession with the state and context fed back (Silero's own wrapper).</summary>
    public static float[] Reference(InferenceSession session, float[][] chunks)
    {
        var state = new float[2 * 128];
        var context = new float[ContextSamples];
        var outputs = new float[chunks.Length];
        var x = new float[ContextSamples + ChunkSamples];
        for (var c = 0; c < chunks.Length; c++)
        {
            context.CopyTo(x, 0);
            chunks[c].CopyTo(x, ContextSamples);
            using var input = OrtValue.CreateTensorValueFromMemory(x, [1, x.Length]);
            using var stateValue = OrtValue.CreateTensorValueFromMemory(state, [2, 1, 128]);
            using var sr = OrtValue.CreateTensorValueFromMemory(new long[] { 16000 }, []);
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, new[] { "input", "state", "sr" }, new[] { input, stateValue, sr }, new[] { "output", "stateN" });
            outputs[c] = results[0].GetTensorDataAsSpan<float>()[0];
            results[1].GetTensorDataAsSpan<float>().CopyTo(state);
            x.AsSpan(x.Length - ContextSamples).CopyTo(context);
        }

        return outputs;
    }

    public static InferenceSession Session()
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        return new InferenceSession(Path, options);
    }
}
