namespace StreamingVad.Tests;

/// <summary>The re-chunking of PCM frames, without a model.</summary>
public class PcmChunkerTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(333)]
    [InlineData(1024)]
    [InlineData(5000)]
    public void FramesOfAnyLength_GiveTheSameChunks(int frameBytes)
    {
        var pcm = new byte[(3 * 512 * 2) + 101];
        new Random(1).NextBytes(pcm);
        var expected = Chunk(pcm, pcm.Length);

        var chunks = Chunk(pcm, frameBytes);

        Assert.Equal(3, chunks.Count);
        for (var i = 0; i < chunks.Count; i++)
        {
            Assert.Equal(expected[i], chunks[i]);
        }
    }

    [Fact]
    public void Samples_AreLittleEndianInt16_ScaledToMinusOneToOne()
    {
        var chunker = new PcmChunker(chunkSamples: 4);
        var chunks = new List<float[]>();

        chunker.Append([0x00, 0x80, 0xFF, 0x7F, 0x00, 0x40], chunks);
        Assert.Empty(chunks);
        Assert.Equal(3, chunker.Pending);
        chunker.Append([0x01], chunks);
        Assert.Empty(chunks);
        chunker.Append([0x00], chunks);

        Assert.Equal(new[] { -1f, 32767 / 32768f, 0.5f, 1 / 32768f }, Assert.Single(chunks));
        Assert.Equal(0, chunker.Pending);
    }

    private static List<float[]> Chunk(byte[] pcm, int frameBytes)
    {
        var chunker = new PcmChunker();
        var chunks = new List<float[]>();
        for (var offset = 0; offset < pcm.Length; offset += frameBytes)
        {
            chunker.Append(pcm.AsSpan(offset, Math.Min(frameBytes, pcm.Length - offset)), chunks);
        }

        return chunks;
    }
}

/// <summary>The start/end logic, checked against Silero's VADIterator by hand (512-sample chunks = 32 ms).</summary>
public class SpeechDetectorTests
{
    private static List<(int Chunk, SpeechEvent Event)> Run(params float[] probabilities)
    {
        var detector = new SpeechDetector(new VadSettings { Threshold = 0.5f, MinSilenceDurationMs = 100, SpeechPadMs = 30 });
        var events = new List<(int, SpeechEvent)>();
        for (var i = 0; i < probabilities.Length; i++)
        {
            if (detector.Process(probabilities[i]) is { } e)
            {
                events.Add((i, e));
            }
        }

        return events;
    }

    [Fact]
    public void Start_IsTheChunkBeforePaddedBack_AndEnd_WaitsForTheMinimumSilence()
    {
        // Speech in chunks 3-5. Start at chunk 3: 4*512 samples so far - 480 (30 ms pad) - 512 = 1056 = 66 ms. Silence from chunk 6
        // (temp_end = 7*512 = 3584): the end comes once 1,600 samples (100 ms) have passed, at chunk 10
        // (11*512 - 3584 = 2048 >= 1600), at 3584 + 480 - 512 = 3552 samples = 222 ms.
        var events = Run(0.1f, 0.1f, 0.1f, 0.9f, 0.9f, 0.9f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f);

        Assert.Equal([(3, new SpeechEvent("start", 66)), (10, new SpeechEvent("end", 222))], events);
    }

    [Fact]
    public void ProbabilitiesBetweenTheTwoThresholds_NeitherStartNorEndSpeech()
    {
        Assert.Empty(Run(0.4f, 0.49f, 0.36f, 0.4f));

        // 0.4 is not below 0.5 - 0.15: speech goes on; a chunk >= 0.5 resets a silence that had begun.
        var events = Run(0.9f, 0.4f, 0.4f, 0.4f, 0.4f, 0.4f, 0.1f, 0.1f, 0.9f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f);
        Assert.Equal(["start", "end"], events.Select(e => e.Event.Event));
        Assert.Equal(13, events[1].Chunk);
    }

    [Fact]
    public void Finish_EndsOngoingSpeechAtTheLastSample_AndIsNullOtherwise()
    {
        var detector = new SpeechDetector(new VadSettings());
        Assert.Null(detector.Finish());
        detector.Process(0.9f);
        detector.Process(0.9f);

        Assert.True(detector.InSpeech);
        Assert.Equal(new SpeechEvent("end", 64), detector.Finish());
        Assert.False(detector.InSpeech);
    }
}
