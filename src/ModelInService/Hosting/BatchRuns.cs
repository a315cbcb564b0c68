using ModelInService.Monitoring;
using ModelInService.Schema;
using ModelInService.Sessions;

namespace ModelInService.Hosting;

/// <summary>Runs the validated rows of one <c>PredictBatchAsync</c> call in chunks, grouped by bucket.</summary>
internal static class BatchRuns
{
    public static async ValueTask<TOutput[]> RunAsync<TInput, TOutput>(IGenerationSource source, TypedBinder<TInput, TOutput> binder, TInput[] rows, IRejectionRecorder? rejections, CancellationToken cancellationToken)
    {
        var results = new TOutput[rows.Length];
        var chunk = binder.Batchable ? source.MaxRowsPerRun : 1;

        // Rows whose free dimension differs (text lengths) cannot share a tensor: run each length as its own group.
        var first = rows.Length > 0 ? binder.BucketOf(rows[0]) : 0;
        var mixed = false;
        for (var i = 1; i < rows.Length && !mixed; i++)
        {
            mixed = binder.BucketOf(rows[i]) != first;
        }

        if (!mixed)
        {
            await RunChunksAsync(source, rows, null, results, chunk, rejections, cancellationToken).ConfigureAwait(false);
            return results;
        }

        var groups = new Dictionary<long, List<int>>();
        for (var i = 0; i < rows.Length; i++)
        {
            var key = binder.BucketOf(rows[i]);
            if (!groups.TryGetValue(key, out var list))
            {
                groups[key] = list = [];
            }

            list.Add(i);
        }

        foreach (var indices in groups.Values)
        {
            var groupRows = new TInput[indices.Count];
            for (var i = 0; i < groupRows.Length; i++)
            {
                groupRows[i] = rows[indices[i]];
            }

            await RunChunksAsync(source, groupRows, indices, results, chunk, rejections, cancellationToken).ConfigureAwait(false);
        }

        return results;
    }

    /// <summary>Runs <paramref name="rows"/> in chunks; output i goes to results[indices?[i] ?? i].</summary>
    private static async Task RunChunksAsync<TInput, TOutput>(IGenerationSource source, TInput[] rows, List<int>? indices, TOutput[] results, int chunk, IRejectionRecorder? rejections, CancellationToken cancellationToken)
    {
        for (var start = 0; start < rows.Length; start += chunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = Math.Min(chunk, rows.Length - start);
            try
            {
                var outputs = await Runs.RunAsync<TInput, TOutput>(source, new ReadOnlyMemory<TInput>(rows, start, count), cancellationToken).ConfigureAwait(false);
                for (var i = 0; i < count; i++)
                {
                    results[indices is null ? start + i : indices[start + i]] = outputs[i];
                }
            }
            catch (ModelInputException ex) when (ex.Index >= 0)
            {
                throw ex.AtIndex(indices is null ? start + ex.Index : indices[start + ex.Index]);
            }
            catch (ModelNonFiniteOutputException ex)
            {
                // A chunk of one row (a model that cannot batch): that row's output was non-finite.
                rejections?.RecordRejected();
                throw ex.AtIndex(indices is null ? start : indices[start]);
            }
            catch (PartialOutputException<TOutput> partial)
            {
                // The call returns all rows or none: it fails with the first row whose output was non-finite.
                rejections?.RecordRejected(partial.FailedCount);
                for (var i = 0; i < count; i++)
                {
                    if (partial.Failures[i] is { } failure)
                    {
                        throw failure.AtIndex(indices is null ? start + i : indices[start + i]);
                    }
                }

                throw;
            }
        }
    }
}
