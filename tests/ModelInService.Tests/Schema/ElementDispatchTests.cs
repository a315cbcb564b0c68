using ModelInService.Schema;

namespace ModelInService.Tests.Schema;

/// <summary>The closed switch that replaced MakeGenericType: each element type reaches the instantiation of that type.</summary>
public sealed class ElementDispatchTests
{
    private sealed class Echo : IUnmanagedElementVisitor<Type>, INumberElementVisitor<Type>
    {
        Type IUnmanagedElementVisitor<Type>.Visit<T>() => typeof(T);

        Type INumberElementVisitor<Type>.Visit<T>() => typeof(T);
    }

    public static TheoryData<Type> Numbers => [typeof(float), typeof(double), typeof(Half), typeof(sbyte), typeof(short), typeof(int), typeof(long), typeof(byte), typeof(ushort), typeof(uint), typeof(ulong)];

    [Theory]
    [MemberData(nameof(Numbers))]
    public void EveryNumericElementType_IsDispatchedToItsOwnInstantiation(Type element)
    {
        Assert.Equal(element, ElementDispatch.Number<Type>(element, new Echo()));
        Assert.Equal(element, ElementDispatch.Unmanaged<Type>(element, new Echo()));
    }

    [Fact]
    public void Bool_IsUnmanagedButNotANumber()
    {
        Assert.Equal(typeof(bool), ElementDispatch.Unmanaged<Type>(typeof(bool), new Echo()));
        Assert.Throws<NotSupportedException>(() => ElementDispatch.Number<Type>(typeof(bool), new Echo()));
        Assert.Throws<NotSupportedException>(() => ElementDispatch.Unmanaged<Type>(typeof(decimal), new Echo()));
    }

    [Theory]
    [InlineData(typeof(long), typeof(float), "lf")]
    [InlineData(typeof(long), typeof(double), "ld")]
    [InlineData(typeof(string), typeof(float), "sf")]
    [InlineData(typeof(string), typeof(double), "sd")]
    public void MapKeyAndValueTypes_PickTheirPair(Type key, Type value, string expected) =>
        Assert.Equal(expected, ElementDispatch.Map(key, value, () => "lf", () => "ld", () => "sf", () => "sd"));

    [Theory]
    [InlineData(typeof(int), typeof(float))]
    [InlineData(typeof(long), typeof(int))]
    [InlineData(typeof(string), typeof(long))]
    public void OtherMaps_AreRefused(Type key, Type value) =>
        Assert.Throws<NotSupportedException>(() => ElementDispatch.Map(key, value, () => 0, () => 0, () => 0, () => 0));
}
