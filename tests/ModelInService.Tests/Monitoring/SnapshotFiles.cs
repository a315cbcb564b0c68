using System.Text.Json;
using ModelInService.Monitoring;

namespace ModelInService.Tests.Monitoring;

/// <summary>Opens a snapshot file's header and blobs for editing and writes them back with a recomputed checksum (how an attacker would).</summary>
internal static class SnapshotFiles
{
    public static byte[] Bytes(MonitorSnapshot snapshot)
    {
        using var stream = new MemoryStream();
        snapshot.WriteTo(stream);
        return stream.ToArray();
    }

    public static (SnapshotHeader Header, List<byte[]> Blobs) Open(byte[] file)
    {
        var (header, blobs) = SketchFile.Read(new MemoryStream(file), MonitorSnapshot.Magic, "monitor snapshot");
        return (JsonSerializer.Deserialize(header, MonitorJsonContext.Default.SnapshotHeader)!, blobs);
    }

    public static byte[] Write(SnapshotHeader header, IReadOnlyList<byte[]> blobs) =>
        WriteRaw(JsonSerializer.SerializeToUtf8Bytes(header, MonitorJsonContext.Default.SnapshotHeader), blobs);

    /// <summary>Any header bytes (JSON the serializer would not write: nulls, wrong types), framed and checksummed.</summary>
    public static byte[] WriteRaw(byte[] header, IReadOnlyList<byte[]> blobs)
    {
        using var stream = new MemoryStream();
        SketchFile.Write(stream, MonitorSnapshot.Magic, header, blobs);
        return stream.ToArray();
    }

    /// <summary>Edits a file: decode, change, re-encode (checksum recomputed).</summary>
    public static byte[] Edit(byte[] file, Action<SnapshotHeader, List<byte[]>> change)
    {
        var (header, blobs) = Open(file);
        change(header, blobs);
        return Write(header, blobs);
    }

    public static MonitorSnapshot Read(byte[] file) => MonitorSnapshot.ReadFrom(new MemoryStream(file));
}

/// <summary>A read-only stream that cannot seek, producing <paramref name="length"/> bytes lazily: <paramref name="prefix"/> then zeros.</summary>
internal sealed class NonSeekableStream(byte[] prefix, long length) : Stream
{
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public long BytesRead => _position;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = (int)Math.Min(buffer.Length, length - _position);
        buffer[..n].Clear();
        if (_position < prefix.Length)
        {
            var from = prefix.AsSpan((int)_position);
            from[..Math.Min(from.Length, n)].CopyTo(buffer);
        }

        _position += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
