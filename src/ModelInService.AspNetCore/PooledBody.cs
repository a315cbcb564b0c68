using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace ModelInService.AspNetCore;

/// <summary>
/// A request body read into one buffer from <see cref="ArrayPool{T}.Shared"/> (returned on dispose): the body once,
/// nothing per JSON value. Knows the body's first significant byte (after an optional UTF-8 byte order mark and blanks)
/// as soon as it has arrived, without scanning the same blanks twice.
/// </summary>
internal sealed class PooledBody : IDisposable
{
    private byte[] _buffer;
    private int _length;
    private int _start;
    private int _scanned;
    private int _first = -1;

    /// <param name="request">Its Content-Length, when given and modest, sizes the first buffer.</param>
    public PooledBody(HttpRequest request)
    {
        var hint = request.ContentLength is long length and > 0 ? (int)Math.Min(length, 1 << 20) : 4096;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(hint, 256));
    }

    /// <summary>The JSON text: the body without its byte order mark.</summary>
    public ReadOnlySpan<byte> Json => _buffer.AsSpan(_start, _length - _start);

    /// <summary>Appends what the pipe holds (the caller then consumes it).</summary>
    public void Append(ReadOnlySequence<byte> data)
    {
        if (data.Length > Array.MaxLength - _length)
        {
            throw new BadHttpRequestException("The request body is too large.", StatusCodes.Status413PayloadTooLarge);
        }

        var needed = _length + (int)data.Length;
        if (needed > _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(Array.MaxLength, Math.Max(needed, 2L * _buffer.Length)));
            _buffer.AsSpan(0, _length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }

        data.CopyTo(_buffer.AsSpan(_length));
        _length = needed;
    }

    /// <summary>
    /// The first byte that is not blank nor part of a byte order mark; 0 for a body that ended without one; -1 while
    /// more of the body is needed to tell.
    /// </summary>
    public int FirstSignificant(bool complete)
    {
        if (_first >= 0)
        {
            return _first;
        }

        if (_scanned == 0)
        {
            ReadOnlySpan<byte> bom = [0xEF, 0xBB, 0xBF];
            var head = _buffer.AsSpan(0, Math.Min(3, _length));
            if (head.Length < 3 && !complete && bom.StartsWith(head))
            {
                return -1;
            }

            _start = _scanned = head.SequenceEqual(bom) ? 3 : 0;
        }

        var rest = _buffer.AsSpan(_scanned, _length - _scanned);
        var blank = rest.IndexOfAnyExcept(" \t\r\n"u8);
        if (blank >= 0)
        {
            return _first = rest[blank];
        }

        _scanned = _length;
        return complete ? _first = 0 : -1;
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>
/// Finds the rows of a JSON array as its bytes arrive: a forward-only reader resumed on each new piece (its state
/// kept between pieces) records where each element at depth 1 starts and ends, so rows are counted before the body is
/// complete and each row can later be read from its own bytes. Syntax errors surface as <see cref="JsonException"/>.
/// </summary>
internal sealed class RowFinder(JsonReaderOptions options)
{
    private readonly List<(int Start, int Length)> _rows = [];
    private JsonReaderState _state = new(options);
    private int _consumed;
    private int _rowStart = -1;

    /// <summary>Gets the rows found so far.</summary>
    public int Count => _rows.Count;

    /// <summary>Gets row <paramref name="index"/>: its offset in the JSON text and its length.</summary>
    public (int Start, int Length) this[int index] => _rows[index];

    /// <summary>Reads the new part of <paramref name="json"/>; stops early once more than <paramref name="maxRows"/> rows are found.</summary>
    public void Scan(ReadOnlySpan<byte> json, bool complete, int maxRows)
    {
        var reader = new Utf8JsonReader(json[_consumed..], complete, _state);
        while (_rows.Count <= maxRows && reader.Read())
        {
            var depth = reader.CurrentDepth;
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject or JsonTokenType.StartArray when depth == 1:
                    _rowStart = _consumed + (int)reader.TokenStartIndex;
                    break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray when depth == 1:
                    _rows.Add((_rowStart, _consumed + (int)reader.BytesConsumed - _rowStart));
                    break;
                case JsonTokenType.String or JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null when depth == 1:
                    var start = _consumed + (int)reader.TokenStartIndex;
                    _rows.Add((start, _consumed + (int)reader.BytesConsumed - start));
                    break;
                case JsonTokenType.StartObject or JsonTokenType.String or JsonTokenType.Number or JsonTokenType.True or JsonTokenType.False or JsonTokenType.Null when depth == 0:
                    throw new JsonException("The request body is not a JSON array; send an array of objects.");
            }
        }

        _consumed += (int)reader.BytesConsumed;
        _state = reader.CurrentState;
    }
}
