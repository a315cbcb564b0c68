namespace ModelInService.BatchScoring;

/// <summary>
/// The untyped path: a chunk's columns are bound straight into one array per model input (no object per row), run
/// once through <see cref="IModelRunner.RunAsync"/>, and each output tensor is split into columns.
/// </summary>
/// <param name="runner">The model.</param>
/// <param name="binding">How columns fill the inputs and outputs become columns.</param>
/// <param name="time">The clock of <c>scored_at</c>.</param>
/// <param name="rejectNonFinite">Whether a row with NaN or an infinity in a float or double output is rejected rather than written.</param>
internal sealed class TensorChunkScorer(IModelRunner runner, TensorBinding binding, TimeProvider time, bool rejectNonFinite) : IChunkScorer
{
    public IReadOnlyList<string> Columns => binding.Columns;

    public ColumnData[] EmptyColumns()
    {
        var columns = new List<ColumnData>();
        foreach (var output in binding.Outputs)
        {
            foreach (var name in output.FixedColumnNames)
            {
                if (ColumnData.Empty(name, output.Spec.ElementType) is { } column)
                {
                    columns.Add(column);
                }
            }
        }

        return [.. columns];
    }

    public async Task<ScoredChunk> ScoreAsync(RowChunk chunk, CancellationToken cancellationToken)
    {
        var inputs = binding.Inputs;
        var data = new Array[inputs.Length];
        for (var i = 0; i < inputs.Length; i++)
        {
            data[i] = inputs[i].Allocate(chunk.Count);
        }

        var ids = new string[chunk.Count];
        var rows = new int[chunk.Count];
        var rejects = new List<RejectedRow>();
        var idColumn = chunk.Columns[0];
        var kept = 0;
        for (var r = 0; r < chunk.Count; r++)
        {
            var id = idColumn.GetString(r);
            if (id is null)
            {
                rejects.Add(new RejectedRow(chunk.FirstRow + r, null, $"{chunk.Where(r)}: the id column is empty"));
                continue;
            }

            string? reason = null;
            for (var i = 0; i < inputs.Length && reason is null; i++)
            {
                reason = inputs[i].Bind(chunk, r, data[i], kept);
            }

            if (reason is not null)
            {
                rejects.Add(new RejectedRow(chunk.FirstRow + r, id, $"{chunk.Where(r)}: {reason}"));
                continue;
            }

            ids[kept] = id;
            rows[kept++] = r;
        }

        var columns = new List<ColumnData>();
        var outputOf = new List<string>();
        if (kept > 0)
        {
            IReadOnlyList<NamedTensor> outputs;
            try
            {
                outputs = await RunAsync(data, kept, cancellationToken).ConfigureAwait(false);
            }
            catch (ModelInputException)
            {
                // A value the model's validation refuses (the row is not named in a batched tensor): find the rows
                // one by one, reject them, and run the rest again.
                var good = 0;
                for (var k = 0; k < kept; k++)
                {
                    try
                    {
                        var single = new NamedTensor[inputs.Length];
                        for (var i = 0; i < inputs.Length; i++)
                        {
                            single[i] = inputs[i].Row(data[i], k);
                        }

                        await runner.RunAsync(single, cancellationToken).ConfigureAwait(false);
                    }
                    catch (ModelInputException ex)
                    {
                        rejects.Add(new RejectedRow(chunk.FirstRow + rows[k], ids[k], $"{chunk.Where(rows[k])}: {ex.MemberName} {ex.Reason}"));
                        continue;
                    }

                    Move(data, k, good);
                    ids[good] = ids[k];
                    rows[good++] = rows[k];
                }

                kept = good;
                rejects.Sort((a, b) => a.Row.CompareTo(b.Row));
                outputs = kept == 0 ? [] : await RunAsync(data, kept, cancellationToken).ConfigureAwait(false);
            }

            for (var o = 0; o < outputs.Count && kept > 0; o++)
            {
                binding.Outputs[o].AddColumns(outputs[o], kept, columns);
                while (outputOf.Count < columns.Count)
                {
                    outputOf.Add(binding.Outputs[o].Spec.Name);
                }
            }

            if (rejectNonFinite && kept > 0)
            {
                kept = RejectNonFinite(chunk, columns, outputOf, ids, rows, kept, rejects);
            }
        }

        if (ids.Length != kept)
        {
            Array.Resize(ref ids, kept);
        }

        return new ScoredChunk(chunk.FirstRow, chunk.Count, ids, [.. columns], rejects, time.GetUtcNow(), chunk.InputFraction);
    }

    /// <summary>
    /// Rejects the rows whose prediction holds NaN or an infinity (the model's answer to an input far outside its
    /// training range: a NaN written as a prediction would pass for one downstream) and drops them from the columns.
    /// </summary>
    /// <returns>The rows kept.</returns>
    private static int RejectNonFinite(RowChunk chunk, List<ColumnData> columns, List<string> outputOf, string[] ids, int[] rows, int count, List<RejectedRow> rejects)
    {
        int[]? keep = null;
        var kept = 0;
        for (var r = 0; r < count; r++)
        {
            string? reason = null;
            for (var c = 0; c < columns.Count && reason is null; c++)
            {
                if (columns[c].IsNonFinite(r, out var value))
                {
                    reason = NonFiniteOutput.Reason(value, outputOf[c], columns[c].Name);
                }
            }

            if (reason is null)
            {
                if (keep is not null)
                {
                    keep[kept] = r;
                }

                kept++;
                continue;
            }

            if (keep is null)
            {
                keep = new int[count];
                for (var k = 0; k < kept; k++)
                {
                    keep[k] = k;
                }
            }

            rejects.Add(new RejectedRow(chunk.FirstRow + rows[r], ids[r], $"{chunk.Where(rows[r])}: {reason}"));
        }

        if (keep is null)
        {
            return count;
        }

        for (var c = 0; c < columns.Count; c++)
        {
            columns[c] = columns[c].Keep(keep, kept);
        }

        for (var k = 0; k < kept; k++)
        {
            ids[k] = ids[keep[k]];
            rows[k] = rows[keep[k]];
        }

        rejects.Sort((a, b) => a.Row.CompareTo(b.Row));
        return kept;
    }

    private ValueTask<IReadOnlyList<NamedTensor>> RunAsync(Array[] data, int rows, CancellationToken cancellationToken)
    {
        var tensors = new NamedTensor[data.Length];
        for (var i = 0; i < data.Length; i++)
        {
            tensors[i] = binding.Inputs[i].Tensor(data[i], rows);
        }

        return runner.RunAsync(tensors, cancellationToken);
    }

    private void Move(Array[] data, int from, int to)
    {
        if (from == to)
        {
            return;
        }

        for (var i = 0; i < data.Length; i++)
        {
            var width = binding.Inputs[i].Width;
            Array.Copy(data[i], from * width, data[i], to * width, width);
        }
    }
}
