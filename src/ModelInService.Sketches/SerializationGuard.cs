using System.Globalization;

namespace ModelInService.Sketches;

/// <summary>Checks shared by every serializable summary's <c>WriteTo</c>.</summary>
internal static class SerializationGuard
{
    /// <summary>Throws when <paramref name="destination"/> cannot hold <paramref name="size"/> bytes.</summary>
    public static void EnsureRoom(Span<byte> destination, int size)
    {
        if (destination.Length < size)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"The destination needs {size} bytes but has {destination.Length}."),
                nameof(destination));
        }
    }
}
