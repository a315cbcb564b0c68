using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace ModelInService.TestUtilities;

/// <summary>A decoded grey-scale image: <see cref="Pixels"/> row-major, <c>Pixels[y * Width + x]</c>, each in [0, 1].</summary>
public sealed record GrayImage(int Width, int Height, float[] Pixels)
{
    public float this[int x, int y] => Pixels[(y * Width) + x];

    /// <summary>1 - value for every pixel (dark-on-light to light-on-dark).</summary>
    public GrayImage Inverted() => this with { Pixels = Array.ConvertAll(Pixels, p => 1f - p) };
}

/// <summary>
/// A small PNG decoder for test images: IHDR, PLTE, tRNS and the concatenated IDAT stream (zlib, via
/// <see cref="ZLibStream"/>), all five scanline filters, CRC checks, non-interlaced images of every colour type and bit
/// depth (grey 1/2/4/8/16, RGB 8/16, palette 1/2/4/8, grey+alpha 8/16, RGBA 8/16). Colour becomes grey by the
/// ITU-R BT.601 luma weights (0.299 R + 0.587 G + 0.114 B); transparency is composited over a background grey level
/// (black by default). Adam7-interlaced images are refused.
/// </summary>
public static class PngGrayReader
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public static GrayImage Read(string path, float background = 0f) => Decode(File.ReadAllBytes(path), background);

    /// <summary>Decodes a PNG; transparent pixels blend towards <paramref name="background"/> (0 black .. 1 white).</summary>
    public static GrayImage Decode(byte[] png, float background = 0f)
    {
        ArgumentNullException.ThrowIfNull(png);
        var header = ReadChunks(png, out var palette, out var transparency, out var compressed);
        var raw = Inflate(compressed);
        var samples = Unfilter(raw, header);
        return ToGray(samples, header, palette, transparency, background);
    }

    private readonly record struct Header(int Width, int Height, int BitDepth, int ColorType)
    {
        public int Channels => ColorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };

        public int BitsPerPixel => Channels * BitDepth;

        /// <summary>Bytes of one unfiltered scanline (without its filter byte).</summary>
        public int Stride => checked((Width * BitsPerPixel) + 7) / 8;

        /// <summary>The filter's "pixel to the left" distance in bytes, at least 1.</summary>
        public int FilterBytesPerPixel => Math.Max(1, BitsPerPixel / 8);
    }

    private static Header ReadChunks(byte[] png, out byte[]? palette, out byte[]? transparency, out MemoryStream compressed)
    {
        if (png.Length < Signature.Length || !png.AsSpan(0, Signature.Length).SequenceEqual(Signature))
        {
            throw new InvalidDataException("Not a PNG file (bad signature).");
        }

        Header? header = null;
        palette = null;
        transparency = null;
        compressed = new MemoryStream();
        var position = Signature.Length;
        while (true)
        {
            if (position + 12 > png.Length)
            {
                throw new InvalidDataException("PNG ends before its IEND chunk.");
            }

            var length = checked((int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(position)));
            if (position + 12L + length > png.Length)
            {
                throw new InvalidDataException("PNG chunk runs past the end of the file.");
            }

            var type = Encoding.ASCII.GetString(png, position + 4, 4);
            var data = png.AsSpan(position + 8, length);
            var storedCrc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(position + 8 + length));
            if (Crc32.Compute(png.AsSpan(position + 4, length + 4)) != storedCrc)
            {
                throw new InvalidDataException($"PNG chunk {type}: CRC mismatch.");
            }

            position += 12 + length;
            switch (type)
            {
                case "IHDR":
                    header = ParseHeader(data);
                    break;
                case "PLTE":
                    palette = data.ToArray();
                    break;
                case "tRNS":
                    transparency = data.ToArray();
                    break;
                case "IDAT":
                    compressed.Write(data);
                    break;
                case "IEND":
                    compressed.Position = 0;
                    return header ?? throw new InvalidDataException("PNG has no IHDR chunk.");
                default:
                    // Ancillary chunks (iCCP, pHYs, iTXt, gAMA, ...) do not change the samples; skip them.
                    if (char.IsUpper(type[0]))
                    {
                        throw new NotSupportedException($"PNG critical chunk {type} is not supported.");
                    }

                    break;
            }
        }
    }

    private static Header ParseHeader(ReadOnlySpan<byte> data)
    {
        if (data.Length != 13)
        {
            throw new InvalidDataException("PNG IHDR must be 13 bytes.");
        }

        var header = new Header(
            checked((int)BinaryPrimitives.ReadUInt32BigEndian(data)),
            checked((int)BinaryPrimitives.ReadUInt32BigEndian(data[4..])),
            data[8],
            data[9]);
        int compression = data[10], filter = data[11], interlace = data[12];
        var validDepth = header.ColorType switch
        {
            0 => header.BitDepth is 1 or 2 or 4 or 8 or 16,
            3 => header.BitDepth is 1 or 2 or 4 or 8,
            2 or 4 or 6 => header.BitDepth is 8 or 16,
            _ => false,
        };
        if (!validDepth || header.Width <= 0 || header.Height <= 0 || compression != 0 || filter != 0)
        {
            throw new NotSupportedException(
                $"PNG {header.Width}x{header.Height}, colour type {header.ColorType}, bit depth {header.BitDepth}, " +
                $"compression {compression}, filter method {filter} is not a valid/supported combination.");
        }

        if (interlace != 0)
        {
            throw new NotSupportedException("Adam7-interlaced PNG images are not supported.");
        }

        return header;
    }

    private static byte[] Inflate(MemoryStream compressed)
    {
        using var zlib = new ZLibStream(compressed, CompressionMode.Decompress);
        using var output = new MemoryStream();
        zlib.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>Undoes the per-scanline filters (None, Sub, Up, Average, Paeth) and returns the bare scanlines.</summary>
    private static byte[] Unfilter(byte[] raw, Header header)
    {
        int stride = header.Stride, bpp = header.FilterBytesPerPixel;
        if (raw.Length < (long)(stride + 1) * header.Height)
        {
            throw new InvalidDataException($"PNG image data has {raw.Length} bytes; {header.Height} scanlines need {(stride + 1) * header.Height}.");
        }

        var result = new byte[stride * header.Height];
        var previous = new byte[stride]; // the line above the first one counts as zeros
        for (var y = 0; y < header.Height; y++)
        {
            var filter = raw[y * (stride + 1)];
            var source = raw.AsSpan((y * (stride + 1)) + 1, stride);
            var line = result.AsSpan(y * stride, stride);
            for (var i = 0; i < stride; i++)
            {
                int left = i >= bpp ? line[i - bpp] : 0;
                int up = previous[i];
                int upLeft = i >= bpp ? previous[i - bpp] : 0;
                var predictor = filter switch
                {
                    0 => 0,
                    1 => left,
                    2 => up,
                    3 => (left + up) / 2,
                    4 => Paeth(left, up, upLeft),
                    _ => throw new InvalidDataException($"PNG scanline {y} has unknown filter type {filter}."),
                };
                line[i] = (byte)(source[i] + predictor);
            }

            line.CopyTo(previous);
        }

        return result;
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    private static GrayImage ToGray(byte[] samples, Header header, byte[]? palette, byte[]? transparency, float background)
    {
        if (header.ColorType == 3 && (palette is null || palette.Length % 3 != 0))
        {
            throw new InvalidDataException("Palette PNG without a valid PLTE chunk.");
        }

        var max = (1 << header.BitDepth) - 1;
        var pixels = new float[header.Width * header.Height];
        for (var y = 0; y < header.Height; y++)
        {
            for (var x = 0; x < header.Width; x++)
            {
                float luma, alpha = 1f;
                int Sample(int channel) => ReadSample(samples, header, x, y, channel);
                switch (header.ColorType)
                {
                    case 0:
                        var grey = Sample(0);
                        luma = (float)grey / max;
                        if (transparency is { Length: >= 2 } && grey == BinaryPrimitives.ReadUInt16BigEndian(transparency))
                        {
                            alpha = 0f;
                        }

                        break;
                    case 2:
                        int r = Sample(0), g = Sample(1), b = Sample(2);
                        luma = Luma(r, g, b) / max;
                        if (transparency is { Length: >= 6 }
                            && r == BinaryPrimitives.ReadUInt16BigEndian(transparency)
                            && g == BinaryPrimitives.ReadUInt16BigEndian(transparency.AsSpan(2))
                            && b == BinaryPrimitives.ReadUInt16BigEndian(transparency.AsSpan(4)))
                        {
                            alpha = 0f;
                        }

                        break;
                    case 3:
                        var index = Sample(0);
                        if (index * 3 >= palette!.Length)
                        {
                            throw new InvalidDataException($"PNG palette index {index} is outside the {palette.Length / 3}-entry palette.");
                        }

                        luma = Luma(palette[index * 3], palette[(index * 3) + 1], palette[(index * 3) + 2]) / 255f;
                        alpha = transparency is not null && index < transparency.Length ? transparency[index] / 255f : 1f;
                        break;
                    case 4:
                        luma = (float)Sample(0) / max;
                        alpha = (float)Sample(1) / max;
                        break;
                    default: // 6
                        luma = Luma(Sample(0), Sample(1), Sample(2)) / max;
                        alpha = (float)Sample(3) / max;
                        break;
                }

                pixels[(y * header.Width) + x] = Math.Clamp((luma * alpha) + (background * (1f - alpha)), 0f, 1f);
            }
        }

        return new GrayImage(header.Width, header.Height, pixels);
    }

    private static float Luma(int r, int g, int b) => (0.299f * r) + (0.587f * g) + (0.114f * b);

    /// <summary>Sample <paramref name="channel"/> of pixel (x, y): 1-8 bit samples are packed MSB first, 16-bit ones big-endian.</summary>
    private static int ReadSample(byte[] samples, Header header, int x, int y, int channel)
    {
        var lineStart = y * header.Stride;
        var sampleIndex = (x * header.Channels) + channel;
        switch (header.BitDepth)
        {
            case 8:
                return samples[lineStart + sampleIndex];
            case 16:
                return BinaryPrimitives.ReadUInt16BigEndian(samples.AsSpan(lineStart + (2 * sampleIndex)));
            default:
                var bitOffset = sampleIndex * header.BitDepth;
                var shift = 8 - header.BitDepth - (bitOffset % 8);
                return (samples[lineStart + (bitOffset / 8)] >> shift) & ((1 << header.BitDepth) - 1);
        }
    }

    /// <summary>CRC-32 (ISO 3309, the polynomial PNG and zip use).</summary>
    internal static class Crc32
    {
        private static readonly uint[] Table = BuildTable();

        public static uint Compute(ReadOnlySpan<byte> data)
        {
            var crc = 0xFFFFFFFFu;
            foreach (var b in data)
            {
                crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            }

            return crc ^ 0xFFFFFFFFu;
        }

        private static uint[] BuildTable()
        {
            var table = new uint[256];
            for (var n = 0u; n < 256; n++)
            {
                var c = n;
                for (var k = 0; k < 8; k++)
                {
                    c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                }

                table[n] = c;
            }

            return table;
        }
    }
}
