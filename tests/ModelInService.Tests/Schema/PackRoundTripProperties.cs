using FsCheck;
using FsCheck.Fluent;
using Microsoft.ML.OnnxRuntime;
using ModelInService.Schema;

namespace ModelInService.Tests.Schema;

/// <summary>
/// Property: packing random rows of random shapes into a tensor, then unpacking the tensor (as the input binder
/// reads it back and as the output binder splits it into rows), gives back exactly the original rows.
/// </summary>
public class PackRoundTripProperties
{
    /// <summary>The values round-trip as they are, NaN and infinities included (the output check is opted out).</summary>
    public sealed class Row<T> { [AllowNonFinite] public T[] Values { get; set; } = []; }

    public sealed class Row4<T>
    {
        [ModelInput("values"), ModelOutput("values"), AllowNonFinite] public T A { get; set; } = default!;
        [ModelInput("values"), ModelOutput("values"), AllowNonFinite] public T B { get; set; } = default!;
        [ModelInput("values"), ModelOutput("values"), AllowNonFinite] public T C { get; set; } = default!;
        [ModelInput("values"), ModelOutput("values"), AllowNonFinite] public T D { get; set; } = default!;
    }

    /// <summary>A random case: row dimensions (one may be free), rows in the batch, free length, data seed.</summary>
    public sealed record ShapeCase(int[] RowDims, int FreeIndex, int FreeLength, int Rows, int Seed)
    {
        public long[] Dims => [-1, .. RowDims.Select((d, i) => i == FreeIndex ? -1L : d)];

        public int RowElements => RowDims.Select((d, i) => i == FreeIndex ? FreeLength : d).Aggregate(1, (a, b) => a * b);

        public long[] Shape => [Rows, .. RowDims.Select((d, i) => (long)(i == FreeIndex ? FreeLength : d))];
    }

    private static readonly Arbitrary<ShapeCase> Cases = (
        from rank in Gen.Choose(0, 3)
        from dims in Gen.ArrayOf(Gen.Choose(1, 4), rank)
        from free in Gen.Choose(-1, rank - 1)
        from freeLength in Gen.Choose(1, 6)
        from rows in Gen.Choose(1, 7)
        from seed in Gen.Choose(0, int.MaxValue)
        select new ShapeCase(dims, free, freeLength, rows, seed)).ToArbitrary();

    private static readonly ModelOptions Options = new() { NonFiniteValues = NonFiniteValuePolicy.Allow };

    private static void Check<T>(ModelElementType type, Func<Random, T> next)
    {
        Prop.ForAll(Cases, c => RoundTrip(c, type, next)).QuickCheckThrowOnFailure();
    }

    private static bool RoundTrip<T>(ShapeCase c, ModelElementType type, Func<Random, T> next)
    {
        var random = new Random(c.Seed);
        var spec = new TensorSpec("values", ModelValueKind.Tensor, type, c.Dims, new string[c.Dims.Length]);
        var rows = Enumerable.Range(0, c.Rows).Select(_ => new Row<T> { Values = Enumerable.Range(0, c.RowElements).Select(_ => next(random)).ToArray() }).ToArray();
        var input = CreateInput<Row<T>>(typeof(T), spec, new RowShape(spec, true));
        var output = CreateOutput<Row<T>>(typeof(T), spec);

        using var value = input.Pack(rows);
        var shape = value.GetTensorTypeAndShape().Shape;
        var flat = input.Unpack(value).Cast<T>().ToArray();
        var results = Enumerable.Range(0, c.Rows).Select(_ => new Row<T>()).ToArray();
        output.Unpack(value, results, c.Rows);

        return shape.SequenceEqual(c.Shape)
            && flat.SequenceEqual(rows.SelectMany(r => r.Values))
            && results.Zip(rows).All(p => p.First.Values.SequenceEqual(p.Second.Values));
    }

    private static InputBinder<TIn> CreateInput<TIn>(Type element, TensorSpec spec, RowShape shape) =>
        (InputBinder<TIn>)Activator.CreateInstance(
            element == typeof(string) ? typeof(StringInputBinder<>).MakeGenericType(typeof(TIn)) : typeof(NumericInputBinder<,>).MakeGenericType(typeof(TIn), element),
            "m", spec, shape, MemberModel.ForInput(typeof(TIn)), Options)!;

    private static OutputBinder<TOut> CreateOutput<TOut>(Type element, TensorSpec spec) =>
        (OutputBinder<TOut>)Activator.CreateInstance(
            element == typeof(string) ? typeof(StringOutputBinder<>).MakeGenericType(typeof(TOut)) : typeof(TensorOutputBinder<,>).MakeGenericType(typeof(TOut), element),
            "m", spec, MemberModel.ForOutput(typeof(TOut)))!;

    [Fact] public void Float32_RoundTrips() => Check(ModelElementType.Float32, r => r.Next(10) == 0 ? float.NaN : (float)(r.NextDouble() * 2e6 - 1e6));
    [Fact] public void Float64_RoundTrips() => Check(ModelElementType.Float64, r => r.Next(10) == 0 ? double.NegativeInfinity : r.NextDouble() * 1e300);
    [Fact] public void Float16_RoundTrips() => Check(ModelElementType.Float16, r => (Half)(r.NextDouble() * 100));
    [Fact] public void Int8_RoundTrips() => Check(ModelElementType.Int8, r => (sbyte)r.Next(sbyte.MinValue, sbyte.MaxValue + 1));
    [Fact] public void Int16_RoundTrips() => Check(ModelElementType.Int16, r => (short)r.Next(short.MinValue, short.MaxValue + 1));
    [Fact] public void Int32_RoundTrips() => Check(ModelElementType.Int32, r => r.Next(int.MinValue, int.MaxValue));
    [Fact] public void Int64_RoundTrips() => Check(ModelElementType.Int64, r => r.NextInt64(long.MinValue, long.MaxValue));
    [Fact] public void UInt8_RoundTrips() => Check(ModelElementType.UInt8, r => (byte)r.Next(256));
    [Fact] public void UInt16_RoundTrips() => Check(ModelElementType.UInt16, r => (ushort)r.Next(ushort.MaxValue + 1));
    [Fact] public void UInt32_RoundTrips() => Check(ModelElementType.UInt32, r => (uint)r.NextInt64(uint.MaxValue + 1L));
    [Fact] public void UInt64_RoundTrips() => Check(ModelElementType.UInt64, r => (ulong)r.NextInt64());
    [Fact] public void Bool_RoundTrips() => Check(ModelElementType.Bool, r => r.Next(2) == 1);
    [Fact] public void String_RoundTrips() => Check(ModelElementType.String, r => new string(Enumerable.Range(0, r.Next(0, 12)).Select(_ => (char)r.Next(32, 0xD7FF)).ToArray()));

    [Fact]
    public void ScalarColumns_RoundTrip()
    {
        var gen = from rows in Gen.Choose(1, 9)
                  from twoByTwo in Gen.Elements(true, false)
                  from values in Gen.ArrayOf(Gen.Choose(-1000, 1000), rows * 4)
                  select (rows, twoByTwo, values);
        Prop.ForAll(gen.ToArbitrary(), t =>
        {
            long[] dims = t.twoByTwo ? [-1, 2, 2] : [-1, 4];
            var spec = new TensorSpec("values", ModelValueKind.Tensor, ModelElementType.Int64, dims, new string[dims.Length]);
            var rows = Enumerable.Range(0, t.rows).Select(r => new Row4<long> { A = t.values[4 * r], B = t.values[(4 * r) + 1], C = t.values[(4 * r) + 2], D = t.values[(4 * r) + 3] }).ToArray();
            var input = CreateInput<Row4<long>>(typeof(long), spec, new RowShape(spec, true));
            var output = CreateOutput<Row4<long>>(typeof(long), spec);
            using var value = input.Pack(rows);
            var results = Enumerable.Range(0, t.rows).Select(_ => new Row4<long>()).ToArray();
            output.Unpack(value, results, t.rows);
            return ((long[])input.Unpack(value)).SequenceEqual(t.values.Select(v => (long)v))
                && results.Zip(rows).All(p => p.First == p.Second || (p.First.A, p.First.B, p.First.C, p.First.D) == (p.Second.A, p.Second.B, p.Second.C, p.Second.D));
        }).QuickCheckThrowOnFailure();
    }
}
