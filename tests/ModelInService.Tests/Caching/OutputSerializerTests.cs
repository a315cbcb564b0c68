using System.Buffers.Binary;
using System.IO.Hashing;
using ModelInService.Caching;
using ModelInService.Schema;

namespace ModelInService.Tests.Caching;

/// <summary>An output with every member shape the binder supports.</summary>
public sealed class EveryShapeOutput
{
    public long Label { get; set; }

    public Half Small { get; set; }

    public bool Flag { get; set; }

    public string? Name { get; set; }

    public float[]? Scores { get; set; }

    public string[]? Tags { get; set; }

    public float[,]? Grid { get; set; }

    public Dictionary<long, float>? ById { get; set; }

    public IReadOnlyDictionary<string, double>? ByName { get; set; }
}

/// <summary>The L2 cache's compact format: exact round trips, and nothing that does not check out becomes a value.</summary>
public sealed class OutputSerializerTests
{
    private static readonly UInt128 Key = new(0x0123456789abcdef, 0xfedcba9876543210);

    private static OutputSerializer<T> Serializer<T>()
        where T : new() => new(new OutputCopier<T>(() => new T(), MemberModel.ForOutput(typeof(T))));

    private static EveryShapeOutput Sample() => new()
    {
        Label = -42,
        Small = (Half)1.5f,
        Flag = true,
        Name = "étiquette ✓",
        Scores = [0.25f, float.NaN, -0f, float.MaxValue],
        Tags = ["a", "", "ü"],
        Grid = new float[,] { { 1, 2, 3 }, { 4, 5, 6 } },
        ById = new() { [7] = 0.5f, [-1] = 1.5f },
        ByName = new Dictionary<string, double> { ["x"] = 1e300, ["y"] = -2 },
    };

    [Fact]
    public void EveryShape_RoundTripsExactly()
    {
        var serializer = Serializer<EveryShapeOutput>();
        var value = Sample();

        var bytes = serializer.Serialize(value, Key);
        Assert.True(serializer.TryDeserialize(bytes, Key, out var back));

        Assert.Equal(value.Label, back!.Label);
        Assert.Equal(value.Small, back.Small);
        Assert.True(back.Flag);
        Assert.Equal(value.Name, back.Name);
        Assert.Equal(value.Scores!.Select(BitConverter.SingleToInt32Bits), back.Scores!.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(value.Tags, back.Tags);
        Assert.Equal(value.Grid, back.Grid);
        Assert.Equal(value.ById, back.ById);
        Assert.Equal(value.ByName, back.ByName);
    }

    [Fact]
    public void NullMembers_StayNull_AndTheFormIsCompact()
    {
        var serializer = Serializer<EveryShapeOutput>();
        var bytes = serializer.Serialize(new EveryShapeOutput(), Key);
        Assert.True(serializer.TryDeserialize(bytes, Key, out var back));
        Assert.Null(back!.Name);
        Assert.Null(back.Scores);
        Assert.Null(back.Grid);
        Assert.Null(back.ByName);

        // Iris: header, an int64 label, a length and three raw floats. JSON would be about twice that.
        var iris = Serializer<IrisOutput>().Serialize(new IrisOutput { Label = 2, Probabilities = [0.1f, 0.2f, 0.7f] }, Key);
        Assert.Equal(OutputSerializer<IrisOutput>.HeaderSize + 8 + 4 + 12, iris.Length);
    }

    [Fact]
    public void EveryFlippedByte_IsRejected()
    {
        var serializer = Serializer<EveryShapeOutput>();
        var bytes = serializer.Serialize(Sample(), Key);
        for (var i = 0; i < bytes.Length; i++)
        {
            var damaged = bytes.ToArray();
            damaged[i] ^= 0x10;
            Assert.False(serializer.TryDeserialize(damaged, Key, out var value), $"byte {i}");
            Assert.Null(value);
        }
    }

    [Fact]
    public void TruncatedOrExtendedOrForeignBytes_AreRejected()
    {
        var serializer = Serializer<EveryShapeOutput>();
        var bytes = serializer.Serialize(Sample(), Key);
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.False(serializer.TryDeserialize(bytes.AsSpan(0, length), Key, out _));
        }

        Assert.False(serializer.TryDeserialize([.. bytes, 0], Key, out _));
        Assert.False(serializer.TryDeserialize(bytes, Key + 1, out _));           // stored under another key
        Assert.False(Serializer<IrisOutput>().TryDeserialize(bytes, Key, out _)); // another output layout
        Assert.False(serializer.TryDeserialize("not a cached value"u8, Key, out _));
        Assert.NotEqual(Serializer<IrisOutput>().Layout, serializer.Layout);
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(-7)]
    [InlineData(1)]
    public void LyingLengths_WithAValidChecksum_AreRejectedWithoutAllocatingThem(int length)
    {
        // Somebody wrote well-formed-looking bytes (right tag, layout, key and checksum) whose array length lies.
        var serializer = Serializer<IrisOutput>();
        var bytes = serializer.Serialize(new IrisOutput { Label = 1, Probabilities = [0.1f, 0.2f, 0.7f] }, Key);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(OutputSerializer<IrisOutput>.HeaderSize + 8), length);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(4), XxHash64.HashToUInt64(bytes.AsSpan(12)));

        Assert.False(serializer.TryDeserialize(bytes, Key, out var value));
        Assert.Null(value);
    }

    [Fact]
    public void RandomBytes_NeverThrow()
    {
        var serializer = Serializer<EveryShapeOutput>();
        var random = new Random(16);
        for (var i = 0; i < 2000; i++)
        {
            var bytes = new byte[random.Next(0, 200)];
            random.NextBytes(bytes);
            Assert.False(serializer.TryDeserialize(bytes, Key, out _));
        }
    }
}
