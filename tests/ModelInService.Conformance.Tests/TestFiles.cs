using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using ModelInService.TestUtilities;

namespace ModelInService.Conformance.Tests;

/// <summary>Writers for small synthetic test files, so the readers are tested without the shared folder too.</summary>
internal static class TestFiles
{
    /// <summary>A .npy file with the given header dictionary text and body, in format version <paramref name="major"/>.</summary>
    public static byte[] Npy(string dictionary, byte[] body, int major = 1)
    {
        var prefixLength = major == 1 ? 10 : 12;
        var encoding = major == 3 ? Encoding.UTF8 : Encoding.Latin1;
        var header = dictionary;
        // Pad with spaces and a newline so the data starts on a 64-byte boundary, as NumPy does.
        while ((prefixLength + encoding.GetByteCount(header) + 1) % 64 != 0)
        {
            header += " ";
        }

        header += "\n";
        var headerBytes = encoding.GetBytes(header);
        using var stream = new MemoryStream();
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0]);
        var length = new byte[major == 1 ? 2 : 4];
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)headerBytes.Length);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)headerBytes.Length);
        }

        stream.Write(length);
        stream.Write(headerBytes);
        stream.Write(body);
        return stream.ToArray();
    }

    public static string NpyDictionary(string descr, string shape, bool fortran = false) =>
        $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shape}, }}";

    /// <summary>A zip of named .npy files; <paramref name="level"/> NoCompression gives stored entries.</summary>
    public static byte[] Npz(CompressionLevel level, params (string Name, byte[] Npy)[] entries)
    {
        using var stream = new MemoryStream();
        using (var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, npy) in entries)
            {
                using var entry = archive.CreateEntry(name + ".npy", level).Open();
                entry.Write(npy);
            }
        }

        return stream.ToArray();
    }

    /// <summary>Compression method of the first local file header of a zip: 0 stored, 8 deflated.</summary>
    public static int FirstZipEntryMethod(byte[] zip) => BinaryPrimitives.ReadUInt16LittleEndian(zip.AsSpan(8));

    /// <summary>
    /// Encodes a PNG from unfiltered scanlines (each <paramref name="stride"/> bytes), filtering row y with
    /// <c>filters[y % filters.Length]</c>, and splitting the zlib stream over two IDAT chunks.
    /// </summary>
    public static byte[] Png(
        int width,
        int height,
        int bitDepth,
        int colorType,
        byte[] scanlines,
        int bytesPerPixel,
        int[] filters,
        byte[]? palette = null,
        byte[]? transparency = null)
    {
        var stride = scanlines.Length / height;
        using var filtered = new MemoryStream();
        var previous = new byte[stride];
        for (var y = 0; y < height; y++)
        {
            var filter = filters[y % filters.Length];
            var line = scanlines.AsSpan(y * stride, stride);
            filtered.WriteByte((byte)filter);
            for (var i = 0; i < stride; i++)
            {
                int left = i >= bytesPerPixel ? line[i - bytesPerPixel] : 0;
                int up = previous[i];
                int upLeft = i >= bytesPerPixel ? previous[i - bytesPerPixel] : 0;
                var predictor = filter switch
                {
                    0 => 0,
                    1 => left,
                    2 => up,
                    3 => (left + up) / 2,
                    _ => Paeth(left, up, upLeft),
                };
                filtered.WriteByte((byte)(line[i] - predictor));
            }

            line.CopyTo(previous);
        }

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(filtered.ToArray());
        }

        var idat = compressed.ToArray();
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)height);
        ihdr[8] = (byte)bitDepth;
        ihdr[9] = (byte)colorType;
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "tEXt", Encoding.Latin1.GetBytes("Comment\0ancillary chunks are skipped"));
        if (palette is not null)
        {
            Chunk(png, "PLTE", palette);
        }

        if (transparency is not null)
        {
            Chunk(png, "tRNS", transparency);
        }

        Chunk(png, "IDAT", idat[..(idat.Length / 2)]);
        Chunk(png, "IDAT", idat[(idat.Length / 2)..]);
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        var buffer = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)data.Length);
        png.Write(buffer);
        byte[] typeAndData = [.. Encoding.ASCII.GetBytes(type), .. data];
        png.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(buffer, PngGrayReader.Crc32.Compute(typeAndData));
        png.Write(buffer);
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
