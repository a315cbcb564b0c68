using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using ModelInService.Sessions;

namespace ModelInService.Schema;

/// <summary>Something that can check itself against a model's signature at load time.</summary>
internal interface IModelBinder
{
    /// <summary>Gets whether several rows may be sent in one run (every bound input and output has a free batch dimension).</summary>
    bool Batchable { get; }

    /// <summary>Gets the batching decision for the bound inputs and outputs.</summary>
    ModelBatchingInfo Batching { get; }
}

/// <summary>
/// The compiled mapping between <typeparamref name="TInput"/>/<typeparamref name="TOutput"/> and a model's inputs and
/// outputs. Built and checked once when the model loads (reflection and expression compilation happen only here);
/// predictions call the compiled delegates.
/// </summary>
internal sealed class TypedBinder<TInput, TOutput> : IModelBinder
{
    private readonly Func<TOutput> _factory;

    private readonly int[] _bucketed;

    internal TypedBinder(string modelName, InputBinder<TInput>[] inputs, OutputBinder<TOutput>[] outputs, Func<TOutput> factory, ModelBatchingInfo batching, OutputCopier<TOutput> copier)
    {
        Batching = batching;
        var bucketed = new List<int>();
        for (var i = 0; i < inputs.Length; i++)
        {
            if (inputs[i].Shape.IsVariable || inputs[i].Shape.BatchAxis < 0)
            {
                bucketed.Add(i);
            }
        }

        _bucketed = bucketed.ToArray();
        var batchable = batching.Batchable;
        Copier = copier;
        ModelName = modelName;
        Inputs = inputs;
        Outputs = outputs;
        _factory = factory;
        Batchable = batchable;
        InputNames = new string[inputs.Length];
        for (var i = 0; i < inputs.Length; i++)
        {
            InputNames[i] = inputs[i].Spec.Name;
        }

        OutputNames = new string[outputs.Length];
        for (var i = 0; i < outputs.Length; i++)
        {
            OutputNames[i] = outputs[i].Spec.RunName;
        }
    }

    public string ModelName { get; }

    public InputBinder<TInput>[] Inputs { get; }

    public OutputBinder<TOutput>[] Outputs { get; }

    public string[] InputNames { get; }

    public string[] OutputNames { get; }

    public bool Batchable { get; }

    public ModelBatchingInfo Batching { get; }

    /// <summary>A new, empty output for <see cref="OutputBinder{TOutput}"/>s to fill (the streaming binder unpacks part of a run's outputs itself).</summary>
    public TOutput NewOutput() => _factory();

    /// <summary>Deep copies and sizes outputs (the prediction cache).</summary>
    public OutputCopier<TOutput> Copier { get; }

    /// <summary>
    /// A 128-bit XxHash of every input's content (row lengths and raw element bytes, strings as UTF-16), seeded with
    /// <paramref name="seed"/> (the model version). No allocation for inputs up to 1 KiB.
    /// </summary>
    public UInt128 ComputeKey(TInput input, long seed)
    {
        var inputs = Inputs;
        var size = 0;
        for (var i = 0; i < inputs.Length; i++)
        {
            size += inputs[i].KeySize(input);
        }

        byte[]? rented = null;
        var buffer = size <= 1024 ? stackalloc byte[1024] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(size));
        try
        {
            var offset = 0;
            for (var i = 0; i < inputs.Length; i++)
            {
                offset += inputs[i].WriteKey(input, buffer[offset..]);
            }

            return System.IO.Hashing.XxHash128.HashToUInt128(buffer[..offset], seed);
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Throws <see cref="ModelInputException"/> when <paramref name="input"/> cannot be sent to the model.</summary>
    public void Validate(TInput input)
    {
        if (input is null)
        {
            throw new ModelInputException(ModelName, null, $"the {typeof(TInput).Name} is null");
        }

        var inputs = Inputs;
        for (var i = 0; i < inputs.Length; i++)
        {
            inputs[i].Validate(input);
        }
    }

    /// <summary>
    /// Rows with different free-dimension lengths or shapes, or different values of an input without a batch axis,
    /// cannot share a tensor: together they are the batcher's bucket. Pack checks again, so a collision fails a run
    /// (which bisection isolates) rather than mixing rows.
    /// </summary>
    public long BucketOf(TInput input)
    {
        var inputs = Inputs;
        var bucketed = _bucketed;
        long bucket = 0;
        for (var i = 0; i < bucketed.Length; i++)
        {
            bucket = unchecked((bucket * 1_000_003) + inputs[bucketed[i]].RowBucket(input));
        }

        return bucket;
    }

    /// <summary>Packs validated rows, runs them in one call on a slot the caller holds, and unpacks one output per row.</summary>
    public TOutput[] Run(ModelRuntime runtime, ReadOnlySpan<TInput> rows, CancellationToken cancellationToken)
    {
        var values = new OrtValue[Inputs.Length];
        try
        {
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = Inputs[i].Pack(rows);
            }

            using var results = runtime.Run(InputNames, values, OutputNames, cancellationToken);
            var outputs = new TOutput[rows.Length];
            for (var r = 0; r < outputs.Length; r++)
            {
                outputs[r] = _factory();
            }

            ModelNonFiniteOutputException?[]? failures = null;
            for (var o = 0; o < Outputs.Length; o++)
            {
                Outputs[o].Unpack(results[o], outputs, rows.Length, ref failures);
            }

            if (failures is not null)
            {
                // Only the rows concerned fail: one row throws its own error, several hand the others their answers.
                throw rows.Length == 1 ? failures[0]! : new PartialOutputException<TOutput>(ModelName, outputs, failures);
            }

            return outputs;
        }
        finally
        {
            for (var i = 0; i < values.Length; i++)
            {
                values[i]?.Dispose();
            }
        }
    }
}
