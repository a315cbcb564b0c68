using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace ModelInService.TestUtilities;

/// <summary>
/// Reads NumPy <c>.npy</c> files (format versions 1.0, 2.0 and 3.0) holding one C-order array of a simple dtype:
/// little-endian or byte-order-free <c>f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1</c>, unicode strings <c>&lt;U{n}</c> and
/// byte strings <c>|S{n}</c>. Anything else (big-endian data, Fortran order, structured or object dtypes) is refused
/// with a <see cref="NotSupportedException"/> naming the header.
/// </summary>
public static partial class NpyReader
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads a file; the tensor is named after the file (without <c>.npy</c>).</summary>
    public static TestTensor Read(string path) => Parse(File.ReadAllBytes(path), Path.GetFileNameWithoutExtension(path));

    /// <summary>Reads an array from a stream (read to its end).</summary>
    public static TestTensor Read(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Parse(buffer.ToArray(), name);
    }

    /// <summary>Parses the bytes of a whole .npy file.</summary>
    public static TestTensor Parse(ReadOnlySpan<byte> bytes, string name)
    {
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"'{name}' is not a .npy file (no \\x93NUMPY magic).");
        }

        int major = bytes[6], minor = bytes[7];
        int headerLength, headerStart;
        Encoding headerEncoding;
        switch (major)
        {
            case 1:
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
                headerStart = 10;
                headerEncoding = Encoding.Latin1;
                break;
            case 2 or 3 when bytes.Length >= 12:
                headerLength = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]));
                headerStart = 12;
                headerEncoding = major == 3 ? Encoding.UTF8 : Encoding.Latin1;
                break;
            default:
                throw new NotSupportedException($"'{name}': .npy format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are).");
        }

        if (headerStart + headerLength > bytes.Length)
        {
            throw new InvalidDataException($"'{name}': the .npy header claims {headerLength} bytes but the file is shorter.");
        }

        var header = headerEncoding.GetString(bytes.Slice(headerStart, headerLength));
        var (descr, fortranOrder, dims) = ParseHeader(header, name);
        if (fortranOrder)
        {
            throw new NotSupportedException($"'{name}': Fortran-order arrays are not supported (header: {header.Trim()}).");
        }

        var count = checked((int)TestTensor.ElementCountOf(dims));
        var body = bytes[(headerStart + headerLength)..];
        var (type, data) = DecodeBody(descr, body, count, name, header);
        return new TestTensor(name, type, dims, data);
    }

    private static (string Descr, bool FortranOrder, long[] Dims) ParseHeader(string header, string name)
    {
        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shape = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shape.Success)
        {
            throw new NotSupportedException(
                $"'{name}': cannot read the .npy header (structured dtypes are not supported): {header.Trim()}");
        }

        var dims = shape.Groups[1].Value
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.Parse(d.TrimEnd('L'), NumberStyles.None, CultureInfo.InvariantCulture))
            .ToArray();
        return (descr.Groups[1].Value, fortran.Groups[1].Value == "True", dims);
    }

    private static (OnnxDataType Type, Array Data) DecodeBody(string descr, ReadOnlySpan<byte> body, int count, string name, string header)
    {
        if (descr.Length < 3 || !"<>|=".Contains(descr[0], StringComparison.Ordinal))
        {
            throw Unsupported(name, descr, header);
        }

        var byteOrder = descr[0];
        if (byteOrder == '>' || (byteOrder == '=' && !BitConverter.IsLittleEndian))
        {
            throw new NotSupportedException($"'{name}': big-endian dtype '{descr}' is not supported.");
        }

        var kind = descr[1];
        if (!int.TryParse(descr.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out var size) || size <= 0)
        {
            throw Unsupported(name, descr, header);
        }

        var itemSize = kind == 'U' ? checked(4 * size) : size;
        var needed = checked((long)itemSize * count);
        if (body.Length < needed)
        {
            throw new InvalidDataException($"'{name}': {count} elements of '{descr}' need {needed} bytes but only {body.Length} follow the header.");
        }

        body = body[..(int)needed];
        return (kind, size) switch
        {
            ('f', 2) => (OnnxDataType.Float16, Cast<Half>(body)),
            ('f', 4) => (OnnxDataType.Float, Cast<float>(body)),
            ('f', 8) => (OnnxDataType.Double, Cast<double>(body)),
            ('i', 1) => (OnnxDataType.Int8, Cast<sbyte>(body)),
            ('i', 2) => (OnnxDataType.Int16, Cast<short>(body)),
            ('i', 4) => (OnnxDataType.Int32, Cast<int>(body)),
            ('i', 8) => (OnnxDataType.Int64, Cast<long>(body)),
            ('u', 1) => (OnnxDataType.UInt8, body.ToArray()),
            ('u', 2) => (OnnxDataType.UInt16, Cast<ushort>(body)),
            ('u', 4) => (OnnxDataType.UInt32, Cast<uint>(body)),
            ('u', 8) => (OnnxDataType.UInt64, Cast<ulong>(body)),
            ('b', 1) => (OnnxDataType.Bool, Bools(body)),
            ('U', _) => (OnnxDataType.String, Strings(body, count, itemSize, utf32: true)),
            ('S', _) => (OnnxDataType.String, Strings(body, count, itemSize, utf32: false)),
            _ => throw Unsupported(name, descr, header),
        };
    }

    /// <summary>Reinterprets little-endian bytes as <typeparamref name="T"/> values (the readers run on little-endian hosts).</summary>
    internal static T[] Cast<T>(ReadOnlySpan<byte> bytes)
        where T : unmanaged
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("The test readers assume a little-endian host.");
        }

        return MemoryMarshal.Cast<byte, T>(bytes).ToArray();
    }

    private static bool[] Bools(ReadOnlySpan<byte> bytes)
    {
        var result = new bool[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            result[i] = bytes[i] != 0;
        }

        return result;
    }

    // NumPy pads shorter strings with NUL code units; they are not part of the value.
    private static string[] Strings(ReadOnlySpan<byte> bytes, int count, int itemSize, bool utf32)
    {
        var encoding = utf32 ? Encoding.UTF32 : Encoding.Latin1;
        var result = new string[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = encoding.GetString(bytes.Slice(i * itemSize, itemSize)).TrimEnd('\0');
        }

        return result;
    }

    private static NotSupportedException Unsupported(string name, string descr, string header) =>
        new($"'{name}': dtype '{descr}' is not supported (header: {header.Trim()}). " +
            "Supported: <f2 <f4 <f8 <i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1 <U{n} |S{n}.");

    [GeneratedRegex(@"['""]descr['""]\s*:\s*['""]([^'""]*)['""]")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"['""]fortran_order['""]\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"['""]shape['""]\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
