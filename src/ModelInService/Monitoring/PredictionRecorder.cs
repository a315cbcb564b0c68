using System.Diagnostics.CodeAnalysis;
using System.Linq.Expressions;
using System.Numerics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ModelInService.Schema;

namespace ModelInService.Monitoring;

/// <summary>
/// The monitor's <see cref="IPredictionRecorder{TInput, TOutput}"/>: on the request path it only copies the members'
/// values (compiled getters, built once) into the current block; everything else happens on the consumer.
/// </summary>
internal sealed class PredictionRecorder<[DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TInput, [DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TOutput> : RecorderBase, IPredictionRecorder<TInput, TOutput>, IRejectionRecorder, IReferenceSource<TInput>
{
    private readonly SlotWriter<TInput>[] _inputs;
    private readonly SlotWriter<TOutput>[] _outputs;

    /// <summary>Reads the prediction id from the input; null when not configured.</summary>
    private readonly Func<TInput, string?>? _id;

    /// <summary>The row encoder as a delegate, allocated once.</summary>
    private readonly Func<RecordBlock, (TInput, TOutput), bool> _encode;

    private PredictionRecorder(RowSchema schema, SlotWriter<TInput>[] inputs, SlotWriter<TOutput>[] outputs, Func<TInput, string?>? id, TimeProvider time, MonitoringOptions options)
        : base(schema, time, options.IntervalLength, options.QueueCapacity, options.MaxProfiledRowsPerSecond)
    {
        _inputs = inputs;
        _outputs = outputs;
        _id = id;
        _encode = TryEncodeRow;
    }

    /// <inheritdoc/>
    public override RecorderBase CreateEmpty(MonitoringOptions options, TimeProvider time) => Create(options, time);

    /// <summary>Builds the recorder for a model's types (reflection at start-up only).</summary>
    public static PredictionRecorder<TInput, TOutput> Create(MonitoringOptions options, TimeProvider time)
    {
        var slots = new List<SlotDescriptor>();
        var inputs = new List<SlotWriter<TInput>>();
        var outputs = new List<SlotWriter<TOutput>>();
        foreach (var member in MemberModel.ForInput(typeof(TInput)))
        {
            if (SlotWriters.Create<TInput>(member, FeatureRole.Input, options) is { } writer)
            {
                inputs.Add(writer.Writer);
                slots.Add(writer.Slot with { Tensor = member.MappedName });
            }
        }

        foreach (var member in MemberModel.ForOutput(typeof(TOutput)))
        {
            if (SlotWriters.Create<TOutput>(member, FeatureRole.Output, options) is { } writer)
            {
                outputs.Add(writer.Writer);
                slots.Add(writer.Slot with { Tensor = member.MappedName });
            }
        }

        Func<TInput, string?>? id = null;
        if (options.PredictionIdMember is { } idName)
        {
            var member = (MemberInfo?)typeof(TInput).GetProperty(idName, BindingFlags.Public | BindingFlags.Instance)
                ?? typeof(TInput).GetField(idName, BindingFlags.Public | BindingFlags.Instance);
            var type = (member as PropertyInfo)?.PropertyType ?? (member as FieldInfo)?.FieldType;
            if (member is null || type != typeof(string))
            {
                throw new InvalidOperationException($"MonitoringOptions.PredictionIdMember is '{idName}', but {typeof(TInput).Name} has no public string property or field of that name.");
            }

            id = SchemaAccessors.Getter<TInput, string?>(member.Name);
            if (id is null)
            {
                var p = Expression.Parameter(typeof(TInput), "x");
                id = Expression.Lambda<Func<TInput, string?>>(Expression.MakeMemberAccess(p, member), p).Compile();
            }
        }

        return new PredictionRecorder<TInput, TOutput>(new RowSchema(slots, id is not null), [.. inputs], [.. outputs], id, time, options);
    }

    public Type InputType => typeof(TInput);

    /// <summary>Resolves the model's predictor for reference building (set by the registry; tests may set a fake).</summary>
    public Func<IPredictor<TInput, TOutput>>? Predictor { get; set; }

    /// <summary>Reads the serving model version (<see cref="ModelVersionInfo.Sha256"/>) after a reference build, or null (set by the registry).</summary>
    public Func<string?>? ServingVersion { get; set; }

    /// <summary>Why there is no <see cref="Predictor"/> (a streaming model); the message of <see cref="BuildReferenceAsync"/>.</summary>
    public string? NoPredictorReason { get; set; }

    /// <summary>Runs on the request path after every successful prediction.</summary>
    /// <param name="input">The input.</param>
    /// <param name="output">The answer.</param>
    /// <param name="version">The answering generation's <see cref="ModelVersionInfo.Sha256"/> (a string it holds: no allocation), or null when unknown.</param>
    public void Record(TInput input, TOutput output, string? version = null) => RecordBatch(new ReadOnlySpan<TInput>(ref input), [output], version);

    /// <summary>Records answered rows: one clock read for all; above the sampling budget a row is only counted.</summary>
    /// <param name="inputs">The inputs.</param>
    /// <param name="outputs">The answers.</param>
    /// <param name="version">The answering generation's <see cref="ModelVersionInfo.Sha256"/>, or null when unknown.</param>
    public void RecordBatch(ReadOnlySpan<TInput> inputs, ReadOnlySpan<TOutput> outputs, string? version = null)
    {
        if (RecordingSuppression.IsSuppressed)
        {
            return;
        }

        var now = Time.GetUtcNow().UtcTicks;
        var interval = now / IntervalTicks;
        var unsampled = 0;
        for (var i = 0; i < inputs.Length; i++)
        {
            var input = inputs[i];

            // Rows that carry a prediction id are always profiled: their outcome will be joined later.
            if (!TakeSample(now) && (_id is null || _id(input) is null))
            {
                unsampled++;
                continue;
            }

            Append(interval, version, (input, outputs[i]), _encode);
        }

        if (unsampled > 0)
        {
            CountUnsampled(interval, unsampled);
        }
    }

    /// <summary>Encodes one row; false when the block has no room (the caller undoes the partial row).</summary>
    public bool TryEncode(RecordBlock block, TInput input, TOutput output)
    {
        if (_id is not null && !block.TryAddLabel(_id(input)))
        {
            return false;
        }

        foreach (var writer in _inputs)
        {
            if (!writer.Write(input, block))
            {
                return false;
            }
        }

        foreach (var writer in _outputs)
        {
            if (!writer.Write(output, block))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Encodes rows into a private block (reference building), growing it as needed.</summary>
    public void EncodeInto(RecordBlock block, TInput input, TOutput output)
    {
        while (true)
        {
            var numbers = block.NumberCount;
            var labels = block.LabelCount;
            if (TryEncode(block, input, output))
            {
                block.Rows++;
                return;
            }

            block.NumberCount = numbers;
            block.LabelCount = labels;
            block.Grow();
        }
    }

    public async Task<MonitorReference> BuildReferenceAsync(IEnumerable<TInput> data, MonitoringOptions options, string modelName, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var predictor = Predictor?.Invoke() ?? throw new InvalidOperationException(NoPredictorReason ?? $"Model '{modelName}' has no predictor to build a reference with.");
        var accumulator = new ReferenceAccumulator(new FeatureCatalog(), new ProfileFactory(options.SketchK, options.Seed), options.ReferenceChunkSize);
        var decoder = new RowDecoder(Schema, accumulator.Catalog, options);
        var block = new RecordBlock(BlockNumbers, BlockNumbers / 4);
        var batch = new List<TInput>(RecordBlock.MaxRows);
        long skipped = 0;
        string? firstReason = null;
        foreach (var item in data)
        {
            batch.Add(item);
            if (batch.Count >= Math.Min(RecordBlock.MaxRows, accumulator.Room))
            {
                await AddBatchAsync().ConfigureAwait(false);
            }
        }

        if (batch.Count > 0)
        {
            await AddBatchAsync().ConfigureAwait(false);
        }

        if (accumulator.Rows == 0 && skipped > 0)
        {
            throw new InvalidOperationException($"Model '{modelName}': all {skipped} training rows failed input validation, so no reference could be built; the first: {firstReason}");
        }

        var reference = accumulator.Build("training", modelName, now, null);
        if (ServingVersion?.Invoke() is { Length: > 0 } version && reference.Rows > 0)
        {
            // The reference holds the answers of the version serving now (a reload during the build is not told apart).
            reference.Total.Versions.Add(version, reference.Rows);
        }

        reference.SkippedRows = skipped;
        reference.SkippedReason = firstReason;
        return reference;

        async Task AddBatchAsync()
        {
            IReadOnlyList<TOutput> outputs;
            using (RecordingSuppression.Begin())
            {
                // The model's own predictions on the training data; not production traffic, so not recorded.
                try
                {
                    outputs = await predictor.PredictBatchAsync(batch, cancellationToken).ConfigureAwait(false);
                }
                catch (ModelInputException)
                {
                    // Some rows fail validation: run them one by one, skip and count the ones that fail.
                    var kept = new List<TInput>(batch.Count);
                    var answers = new List<TOutput>(batch.Count);
                    foreach (var row in batch)
                    {
                        try
                        {
                            answers.Add(await predictor.PredictAsync(row, cancellationToken).ConfigureAwait(false));
                            kept.Add(row);
                        }
                        catch (ModelInputException ex)
                        {
                            skipped++;
                            firstReason ??= ex.Message;
                        }
                    }

                    batch.Clear();
                    batch.AddRange(kept);
                    outputs = answers;
                }
            }

            block.Reset(0);
            for (var i = 0; i < batch.Count; i++)
            {
                EncodeInto(block, batch[i], outputs[i]);
            }

            decoder.Apply(block, accumulator.Current, accumulator.Factory, null);
            accumulator.AfterDecode();
            batch.Clear();
        }
    }

    private bool TryEncodeRow(RecordBlock block, (TInput Input, TOutput Output) row) => TryEncode(block, row.Input, row.Output);
}

/// <summary>Copies one member's values into a block.</summary>
internal abstract class SlotWriter<TOwner>
{
    public abstract bool Write(TOwner owner, RecordBlock block);
}

/// <summary>Chooses a writer and an encoding for a member (see docs/monitoring.md, "Features").</summary>
internal static class SlotWriters
{
    public static (SlotWriter<TOwner> Writer, SlotDescriptor Slot)? Create<TOwner>(MemberModel member, FeatureRole role, MonitoringOptions options)
    {
        var name = member.Member.Name;
        var element = member.ElementClrType;
        if (element is null)
        {
            return null;
        }

        var forcedCategorical = options.CategoricalFeatures.Contains(name);
        var integer = element != typeof(float) && element != typeof(double) && element != typeof(Half) && element != typeof(bool) && element != typeof(string);
        switch (member.Shape)
        {
            case MemberShape.Scalar when element == typeof(string):
                return (new LabelWriter<TOwner>(member), new SlotDescriptor(name, role, SlotEncoding.Label, true));
            case MemberShape.Scalar when element == typeof(bool):
                return (new BoolWriter<TOwner>(member), new SlotDescriptor(name, role, SlotEncoding.Number, true));
            case MemberShape.Scalar:
                return (ElementDispatch.Number(element, new NumberWriterFactory<TOwner>(member, MemberShape.Scalar)),
                    new SlotDescriptor(name, role, SlotEncoding.Number, forcedCategorical || (integer && role == FeatureRole.Output)));
            case MemberShape.Array when element == typeof(string):
                return (new LabelArrayWriter<TOwner>(member), new SlotDescriptor(name, role, SlotEncoding.LabelVector, true));
            case MemberShape.Array when element != typeof(bool):
                return (ElementDispatch.Number(element, new NumberWriterFactory<TOwner>(member, MemberShape.Array)), new SlotDescriptor(name, role, SlotEncoding.NumberVector, forcedCategorical));
            case MemberShape.Memory when element != typeof(bool) && element != typeof(string):
                return (ElementDispatch.Number(element, new NumberWriterFactory<TOwner>(member, MemberShape.Memory)), new SlotDescriptor(name, role, SlotEncoding.NumberVector, forcedCategorical));
            case MemberShape.MultiArray when element != typeof(bool) && element != typeof(string):
                // A rectangular row (an image's [3,H,W]) is recorded in row-major order like a flat vector: per element
                // up to MaxVectorElements, else summarized (rank >= 2 is never tabular).
                return (ElementDispatch.Number(element, new NumberWriterFactory<TOwner>(member, MemberShape.MultiArray)), new SlotDescriptor(name, role, SlotEncoding.NumberVector, forcedCategorical));
            case MemberShape.Dictionary:
                var valueType = member.Type.GetGenericArguments()[1];
                var max = options.MaxVectorElements;
                var writer = ElementDispatch.Map<SlotWriter<TOwner>>(
                    element,
                    valueType,
                    () => new DictionaryWriter<TOwner, long, float>(member, max),
                    () => new DictionaryWriter<TOwner, long, double>(member, max),
                    () => new DictionaryWriter<TOwner, string, float>(member, max),
                    () => new DictionaryWriter<TOwner, string, double>(member, max));
                return (writer, new SlotDescriptor(name, role, element == typeof(string) ? SlotEncoding.LabelDictionary : SlotEncoding.CodeDictionary, false));
            default:
                return null;
        }
    }

    /// <summary>The numeric writer of a member's shape for its element type.</summary>
    private sealed class NumberWriterFactory<TOwner>(MemberModel member, MemberShape shape) : INumberElementVisitor<SlotWriter<TOwner>>
    {
        public SlotWriter<TOwner> Visit<T>()
            where T : unmanaged, INumberBase<T> => shape switch
            {
                MemberShape.Scalar => new NumberWriter<TOwner, T>(member),
                MemberShape.Array => new NumberArrayWriter<TOwner, T>(member),
                MemberShape.Memory => new NumberMemoryWriter<TOwner, T>(member),
                _ => new NumberMultiArrayWriter<TOwner, T>(member),
            };
    }
}

internal sealed class NumberWriter<TOwner, T>(MemberModel member) : SlotWriter<TOwner>
    where T : INumberBase<T>
{
    private readonly Func<TOwner, T> _get = member.CompileGetter<TOwner, T>();

    public override bool Write(TOwner owner, RecordBlock block) => block.TryAddNumber(double.CreateTruncating(_get(owner)));
}

internal sealed class BoolWriter<TOwner>(MemberModel member) : SlotWriter<TOwner>
{
    private readonly Func<TOwner, bool> _get = member.CompileGetter<TOwner, bool>();

    public override bool Write(TOwner owner, RecordBlock block) => block.TryAddNumber(_get(owner) ? 1 : 0);
}

internal sealed class LabelWriter<TOwner>(MemberModel member) : SlotWriter<TOwner>
{
    private readonly Func<TOwner, string?> _get = member.CompileGetter<TOwner, string?>();

    public override bool Write(TOwner owner, RecordBlock block) => block.TryAddLabel(_get(owner));
}

internal sealed class NumberArrayWriter<TOwner, T>(MemberModel member) : SlotWriter<TOwner>
    where T : INumberBase<T>
{
    private readonly Func<TOwner, T[]?> _get = member.CompileGetter<TOwner, T[]?>();

    public override bool Write(TOwner owner, RecordBlock block) => NumberVectors.Write<T>(_get(owner), block);
}

internal sealed class NumberMemoryWriter<TOwner, T>(MemberModel member) : SlotWriter<TOwner>
    where T : INumberBase<T>
{
    private readonly Func<TOwner, ReadOnlyMemory<T>> _get = member.CompileGetter<TOwner, ReadOnlyMemory<T>>();

    public override bool Write(TOwner owner, RecordBlock block) => NumberVectors.Write(_get(owner).Span, block);
}

internal sealed class NumberMultiArrayWriter<TOwner, T>(MemberModel member) : SlotWriter<TOwner>
    where T : INumberBase<T>
{
    private readonly Func<TOwner, Array?> _get = member.CompileGetter<TOwner, Array?>();

    public override bool Write(TOwner owner, RecordBlock block)
    {
        var values = _get(owner);
        if (values is null)
        {
            return block.TryAddNumber(-1);
        }

        // A T[,...] is one contiguous row-major block of T: read it as a span, no copy.
        var span = MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<byte, T>(ref MemoryMarshal.GetArrayDataReference(values)), values.Length);
        return NumberVectors.Write(span, block);
    }
}

internal static class NumberVectors
{
    /// <summary>
    /// Vectors longer than this (images, embeddings of big models) are recorded as this many evenly strided elements:
    /// the summaries (norm, mean, projections) then describe that fixed subsample, computed alike for the reference
    /// and for production, and recording a 224x224 image costs 4,096 copies instead of 50,176.
    /// </summary>
    public const int MaxRecordedElements = 4096;

    public static bool Write<T>(T[]? values, RecordBlock block)
        where T : INumberBase<T> =>
        values is null ? block.TryAddNumber(-1) : Write(new ReadOnlySpan<T>(values), block);

    public static bool Write<T>(ReadOnlySpan<T> values, RecordBlock block)
        where T : INumberBase<T>
    {
        var length = values.Length;
        var recorded = Math.Min(length, MaxRecordedElements);
        var destination = block.TakeNumbers(recorded + 1);
        if (destination.IsEmpty)
        {
            return false;
        }

        destination[0] = recorded;
        if (recorded == length)
        {
            for (var i = 0; i < length; i++)
            {
                destination[i + 1] = double.CreateTruncating(values[i]);
            }
        }
        else
        {
            for (var i = 0; i < recorded; i++)
            {
                destination[i + 1] = double.CreateTruncating(values[(int)((long)i * length / recorded)]);
            }
        }

        return true;
    }
}

internal sealed class LabelArrayWriter<TOwner>(MemberModel member) : SlotWriter<TOwner>
{
    private readonly Func<TOwner, string?[]?> _get = member.CompileGetter<TOwner, string?[]?>();

    public override bool Write(TOwner owner, RecordBlock block)
    {
        var values = _get(owner);
        if (values is null)
        {
            return block.TryAddNumber(-1);
        }

        if (!block.TryAddNumber(values.Length))
        {
            return false;
        }

        foreach (var value in values)
        {
            if (!block.TryAddLabel(value))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>Copies up to <c>maxEntries</c> entries of a ZipMap-style dictionary output.</summary>
internal sealed class DictionaryWriter<TOwner, TKey, TValue>(MemberModel member, int maxEntries) : SlotWriter<TOwner>
    where TKey : notnull
    where TValue : INumberBase<TValue>
{
    private readonly Func<TOwner, object?> _get = member.CompileGetter<TOwner, object?>();

    public override bool Write(TOwner owner, RecordBlock block)
    {
        switch (_get(owner))
        {
            case Dictionary<TKey, TValue> dictionary:
                // The concrete type has a struct enumerator: no allocation.
                if (!block.TryAddNumber(Math.Min(dictionary.Count, maxEntries)))
                {
                    return false;
                }

                var written = 0;
                foreach (var pair in dictionary)
                {
                    if (written++ == maxEntries || !Add(block, pair.Key, pair.Value))
                    {
                        return written > maxEntries;
                    }
                }

                return true;
            case ReadOnlyMap<TKey, TValue> map:
            {
                // The library's shared-keys map (read-only members): indexed, no enumerator.
                var entries = Math.Min(map.Count, maxEntries);
                if (!block.TryAddNumber(entries))
                {
                    return false;
                }

                for (var i = 0; i < entries; i++)
                {
                    if (!Add(block, map.KeyAt(i), map.ValueAt(i)))
                    {
                        return false;
                    }
                }

                return true;
            }

            case IReadOnlyDictionary<TKey, TValue> readOnly:
                if (!block.TryAddNumber(Math.Min(readOnly.Count, maxEntries)))
                {
                    return false;
                }

                var count = 0;
                foreach (var pair in readOnly)
                {
                    if (count++ == maxEntries || !Add(block, pair.Key, pair.Value))
                    {
                        return count > maxEntries;
                    }
                }

                return true;
            default:
                return block.TryAddNumber(-1);
        }
    }

    private static bool Add(RecordBlock block, TKey key, TValue value)
    {
        if (key is string label)
        {
            return block.TryAddLabel(label) && block.TryAddNumber(double.CreateTruncating(value));
        }

        // TKey is long here (MemberModel admits long or string keys); the JIT removes the box for a value type.
        return block.TryAddNumber((long)(object)key) && block.TryAddNumber(double.CreateTruncating(value));
    }
}
