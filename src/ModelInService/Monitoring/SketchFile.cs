using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text.Json.Serialization;

namespace ModelInService.Monitoring;

/// <summary>
/// The container of reference and snapshot files, format version 1, little-endian: a 4-byte magic, version (u16),
/// reserved (u16), header length (u32), the UTF-8 JSON header, blob count (u32), each blob as length (u32) + bytes
/// (serialized <see cref="Sketches.FeatureProfile"/>s, referenced from the header by index), and an XxHash64 of
/// everything before it, so a truncated or corrupted file is detected before any sketch is parsed.
/// </summary>
internal static class SketchFile
{
    public const ushort Version = 1;

    /// <summary>Files larger than this are refused (a corrupt length must not allocate gigabytes).</summary>
    private const long MaxFileBytes = 1L << 30;

    public static void Write(Stream destination, uint magic, byte[] header, IReadOnlyList<byte[]> blobs)
    {
        using var buffer = new MemoryStream();
        Span<byte> scratch = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(scratch, magic);
        buffer.Write(scratch[..4]);
        BinaryPrimitives.WriteUInt16LittleEndian(scratch, Version);
        BinaryPrimitives.WriteUInt16LittleEndian(scratch[2..], 0);
        buffer.Write(scratch[..4]);
        BinaryPrimitives.WriteInt32LittleEndian(scratch, header.Length);
        buffer.Write(scratch[..4]);
        buffer.Write(header);
        BinaryPrimitives.WriteInt32LittleEndian(scratch, blobs.Count);
        buffer.Write(scratch[..4]);
        foreach (var blob in blobs)
        {
            BinaryPrimitives.WriteInt32LittleEndian(scratch, blob.Length);
            buffer.Write(scratch[..4]);
            buffer.Write(blob);
        }

        BinaryPrimitives.WriteUInt64LittleEndian(scratch, XxHash64.HashToUInt64(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
        buffer.Write(scratch);
        buffer.Position = 0;
        buffer.CopyTo(destination);
    }

    /// <exception cref="FormatException">The bytes are not a valid file of this kind.</exception>
    public static (byte[] Header, List<byte[]> Blobs) Read(Stream source, uint magic, string what)
    {
        byte[] bytes;
        if (source.CanSeek && source.Length - source.Position > MaxFileBytes)
        {
            throw new FormatException($"Invalid {what}: larger than 1 GiB.");
        }

        using (var copy = new MemoryStream())
        {
            source.CopyTo(copy);
            bytes = copy.ToArray();
        }

        var span = bytes.AsSpan();
        if (span.Length < 24)
        {
            throw new FormatException($"Invalid {what}: truncated ({span.Length} bytes).");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(span) != magic)
        {
            throw new FormatException($"Invalid {what}: wrong magic number (not a {what}).");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(span[4..]);
        if (version != Version)
        {
            throw new FormatException($"Unsupported {what} format version {version} (this library reads {Version}).");
        }

        var stored = BinaryPrimitives.ReadUInt64LittleEndian(span[^8..]);
        if (XxHash64.HashToUInt64(span[..^8]) != stored)
        {
            throw new FormatException($"Invalid {what}: checksum mismatch (truncated or corrupted).");
        }

        var body = span[..^8];
        var offset = 8;
        var header = Slice(body, ref offset, what).ToArray();
        if (body.Length - offset < 4)
        {
            throw new FormatException($"Invalid {what}: truncated blob count.");
        }

        var count = BinaryPrimitives.ReadInt32LittleEndian(body[offset..]);
        offset += 4;
        if (count < 0 || count > body.Length)
        {
            throw new FormatException($"Invalid {what}: bad blob count.");
        }

        var blobs = new List<byte[]>(count);
        for (var i = 0; i < count; i++)
        {
            blobs.Add(Slice(body, ref offset, what).ToArray());
        }

        if (offset != body.Length)
        {
            throw new FormatException($"Invalid {what}: trailing bytes.");
        }

        return (header, blobs);
    }

    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> body, ref int offset, string what)
    {
        if (body.Length - offset < 4)
        {
            throw new FormatException($"Invalid {what}: truncated length.");
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(body[offset..]);
        offset += 4;
        if (length < 0 || length > body.Length - offset)
        {
            throw new FormatException($"Invalid {what}: a length exceeds the file.");
        }

        var slice = body.Slice(offset, length);
        offset += length;
        return slice;
    }
}

/// <summary>JSON header of a reference file.</summary>
internal sealed class ReferenceHeader
{
    public int FormatVersion { get; set; } = 1;

    public string? ModelName { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public string Source { get; set; } = "";

    public long Rows { get; set; }

    public double? PredictionsPerMinute { get; set; }

    public List<long> ChunkRows { get; set; } = [];

    public List<FeatureEntry> Features { get; set; } = [];

    /// <summary>Training rows skipped by input validation (absent in older files: 0).</summary>
    public long SkippedRows { get; set; }

    public string? SkippedReason { get; set; }
}

/// <summary>One feature in a file header: name, role, kind, and the blob indexes of its profile(s) (−1: no data).</summary>
internal sealed class FeatureEntry
{
    public string Name { get; set; } = "";

    public string Role { get; set; } = "input";

    public string Kind { get; set; } = "numeric";

    public int Blob { get; set; } = -1;

    /// <summary>Per reference chunk (references only).</summary>
    public List<int>? Chunks { get; set; }
}

/// <summary>JSON header of a snapshot file.</summary>
internal sealed class SnapshotHeader
{
    public int FormatVersion { get; set; } = 1;

    public string ModelName { get; set; } = "";

    public long IntervalTicks { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public List<FeatureEntry> Features { get; set; } = [];

    public List<IntervalEntry> Intervals { get; set; } = [];
}

internal sealed class IntervalEntry
{
    public long Index { get; set; }

    public long Rows { get; set; }

    public long Dropped { get; set; }

    public long Unsampled { get; set; }

    public long SchemaViolations { get; set; }

    public long Classified { get; set; }

    public long Correct { get; set; }

    public long Regressed { get; set; }

    public double AbsoluteError { get; set; }

    public double SquaredError { get; set; }

    public long[] BinCount { get; set; } = [];

    public double[] BinConfidence { get; set; } = [];

    public long[] BinCorrect { get; set; } = [];

    /// <summary>Blob index per feature of <see cref="SnapshotHeader.Features"/> (−1: no data).</summary>
    public List<int> Blobs { get; set; } = [];
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ReferenceHeader))]
[JsonSerializable(typeof(SnapshotHeader))]
internal sealed partial class MonitorJsonContext : JsonSerializerContext;
