using System.Globalization;
using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace ModelInService.Tool;

/// <summary>One timed batch size.</summary>
/// <param name="Batch">Rows in the run (1 for an unbatchable model: one request).</param>
/// <param name="FirstRunMilliseconds">The first run at this shape (includes ONNX Runtime's one-time work for the shape), or null when it failed.</param>
/// <param name="RunMilliseconds">A second run at the same shape, or null when it failed.</param>
/// <param name="Error">ONNX Runtime's message when the run failed (synthetic inputs can be outside what a model accepts).</param>
internal sealed record TimingResult(int Batch, double? FirstRunMilliseconds, double? RunMilliseconds, string? Error);

/// <summary>Times runs on synthetic inputs through ONNX Runtime directly (one session, default options).</summary>
internal static class Timing
{
    /// <summary>Times a run of each of <paramref name="batches"/> rows.</summary>
    public static IReadOnlyList<TimingResult> Measure(string path, BatchDescription batching, SyntheticData data, IReadOnlyList<int> batches)
    {
        ArgumentNullException.ThrowIfNull(batching);
        ArgumentNullException.ThrowIfNull(data);
        // Failures are reported in the result; ONNX Runtime's own error log would repeat them on stderr.
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
        using var session = new InferenceSession(path, options);
        var symbols = SyntheticData.BatchSymbols(batching);
        var results = new List<TimingResult>();
        foreach (var batch in batches)
        {
            try
            {
                var first = RunOnce(session, batching, data, batch, symbols);
                var second = RunOnce(session, batching, data, batch, symbols);
                results.Add(new TimingResult(batch, first, second, null));
            }
            catch (Exception e) when (e is OnnxRuntimeException or NotSupportedException or FormatException or OverflowException)
            {
                results.Add(new TimingResult(batch, null, null, e.Message.ReplaceLineEndings(" ")));
            }
        }

        return results;
    }

    /// <summary>The most values one synthetic input may hold (64 Mi: 256 MB of float32).</summary>
    internal const long MaxSyntheticElements = 64L << 20;

    private static double RunOnce(InferenceSession session, BatchDescription batching, SyntheticData data, int batch, ISet<string> symbols)
    {
        var names = new List<string>();
        var values = new List<OrtValue>();
        try
        {
            foreach (var t in batching.Tensors.Where(t => t.Role == TensorRole.Input))
            {
                if (t.Spec.Kind != ModelValueKind.Tensor)
                {
                    throw new NotSupportedException($"input '{t.Spec.Name}' is a {t.Spec}: no synthetic value for it");
                }

                var shape = data.Shape(t, batch, symbols);
                long count = 1;
                foreach (var d in shape)
                {
                    // Several free dimensions at 32 each multiply fast ([N,A,B,C,D,E] at batch 32 is 32^6 values): refuse
                    // before allocating rather than take gigabytes (or overflow) for a timing.
                    count = d > 0 && count > MaxSyntheticElements / d ? MaxSyntheticElements + 1 : count * d;
                }

                if (count > MaxSyntheticElements)
                {
                    throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture,
                        $"input '{t.Spec.Name}' would be [{string.Join(",", shape)}], over {MaxSyntheticElements:N0} synthetic values: not timed (give its free dimensions smaller sizes with --dim NAME=SIZE)"));
                }

                names.Add(t.Spec.Name);
                values.Add(ToOrtValue(data.Values(t.Spec, count), shape));
            }

            var started = Stopwatch.GetTimestamp();
            using var runOptions = new RunOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
            using var outputs = session.Run(runOptions, names, values, session.OutputNames);
            return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    /// <summary>
    /// The tensor for <paramref name="values"/>. Dispatches on the exact array type: a type pattern such as
    /// <c>sbyte[] a</c> also matches a <c>byte[]</c> (the runtime's array covariance between same-size integers),
    /// which would hand ONNX Runtime an int8 tensor for a uint8 input.
    /// </summary>
    internal static OrtValue ToOrtValue(Array values, long[] shape)
    {
        var type = values.GetType();
        return type == typeof(float[]) ? OrtValue.CreateTensorValueFromMemory((float[])values, shape)
            : type == typeof(double[]) ? OrtValue.CreateTensorValueFromMemory((double[])values, shape)
            : type == typeof(Half[]) ? OrtValue.CreateTensorValueFromMemory(Array.ConvertAll((Half[])values, h => new Float16(BitConverter.HalfToUInt16Bits(h))), shape)
            : type == typeof(sbyte[]) ? OrtValue.CreateTensorValueFromMemory((sbyte[])values, shape)
            : type == typeof(short[]) ? OrtValue.CreateTensorValueFromMemory((short[])values, shape)
            : type == typeof(int[]) ? OrtValue.CreateTensorValueFromMemory((int[])values, shape)
            : type == typeof(long[]) ? OrtValue.CreateTensorValueFromMemory((long[])values, shape)
            : type == typeof(byte[]) ? OrtValue.CreateTensorValueFromMemory((byte[])values, shape)
            : type == typeof(ushort[]) ? OrtValue.CreateTensorValueFromMemory((ushort[])values, shape)
            : type == typeof(uint[]) ? OrtValue.CreateTensorValueFromMemory((uint[])values, shape)
            : type == typeof(ulong[]) ? OrtValue.CreateTensorValueFromMemory((ulong[])values, shape)
            : type == typeof(bool[]) ? OrtValue.CreateTensorValueFromMemory((bool[])values, shape)
            : type == typeof(string[]) ? Strings((string[])values, shape)
            : throw new NotSupportedException($"no ONNX Runtime tensor for {type.Name}");
    }

    private static OrtValue Strings(string[] values, long[] shape)
    {
        var value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
        for (var i = 0; i < values.Length; i++)
        {
            value.StringTensorSetElementAt(values[i].AsSpan(), i);
        }

        return value;
    }
}
