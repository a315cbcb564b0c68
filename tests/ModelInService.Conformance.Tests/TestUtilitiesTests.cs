using ModelInService.TestUtilities;
using Xunit;

namespace ModelInService.Conformance.Tests;

public sealed class TestUtilitiesTests
{
    [Fact]
    public void TestTensor_validates_shape_and_type()
    {
        Assert.Throws<ArgumentException>(() => new TestTensor("x", OnnxDataType.Float, [2, 2], new float[3]));
        Assert.Throws<ArgumentException>(() => new TestTensor("x", OnnxDataType.Float, [1], new double[1]));
        Assert.Throws<ArgumentException>(() => new TestTensor("x", OnnxDataType.Float, [-1], new float[1]));
        Assert.Throws<NotSupportedException>(() => new TestTensor("x", OnnxDataType.BFloat16, [1], new ushort[1]));
        Assert.Equal("x: uint8[1,2]", new TestTensor("x", OnnxDataType.UInt8, [1, 2], new byte[2]).ToString());
    }

    [Fact]
    public void TestTensor_keeps_unsigned_and_signed_apart()
    {
        // The CLR lets byte[] pass for sbyte[]; the tensor must not.
        var bytes = new TestTensor("b", OnnxDataType.UInt8, [2], new byte[] { 200, 1 });
        Assert.Throws<InvalidCastException>(() => bytes.As<sbyte>());
        Assert.Equal([200.0, 1.0], bytes.ToDoubleArray());

        var longs = new TestTensor("u", OnnxDataType.UInt64, [1], new[] { ulong.MaxValue });
        Assert.Throws<InvalidCastException>(() => longs.As<long>());
        Assert.Equal([(double)ulong.MaxValue], longs.ToDoubleArray());

        Assert.Equal([1f, 0f], new TestTensor("f", OnnxDataType.Bool, [2], new[] { true, false }).ToFloatArray());
    }

    [Fact]
    public void SharedData_resolves_the_override_then_the_folder_next_to_the_repo()
    {
        var scratch = Directory.CreateTempSubdirectory("mis-shared-");
        try
        {
            var repo = Directory.CreateDirectory(Path.Combine(scratch.FullName, "repo"));
            File.WriteAllText(Path.Combine(repo.FullName, SharedData.SolutionFileName), string.Empty);
            var nested = Directory.CreateDirectory(Path.Combine(repo.FullName, "tests", "bin", "Debug"));
            Assert.Equal(repo.FullName, SharedData.FindRepoRoot(nested.FullName));

            // No ../shared yet: unavailable.
            Assert.Null(SharedData.ResolveRoot(null, repo.FullName));

            var shared = Directory.CreateDirectory(Path.Combine(scratch.FullName, "shared", "models")).Parent!;
            Assert.Equal(shared.FullName, SharedData.ResolveRoot(null, repo.FullName));
            Assert.Equal(shared.FullName, SharedData.ResolveRoot(shared.FullName, null));

            // An override that does not exist disables the data instead of falling back to ../shared.
            Assert.Null(SharedData.ResolveRoot("/nonexistent", repo.FullName));
            Assert.Null(SharedData.ResolveRoot(null, null));
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    [Fact]
    public void SharedData_paths_and_skip_reason()
    {
        Assert.Equal("../shared not found: set MIS_SHARED_DIR or place the shared folder next to the repo", SharedData.SkipReason);
        Assert.True(File.Exists(Path.Combine(SharedData.RepoRoot, "ModelInService.sln")));
        Assert.Equal(Path.Combine(SharedData.RepoRoot, "samples", "models", "iris_mlp.onnx"), SharedData.RepoModel("iris_mlp.onnx"));
        if (SharedData.IsAvailable)
        {
            Assert.True(File.Exists(SharedData.Model("mnist", "mnist-8.onnx")));
        }
        else
        {
            Assert.Throws<InvalidOperationException>(() => SharedData.ModelsDir);
        }
    }
}
