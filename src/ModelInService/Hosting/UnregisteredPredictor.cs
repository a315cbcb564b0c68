using Microsoft.Extensions.DependencyInjection;

namespace ModelInService.Hosting;

/// <summary>
/// The open-generic <see cref="IPredictor{TInput, TOutput}"/> registration behind every closed one (MS DI prefers a
/// closed registration, so it is only constructed when no model serves these types). Its constructor throws a
/// message listing the registered models, their names and types, instead of the container's generic "No service
/// for type ..." — the usual mistake is a typo in a type or a model registered with other types.
/// </summary>
/// <remarks>
/// When a model does serve these types (resolving <c>IEnumerable&lt;IPredictor&lt;TInput, TOutput&gt;&gt;</c> also
/// constructs open-generic registrations), it forwards to that model's predictor.
/// </remarks>
internal sealed class UnregisteredPredictor<TInput, TOutput> : IPredictor<TInput, TOutput>
{
    private readonly IPredictor<TInput, TOutput> _inner;

    public UnregisteredPredictor(IServiceProvider services, IEnumerable<ModelRegistration> registrations)
    {
        var all = registrations.ToList();
        var match = all.FirstOrDefault(r => r.InputType == typeof(TInput) && r.OutputType == typeof(TOutput));
        if (match is null)
        {
            throw new InvalidOperationException(Describe(all));
        }

        _inner = services.GetRequiredKeyedService<IPredictor<TInput, TOutput>>(match.Name);
    }

    public string ModelName => _inner.ModelName;

    public ValueTask<TOutput> PredictAsync(TInput input, CancellationToken cancellationToken = default) => _inner.PredictAsync(input, cancellationToken);

    public ValueTask<TOutput> PredictAsync(TInput input, PredictionOptions options, CancellationToken cancellationToken = default) => _inner.PredictAsync(input, options, cancellationToken);

    public ValueTask<IReadOnlyList<TOutput>> PredictBatchAsync(IReadOnlyList<TInput> inputs, CancellationToken cancellationToken = default) => _inner.PredictBatchAsync(inputs, cancellationToken);

    internal static string Describe(IReadOnlyList<ModelRegistration> registrations)
    {
        var wanted = $"IPredictor<{Name(typeof(TInput))}, {Name(typeof(TOutput))}>";
        var models = registrations.Count == 0
            ? "no model is registered"
            : "registered models: " + string.Join(", ", registrations.Select(r => r.InputType is null
                ? $"'{r.Name}' (named tensors: IModelRunner)"
                : $"'{r.Name}' (IPredictor<{Name(r.InputType)}, {Name(r.OutputType!)}>)"));
        return $"No model serves {wanted}; {models}. Register one with services.AddModel<{Name(typeof(TInput))}, {Name(typeof(TOutput))}>(\"name\", o => o.Source = ModelSource.FromFile(...)), or inject one of the registered types.";
    }

    private static string Name(Type type) => type.FullName ?? type.Name;
}
