using ModelInService.Batching;
using ModelInService.Caching;

namespace ModelInService.Telemetry;

/// <summary>What the observable instruments read of each registered model (the registry supplies the models).</summary>
internal interface IObservedModel
{
    /// <summary>Gets the model's name (the <c>model</c> tag).</summary>
    string Name { get; }

    /// <summary>Gets the model's batcher, when it batches and has served a request.</summary>
    IModelBatcher? Batcher { get; }

    /// <summary>Gets the model's prediction cache, when it caches.</summary>
    IPredictionCache? Cache { get; }

    /// <summary>Gets the version number of the generation serving requests, or null when none is loaded.</summary>
    long? ServingVersion { get; }

    /// <summary>Gets the running canary or shadow candidate's counts, or null when there is none.</summary>
    CandidateReport? Candidate { get; }
}
