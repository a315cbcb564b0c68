using System.Diagnostics;
using ModelInService.Batching;
using ModelInService.Monitoring;
using ModelInService.Schema;
using ModelInService.Sessions;
using ModelInService.Telemetry;

namespace ModelInService.Hosting;

/// <summary>
/// The typed predictor: the head of the model's chain of stages (<see cref="PredictionChain"/>). It takes one
/// snapshot of the serving generation per call and hands it, with the request, to the first stage.
/// </summary>
[DebuggerDisplay("IPredictor<{typeof(TInput).Name,nq}, {typeof(TOutput).Name,nq}> for {ModelName}")]
internal sealed class Predictor<TInput, TOutput> : IPredictor<TInput, TOutput>, IStartableChain
{
    private readonly IGenerationSource _source;
    private readonly PredictionStage<TInput, TOutput> _first;

    /// <summary>The monitor's recorder for <see cref="PredictBatchAsync"/>, which runs without the per-request stages; null when not monitored.</summary>
    private readonly PredictionRecorder<TInput, TOutput>? _recorder;

    /// <summary>The name of the PredictBatchAsync span, made on first use (only while traced).</summary>
    private string? _batchSpanName;

    /// <summary>What the chain does when the model has loaded (the batching stage makes its batcher); null when nothing.</summary>
    private readonly Action? _start;

    /// <summary>Counts <see cref="PredictBatchAsync"/> calls (the metrics stage counts requests); null without an <c>IMeterFactory</c>.</summary>
    private readonly ModelMetrics? _metrics;

    public Predictor(IGenerationSource source, PredictionStage<TInput, TOutput> first, PredictionRecorder<TInput, TOutput>? recorder, Action? start = null, ModelMetrics? metrics = null)
    {
        _source = source;
        _first = first;
        _recorder = recorder;
        _start = start;
        _metrics = metrics;
    }

    /// <inheritdoc/>
    public void Start() => _start?.Invoke();

    public string ModelName => _source.Name;

    /// <summary>The first stage (tests and diagnostics read the composed chain from here).</summary>
    internal PredictionStage<TInput, TOutput> First => _first;

    public ValueTask<TOutput> PredictAsync(TInput input, CancellationToken cancellationToken = default) =>
        _first.PredictAsync(Serving<TInput, TOutput>.Take(_source), input, null, cancellationToken);

    public ValueTask<TOutput> PredictAsync(TInput input, PredictionOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Timeout is { } timeout && (timeout < TimeSpan.Zero || timeout > BatchingOptionsValidator.MaxTimer))
        {
            throw new ArgumentOutOfRangeException(nameof(options), timeout, $"PredictionOptions.Timeout must be between 0 and {BatchingOptionsValidator.MaxTimer.TotalDays:0} days.");
        }

        return _first.PredictAsync(Serving<TInput, TOutput>.Take(_source), input, options, cancellationToken);
    }

    /// <summary>
    /// Many rows in one call: validated together (all or none run), then run directly in chunks of the model's best
    /// run size, grouped by bucket (text lengths); no cache or queue, recorded for the monitor at the end.
    /// </summary>
    public async ValueTask<IReadOnlyList<TOutput>> PredictBatchAsync(IReadOnlyList<TInput> inputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        using var activity = ModelTracing.Enabled ? ModelTracing.Source.StartActivity(_batchSpanName ??= "predict_batch " + _source.Name, ActivityKind.Internal) : null;
        activity?.SetTag(ModelTracing.ModelTag, _source.Name);
        activity?.SetTag(ModelTracing.RowsTag, inputs.Count);
        var recorder = _recorder;
        var pending = recorder?.BeginPending() ?? -1;
        var started = Stopwatch.GetTimestamp();
        try
        {
            var serving = Serving<TInput, TOutput>.Of(_source.Current);
            var rows = new TInput[inputs.Count];
            for (var i = 0; i < rows.Length; i++)
            {
                if ((i & 1023) == 1023)
                {
                    // A million rows take a quarter second to validate: a cancellation is seen within 1,024 rows.
                    cancellationToken.ThrowIfCancellationRequested();
                }

                rows[i] = inputs[i];
                try
                {
                    serving.Binder.Validate(rows[i]);
                }
                catch (ModelInputException ex)
                {
                    throw ex.AtIndex(i);
                }
            }

            activity?.SetTag(ModelTracing.VersionTag, serving.Runtime.Version);
            var results = await BatchRuns.RunAsync(_source, serving.Binder, rows, recorder, cancellationToken).ConfigureAwait(false);
            recorder?.RecordBatch(rows, results, serving.Runtime.Info.Sha256);
            activity?.SetTag(ModelTracing.OutcomeTag, Outcomes.Success);
            _metrics?.BatchCallCompleted(_source.Name, Outcomes.Success, inputs.Count, started);
            return results;
        }
        catch (Exception ex) when (activity is not null || _metrics is not null)
        {
            if (activity is not null)
            {
                ModelTracing.Failed(activity, ex);
            }

            _metrics?.BatchCallCompleted(_source.Name, Outcomes.Of(ex), inputs.Count, started);
            throw;
        }
        finally
        {
            if (pending >= 0)
            {
                recorder!.EndPending(pending);
            }
        }
    }
}

/// <summary>A composed chain whose stages have work to do once the model has loaded (called by the registry at start).</summary>
internal interface IStartableChain
{
    /// <summary>Prepares the stages that need a loaded model (the batcher, sized by the model's batch dimension).</summary>
    void Start();
}
