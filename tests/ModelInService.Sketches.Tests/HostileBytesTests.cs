using System.Buffers.Binary;
using Xunit;

namespace ModelInService.Sketches.Tests;

/// <summary>
/// Decoding random, truncated, corrupted and crafted bytes must either succeed with a valid object or throw
/// <see cref="FormatException"/>: never another exception, a hang, or an allocation sized by an untrusted field.
/// </summary>
public sealed class HostileBytesTests
{
    private static readonly byte[][] KllSamples = BuildKllSamples();

    private static byte[][] BuildKllSamples()
    {
        var random = new Random(5);
        return
        [
            new KllDoublesSketch().ToByteArray(),
            TestStreams.Sketch([3.5]).ToByteArray(),
            TestStreams.Sketch(Enumerable.Range(0, 50).Select(i => (double)i)).ToByteArray(),
            TestStreams.Sketch(TestStreams.Make(1, 20_000, random)).ToByteArray(),
            TestStreams.Sketch(TestStreams.Make(3, 3_000, random), k: 8).ToByteArray(),
        ];
    }

    /// <summary>
    /// Runs <paramref name="decode"/>; it must succeed or throw <see cref="FormatException"/>, allocating at most a
    /// small multiple of the input. On success <paramref name="use"/> exercises the decoded object (not measured).
    /// </summary>
    private static void AssertDecodesOrFormatException<TResult>(Func<TResult> decode, int inputLength, Action<TResult>? use = null)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        TResult result;
        try
        {
            result = decode();
        }
        catch (FormatException)
        {
            AssertSmall(GC.GetAllocatedBytesForCurrentThread() - before, inputLength);
            return;
        }

        AssertSmall(GC.GetAllocatedBytesForCurrentThread() - before, inputLength);
        use?.Invoke(result);
    }

    private static void AssertSmall(long allocated, int inputLength) =>
        Assert.True(allocated <= (8L * inputLength) + (64 * 1024), $"allocated {allocated} bytes for a {inputLength}-byte input");

    [Fact]
    public void Kll_EveryTruncation_ThrowsFormatExceptionOrDecodes()
    {
        foreach (var sample in KllSamples)
        {
            for (var length = 0; length < sample.Length; length++)
            {
                var prefix = sample.AsSpan(0, length).ToArray();
                AssertDecodesOrFormatException(() => KllDoublesSketch.Deserialize(prefix), length);
                AssertDecodesOrFormatException(() => KllFloatsSketch.Deserialize(prefix), length);
                AssertDecodesOrFormatException(() => KllLongsSketch.Deserialize(prefix), length);
            }
        }
    }

    [Fact]
    public void Kll_TruncatedFullSketch_AlwaysThrows()
    {
        var sample = KllSamples[3];
        for (var length = 0; length < sample.Length; length++)
        {
            Assert.Throws<FormatException>(() => KllDoublesSketch.Deserialize(sample.AsSpan(0, length)));
        }
    }

    [Fact]
    public void Kll_BitFlipsAndByteMutations_ThrowFormatExceptionOrDecodeConsistently()
    {
        var random = new Random(17);
        foreach (var sample in KllSamples)
        {
            for (var trial = 0; trial < 1500; trial++)
            {
                var mutated = (byte[])sample.Clone();
                var edits = 1 + random.Next(3);
                for (var e = 0; e < edits; e++)
                {
                    // Bias towards the header, where the structural fields are.
                    var position = random.Next(2) == 0 ? random.Next(Math.Min(mutated.Length, 40)) : random.Next(mutated.Length);
                    mutated[position] = random.Next(2) == 0 ? (byte)(mutated[position] ^ (1 << random.Next(8))) : (byte)random.Next(256);
                }

                AssertDecodesOrFormatException(
                    () => KllDoublesSketch.Deserialize(mutated),
                    mutated.Length,
                    sketch =>
                    {
                        // Whatever decodes must be a usable sketch.
                        if (!sketch.IsEmpty)
                        {
                            _ = sketch.GetQuantile(0.5);
                            Assert.Equal(sketch.N, sketch.GetSortedView().CumulativeWeights[^1]);
                        }

                        sketch.Update(1.0);
                        if (sketch.M == 8 || sample.Length == 8)
                        {
                            sketch.Merge(KllDoublesSketch.Deserialize(sample));
                        }
                        else
                        {
                            Assert.Throws<ArgumentException>(() => sketch.Merge(KllDoublesSketch.Deserialize(sample)));
                        }

                        _ = KllDoublesSketch.Deserialize(sketch.ToByteArray());
                    });
            }
        }
    }

    [Fact]
    public void Kll_RandomBytes_ThrowFormatException()
    {
        var random = new Random(23);
        for (var trial = 0; trial < 5000; trial++)
        {
            var bytes = new byte[random.Next(64)];
            random.NextBytes(bytes);
            if (bytes.Length > 2 && trial % 2 == 0)
            {
                bytes[2] = 15; // get past the family check more often
            }

            AssertDecodesOrFormatException(() => KllDoublesSketch.Deserialize(bytes), bytes.Length);
        }
    }

    [Fact]
    public void Kll_CraftedHugeCapacity_ThrowsWithoutLargeAllocation()
    {
        // k = 65535, 20 levels, level 0 claiming a retained count near the capacity (~200k items, 1.6 MB).
        var bytes = new byte[20 + (4 * 20) + 16 + 8];
        bytes[0] = 5;
        bytes[1] = 1;
        bytes[2] = 15;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), 65535);
        bytes[6] = 8;
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), ulong.MaxValue >> 2);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(16), 200);
        bytes[18] = 20;
        AssertDecodesOrFormatException(() => KllDoublesSketch.Deserialize(bytes), bytes.Length);
        Assert.Throws<FormatException>(() => KllDoublesSketch.Deserialize(bytes));
    }

    [Theory]
    [InlineData(0, 3, "preamble")]
    [InlineData(1, 9, "serial version")]
    [InlineData(2, 16, "family")]
    [InlineData(6, 3, "m is 3")]
    public void Kll_BadHeaderFields_ExplainTheProblem(int offset, byte value, string expected)
    {
        var bytes = (byte[])KllSamples[3].Clone();
        bytes[offset] = value;
        var ex = Assert.Throws<FormatException>(() => KllDoublesSketch.Deserialize(bytes));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kll_WrongTotalWeight_Throws()
    {
        var bytes = (byte[])KllSamples[3].Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), 20_001);
        var ex = Assert.Throws<FormatException>(() => KllDoublesSketch.Deserialize(bytes));
        Assert.Contains("weigh", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kll_UnsortedLevelOrNaNItem_Throws()
    {
        var sketch = TestStreams.Sketch(TestStreams.Make(0, 20_000, new Random(3)));
        var bytes = sketch.ToByteArray();
        var itemsStart = 20 + (4 * sketch.NumLevels) + 16;
        var last = bytes.Length - 8;
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(last), double.NaN);
        Assert.Throws<FormatException>(() => KllDoublesSketch.Deserialize(bytes));

        bytes = sketch.ToByteArray();
        // Swap the first two items of the top level (sorted, more than one item) to break its order.
        var (sizes, _) = sketch.GetLevelsAndItems();
        var topStart = itemsStart + (8 * sizes.Take(sizes.Length - 1).Sum());
        Assert.True(sizes[^1] >= 2);
        var a = BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(topStart));
        var b = BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(topStart + 8));
        Assert.True(a < b);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(topStart), b);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(topStart + 8), a);
        Assert.Contains("not sorted", Assert.Throws<FormatException>(() => KllDoublesSketch.Deserialize(bytes)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Kll_JavaUpdatableForm_IsRead()
    {
        // Build Java's updatable layout (serial version 3): all boundaries and the full buffer.
        var sketch = TestStreams.Sketch(TestStreams.Make(0, 5_000, new Random(9)));
        var compact = sketch.ToByteArray();
        var numLevels = sketch.NumLevels;
        var capacity = KllHelper.ComputeTotalCapacity(200, 8, numLevels);
        var levels = new uint[numLevels + 1];
        for (var i = 0; i < numLevels; i++)
        {
            levels[i] = BinaryPrimitives.ReadUInt32LittleEndian(compact.AsSpan(20 + (4 * i)));
        }

        levels[numLevels] = (uint)capacity;
        var updatable = new byte[20 + (4 * (numLevels + 1)) + 16 + (8 * capacity)];
        compact.AsSpan(0, 20).CopyTo(updatable);
        updatable[1] = 3;
        for (var i = 0; i <= numLevels; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(updatable.AsSpan(20 + (4 * i)), levels[i]);
        }

        var minMaxAndItems = compact.AsSpan(20 + (4 * numLevels));
        minMaxAndItems[..16].CopyTo(updatable.AsSpan(20 + (4 * (numLevels + 1))));
        minMaxAndItems[16..].CopyTo(updatable.AsSpan(20 + (4 * (numLevels + 1)) + 16 + (8 * (int)levels[0])));
        Assert.Equal(compact, KllDoublesSketch.Deserialize(updatable).ToByteArray());
    }

    [Fact]
    public void Categorical_TruncationsMutationsAndRandomBytes_ThrowFormatExceptionOrDecode()
    {
        var sketch = new CategoricalSketch(16);
        var random = new Random(4);
        for (var i = 0; i < 2000; i++)
        {
            if (i % 3 == 0)
            {
                sketch.Update(random.Next(40));
            }
            else
            {
                sketch.Update("c" + random.Next(30));
            }
        }

        var sample = sketch.ToByteArray();
        for (var length = 0; length < sample.Length; length++)
        {
            var prefix = sample.AsSpan(0, length).ToArray();
            Assert.Throws<FormatException>(() => CategoricalSketch.Deserialize(prefix));
        }

        for (var trial = 0; trial < 3000; trial++)
        {
            var mutated = (byte[])sample.Clone();
            var position = random.Next(2) == 0 ? random.Next(32) : random.Next(mutated.Length);
            mutated[position] = (byte)random.Next(256);
            AssertDecodesOrFormatException(
                () => CategoricalSketch.Deserialize(mutated),
                mutated.Length,
                decoded =>
                {
                    Assert.InRange(decoded.OtherCount, 0, decoded.N);
                    decoded.Update("x");
                    _ = CategoricalSketch.Deserialize(decoded.ToByteArray());
                });

            var noise = new byte[random.Next(80)];
            random.NextBytes(noise);
            AssertDecodesOrFormatException(() => CategoricalSketch.Deserialize(noise), noise.Length);
        }

        // A header claiming a million entries in 40 bytes.
        var crafted = sample.AsSpan(0, 40).ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(crafted.AsSpan(8), 1 << 20);
        BinaryPrimitives.WriteInt32LittleEndian(crafted.AsSpan(12), 1 << 20);
        AssertDecodesOrFormatException(() => CategoricalSketch.Deserialize(crafted), crafted.Length);
        Assert.Throws<FormatException>(() => CategoricalSketch.Deserialize(crafted));
    }

    [Fact]
    public void Profile_TruncationsAndMutations_ThrowFormatExceptionOrDecode()
    {
        var numeric = FeatureProfile.CreateNumeric(random: new Random(1));
        var categorical = FeatureProfile.CreateCategorical(8);
        var random = new Random(8);
        for (var i = 0; i < 5000; i++)
        {
            numeric.Update(TestStreams.Normal(random));
            categorical.Update("v" + random.Next(20));
        }

        numeric.UpdateNull();
        numeric.Update(double.NaN);
        categorical.Update((string?)null);
        foreach (var sample in new[] { numeric.ToByteArray(), categorical.ToByteArray() })
        {
            for (var length = 0; length < sample.Length; length++)
            {
                var prefix = sample.AsSpan(0, length).ToArray();
                Assert.Throws<FormatException>(() => FeatureProfile.Deserialize(prefix));
            }

            for (var trial = 0; trial < 2000; trial++)
            {
                var mutated = (byte[])sample.Clone();
                var position = random.Next(2) == 0 ? random.Next(Math.Min(120, mutated.Length)) : random.Next(mutated.Length);
                mutated[position] ^= (byte)(1 << random.Next(8));
                AssertDecodesOrFormatException(
                    () => FeatureProfile.Deserialize(mutated),
                    mutated.Length,
                    decoded =>
                    {
                        decoded.Merge(FeatureProfile.Deserialize(sample));
                        _ = FeatureProfile.Deserialize(decoded.ToByteArray());
                    });
            }
        }
    }
}
