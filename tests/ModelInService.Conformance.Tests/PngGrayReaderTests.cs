using System.Buffers.Binary;
using ModelInService.TestUtilities;
using Xunit;

namespace ModelInService.Conformance.Tests;

public sealed class PngGrayReaderTests
{
    private const int Width = 7;
    private const int Height = 10;

    /// <summary>Every filter type (each used on two rows, one of them the first row) with an 8-bit grey image.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Decodes_each_filter_type(int filter)
    {
        var grey = Pattern(Width * Height);
        var png = TestFiles.Png(Width, Height, 8, 0, grey, 1, [filter, (filter + 1) % 5, (filter + 3) % 5]);

        var image = PngGrayReader.Decode(png);

        Assert.Equal(Width, image.Width);
        Assert.Equal(Height, image.Height);
        Assert.Equal(grey.Select(g => g / 255f), image.Pixels);
    }

    [Fact]
    public void Decodes_rgb_and_rgba_as_luma_composited_over_the_background()
    {
        var rgb = new byte[] { 255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30 };
        var fromRgb = PngGrayReader.Decode(TestFiles.Png(4, 1, 8, 2, rgb, 3, [4]));
        Assert.Equal([0.299f, 0.587f, 0.114f, ((0.299f * 10) + (0.587f * 20) + (0.114f * 30)) / 255f], fromRgb.Pixels, new Tolerance(1e-6f));

        var rgba = new byte[] { 200, 200, 200, 255, 200, 200, 200, 0, 200, 200, 200, 51 };
        var overBlack = PngGrayReader.Decode(TestFiles.Png(3, 1, 8, 6, rgba, 4, [1]));
        Assert.Equal([200 / 255f, 0f, 200 / 255f * 0.2f], overBlack.Pixels, new Tolerance(1e-6f));
        var overWhite = PngGrayReader.Decode(TestFiles.Png(3, 1, 8, 6, rgba, 4, [1]), background: 1f);
        Assert.Equal([200 / 255f, 1f, (200 / 255f * 0.2f) + 0.8f], overWhite.Pixels, new Tolerance(1e-6f));
    }

    [Fact]
    public void Decodes_grey_alpha_sixteen_bit_and_packed_low_bit_depths()
    {
        var greyAlpha = new byte[] { 255, 255, 255, 0, 100, 255 };
        Assert.Equal([1f, 0f, 100 / 255f], PngGrayReader.Decode(TestFiles.Png(3, 1, 8, 4, greyAlpha, 2, [3])).Pixels);

        var sixteen = new byte[4];
        BinaryPrimitives.WriteUInt16BigEndian(sixteen, 65535);
        BinaryPrimitives.WriteUInt16BigEndian(sixteen.AsSpan(2), 257);
        Assert.Equal([1f, 257 / 65535f], PngGrayReader.Decode(TestFiles.Png(2, 1, 16, 0, sixteen, 2, [2])).Pixels);

        // 1-bit grey, 10 pixels in 2 bytes per row (MSB first): 1011001110 then padding.
        var oneBit = new byte[] { 0b1011_0011, 0b1000_0000 };
        Assert.Equal([1f, 0f, 1f, 1f, 0f, 0f, 1f, 1f, 1f, 0f], PngGrayReader.Decode(TestFiles.Png(10, 1, 1, 0, oneBit, 1, [0])).Pixels);

        // 2-bit grey: 0, 1, 2, 3 -> 0, 1/3, 2/3, 1.
        var twoBit = new byte[] { 0b00_01_10_11 };
        Assert.Equal([0f, 1 / 3f, 2 / 3f, 1f], PngGrayReader.Decode(TestFiles.Png(4, 1, 2, 0, twoBit, 1, [0])).Pixels);
    }

    [Fact]
    public void Decodes_palette_images_with_transparency()
    {
        byte[] palette = [0, 0, 0, 255, 255, 255, 255, 0, 0];
        byte[] transparency = [255, 128]; // entry 1 half transparent, entry 2 opaque (missing = opaque)
        var fourBit = new byte[] { 0x01, 0x20 }; // indices 0, 1, 2, 0
        var image = PngGrayReader.Decode(TestFiles.Png(4, 1, 4, 3, fourBit, 1, [0], palette, transparency));
        Assert.Equal([0f, 128 / 255f, 0.299f, 0f], image.Pixels, new Tolerance(1e-6f));
    }

    [Fact]
    public void Refuses_corrupt_and_unsupported_images()
    {
        var png = TestFiles.Png(2, 2, 8, 0, [1, 2, 3, 4], 1, [0]);
        Assert.Throws<InvalidDataException>(() => PngGrayReader.Decode(png[..^20]));

        var corrupt = (byte[])png.Clone();
        corrupt[20] ^= 0xFF; // inside IHDR: the CRC no longer matches
        Assert.Throws<InvalidDataException>(() => PngGrayReader.Decode(corrupt));

        Assert.Throws<InvalidDataException>(() => PngGrayReader.Decode([1, 2, 3, 4, 5, 6, 7, 8, 9]));
        Assert.Throws<NotSupportedException>(() => PngGrayReader.Decode(TestFiles.Png(2, 1, 4, 2, [0, 0], 1, [0])));
    }

    [Fact]
    public void Inverted_flips_every_pixel()
    {
        var image = new GrayImage(2, 1, [0f, 0.25f]);
        Assert.Equal([1f, 0.75f], image.Inverted().Pixels);
    }

    private static byte[] Pattern(int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)((i * 37) ^ (i >> 2) * 11);
        }

        return bytes;
    }

    private sealed class Tolerance(float epsilon) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= epsilon;

        public int GetHashCode(float obj) => 0;
    }
}
