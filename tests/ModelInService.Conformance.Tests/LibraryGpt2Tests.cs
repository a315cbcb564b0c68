using ModelInService.TestUtilities;
using Xunit;
using Xunit.Abstractions;

namespace ModelInService.Conformance.Tests;

/// <summary>
/// The tiny random GPT-2 with a KV cache (text/tiny_random_gpt2_fp32/past.onnx) through <see cref="IModelRunner"/>: its
/// past_* inputs have the batch at dimension 1, which typed binding cannot express, so named tensors are the way in.
/// </summary>
public sealed class LibraryGpt2Tests(ITestOutputHelper output)
{
    private const int Layers = 5;
    private const int Heads = 4;
    private const int HeadSize = 8;
    private const int Vocabulary = 1000;

    [SkippableFact]
    public async Task Signature_loads_with_the_batch_dimension_not_first()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var (provider, runner) = await StartAsync();
        await using var _ = provider;
        var signature = runner.Signature;
        output.WriteLine("inputs: " + string.Join(", ", signature.Inputs.Select(s => $"{s.Name} {s}")));
        output.WriteLine("outputs: " + string.Join(", ", signature.Outputs.Select(s => $"{s.Name} {s}")));

        string[] inputs = ["input_ids", "position_ids", "attention_mask", .. Enumerable.Range(0, Layers).Select(i => $"past_{i}")];
        Assert.Equal(inputs.Order(StringComparer.Ordinal), signature.Inputs.Select(s => s.Name).Order(StringComparer.Ordinal));
        foreach (var name in new[] { "input_ids", "position_ids", "attention_mask" })
        {
            var spec = signature.FindInput(name)!;
            Assert.Equal(ModelValueKind.Tensor, spec.Kind);
            Assert.Equal(ModelElementType.Int32, spec.ElementType);
            Assert.Equal([-1L, -1L], spec.Dimensions);
        }

        for (var i = 0; i < Layers; i++)
        {
            var past = signature.FindInput($"past_{i}")!;
            Assert.Equal(ModelElementType.Float32, past.ElementType);
            Assert.Equal([2L, -1L, Heads, -1L, HeadSize], past.Dimensions);
            Assert.False(past.HasDynamicBatch); // dimension 0 is the key/value pair, the batch is dimension 1
            var present = signature.FindOutput($"present_{i}")!;
            Assert.Equal([2L, -1L, Heads, -1L, HeadSize], present.Dimensions);
        }

        var logits = signature.FindOutput("logits")!;
        Assert.Equal(ModelElementType.Float32, logits.ElementType);
        Assert.Equal([-1L, -1L, Vocabulary], logits.Dimensions);
    }

    [SkippableFact]
    public async Task Greedy_search_with_the_kv_cache_reproduces_reference_json()
    {
        Skip.IfNot(SharedData.IsAvailable, SharedData.SkipReason);
        var reference = ReferenceJson.ReadGreedySearch(SharedData.Model("text", "tiny_random_gpt2_fp32", "reference.json"));
        var (provider, runner) = await StartAsync();
        await using var _ = provider;
        var batch = reference.InputIds.Length;
        var sequences = reference.InputIds.Select(r => r.ToList()).ToArray();

        // Step 0: the whole prompt with an empty cache (past_seq = 0); then one token at a time with the presents.
        var past = Enumerable.Range(0, Layers).Select(i => NamedTensor.Create($"past_{i}", Array.Empty<float>(), 2, batch, Heads, 0, HeadSize)).ToArray();
        var newIds = reference.InputIds.Select(r => r.Select(v => (int)v).ToArray()).ToArray();
        while (sequences[0].Count < reference.MaxLength)
        {
            var seq = newIds[0].Length;
            var total = sequences[0].Count;
            var positions = Enumerable.Range(0, batch).SelectMany(_ => Enumerable.Range(total - seq, seq)).ToArray();
            NamedTensor[] inputs =
            [
                NamedTensor.Create("input_ids", newIds.SelectMany(r => r).ToArray(), batch, seq),
                NamedTensor.Create("position_ids", positions, batch, seq),
                NamedTensor.Create("attention_mask", Enumerable.Repeat(1, batch * total).ToArray(), batch, total),
                .. past,
            ];

            var results = await runner.RunAsync(inputs);

            var logits = results.Single(r => r.Name == "logits");
            Assert.Equal([batch, seq, Vocabulary], logits.Shape);
            var values = logits.GetData<float>();
            for (var b = 0; b < batch; b++)
            {
                var last = values.AsSpan(((b * seq) + seq - 1) * Vocabulary, Vocabulary);
                var next = LibraryHarness.ArgMax(last);
                sequences[b].Add(next);
                newIds[b] = [next];
            }

            past = Enumerable.Range(0, Layers).Select(i =>
            {
                var present = results.Single(r => r.Name == $"present_{i}");
                Assert.Equal([2, batch, Heads, total, HeadSize], present.Shape);
                return NamedTensor.Create($"past_{i}", present.GetData<float>(), [.. present.Shape]);
            }).ToArray();
        }

        for (var b = 0; b < batch; b++)
        {
            Assert.Equal(reference.ExpectedSequences[b], sequences[b]);
        }
    }

    private static Task<(Microsoft.Extensions.DependencyInjection.ServiceProvider Provider, IModelRunner Runner)> StartAsync() =>
        LibraryHarness.StartUntypedAsync("tiny-gpt2", SharedData.Model("text", "tiny_random_gpt2_fp32", "past.onnx"));
}
