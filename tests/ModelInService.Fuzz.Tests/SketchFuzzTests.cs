using System.Buffers.Binary;
using ModelInService.Sketches;

namespace ModelInService.Fuzz.Tests;

/// <summary>
/// Mutated sketch bytes through every deserializer (KLL doubles, floats and longs; categorical; feature profile), then
/// whatever decodes through merge, quantiles and serialization. Invariants: decoding throws only
/// <see cref="FormatException"/>; merging only the documented <see cref="OverflowException"/> (and, for raw KLL bytes
/// of another m, <see cref="ArgumentException"/>); allocation bounded by the input's size; a time bound per call;
/// what decodes serializes and decodes back to the same bytes.
/// </summary>
public sealed class SketchFuzzTests
{
    private static readonly Type[] Decoding = [typeof(FormatException)];
    private static readonly Type[] Merging = [typeof(OverflowException)];
    private static readonly Type[] KllMerging = [typeof(OverflowException), typeof(ArgumentException)];

    [Fact]
    public void Kll_MutatedBytes_DecodeMergeQueryAndSerializeWithinTheInvariants()
    {
        var samples = new[]
        {
            Doubles(0), Doubles(1), Doubles(50), Doubles(20_000), Doubles(3_000, k: 8),
        };
        FuzzBudget.Run(200, (random, iteration) =>
        {
            var bytes = ByteMutator.Mutate(samples[random.Next(samples.Length)], samples[random.Next(samples.Length)], random);
            switch (random.Next(3))
            {
                case 0:
                    Exercise(bytes, b => KllDoublesSketch.Deserialize(b), () => new KllDoublesSketch(), s => s.ToByteArray(), b => KllDoublesSketch.Deserialize(b), 1.5);
                    break;
                case 1:
                    Exercise(bytes, b => KllFloatsSketch.Deserialize(b), () => new KllFloatsSketch(), s => s.ToByteArray(), b => KllFloatsSketch.Deserialize(b), 1.5f);
                    break;
                default:
                    Exercise(bytes, b => KllLongsSketch.Deserialize(b), () => new KllLongsSketch(), s => s.ToByteArray(), b => KllLongsSketch.Deserialize(b), 2L);
                    break;
            }
        });
    }

    [Fact]
    public void Categorical_MutatedBytes_DecodeMergeAndSerializeWithinTheInvariants()
    {
        var samples = new[] { Categories(0), Categories(5), Categories(1_000), Codes(300) };
        FuzzBudget.Run(200, (random, iteration) =>
        {
            var bytes = ByteMutator.Mutate(samples[random.Next(samples.Length)], samples[random.Next(samples.Length)], random);
            var sketch = FuzzBudget.Check("CategoricalSketch.Deserialize", bytes.Length, () => CategoricalSketch.Deserialize(bytes), Decoding);
            if (sketch is null)
            {
                return;
            }

            _ = sketch.GetFrequentItems();
            var fresh = new CategoricalSketch();
            FuzzBudget.Check("CategoricalSketch.Merge", bytes.Length, () => { fresh.Merge(sketch); return fresh; }, Merging, 64);
            FuzzBudget.Check("CategoricalSketch.Merge(self)", bytes.Length, () => { sketch.Merge(sketch); return sketch; }, Merging, 64);
            RoundTrips(sketch.ToByteArray(), b => CategoricalSketch.Deserialize(b).ToByteArray());
        });
    }

    [Fact]
    public void FeatureProfile_MutatedBytes_DecodeMergeQueryAndSerializeWithinTheInvariants()
    {
        var samples = new[] { Numeric(0), Numeric(3), Numeric(5_000), CategoricalProfile(0), CategoricalProfile(400) };
        FuzzBudget.Run(200, (random, iteration) =>
        {
            var bytes = ByteMutator.Mutate(samples[random.Next(samples.Length)], samples[random.Next(samples.Length)], random);
            var profile = FuzzBudget.Check("FeatureProfile.Deserialize", bytes.Length, () => FeatureProfile.Deserialize(bytes, new Random(1)), Decoding);
            if (profile is null)
            {
                return;
            }

            var fresh = profile.Kind == FeatureKind.Numeric ? FeatureProfile.CreateNumeric(random: new Random(2)) : FeatureProfile.CreateCategorical();
            FuzzBudget.Check("FeatureProfile.Merge", bytes.Length, () => { fresh.Merge(profile); return fresh; }, Merging, 64);
            FuzzBudget.Check("FeatureProfile.Merge(self)", bytes.Length, () => { profile.Merge(profile); return profile; }, Merging, 64);
            if (profile.Quantiles is { IsEmpty: false } quantiles)
            {
                _ = quantiles.GetQuantile(random.NextDouble());
                _ = quantiles.GetRank(quantiles.Min);
                _ = quantiles.GetCdf([quantiles.Max]);
            }

            _ = profile.ToString();
            RoundTrips(profile.ToByteArray(), b => FeatureProfile.Deserialize(b).ToByteArray());
        });
    }

    private static void Exercise<TSketch, T>(byte[] bytes, Func<byte[], TSketch> decode, Func<TSketch> create, Func<TSketch, byte[]> serialize, Func<byte[], TSketch> decodeAgain, T probe)
        where TSketch : KllSketch<T>
        where T : unmanaged, System.Numerics.INumber<T>
    {
        var sketch = FuzzBudget.Check(typeof(TSketch).Name + ".Deserialize", bytes.Length, () => decode(bytes), Decoding);
        if (sketch is null)
        {
            return;
        }

        // A decoded k (up to 65,535) sizes the compaction buffers: a bounded constant, not a multiple of the input.
        var fresh = create();
        FuzzBudget.Check(typeof(TSketch).Name + ".Merge", bytes.Length, () => { fresh.Merge(sketch); return fresh; }, KllMerging, 64);
        FuzzBudget.Check(typeof(TSketch).Name + ".Merge(self)", bytes.Length, () => { sketch.Merge(sketch); return sketch; }, KllMerging, 64);
        if (!sketch.IsEmpty)
        {
            _ = sketch.GetQuantile(0.5);
            _ = sketch.GetRank(probe);
            _ = sketch.GetQuantiles([0.0, 0.25, 1.0]);
            _ = sketch.GetPmf([sketch.Max]);
        }

        RoundTrips(serialize(sketch), b => serialize(decodeAgain(b)));
    }

    private static void RoundTrips(byte[] bytes, Func<byte[], byte[]> again) => Assert.Equal(bytes, again(bytes));

    private static byte[] Doubles(int count, int k = 200)
    {
        var sketch = new KllDoublesSketch(k, new Random(count));
        var random = new Random(count + 1);
        for (var i = 0; i < count; i++)
        {
            sketch.Update((random.NextDouble() * 100) - 20);
        }

        return sketch.ToByteArray();
    }

    private static byte[] Categories(int count)
    {
        var sketch = new CategoricalSketch();
        for (var i = 0; i < count; i++)
        {
            sketch.Update("c" + (i % 700));
        }

        return sketch.ToByteArray();
    }

    private static byte[] Codes(int count)
    {
        var sketch = new CategoricalSketch(16);
        for (var i = 0; i < count; i++)
        {
            sketch.Update(i % 40);
        }

        return sketch.ToByteArray();
    }

    private static byte[] Numeric(int count)
    {
        var profile = FeatureProfile.CreateNumeric(random: new Random(count));
        for (var i = 0; i < count; i++)
        {
            profile.Update(i % 7 == 0 ? double.NaN : i * 0.5);
        }

        profile.UpdateNull();
        return profile.ToByteArray();
    }

    private static byte[] CategoricalProfile(int count)
    {
        var profile = FeatureProfile.CreateCategorical();
        for (var i = 0; i < count; i++)
        {
            profile.Update(i % 11 == 0 ? null : "label" + (i % 300));
        }

        return profile.ToByteArray();
    }
}

/// <summary>Byte-level mutations that keep the input plausible: bit flips, extreme integers at aligned offsets, truncation, extension, splicing.</summary>
internal static class ByteMutator
{
    private static readonly long[] Extremes = [0, 1, -1, 2, long.MaxValue, long.MinValue, long.MaxValue - 1, int.MaxValue, int.MinValue, uint.MaxValue, ushort.MaxValue, 255, 0x7FFF_FFFF_FFFF_FFF0];

    public static byte[] Mutate(byte[] sample, byte[] other, Random random)
    {
        var bytes = (byte[])sample.Clone();
        var rounds = 1 + random.Next(3);
        for (var r = 0; r < rounds; r++)
        {
            switch (random.Next(7))
            {
                case 0 when bytes.Length > 0:
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Length > 0:
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                    break;
                case 2 when bytes.Length >= 8:
                    {
                        var offset = random.Next(bytes.Length / 2 - 3) * 2;
                        var value = Extremes[random.Next(Extremes.Length)];
                        var width = random.Next(3);
                        if (width == 0 && offset + 8 <= bytes.Length)
                        {
                            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(offset), value);
                        }
                        else if (width == 1 && offset + 4 <= bytes.Length)
                        {
                            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(offset), unchecked((int)value));
                        }
                        else if (offset + 2 <= bytes.Length)
                        {
                            BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(offset), unchecked((short)value));
                        }

                        break;
                    }

                case 3:
                    bytes = bytes[..random.Next(bytes.Length + 1)];
                    break;
                case 4:
                    bytes = [.. bytes, .. Enumerable.Range(0, random.Next(1, 64)).Select(_ => (byte)random.Next(256))];
                    break;
                case 5 when other.Length > 0:
                    {
                        var cut = random.Next(Math.Min(bytes.Length, other.Length) + 1);
                        bytes = [.. bytes.AsSpan(0, cut), .. other.AsSpan(cut)];
                        break;
                    }

                default:
                    if (bytes.Length >= 8)
                    {
                        // Doubles: NaN, infinities, the largest values.
                        double[] specials = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, double.MaxValue, -double.MaxValue, double.Epsilon, -0.0];
                        var offset = random.Next(bytes.Length - 7);
                        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(offset), specials[random.Next(specials.Length)]);
                    }

                    break;
            }
        }

        return bytes;
    }
}
