using System.Text;

namespace ModelInService.Tool.Tests;

/// <summary>
/// Models no exporter writes but a file can hold (from an outside probe): names with line breaks, lengths past the
/// end of the file, pipes, directories, free dimensions that multiply into billions of synthetic values, signatures the
/// typed binder refuses. Each gets one clear line and the right exit code, and scaffolded code still compiles.
/// </summary>
public sealed class HostileModelTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "mis-hostile-" + Guid.NewGuid().ToString("N")[..8]);

    public HostileModelTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await Program.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData("in\nput", "N")]
    [InlineData("in\u2028put\u0085x", "N")]
    [InlineData("x", "N\n*/ class Broken {")]
    [InlineData("x\r\n// ", "N\u2029")]
    public async Task Names_with_line_breaks_are_escaped_in_comments_and_the_classes_compile(string inputName, string dimParam)
    {
        var path = Write("odd.onnx", OnnxProto.Identity(inputName, dimParam, width: 2));

        var harness = await ScaffoldHarness.CreateAsync(path);
        var (assembly, diagnostics) = harness.Compile();

        Assert.True(assembly is not null, string.Join('\n', diagnostics) + "\n" + harness.Scaffold.Files[0].Text);
        var text = harness.Scaffold.Files[0].Text;
        Assert.Contains("[ModelInput(" + CSharpNames.Literal(inputName) + ")]", text, StringComparison.Ordinal);
        Assert.DoesNotContain(text.Split('\n'), line => line.Contains("put", StringComparison.Ordinal) && !line.TrimStart().StartsWith("//", StringComparison.Ordinal) && !line.Contains("ModelInput(", StringComparison.Ordinal) && !line.Contains("public", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_length_of_2_pow_64_minus_1_is_a_message_naming_the_file()
    {
        var path = Write("hugelen.onnx", [0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);

        var (exit, _, error) = await RunAsync("inspect", path);

        Assert.Equal(1, exit);
        Assert.StartsWith("mis inspect: " + path + " is not a complete ONNX model", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_directory_a_fifo_and_an_empty_file_are_messages_not_hangs()
    {
        var (dirExit, _, dirError) = await RunAsync("inspect", _dir);
        Assert.Equal(1, dirExit);
        Assert.Contains("is a directory", dirError, StringComparison.Ordinal);

        var empty = Write("empty.onnx", []);
        var (emptyExit, _, emptyError) = await RunAsync("inspect", empty);
        Assert.Equal(1, emptyExit);
        Assert.Contains("is empty or not a regular file", emptyError, StringComparison.Ordinal);

        if (!OperatingSystem.IsWindows())
        {
            var fifo = Path.Combine(_dir, "f.onnx");
            using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
            {
                await mkfifo.WaitForExitAsync();
            }

            // Opening a FIFO without a writer blocks forever: the tool must not open it.
            var run = RunAsync("inspect", fifo);
            Assert.Same(run, await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(30))));
            var (fifoExit, _, fifoError) = await run;
            Assert.Equal(1, fifoExit);
            Assert.Contains("not a regular file", fifoError, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Free_dimensions_that_multiply_past_the_cap_are_not_timed_and_nothing_is_allocated()
    {
        var path = Write("free5.onnx", OnnxProto.Identity("x", "N", width: 0, freeDims: ["A", "B", "C", "D", "E"]));
        var before = GC.GetTotalAllocatedBytes(precise: true);

        var (exit, output, error) = await RunAsync("inspect", path);

        Assert.True(exit == 0, error);
        Assert.Contains("batch  32: failed: input 'x' would be [32,32,32,32,32,32], over 67,108,864 synthetic values", output, StringComparison.Ordinal);
        Assert.InRange(GC.GetTotalAllocatedBytes(precise: true) - before, 0, 512L << 20);
    }

    [Fact]
    public async Task Inspect_names_an_element_type_the_library_cannot_carry_instead_of_unknown()
    {
        // bfloat16 is the one such type ONNX Runtime's CPU Identity runs and its C# API describes (float8 models fail in
        // its metadata: the next test; int4 has no CPU Identity): the names come from the same map.
        const string onnxName = "bfloat16";
        var path = Write(onnxName + ".onnx", OnnxProto.Identity("x", "N", width: 2, elementType: 16));

        var (exit, output, error) = await RunAsync("inspect", path, "--no-timing");

        Assert.True(exit == 0, error);
        Assert.Contains(onnxName + " (not supported) [N,2]", output, StringComparison.Ordinal);
        Assert.DoesNotContain("unknown", output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_float8_model_is_refused_naming_the_input_and_its_type()
    {
        // ONNX Runtime's C# API refuses the session with "Unregistered TensorElementType value of: DataTypeMax", which
        // names neither the value nor the type.
        var path = Write("float8.onnx", OnnxProto.Identity("x", "N", width: 2, elementType: 17, opset: 21));

        var (exit, _, error) = await RunAsync("inspect", path, "--no-timing");

        Assert.Equal(1, exit);
        Assert.Contains("input 'x' is float8e4m3fn, output 'y' is float8e4m3fn: an element type ONNX Runtime's C# API", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scaffold_of_a_model_the_typed_binder_refuses_exits_1_saying_why_and_how_to_serve_it()
    {
        var path = Write("bfloat16.onnx", OnnxProto.Identity("x", "N", width: 2, elementType: 16)); // bfloat16: no C# member type

        var (exit, output, error) = await RunAsync("scaffold", path, "--namespace", "X", "--output", Path.Combine(_dir, "out"));

        Assert.Equal(1, exit);
        Assert.Contains("will refuse these classes: input 'x'", error, StringComparison.Ordinal);
        Assert.Contains("has no member, and every input needs one", error, StringComparison.Ordinal);
        Assert.Contains("IModelRunner", error, StringComparison.Ordinal);
        Assert.DoesNotContain("register:", output, StringComparison.Ordinal);
    }
}

/// <summary>Hand-encoded ONNX protobuf for models with names and shapes exporters never write.</summary>
internal static class OnnxProto
{
    /// <summary>Identity over float32 [dimParam, width] (or [dimParam, freeDims...] when width is 0), input named <paramref name="inputName"/>.</summary>
    public static byte[] Identity(string inputName, string dimParam, int width, string[]? freeDims = null, int elementType = 1, int opset = 17)
    {
        var dims = new List<byte[]> { Field(1, Str(2, dimParam)) };
        if (width > 0)
        {
            dims.Add(Field(1, Varint(1, (ulong)width)));
        }

        foreach (var free in freeDims ?? [])
        {
            dims.Add(Field(1, Str(2, free)));
        }

        var type = Field(1, Cat(Varint(1, (ulong)elementType), Field(2, Cat([.. dims])))); // TypeProto.tensor_type: elem_type (1 float), shape
        byte[] ValueInfo(string name) => Cat(Str(1, name), Field(2, type));
        var node = Cat(Str(1, inputName), Str(2, "y"), Str(4, "Identity"));
        var graph = Cat(Field(1, node), Str(2, "g"), Field(11, ValueInfo(inputName)), Field(12, ValueInfo("y")));
        return Cat(Varint(1, opset >= 21 ? 10UL : 8UL), Field(7, graph), Field(8, Cat(Str(1, ""), Varint(2, (ulong)opset)))); // IR version 10 from opset 21 (float8, int4)
    }

    private static byte[] Cat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    private static byte[] Str(int field, string value) => Field(field, Encoding.UTF8.GetBytes(value));

    private static byte[] Field(int field, byte[] payload) => Cat(Encode((ulong)((field << 3) | 2)), Encode((ulong)payload.Length), payload);

    private static byte[] Varint(int field, ulong value) => Cat(Encode((ulong)(field << 3)), Encode(value));

    private static byte[] Encode(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? b : (byte)(b | 0x80));
        }
        while (value != 0);
        return [.. bytes];
    }
}
