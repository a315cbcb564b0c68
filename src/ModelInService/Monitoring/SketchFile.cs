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
    public const long MaxFileBytes = 1L << 30;

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

    /// <summary>
    /// Reads and verifies a file. Bytes are counted as they are read, seekable or not: a file over
    /// <paramref name="maxBytes"/> is refused as soon as a length or the bytes read pass it, and a length field never
    /// sizes an allocation beyond the bytes that actually arrived (buffers grow with the data).
    /// </summary>
    /// <exception cref="FormatException">The bytes are not a valid file of this kind, or exceed <paramref name="maxBytes"/>.</exception>
    public static (byte[] Header, List<byte[]> Blobs) Read(Stream source, uint magic, string what, long maxBytes = MaxFileBytes)
    {
        if (source.CanSeek && source.Length - source.Position > maxBytes)
        {
            throw TooLarge(what, maxBytes);
        }

        var reader = new CountingReader(source, what, maxBytes);
        Span<byte> prefix = stackalloc byte[12];
        reader.ReadExactly(prefix, "truncated");
        if (BinaryPrimitives.ReadUInt32LittleEndian(prefix) != magic)
        {
            throw new FormatException($"Invalid {what}: wrong magic number (not a {what}).");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(prefix[4..]);
        if (version != Version)
        {
            throw new FormatException($"Unsupported {what} format version {version} (this library reads {Version}).");
        }

        var header = reader.ReadBlock(BinaryPrimitives.ReadInt32LittleEndian(prefix[8..]));
        var count = reader.ReadInt32("truncated blob count");

        // Each blob takes at least its 4-byte length: a count the remaining budget cannot hold is refused before any list is sized.
        if (count < 0 || (long)count * 4 > reader.Remaining)
        {
            throw new FormatException($"Invalid {what}: bad blob count.");
        }

        var blobs = new List<byte[]>(Math.Min(count, 4096));
        for (var i = 0; i < count; i++)
        {
            blobs.Add(reader.ReadBlock(reader.ReadInt32("truncated length")));
        }

        var computed = reader.Hash;
        Span<byte> stored = stackalloc byte[8];
        reader.ReadExactly(stored, "truncated checksum", hash: false);
        if (BinaryPrimitives.ReadUInt64LittleEndian(stored) != computed)
        {
            throw new FormatException($"Invalid {what}: checksum mismatch (truncated or corrupted).");
        }

        if (source.CanSeek ? source.Position != source.Length : source.ReadByte() != -1)
        {
            throw new FormatException($"Invalid {what}: trailing bytes.");
        }

        return (header, blobs);
    }

    private static FormatException TooLarge(string what, long maxBytes) =>
        new($"Invalid {what}: larger than {maxBytes:N0} bytes (the limit is 1 GiB).");

    /// <summary>Reads a file's fields, hashing and counting every byte against the size limit.</summary>
    private sealed class CountingReader(Stream source, string what, long maxBytes)
    {
        /// <summary>Buffers start at most this large and double as bytes arrive.</summary>
        private const int InitialChunk = 1 << 20;

        private readonly XxHash64 _hash = new();
        private long _read;

        /// <summary>Bytes the file may still hold (the 8-byte checksum included).</summary>
        public long Remaining => maxBytes - _read;

        public ulong Hash => _hash.GetCurrentHashAsUInt64();

        public int ReadInt32(string truncated)
        {
            Span<byte> scratch = stackalloc byte[4];
            ReadExactly(scratch, truncated);
            return BinaryPrimitives.ReadInt32LittleEndian(scratch);
        }

        public void ReadExactly(Span<byte> destination, string truncated, bool hash = true)
        {
            if (destination.Length > Remaining)
            {
                throw TooLarge(what, maxBytes);
            }

            var filled = 0;
            while (filled < destination.Length)
            {
                var n = source.Read(destination[filled..]);
                if (n == 0)
                {
                    throw new FormatException($"Invalid {what}: {truncated}.");
                }

                filled += n;
            }

            _read += filled;
            if (hash)
            {
                _hash.Append(destination);
            }
        }

        /// <summary>A length-prefixed block; the buffer grows with the bytes read, so a lying length allocates nothing extra.</summary>
        public byte[] ReadBlock(int length)
        {
            if (length < 0 || length > Remaining - 8)
            {
                throw new FormatException($"Invalid {what}: a length exceeds the file or the {maxBytes:N0}-byte limit.");
            }

            var buffer = new byte[Math.Min(length, InitialChunk)];
            var filled = 0;
            while (filled < length)
            {
                if (filled == buffer.Length)
                {
                    Array.Resize(ref buffer, (int)Math.Min(length, (long)buffer.Length * 2));
                }

                var n = source.Read(buffer, filled, buffer.Length - filled);
                if (n == 0)
                {
                    throw new FormatException($"Invalid {what}: a length exceeds the file.");
                }

                filled += n;
            }

            _read += length;
            _hash.Append(buffer);
            return buffer;
        }
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

    /// <summary>The model versions whose answers the reference holds; absent (null) when none is known, as in older files.</summary>
    public List<VersionEntry?>? Versions { get; set; }

    /// <summary>Rows of versions beyond the named ones; absent when 0.</summary>
    public long? OtherVersionRows { get; set; }
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

    /// <summary>The model versions that answered the interval's profiled rows; absent (null) when none is known, as in files written before versions were recorded.</summary>
    public List<VersionEntry?>? Versions { get; set; }

    /// <summary>Rows of versions beyond the bound of <see cref="VersionRows.MaxVersions"/> named ones; absent when 0.</summary>
    public long? OtherVersionRows { get; set; }
}

/// <summary>One model version of an interval and the rows it answered.</summary>
internal sealed class VersionEntry
{
    public string? Version { get; set; }

    public long Rows { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ReferenceHeader))]
[JsonSerializable(typeof(SnapshotHeader))]
internal sealed partial class MonitorJsonContext : JsonSerializerContext;
