using System.Diagnostics.CodeAnalysis;

namespace ModelInService.BatchScoring;

/// <summary>Turns a chunk of input columns into a scored chunk (written rows and rejects).</summary>
internal interface IChunkScorer
{
    /// <summary>The input columns to read, in chunk order; the id column is first.</summary>
    IReadOnlyList<string> Columns { get; }

    Task<ScoredChunk> ScoreAsync(RowChunk chunk, CancellationToken cancellationToken);

    /// <summary>
    /// The output columns known without a scored row, with no values: what an output with no rows (an empty input, every
    /// row rejected) is written with, so that it is still a valid file with a header or schema. Columns whose count
    /// comes from the first row (an array member's length, a map's keys) are not among them.
    /// </summary>
    ColumnData[] EmptyColumns();
}

/// <summary>The typed path: each row bound to a <typeparamref name="TInput"/>, the chunk predicted with <c>PredictBatchAsync</c>, the outputs collected into columns.</summary>
internal sealed class TypedChunkScorer<[DynamicallyAccessedMembers(InputBinder.Members)] TInput, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] TOutput>(IPredictor<TInput, TOutput> predictor, InputBinder<TInput> binder, TimeProvider time) : IChunkScorer
{
    private IReadOnlyList<OutputColumn<TOutput>>? _columns;

    public IReadOnlyList<string> Columns => binder.Columns;

    public ColumnData[] EmptyColumns() => OutputSchema<TOutput>.Empty();

    public async Task<ScoredChunk> ScoreAsync(RowChunk chunk, CancellationToken cancellationToken)
    {
        var inputs = new List<TInput>(chunk.Count);
        var ids = new List<string>(chunk.Count);
        var rows = new List<long>(chunk.Count);
        var rejects = new List<RejectedRow>();
        var idColumn = chunk.Columns[0];
        for (var i = 0; i < chunk.Count; i++)
        {
            var id = idColumn.GetString(i);
            if (id is null)
            {
                rejects.Add(new RejectedRow(chunk.FirstRow + i, null, $"{chunk.Where(i)}: the id column is empty"));
                continue;
            }

            var input = binder.Bind(chunk, i, out var reason);
            if (reason is not null)
            {
                rejects.Add(new RejectedRow(chunk.FirstRow + i, id, $"{chunk.Where(i)}: {reason}"));
                continue;
            }

            inputs.Add(input!);
            ids.Add(id);
            rows.Add(chunk.FirstRow + i);
        }

        // The predictor validates every row first and names the first invalid one: reject it and predict the rest.
        while (true)
        {
            try
            {
                var outputs = inputs.Count == 0 ? [] : await predictor.PredictBatchAsync(inputs, cancellationToken).ConfigureAwait(false);
                rejects.Sort((a, b) => a.Row.CompareTo(b.Row));
                var columns = outputs.Count == 0 ? [] : OutputSchema<TOutput>.Collect(_columns ??= OutputSchema<TOutput>.From(outputs[0]), outputs);
                return new ScoredChunk(chunk.FirstRow, chunk.Count, ids.ToArray(), columns, rejects, time.GetUtcNow(), chunk.InputFraction);
            }
            catch (ModelInputException ex) when (ex.Index >= 0 && ex.Index < inputs.Count)
            {
                Reject(ex.Index, $"{ex.MemberName} {ex.Reason}");
            }
            catch (ModelNonFiniteOutputException ex) when (ex.Index >= 0 && ex.Index < inputs.Count)
            {
                // The model produced NaN or an infinity for this row (an input far outside the training range): the
                // call fails with the first such row; reject it and predict the rest. [AllowNonFinite] members pass.
                Reject(ex.Index, NonFiniteOutput.Reason(ex.Value, ex.OutputName, ex.MemberName));
            }
        }

        void Reject(int index, string reason)
        {
            rejects.Add(new RejectedRow(rows[index], ids[index], $"{chunk.Where((int)(rows[index] - chunk.FirstRow))}: {reason}"));
            inputs.RemoveAt(index);
            ids.RemoveAt(index);
            rows.RemoveAt(index);
        }
    }
}

/// <summary>The reject reason of a row whose prediction is not finite.</summary>
internal static class NonFiniteOutput
{
    public static string Reason(double value, string output, string column) =>
        $"the model produced {(double.IsNaN(value) ? "NaN" : value > 0 ? "+infinity" : "-infinity")} in output '{output}' ({column}); the input is likely outside the range the model was trained on";
}
