using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace ModelInService.Tool;

/// <summary>The <c>mis</c> command line: <c>inspect</c>, <c>scaffold</c>, <c>score</c> and <c>reference</c>.</summary>
internal static class Program
{
    /// <summary>Exit code when the model cannot be read or loaded.</summary>
    public const int ModelError = 1;

    /// <summary>Exit code for a bad argument.</summary>
    public const int UsageError = 2;

    public static Task<int> Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Parses and runs <paramref name="args"/>, writing to the given writers (tests pass string writers).</summary>
    public static async Task<int> Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("ModelInService's model tool: what the library decides about an ONNX model, and C# classes that bind to it.")
        {
            InspectCommand(output, error),
            ScaffoldCommand(output, error),
            BatchCommands.ScoreCommand(output, error),
            BatchCommands.ReferenceCommand(output, error),
        };
        var config = new InvocationConfiguration { Output = output, Error = error };
        var parsed = root.Parse(args);
        var code = await parsed.InvokeAsync(config).ConfigureAwait(false);

        // A command line that does not parse (an unknown option, a required one missing) is a usage error, like the
        // bad values the commands check themselves: System.CommandLine prints it with the help and answers 1, which
        // is this tool's "the model or the input failed".
        return parsed.Errors.Count > 0 && code != 0 ? UsageError : code;
    }

    private static Command InspectCommand(TextWriter output, TextWriter error)
    {
        var model = new Argument<FileInfo>("model") { Description = "The .onnx file." };
        var json = new Option<bool>("--json") { Description = "Write the report as JSON (for scripts) instead of text." };
        var noTiming = new Option<bool>("--no-timing") { Description = "Skip the timing runs." };
        var dims = new Option<string[]>("--dim") { Description = "Size of a free dimension for the timing runs, by symbol (--dim H=64) or by tensor and position (--dim input[1]=512); repeatable; default 32." };
        var values = new Option<string[]>("--value") { Description = "Values of an input in the timing runs: one for every element (--value sr=16000) or a list repeated over the elements (--value scales=1,1,2,2); repeatable." };
        var axes = BatchAxisOption();
        var command = new Command("inspect", "Print the signature, metadata, batch axes and batchability with the reason, buckets, what the monitor would profile, and a timing at batch 1 and 32.")
        {
            model, json, noTiming, dims, values, axes,
        };
        command.SetAction(async (result, ct) =>
        {
            try
            {
                var dimensions = ParsePairs(result.GetValue(dims), "--dim", s => long.Parse(s, NumberStyles.None, CultureInfo.InvariantCulture));
                var given = ParsePairs(result.GetValue(values), "--value", s => s);
                var batchAxes = ParseBatchAxes(result.GetValue(axes));
                var loaded = await LoadedModel.LoadAsync(result.GetRequiredValue(model).FullName, batchAxes, ct).ConfigureAwait(false);
                var batching = Batchability.Describe(loaded.Signature);
                var report = InspectReport.Build(loaded, batching, new SyntheticData(dimensions, given), !result.GetValue(noTiming));
                await output.WriteAsync(result.GetValue(json)
                    ? JsonSerializer.Serialize(report, ReportJsonContext.Default.InspectReport) + Environment.NewLine
                    : report.ToText()).ConfigureAwait(false);
                return 0;
            }
            catch (ArgumentException e)
            {
                await error.WriteLineAsync("mis inspect: " + e.Message).ConfigureAwait(false);
                return UsageError;
            }
            catch (ModelSchemaException e) when (result.GetValue(axes) is { Length: > 0 })
            {
                // Without C# types, the only schema check is the declared batch axes: the argument is wrong.
                await error.WriteLineAsync("mis inspect: " + e.Message).ConfigureAwait(false);
                return UsageError;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or ModelLoadException or UnauthorizedAccessException or NotSupportedException)
            {
                await error.WriteLineAsync("mis inspect: " + e.Message).ConfigureAwait(false);
                return ModelError;
            }
        });
        return command;
    }

    private static Command ScaffoldCommand(TextWriter output, TextWriter error)
    {
        var model = new Argument<FileInfo>("model") { Description = "The .onnx file." };
        var ns = new Option<string>("--namespace") { Description = "The namespace of the generated classes.", Required = true };
        var dir = new Option<DirectoryInfo>("--output") { Description = "Where to write the files (default: the current directory)." };
        var name = new Option<string>("--name") { Description = "Class-name prefix: <Name>Input and <Name>Output (default: from the file name, or its folder's for model.onnx)." };
        var force = new Option<bool>("--force") { Description = "Overwrite existing files." };
        var axes = BatchAxisOption();
        var command = new Command("scaffold", "Write C# input and output classes ([ModelInput]/[ModelOutput] members with XML docs) that bind to the model.")
        {
            model, ns, dir, name, force, axes,
        };
        command.SetAction(async (result, ct) =>
        {
            try
            {
                var path = result.GetRequiredValue(model).FullName;
                var loaded = await LoadedModel.LoadAsync(path, ParseBatchAxes(result.GetValue(axes)), ct).ConfigureAwait(false);
                var batching = Batchability.Describe(loaded.Signature);
                var prefix = result.GetValue(name) is { Length: > 0 } given ? given : CSharpNames.PrefixFromPath(path);
                var scaffold = Scaffolder.Generate(loaded, batching, result.GetRequiredValue(ns), prefix);
                var target = result.GetValue(dir)?.FullName ?? Directory.GetCurrentDirectory();
                var files = scaffold.Files.Select(f => (File: f, Path: Path.Combine(target, f.FileName))).ToList();
                var existing = files.Where(f => File.Exists(f.Path)).Select(f => f.Path).ToList();
                if (existing.Count > 0 && !result.GetValue(force))
                {
                    await error.WriteLineAsync($"mis scaffold: {string.Join(", ", existing)} already exist{(existing.Count == 1 ? "s" : "")}; pass --force to overwrite.").ConfigureAwait(false);
                    return UsageError;
                }

                Directory.CreateDirectory(target);
                foreach (var (file, filePath) in files)
                {
                    await File.WriteAllTextAsync(filePath, file.Text, ct).ConfigureAwait(false);
                    await output.WriteLineAsync("wrote " + filePath).ConfigureAwait(false);
                }

                foreach (var warning in scaffold.Warnings)
                {
                    await error.WriteLineAsync("warning: " + warning).ConfigureAwait(false);
                }

                await output.WriteLineAsync(batching.Reason).ConfigureAwait(false);
                if (scaffold.Unregistrable is { } why)
                {
                    // The files are written (a starting point to edit), but registering them as generated fails at start-up.
                    await error.WriteLineAsync($"mis scaffold: AddModel<{scaffold.InputClass}, {scaffold.OutputClass}> will refuse these classes: {why}. Serve this model untyped instead: services.AddModel(\"name\", o => o.Source = ModelSource.FromFile(\"{Path.GetFileName(path)}\")) and IModelRunner.").ConfigureAwait(false);
                    return ModelError;
                }

                await output.WriteLineAsync("register: " + scaffold.Registration).ConfigureAwait(false);
                return 0;
            }
            catch (ArgumentException e)
            {
                await error.WriteLineAsync("mis scaffold: " + e.Message).ConfigureAwait(false);
                return UsageError;
            }
            catch (ModelSchemaException e) when (result.GetValue(axes) is { Length: > 0 })
            {
                await error.WriteLineAsync("mis scaffold: " + e.Message).ConfigureAwait(false);
                return UsageError;
            }
            catch (Exception e) when (e is IOException or InvalidDataException or ModelLoadException or UnauthorizedAccessException or NotSupportedException)
            {
                await error.WriteLineAsync("mis scaffold: " + e.Message).ConfigureAwait(false);
                return ModelError;
            }
        });
        return command;
    }

    internal static Option<string[]> BatchAxisOption() => new("--batch-axis")
    {
        Description = "Declare a tensor's batch axis, passed to the library as ModelOptions.BatchAxes: --batch-axis state=1, or -1 for none (repeatable; default: the library's automatic rule).",
    };

    /// <summary>Parses <c>--batch-axis name=axis</c> pairs (axis -1: no batch axis).</summary>
    /// <exception cref="ArgumentException">A pair has no <c>=</c>, or its axis is not an integer of at least -1.</exception>
    internal static Dictionary<string, int> ParseBatchAxes(string[]? pairs)
    {
        var axes = ParsePairs(pairs, "--batch-axis", s => int.Parse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
        foreach (var (name, axis) in axes)
        {
            if (axis < -1)
            {
                throw new ArgumentException($"--batch-axis {name}={axis}: the axis is a dimension index (0, 1, ...) or -1 for none");
            }
        }

        return axes;
    }

    /// <summary>Parses <c>key=value</c> pairs.</summary>
    /// <exception cref="ArgumentException">A pair has no <c>=</c> or its value does not parse.</exception>
    internal static Dictionary<string, T> ParsePairs<T>(string[]? pairs, string option, Func<string, T> parse)
    {
        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var pair in pairs ?? [])
        {
            var at = pair.LastIndexOf('=');
            if (at <= 0 || at == pair.Length - 1)
            {
                throw new ArgumentException($"{option} {pair}: expected NAME=VALUE");
            }

            try
            {
                result[pair[..at]] = parse(pair[(at + 1)..]);
            }
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                throw new ArgumentException($"{option} {pair}: {e.Message}", e);
            }
        }

        return result;
    }
}
