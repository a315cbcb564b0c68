using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using ModelInService.TestUtilities;
using Xunit;

namespace ModelInService.Conformance.Tests;

public sealed class NpyReaderTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Reads_every_format_version(int major)
    {
        float[] values = [1.5f, -2f, 3.25f, 0f, 1e-3f, float.MaxValue];
        var npy = TestFiles.Npy(TestFiles.NpyDictionary("<f4", "(2, 3)"), MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), major);

        var tensor = NpyReader.Parse(npy, "x");

        Assert.Equal("x", tensor.Name);
        Assert.Equal(OnnxDataType.Float, tensor.ElementType);
        Assert.Equal([2L, 3L], tensor.Dims);
        Assert.Equal(values, tensor.As<float>());
    }

    [Fact]
    public void Reads_every_supported_numeric_dtype()
    {
        AssertRoundTrip<double>("<f8", OnnxDataType.Double, [1.0, -0.5, double.Epsilon]);
        AssertRoundTrip<Half>("<f2", OnnxDataType.Float16, [(Half)1.5f, (Half)(-2f)]);
        AssertRoundTrip<long>("<i8", OnnxDataType.Int64, [long.MinValue, 0, long.MaxValue]);
        AssertRoundTrip<int>("<i4", OnnxDataType.Int32, [int.MinValue, -1, int.MaxValue]);
        AssertRoundTrip<short>("<i2", OnnxDataType.Int16, [short.MinValue, 7]);
        AssertRoundTrip<sbyte>("|i1", OnnxDataType.Int8, [-128, 127]);
        AssertRoundTrip<byte>("|u1", OnnxDataType.UInt8, [0, 200, 255]);
        AssertRoundTrip<ushort>("<u2", OnnxDataType.UInt16, [0, 65535]);
        AssertRoundTrip<uint>("<u4", OnnxDataType.UInt32, [0, uint.MaxValue]);
        AssertRoundTrip<ulong>("<u8", OnnxDataType.UInt64, [0, ulong.MaxValue]);
    }

    [Fact]
    public void Reads_bools_scalars_and_empty_arrays()
    {
        var bools = NpyReader.Parse(TestFiles.Npy(TestFiles.NpyDictionary("|b1", "(3,)"), [1, 0, 1]), "b");
        Assert.Equal([true, false, true], bools.As<bool>());

        var scalar = NpyReader.Parse(TestFiles.Npy(TestFiles.NpyDictionary("<i8", "()"), BitConverter.GetBytes(42L)), "s");
        Assert.Empty(scalar.Dims);
        Assert.Equal([42L], scalar.As<long>());

        var empty = NpyReader.Parse(TestFiles.Npy(TestFiles.NpyDictionary("<f4", "(0, 5)"), []), "e");
        Assert.Equal([0L, 5L], empty.Dims);
        Assert.Empty(empty.As<float>());
    }

    [Fact]
    public void Reads_unicode_and_byte_strings()
    {
        // <U5: five UTF-32LE code units per element, NUL-padded.
        var unicode = Encoding.UTF32.GetBytes("héllo" + "ab\0\0\0" + "✓\0\0\0\0");
        var tensor = NpyReader.Parse(TestFiles.Npy(TestFiles.NpyDictionary("<U5", "(3,)"), unicode, major: 3), "u");
        Assert.Equal(OnnxDataType.String, tensor.ElementType);
        Assert.Equal(["héllo", "ab", "✓"], tensor.As<string>());

        var bytes = NpyReader.Parse(TestFiles.Npy(TestFiles.NpyDictionary("|S3", "(2,)"), Encoding.ASCII.GetBytes("abcd\0\0")), "s");
        Assert.Equal(["abc", "d"], bytes.As<string>());
    }

    [Theory]
    [InlineData(">f4", "big-endian")]
    [InlineData("<c8", "not supported")]
    [InlineData("|O", "not supported")]
    public void Refuses_unsupported_dtypes_clearly(string descr, string message)
    {
        var npy = TestFiles.Npy(TestFiles.NpyDictionary(descr, "(1,)"), new byte[16]);

        var error = Assert.Throws<NotSupportedException>(() => NpyReader.Parse(npy, "x"));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains(descr, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Refuses_fortran_order_structured_dtypes_and_bad_files()
    {
        Assert.Throws<NotSupportedException>(() => NpyReader.Parse(TestFiles.Npy(TestFiles.NpyDictionary("<f4", "(1, 1)", fortran: true), new byte[4]), "f"));
        Assert.Throws<NotSupportedException>(() => NpyReader.Parse(TestFiles.Npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new byte[4]), "s"));
        Assert.Throws<InvalidDataException>(() => NpyReader.Parse("not numpy at all"u8, "n"));
        var truncated = Assert.Throws<InvalidDataException>(() => NpyReader.Parse(TestFiles.Npy(TestFiles.NpyDictionary("<f8", "(4,)"), new byte[8]), "t"));
        Assert.Contains("need 32 bytes", truncated.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(CompressionLevel.NoCompression, 0)]
    [InlineData(CompressionLevel.Optimal, 8)]
    public void Npz_reads_stored_and_deflated_entries_in_order(CompressionLevel level, int zipMethod)
    {
        var a = TestFiles.Npy(TestFiles.NpyDictionary("<i8", "(2,)"), MemoryMarshal.AsBytes<long>([1, 2]).ToArray());
        var b = TestFiles.Npy(TestFiles.NpyDictionary("<f4", "(1, 2)"), MemoryMarshal.AsBytes<float>([0.5f, 0.25f]).ToArray());
        var npz = TestFiles.Npz(level, ("zeta", a), ("alpha", b));
        Assert.Equal(zipMethod, TestFiles.FirstZipEntryMethod(npz));

        var arrays = NpzReader.Read(new MemoryStream(npz));

        Assert.Equal(["zeta", "alpha"], arrays.Keys);
        Assert.Equal([1L, 2L], arrays["zeta"].As<long>());
        Assert.Equal([1L, 2L], arrays["alpha"].Dims);
        Assert.Equal([0.5f, 0.25f], arrays["alpha"].As<float>());
    }

    private static void AssertRoundTrip<T>(string descr, OnnxDataType type, T[] values)
        where T : unmanaged
    {
        var npy = TestFiles.Npy(TestFiles.NpyDictionary(descr, $"({values.Length},)"), MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        var tensor = NpyReader.Parse(npy, descr);
        Assert.Equal(type, tensor.ElementType);
        Assert.Equal([(long)values.Length], tensor.Dims);
        Assert.Equal(values, tensor.As<T>());
    }
}
