using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace ModelInService.Schema;

/// <summary>
/// The few ONNX Runtime C API functions that read a <c>seq(map)</c> output, called through the <c>OrtApi</c> function
/// table instead of the managed <see cref="OrtValue"/> wrappers (which allocate a managed object, and query type and
/// shape again, for every element they hand out). Used by <see cref="MapOutputBinder{TOutput, TKey, TValue}"/>.
/// </summary>
/// <remarks>
/// <para>
/// The table is reached from the native library's exported <c>OrtGetApiBase</c> (loaded the way the managed package
/// loads it) and read by index. Every function used here belongs to version 1 of <c>OrtApi</c>, which ONNX Runtime
/// never reorders (<c>onnxruntime_c_api.cc</c> asserts <c>ReleaseCustomOpDomain</c> sits at index 101, the end of
/// version 1; newer functions are only appended), so the indices hold for every release including 1.31.
/// </para>
/// <para>
/// <see cref="Instance"/> is null when anything is missing (the export, the internal <c>OrtValue.Handle</c> getter):
/// callers then use the managed API.
/// </para>
/// </remarks>
internal sealed unsafe class OrtMapApi
{
    // Indices into OrtApi, version 1 (see remarks).
    private const int GetTensorMutableDataIndex = 51;
    private const int GetStringTensorDataLengthIndex = 53;
    private const int GetStringTensorContentIndex = 54;
    private const int GetTensorShapeElementCountIndex = 64;
    private const int GetTensorTypeAndShapeIndex = 65;
    private const int GetAllocatorWithDefaultOptionsIndex = 78;
    private const int GetValueIndex = 80;
    private const int ReleaseStatusIndex = 93;
    private const int ReleaseValueIndex = 96;
    private const int ReleaseTensorTypeAndShapeInfoIndex = 99;

    private readonly delegate* unmanaged<nint, void**, nint> _getTensorMutableData;
    private readonly delegate* unmanaged<nint, nuint*, nint> _getStringTensorDataLength;
    private readonly delegate* unmanaged<nint, void*, nuint, nuint*, nuint, nint> _getStringTensorContent;
    private readonly delegate* unmanaged<nint, nuint*, nint> _getTensorShapeElementCount;
    private readonly delegate* unmanaged<nint, nint*, nint> _getTensorTypeAndShape;
    private readonly delegate* unmanaged<nint, int, nint, nint*, nint> _getValue;
    private readonly delegate* unmanaged<nint, void> _releaseStatus;
    private readonly delegate* unmanaged<nint, void> _releaseValue;
    private readonly delegate* unmanaged<nint, void> _releaseTensorTypeAndShapeInfo;
    private readonly nint _allocator;

    private OrtMapApi(nint* api)
    {
        _getTensorMutableData = (delegate* unmanaged<nint, void**, nint>)api[GetTensorMutableDataIndex];
        _getStringTensorDataLength = (delegate* unmanaged<nint, nuint*, nint>)api[GetStringTensorDataLengthIndex];
        _getStringTensorContent = (delegate* unmanaged<nint, void*, nuint, nuint*, nuint, nint>)api[GetStringTensorContentIndex];
        _getTensorShapeElementCount = (delegate* unmanaged<nint, nuint*, nint>)api[GetTensorShapeElementCountIndex];
        _getTensorTypeAndShape = (delegate* unmanaged<nint, nint*, nint>)api[GetTensorTypeAndShapeIndex];
        _getValue = (delegate* unmanaged<nint, int, nint, nint*, nint>)api[GetValueIndex];
        _releaseStatus = (delegate* unmanaged<nint, void>)api[ReleaseStatusIndex];
        _releaseValue = (delegate* unmanaged<nint, void>)api[ReleaseValueIndex];
        _releaseTensorTypeAndShapeInfo = (delegate* unmanaged<nint, void>)api[ReleaseTensorTypeAndShapeInfoIndex];

        var getAllocator = (delegate* unmanaged<nint*, nint>)api[GetAllocatorWithDefaultOptionsIndex];
        nint allocator;
        var status = getAllocator(&allocator);
        if (status != 0)
        {
            _releaseStatus(status);
            throw new InvalidOperationException("GetAllocatorWithDefaultOptions failed");
        }

        _allocator = allocator;
    }

    /// <summary>Gets the table, or null when the C API cannot be reached (use the managed API then).</summary>
    public static OrtMapApi? Instance { get; } = Load();

    /// <summary>The native <c>OrtValue*</c> behind a managed value (valid while <paramref name="value"/> is alive).</summary>
    public static nint Handle(OrtValue value) => GetHandle(value);

    /// <summary><c>GetValue</c>: element <paramref name="index"/> of a sequence, or a map's keys (0) or values (1).</summary>
    public bool TryGetValue(nint value, int index, out nint element)
    {
        nint result;
        var ok = Check(_getValue(value, index, _allocator, &result));
        element = ok ? result : 0;
        return ok;
    }

    /// <summary>The number of elements of a tensor.</summary>
    public bool TryElementCount(nint tensor, out int count)
    {
        nint info;
        count = 0;
        if (!Check(_getTensorTypeAndShape(tensor, &info)))
        {
            return false;
        }

        nuint elements;
        var ok = Check(_getTensorShapeElementCount(info, &elements));
        _releaseTensorTypeAndShapeInfo(info);
        if (!ok || elements > int.MaxValue)
        {
            return false;
        }

        count = (int)elements;
        return true;
    }

    /// <summary>The data of a tensor of a fixed-size element type.</summary>
    public bool TryTensorData(nint tensor, out void* data)
    {
        void* result;
        var ok = Check(_getTensorMutableData(tensor, &result));
        data = ok ? result : null;
        return ok;
    }

    /// <summary>The total UTF-8 length of a string tensor's elements.</summary>
    public bool TryStringLength(nint tensor, out int length)
    {
        nuint result;
        length = 0;
        if (!Check(_getStringTensorDataLength(tensor, &result)) || result > int.MaxValue)
        {
            return false;
        }

        length = (int)result;
        return true;
    }

    /// <summary>
    /// A string tensor's elements, concatenated as UTF-8 into <paramref name="bytes"/>, with the start of each in
    /// <paramref name="offsets"/> (one per element).
    /// </summary>
    public bool TryStringContent(nint tensor, Span<byte> bytes, Span<nuint> offsets)
    {
        fixed (byte* b = bytes)
        fixed (nuint* o = offsets)
        {
            // A non-null buffer even when every string is empty.
            byte dummy;
            return Check(_getStringTensorContent(tensor, bytes.Length == 0 ? &dummy : b, (nuint)bytes.Length, o, (nuint)offsets.Length));
        }
    }

    /// <summary><c>ReleaseValue</c> for a value this class handed out.</summary>
    public void Release(nint value)
    {
        if (value != 0)
        {
            _releaseValue(value);
        }
    }

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Handle")]
    private static extern nint GetHandle(OrtValue value);

    private bool Check(nint status)
    {
        if (status == 0)
        {
            return true;
        }

        _releaseStatus(status);
        return false;
    }

    private static OrtMapApi? Load()
    {
        try
        {
            // The same resolution as the managed package's own imports of "onnxruntime".
            if (!NativeLibrary.TryLoad("onnxruntime", typeof(OrtValue).Assembly, null, out var library)
                || !NativeLibrary.TryGetExport(library, "OrtGetApiBase", out var export))
            {
                return null;
            }

            // OrtApiBase { const OrtApi* (*GetApi)(uint32_t version); const char* (*GetVersionString)(void); }
            var apiBase = ((delegate* unmanaged<nint>)export)();
            if (apiBase == 0)
            {
                return null;
            }

            var getApi = *(delegate* unmanaged<uint, nint*>*)apiBase;
            var api = getApi(1);
            if (api is null)
            {
                return null;
            }

            var table = new OrtMapApi(api);

            // A self-check on a known tensor: fails here (MissingMethodException), not on first use, if the managed
            // package renames the getter, and returns null if the table does not answer as expected.
            using var probe = OrtValue.CreateTensorValueFromMemory(new long[] { 42, 7 }, [2]);
            var handle = GetHandle(probe);
            return handle != 0 && table.TryElementCount(handle, out var count) && count == 2
                && table.TryTensorData(handle, out var data) && ((long*)data)[1] == 7
                ? table
                : null;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or MissingMemberException or BadImageFormatException or InvalidOperationException or OnnxRuntimeException)
        {
            return null;
        }
    }
}
