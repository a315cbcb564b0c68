using System.IO.Compression;

namespace ModelInService.TestUtilities;

/// <summary>
/// Reads NumPy <c>.npz</c> archives (<c>np.savez</c> / <c>np.savez_compressed</c>): a zip of <c>.npy</c> files, stored
/// or deflated. Returns the arrays by name (the entry name without <c>.npy</c>) in archive order.
/// </summary>
public static class NpzReader
{
    public static IReadOnlyDictionary<string, TestTensor> Read(string path)
    {
        using var stream = File.OpenRead(path);
        return Read(stream);
    }

    public static IReadOnlyDictionary<string, TestTensor> Read(Stream stream)
    {
        using var archive = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        var result = new OrderedDictionary<string, TestTensor>(StringComparer.Ordinal);
        foreach (var entry in archive.Entries)
        {
            if (entry.FullName.EndsWith('/'))
            {
                continue;
            }

            var name = entry.FullName.EndsWith(".npy", StringComparison.Ordinal) ? entry.FullName[..^4] : entry.FullName;
            using var entryStream = entry.Open();
            result.Add(name, NpyReader.Read(entryStream, name));
        }

        return result;
    }
}
