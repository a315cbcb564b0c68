using ModelInService.Schema;

namespace ModelInService.Tests.Schema;

/// <summary>
/// <see cref="OutputCopier{TOutput}.IsImmutable"/>: only types whose instances cannot change once built (every field
/// readonly and of an immutable type) are handed out without a copy.
/// </summary>
public sealed class OutputCopierTests
{
    public sealed class InitOnly
    {
        [ModelOutput("label")]
        public long Label { get; init; }

        public string Name { get; init; } = "iris";

        public DateTimeOffset At { get; init; }

        public Kind Kind { get; init; }

        public float? Score { get; init; }
    }

    public enum Kind
    {
        None,
    }

    public sealed class GetOnly(long label)
    {
        public long Label { get; } = label;
    }

    [ModelSchema]
    public sealed record Positional(long Label, float Score, string Text);

    public record struct ReadOnlyPair(long Label, float Score)
    {
        // A record struct's positional properties are settable: not immutable.
    }

    public readonly record struct FrozenPair(long Label, float Score);

    public sealed class Settable
    {
        public long Label { get; set; }
    }

    [ModelSchema]
    public sealed record WithArray(long Label, float[] Probabilities);

    [ModelSchema]
    public sealed record WithMap(IReadOnlyDictionary<long, float> Probabilities);

    public sealed record WithMutableMember(long Label, Settable Inner);

    public sealed record WithFrozenMember(long Label, Positional Inner);

    public sealed class ReadonlyFieldOfInterface(IComparable value)
    {
        public IComparable Value { get; } = value;
    }

    public class MutableBase
    {
        public long Label { get; set; }
    }

    public sealed class DerivedFromMutable : MutableBase
    {
        public float Score { get; init; }
    }

    public record OpenRecord(long Label);

    [ModelSchema]
    public sealed record DerivedRecord(long Label, float[] Extra) : OpenRecord(Label);

    public sealed class WithEvent
    {
        public event EventHandler? Changed;

        public void Raise() => Changed?.Invoke(this, EventArgs.Empty);
    }

    [Fact]
    public void ImmutableTypes_AreRecognized()
    {
        Assert.True(OutputCopier<InitOnly>.IsImmutable);
        Assert.True(OutputCopier<GetOnly>.IsImmutable);
        Assert.True(OutputCopier<Positional>.IsImmutable);
        Assert.True(OutputCopier<FrozenPair>.IsImmutable);
        Assert.True(OutputCopier<WithFrozenMember>.IsImmutable);
        Assert.True(OutputCopier<OpenRecord>.IsImmutable);
    }

    [Fact]
    public void MutableTypes_AreNot()
    {
        Assert.False(OutputCopier<Settable>.IsImmutable);
        Assert.False(OutputCopier<ReadOnlyPair>.IsImmutable);
        Assert.False(OutputCopier<WithArray>.IsImmutable);
        Assert.False(OutputCopier<WithMap>.IsImmutable);
        Assert.False(OutputCopier<WithMutableMember>.IsImmutable);
        Assert.False(OutputCopier<ReadonlyFieldOfInterface>.IsImmutable);
        Assert.False(OutputCopier<DerivedFromMutable>.IsImmutable);
        Assert.False(OutputCopier<WithEvent>.IsImmutable);
        Assert.False(OutputCopier<DerivedRecord>.IsImmutable);
    }

    [Fact]
    public void Clone_ReturnsTheSameInstance_OnlyForAnImmutableType()
    {
        var immutable = new OutputCopier<Positional>(() => new Positional(0, 0, string.Empty), MemberModel.ForOutput(typeof(Positional)));
        var positional = new Positional(2, 0.5f, "virginica");
        Assert.Same(positional, immutable.Clone(positional));

        var mutable = new OutputCopier<Settable>(() => new Settable(), MemberModel.ForOutput(typeof(Settable)));
        var settable = new Settable { Label = 2 };
        var copy = mutable.Clone(settable);
        Assert.NotSame(settable, copy);
        Assert.Equal(2, copy.Label);
    }

    [Fact]
    public void Clone_OfAnOpenImmutableType_CopiesADerivedInstance()
    {
        // OpenRecord is immutable, but a derived instance may carry mutable state (an array here).
        var copier = new OutputCopier<OpenRecord>(() => new OpenRecord(0), MemberModel.ForOutput(typeof(OpenRecord)));
        var plain = new OpenRecord(1);
        Assert.Same(plain, copier.Clone(plain));
        OpenRecord derived = new DerivedRecord(1, [1f]);
        Assert.NotSame(derived, copier.Clone(derived));
    }
}
