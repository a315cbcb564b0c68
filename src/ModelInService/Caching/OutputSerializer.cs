using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using ModelInService.Schema;

namespace ModelInService.Caching;

/// <summary>
/// The compact binary form of a cached output in the L2 (shared) cache: the bound output members the binder knows, in
/// binding order, numbers and tensors as raw little-endian bytes, strings as UTF-8. Not JSON, not a general serializer.
/// </summary>
/// <remarks>
/// <para>Layout (all little-endian): a 4-byte tag <c>"MIC" + 1</c> (format version 1), an 8-byte XxHash64 checksum of
/// everything after it, the 8-byte <see cref="Layout"/> fingerprint of the output type's bound members, the 16-byte
/// prediction key the value was stored under, then each member: scalars raw (strings as an int32 byte count, -1 for
/// null, then UTF-8); arrays as an int32 length (-1 for null) then the elements; rectangular arrays as an int32 rank
/// (-1 for null), the int32 lengths, then the elements in row-major order; maps as an int32 count (-1 for null) then
/// key/value pairs.</para>
/// <para>A value that does not check out (another format version, another output layout, another key, a bad checksum,
/// a length past the end, invalid UTF-8, bytes left over) is rejected: the cache counts it and treats it as a miss, so
/// a damaged or foreign value never becomes an answer.</para>
/// </remarks>
internal sealed class OutputSerializer<TOutput>
{
    /// <summary>Bytes before the members: tag, checksum, layout, key.</summary>
    public const int HeaderSize = 4 + 8 + 8 + 16;

    /// <summary>"MIC" and format version 1.</summary>
    private const uint Tag = 0x0143494D;

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly OutputCopier<TOutput> _copier;
    private readonly MemberCodec[] _members;

    public OutputSerializer(OutputCopier<TOutput> copier)
    {
        _copier = copier;
        _members = copier.Members.Select(Create).ToArray();
        Layout = Fingerprint(copier.Members);
    }

    /// <summary>
    /// Gets a fingerprint of <typeparamref name="TOutput"/>'s bound members (names, mapped outputs, types, shapes, order)
    /// and the format version: part of the L2 key, so replicas with another output type never read each other's values.
    /// </summary>
    public ulong Layout { get; }

    /// <summary>Gets whether raw element bytes can be written as they are in memory (little-endian processors only).</summary>
    public static bool IsSupported => BitConverter.IsLittleEndian;

    /// <summary>The bytes of <paramref name="value"/> stored under <paramref name="key"/>.</summary>
    public byte[] Serialize(TOutput value, UInt128 key)
    {
        var writer = new ArrayBufferWriter<byte>(256);
        var header = writer.GetSpan(HeaderSize);
        header[..HeaderSize].Clear();
        writer.Advance(HeaderSize);
        foreach (var member in _members)
        {
            member.Write(value, writer);
        }

        var bytes = writer.WrittenSpan.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Tag);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(12), Layout);
        BinaryPrimitives.WriteUInt128LittleEndian(bytes.AsSpan(20), key);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(4), XxHash64.HashToUInt64(bytes.AsSpan(12)));
        return bytes;
    }

    /// <summary>Reads a value stored under <paramref name="key"/>; false (and no value) when the bytes do not check out.</summary>
    public bool TryDeserialize(ReadOnlySpan<byte> payload, UInt128 key, out TOutput? value)
    {
        value = default;
        if (payload.Length < HeaderSize
            || BinaryPrimitives.ReadUInt32LittleEndian(payload) != Tag
            || BinaryPrimitives.ReadUInt64LittleEndian(payload[12..]) != Layout
            || BinaryPrimitives.ReadUInt128LittleEndian(payload[20..]) != key
            || BinaryPrimitives.ReadUInt64LittleEndian(payload[4..]) != XxHash64.HashToUInt64(payload[12..]))
        {
            return false;
        }

        var reader = new Reader(payload[HeaderSize..]);
        var output = _copier.NewOutput();
        try
        {
            foreach (var member in _members)
            {
                member.Read(ref reader, output);
            }
        }
        catch (Exception ex) when (ex is FormatException or DecoderFallbackException or ArgumentException or OverflowException or OutOfMemoryException)
        {
            return false;
        }

        if (!reader.AtEnd)
        {
            return false;
        }

        value = output;
        return true;
    }

    private static ulong Fingerprint(IReadOnlyList<MemberModel> members)
    {
        var text = new StringBuilder("mic1|").Append(typeof(TOutput).FullName);
        foreach (var m in members)
        {
            text.Append('|').Append(m.Member.Name).Append(':').Append(m.MappedName).Append(':').Append(m.Type.FullName)
                .Append(':').Append(m.Shape).Append(':').Append(m.Order);
        }

        return XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(text.ToString()));
    }

    // Closed instantiations through ElementDispatch (no MakeGenericType): Native AOT compiles every codec ahead of time.
    private static MemberCodec Create(MemberModel member)
    {
        var element = member.ElementClrType!;
        var isString = element == typeof(string);
        return member.Shape switch
        {
            MemberShape.Scalar when isString => new StringCodec(member),
            MemberShape.Array when isString => new StringArrayCodec(member),
            MemberShape.Scalar or MemberShape.Array or MemberShape.MultiArray => ElementDispatch.Unmanaged(element, new CodecFactory(member)),
            _ => ElementDispatch.Map<MemberCodec>(
                element,
                member.Type.GetGenericArguments()[1],
                () => new MapCodec<long, float>(member),
                () => new MapCodec<long, double>(member),
                () => new MapCodec<string, float>(member),
                () => new MapCodec<string, double>(member)),
        };
    }

    private static void WriteInt32(IBufferWriter<byte> writer, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(writer.GetSpan(4), value);
        writer.Advance(4);
    }

    private static void WriteRaw<T>(IBufferWriter<byte> writer, ReadOnlySpan<T> values)
        where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values);
        bytes.CopyTo(writer.GetSpan(bytes.Length));
        writer.Advance(bytes.Length);
    }

    private static void WriteString(IBufferWriter<byte> writer, string? value)
    {
        if (value is null)
        {
            WriteInt32(writer, -1);
            return;
        }

        var count = Utf8.GetByteCount(value);
        WriteInt32(writer, count);
        Utf8.GetBytes(value, writer.GetSpan(count));
        writer.Advance(count);
    }

    /// <summary>Reads the members; every length is checked against the bytes left before anything is allocated.</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private ReadOnlySpan<byte> _data = data;

        public readonly bool AtEnd => _data.IsEmpty;

        public int ReadInt32()
        {
            var value = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
            return value;
        }

        /// <summary>A length or count: -1 (null) or 0 or more, at most <paramref name="perItem"/> bytes each within what is left.</summary>
        public int ReadCount(int perItem)
        {
            var count = ReadInt32();
            if (count < -1 || (count > 0 && (long)count * perItem > _data.Length))
            {
                throw new FormatException("A length runs past the end of the value.");
            }

            return count;
        }

        public ReadOnlySpan<byte> Take(int bytes)
        {
            if (bytes < 0 || bytes > _data.Length)
            {
                throw new FormatException("The value is shorter than its lengths say.");
            }

            var taken = _data[..bytes];
            _data = _data[bytes..];
            return taken;
        }

        public T Read<T>()
            where T : unmanaged => MemoryMarshal.Read<T>(Take(Unsafe.SizeOf<T>()));

        public string? ReadString()
        {
            var count = ReadCount(1);
            return count < 0 ? null : Utf8.GetString(Take(count));
        }
    }

    private abstract class MemberCodec
    {
        public abstract void Write(TOutput value, IBufferWriter<byte> writer);

        public abstract void Read(ref Reader reader, TOutput output);
    }

    private sealed class ScalarCodec<T>(MemberModel member) : MemberCodec
        where T : unmanaged
    {
        private readonly Func<TOutput, T> _get = member.CompileGetter<TOutput, T>();
        private readonly Action<TOutput, T> _set = member.CompileSetter<TOutput, T>();

        public override void Write(TOutput value, IBufferWriter<byte> writer)
        {
            var item = _get(value);
            WriteRaw(writer, new ReadOnlySpan<T>(in item));
        }

        public override void Read(ref Reader reader, TOutput output) => _set(output, reader.Read<T>());
    }

    private sealed class StringCodec(MemberModel member) : MemberCodec
    {
        private readonly Func<TOutput, string?> _get = member.CompileGetter<TOutput, string?>();
        private readonly Action<TOutput, string?> _set = member.CompileSetter<TOutput, string?>();

        public override void Write(TOutput value, IBufferWriter<byte> writer) => WriteString(writer, _get(value));

        public override void Read(ref Reader reader, TOutput output) => _set(output, reader.ReadString());
    }

    private sealed class ArrayCodec<T>(MemberModel member) : MemberCodec
        where T : unmanaged
    {
        private readonly Func<TOutput, T[]?> _get = member.CompileGetter<TOutput, T[]?>();
        private readonly Action<TOutput, T[]> _set = member.CompileSetter<TOutput, T[]>();

        public override void Write(TOutput value, IBufferWriter<byte> writer)
        {
            var array = _get(value);
            WriteInt32(writer, array?.Length ?? -1);
            if (array is not null)
            {
                WriteRaw<T>(writer, array);
            }
        }

        public override void Read(ref Reader reader, TOutput output)
        {
            var length = reader.ReadCount(Unsafe.SizeOf<T>());
            if (length >= 0)
            {
                _set(output, MemoryMarshal.Cast<byte, T>(reader.Take(length * Unsafe.SizeOf<T>())).ToArray());
            }
        }
    }

    private sealed class StringArrayCodec(MemberModel member) : MemberCodec
    {
        private readonly Func<TOutput, string[]?> _get = member.CompileGetter<TOutput, string[]?>();
        private readonly Action<TOutput, string[]> _set = member.CompileSetter<TOutput, string[]>();

        public override void Write(TOutput value, IBufferWriter<byte> writer)
        {
            var array = _get(value);
            WriteInt32(writer, array?.Length ?? -1);
            foreach (var item in array ?? [])
            {
                WriteString(writer, item);
            }
        }

        public override void Read(ref Reader reader, TOutput output)
        {
            var length = reader.ReadCount(4);
            if (length >= 0)
            {
                var array = new string[length];
                for (var i = 0; i < array.Length; i++)
                {
                    array[i] = reader.ReadString()!;
                }

                _set(output, array);
            }
        }
    }

    private sealed class MultiArrayCodec<T>(MemberModel member) : MemberCodec
        where T : unmanaged
    {
        private readonly Func<TOutput, Array?> _get = member.CompileGetter<TOutput, Array?>();
        private readonly Action<TOutput, Array> _set = member.CompileSetter<TOutput, Array>();
        private readonly int _rank = member.Type.GetArrayRank();
        private readonly Type _arrayType = member.Type;

        public override void Write(TOutput value, IBufferWriter<byte> writer)
        {
            if (_get(value) is not { } array)
            {
                WriteInt32(writer, -1);
                return;
            }

            WriteInt32(writer, array.Rank);
            for (var d = 0; d < array.Rank; d++)
            {
                WriteInt32(writer, array.GetLength(d));
            }

            WriteRaw(writer, Elements(array));
        }

        public override void Read(ref Reader reader, TOutput output)
        {
            var rank = reader.ReadInt32();
            if (rank < 0)
            {
                return;
            }

            if (rank != _rank)
            {
                throw new FormatException("The rank does not match the member's.");
            }

            var lengths = new int[rank];
            long total = 1;
            for (var d = 0; d < rank; d++)
            {
                lengths[d] = reader.ReadCount(0);
                total = checked(total * lengths[d]);
            }

            var bytes = reader.Take(checked((int)(total * Unsafe.SizeOf<T>())));
            var array = lengths.Length switch
            {
                2 => new T[lengths[0], lengths[1]],
                3 => new T[lengths[0], lengths[1], lengths[2]],
                4 => new T[lengths[0], lengths[1], lengths[2], lengths[3]],
                _ => Array.CreateInstanceFromArrayType(_arrayType, lengths), // the member's own type exists under AOT
            };
            MemoryMarshal.Cast<byte, T>(bytes).CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.As<byte, T>(ref MemoryMarshal.GetArrayDataReference(array)), array.Length));
            _set(output, array);
        }

        private static ReadOnlySpan<T> Elements(Array array) =>
            MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<byte, T>(ref MemoryMarshal.GetArrayDataReference(array)), array.Length);
    }

    private sealed class CodecFactory(MemberModel member) : IUnmanagedElementVisitor<MemberCodec>
    {
        public MemberCodec Visit<T>()
            where T : unmanaged => member.Shape switch
            {
                MemberShape.Scalar => new ScalarCodec<T>(member),
                MemberShape.Array => new ArrayCodec<T>(member),
                _ => new MultiArrayCodec<T>(member),
            };
    }

    private sealed class MapCodec<TKey, TValue>(MemberModel member) : MemberCodec
        where TKey : notnull
        where TValue : unmanaged
    {
        private readonly Func<TOutput, IEnumerable<KeyValuePair<TKey, TValue>>?> _get = member.CompileGetter<TOutput, IEnumerable<KeyValuePair<TKey, TValue>>?>();
        private readonly Action<TOutput, Dictionary<TKey, TValue>> _set = member.CompileSetter<TOutput, Dictionary<TKey, TValue>>();

        public override void Write(TOutput value, IBufferWriter<byte> writer)
        {
            if (_get(value) is not { } map)
            {
                WriteInt32(writer, -1);
                return;
            }

            var pairs = map.ToArray();
            WriteInt32(writer, pairs.Length);
            foreach (var (key, item) in pairs)
            {
                if (typeof(TKey) == typeof(string))
                {
                    WriteString(writer, Unsafe.As<TKey, string>(ref Unsafe.AsRef(in key)));
                }
                else
                {
                    WriteRaw(writer, new ReadOnlySpan<long>(in Unsafe.As<TKey, long>(ref Unsafe.AsRef(in key))));
                }

                WriteRaw(writer, new ReadOnlySpan<TValue>(in item));
            }
        }

        public override void Read(ref Reader reader, TOutput output)
        {
            var count = reader.ReadCount(4 + Unsafe.SizeOf<TValue>());
            if (count < 0)
            {
                return;
            }

            var map = new Dictionary<TKey, TValue>(count);
            for (var i = 0; i < count; i++)
            {
                TKey key;
                if (typeof(TKey) == typeof(string))
                {
                    var text = reader.ReadString() ?? throw new FormatException("A null map key.");
                    key = Unsafe.As<string, TKey>(ref text);
                }
                else
                {
                    var number = reader.Read<long>();
                    key = Unsafe.As<long, TKey>(ref number);
                }

                map[key] = reader.Read<TValue>();
            }

            _set(output, map);
        }
    }
}
