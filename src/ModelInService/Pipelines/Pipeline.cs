using ModelInService.Schema;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ModelInService.Monitoring;

namespace ModelInService;

/// <summary>Marks a model that has a pipeline (registered by <c>WithPipeline</c>); the monitor registry reads it.</summary>
internal sealed record PipelineRegistration(string Name, Type RequestType, Type ResponseType, Func<MonitoringOptions, TimeProvider, IServiceProvider, RecorderBase> CreateRecorder)
{
    /// <summary>The name of the monitor that profiles the pipeline's requests and responses.</summary>
    public static string MonitorName(string model) => model + ":pipeline";
}

/// <summary>
/// A model wrapped in typed pre- and post-processing: the request is turned into the model's input, the model
/// predicts (batching, caching, validation, monitoring of the model's own input as usual), and the response is built
/// from the request and the prediction.
/// </summary>
internal sealed class PipelinePredictor<TRequest, TInput, TOutput, TResponse> : IPredictor<TRequest, TResponse>
{
    private readonly IPredictor<TInput, TOutput> _model;
    private readonly Func<TRequest, CancellationToken, ValueTask<TInput>> _preprocess;
    private readonly Func<TRequest, TOutput, TResponse> _postprocess;
    private readonly PredictionRecorder<TRequest, TResponse>? _recorder;

    public PipelinePredictor(IPredictor<TInput, TOutput> model, Func<TRequest, CancellationToken, ValueTask<TInput>> preprocess, Func<TRequest, TOutput, TResponse> postprocess, PredictionRecorder<TRequest, TResponse>? recorder)
    {
        _model = model;
        _preprocess = preprocess;
        _postprocess = postprocess;
        _recorder = recorder;
    }

    public string ModelName => _model.ModelName;

    public ValueTask<TResponse> PredictAsync(TRequest input, CancellationToken cancellationToken = default) => PredictCoreAsync(input, null, cancellationToken);

    public ValueTask<TResponse> PredictAsync(TRequest input, PredictionOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return PredictCoreAsync(input, options, cancellationToken);
    }

    public async ValueTask<IReadOnlyList<TResponse>> PredictBatchAsync(IReadOnlyList<TRequest> inputs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var modelInputs = new TInput[inputs.Count];
        for (var i = 0; i < modelInputs.Length; i++)
        {
            try
            {
                modelInputs[i] = await Preprocess(inputs[i], cancellationToken).ConfigureAwait(false);
            }
            catch (ModelInputException ex)
            {
                throw ex.AtIndex(i);
            }
        }

        var outputs = await _model.PredictBatchAsync(modelInputs, cancellationToken).ConfigureAwait(false);
        var responses = new TResponse[outputs.Count];
        for (var i = 0; i < responses.Length; i++)
        {
            responses[i] = Postprocess(inputs[i], outputs[i]);
            _recorder?.Record(inputs[i], responses[i]);
        }

        return responses;
    }

    private async ValueTask<TResponse> PredictCoreAsync(TRequest request, PredictionOptions? options, CancellationToken cancellationToken)
    {
        var input = await Preprocess(request, cancellationToken).ConfigureAwait(false);
        var output = options is null
            ? await _model.PredictAsync(input, cancellationToken).ConfigureAwait(false)
            : await _model.PredictAsync(input, options, cancellationToken).ConfigureAwait(false);
        var response = Postprocess(request, output);
        _recorder?.Record(request, response);
        return response;
    }

    /// <summary>The post-processing step; a null response is refused by name (it reached the monitor as a NullReferenceException).</summary>
    private TResponse Postprocess(TRequest request, TOutput output) =>
        _postprocess(request, output) ?? throw new InvalidOperationException($"The post-processing step of pipeline '{ModelName}' returned null; it must return a {typeof(TResponse).Name}.");

    private ValueTask<TInput> Preprocess(TRequest request, CancellationToken cancellationToken)
    {
        if (request is null)
        {
            _recorder?.RecordRejected();
            throw new ModelInputException(ModelName, null, "the request is null.");
        }

        ValueTask<TInput> pending;
        try
        {
            pending = _preprocess(request, cancellationToken);
        }
        catch (ModelInputException)
        {
            // A step that rejects the request is a schema violation of the pipeline's input.
            _recorder?.RecordRejected();
            throw;
        }

        return pending.IsCompletedSuccessfully || _recorder is null ? pending : CountRejectionAsync(pending);
    }

    /// <summary>An asynchronous step's rejection counts as one too (only a synchronous throw was counted).</summary>
    private async ValueTask<TInput> CountRejectionAsync(ValueTask<TInput> pending)
    {
        try
        {
            return await pending.ConfigureAwait(false);
        }
        catch (ModelInputException)
        {
            _recorder!.RecordRejected();
            throw;
        }
    }
}

/// <summary>Registration of pipelines (see <see cref="PipelineBuilderExtensions.WithPipeline{TRequest, TInput, TOutput, TResponse}(ModelBuilder, Func{TRequest, TInput}, Func{TRequest, TOutput, TResponse})"/>).</summary>
internal static class Pipelines
{
    public static void Register<[DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TRequest, TInput, TOutput, [DynamicallyAccessedMembers(MemberModel.SchemaMembers)] TResponse>(ModelBuilder builder, Func<TRequest, CancellationToken, ValueTask<TInput>> preprocess, Func<TRequest, TOutput, TResponse> postprocess)
    {
        var registration = builder.Registration;
        if (registration.InputType != typeof(TInput) || registration.OutputType != typeof(TOutput))
        {
            throw new InvalidOperationException(
                $"Model '{builder.Name}' takes {registration.InputType?.Name ?? "named tensors"} and returns {registration.OutputType?.Name ?? "named tensors"}, "
                + $"but the pipeline's steps produce {typeof(TInput).Name} and consume {typeof(TOutput).Name}. The pre-processing step must return the model's input type and the post-processing step take its output type.");
        }

        var services = builder.Services;
        var name = builder.Name;
        if (services.Any(d => d.ServiceType == typeof(PipelineRegistration) && d.ImplementationInstance is PipelineRegistration p && p.Name == name))
        {
            throw new InvalidOperationException($"Model '{name}' already has a pipeline; compose the steps into one pre- and one post-processing function.");
        }

        services.AddSingleton(new PipelineRegistration(name, typeof(TRequest), typeof(TResponse), MonitorRegistry.RecorderFactory<TRequest, TResponse>(name, noPredictorReason: null)));
        services.AddKeyedSingleton<IPredictor<TRequest, TResponse>>(name, (sp, key) =>
        {
            var model = sp.GetRequiredKeyedService<IPredictor<TInput, TOutput>>(key);
            var recorder = sp.GetService<MonitorRegistry>()?.FindPipelineRecorder(name) as PredictionRecorder<TRequest, TResponse>;
            return new PipelinePredictor<TRequest, TInput, TOutput, TResponse>(model, preprocess, postprocess, recorder);
        });
        services.TryAddSingleton<IPredictor<TRequest, TResponse>>(sp => sp.GetRequiredKeyedService<IPredictor<TRequest, TResponse>>(name));
        MonitoringBuilderExtensions.AddPipelineMonitor(services, name);
    }
}
