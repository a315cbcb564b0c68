using Microsoft.ML.OnnxRuntime;

namespace ModelInService;

/// <summary>How non-finite numbers (NaN, +/-infinity) in float and double inputs are treated.</summary>
public enum NonFiniteValuePolicy
{
    /// <summary>Reject the request with a <see cref="ModelInputException"/> (default).</summary>
    Reject,
    /// <summary>Pass them to the model unchanged.</summary>
    Allow,
}

/// <summary>
/// Options of one registered model. Named options: the name is the model name. Validated when the host starts;
/// an invalid value fails start-up with a message that says what to change.
/// </summary>
/// <remarks>Configure before the host starts; changes after loading are not applied.</remarks>
public sealed class ModelOptions
{
    /// <summary>Gets or sets where the model is read from. Required.</summary>
    /// <value>No default: set it, or use the <c>AddModel</c> overload that takes a path.</value>
    public ModelSource? Source { get; set; }

    /// <summary>Gets or sets how many runs may execute at the same time across all session copies.</summary>
    /// <value>0 (default) means <see cref="Environment.ProcessorCount"/>.</value>
    public int MaxConcurrency { get; set; }

    /// <summary>
    /// Gets or sets how many copies of the model (ONNX Runtime sessions) to create. Concurrent runs are spread over
    /// the copies. Measured on the shared models (docs/performance.md), one copy per concurrent run was about 1.1x
    /// faster than one shared session (median of 4 runs, noisy), at a cost of a few MB per copy for those models;
    /// set 1 for large models where memory matters more.
    /// </summary>
    /// <value>0 (default) means one copy per concurrent run, as far as the cores allow (copies x intra-op threads &lt;= cores).</value>
    public int SessionCopies { get; set; }

    /// <summary>
    /// Gets or sets ONNX Runtime's intra-op threads per copy. <see cref="SessionCopies"/> x this may not exceed the
    /// core count unless <see cref="AllowThreadOversubscription"/> is set.
    /// </summary>
    /// <value>0 (default) means cores / <see cref="MaxConcurrency"/>, at least 1, so concurrent runs never oversubscribe the CPU.</value>
    public int IntraOpThreads { get; set; }

    /// <summary>Gets or sets whether ONNX Runtime's intra-op threads spin while waiting for work.</summary>
    /// <value><see langword="null"/> (default): spinning only when a single run at a time uses several threads.</value>
    public bool? AllowSpinning { get; set; }

    /// <summary>Gets or sets whether a thread configuration that exceeds the core count is accepted.</summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool AllowThreadOversubscription { get; set; }

    /// <summary>Gets or sets ONNX Runtime's graph optimization level.</summary>
    /// <value>Default <see cref="GraphOptimizationLevel.ORT_ENABLE_ALL"/>.</value>
    public GraphOptimizationLevel GraphOptimizationLevel { get; set; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>
    /// Gets or sets the execution provider: <c>CPU</c>, <c>CUDA</c>, <c>TensorRT</c>, <c>DirectML</c>, <c>OpenVINO</c>,
    /// <c>ROCm</c>, <c>CoreML</c>, <c>DNNL</c> or <c>XNNPACK</c> (case-insensitive).
    /// </summary>
    /// <value>Default <c>CPU</c>.</value>
    public string ExecutionProvider { get; set; } = "CPU";

    /// <summary>
    /// Gets or sets whether start-up fails when <see cref="ExecutionProvider"/> is not available; otherwise the model
    /// falls back to CPU and a warning is logged.
    /// </summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool ExecutionProviderRequired { get; set; }

    /// <summary>Gets or sets the device id passed to GPU execution providers.</summary>
    /// <value>Default 0.</value>
    public int DeviceId { get; set; }

    /// <summary>Gets provider-specific options passed to the execution provider (by name, as ONNX Runtime documents them).</summary>
    public IDictionary<string, string> ExecutionProviderOptions { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Gets or sets how many warm-up runs each copy gets at start-up, with a synthetic input built from the schema.</summary>
    /// <value>Default 2. 0 disables warm-up.</value>
    public int WarmupRuns { get; set; } = 2;

    /// <summary>Gets or sets how NaN and infinities in float/double inputs are treated (per member: <see cref="AllowNonFiniteAttribute"/>).</summary>
    /// <value>Default <see cref="NonFiniteValuePolicy.Reject"/>.</value>
    public NonFiniteValuePolicy NonFiniteValues { get; set; } = NonFiniteValuePolicy.Reject;

    /// <summary>Gets or sets the longest string (in UTF-16 chars) accepted in a string input.</summary>
    /// <value>Default 65,536.</value>
    public int MaxStringLength { get; set; } = 65_536;

    /// <summary>Gets or sets the most elements one request may put into an input whose row has a free dimension (e.g. a text length).</summary>
    /// <value>Default 1,048,576.</value>
    public int MaxVariableElements { get; set; } = 1 << 20;

    /// <summary>Gets or sets the most rows sent to the model in one run by <c>PredictBatchAsync</c>; longer lists are split.</summary>
    /// <value>Default 256.</value>
    public int MaxRowsPerRun { get; set; } = 256;

    /// <summary>
    /// Gets or sets the batch axis of every input and output that has no entry in <see cref="BatchAxes"/>: the
    /// dimension along which rows are stacked when several run together. It must be a free dimension of each tensor;
    /// -1 means no tensor has a batch axis (the model never batches).
    /// </summary>
    /// <value>
    /// Default <see langword="null"/>: automatic. A free first dimension is the batch axis whatever its symbol
    /// (<c>N</c>, <c>batch_size</c>, <c>unk__6</c>, <c>p2o.DynamicDimension.0</c>, none); otherwise a free dimension
    /// named like an input's batch dimension; otherwise the tensor has no batch axis (an input then carries one value
    /// per run, an output makes the model non-batchable). See <see cref="ModelSignature.Batching"/> for the decision.
    /// </value>
    public int? BatchAxis { get; set; }

    /// <summary>
    /// Gets per-tensor batch axes by input or output name (ordinal), overriding <see cref="BatchAxis"/>: e.g.
    /// <c>o.BatchAxes["state"] = 1</c> for a recurrent state <c>[2,N,128]</c>, or -1 for a tensor without a batch
    /// axis (an input that holds one value for the whole run, such as a sample rate). Names and axes are checked when
    /// the model loads.
    /// </summary>
    public IDictionary<string, int> BatchAxes { get; private set; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>
    /// Gets or sets whether the host keeps starting when this model fails to load. Callers then get the load error
    /// from every prediction.
    /// </summary>
    /// <value>Default <see langword="false"/>: a model that cannot load stops the host from starting.</value>
    public bool ContinueOnLoadError { get; set; }

    /// <summary>
    /// Gets or sets whether ONNX Runtime's CPU memory arena is used: faster repeated runs (buffers are reused), at the
    /// cost of memory that grows to the largest run seen and is not returned to the OS. Turn it off for models run
    /// rarely with very different input sizes.
    /// </summary>
    /// <value>Default <see langword="true"/> (ONNX Runtime's default).</value>
    public bool EnableMemoryArena { get; set; } = true;

    /// <summary>
    /// Gets or sets whether ONNX Runtime plans a run's memory from the previous run of the same shapes (memory pattern).
    /// Helps fixed shapes; with ever-changing shapes (text lengths, dynamic batches) it only adds planning memory.
    /// </summary>
    /// <value>Default <see langword="true"/> (ONNX Runtime's default).</value>
    public bool EnableMemoryPattern { get; set; } = true;

    /// <summary>
    /// Gets or sets whether a classifier's <c>ZipMap</c> node (sklearn-onnx's <c>seq(map)</c> probability output) is
    /// removed from the graph at load, so that ONNX Runtime returns the probability tensor and the maps (or arrays) are
    /// built from it in managed code: the same values and keys, without a native map per row and three native calls to
    /// read each back. The signature, the bound members and the results do not change. A ZipMap whose removal could
    /// change anything is kept, and the reason is logged (event <c>ZipMapKept</c>); docs/schemas.md ("ZipMap outputs") lists the cases.
    /// </summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool RemoveZipMap { get; set; } = true;

    /// <summary>
    /// Gets or sets whether this model's sessions allocate from one CPU arena shared by every model and copy in the
    /// process that sets it (ONNX Runtime's environment allocator, <c>session.use_env_allocators</c>), instead of one
    /// arena per session: several models, or several copies, then hold one pool of run memory rather than one each.
    /// The shared arena is created by the first model that loads with this set, sized by its <see cref="SharedArenaMaxBytes"/>.
    /// </summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool UseSharedAllocator { get; set; }

    /// <summary>Gets or sets the most memory the shared arena may hold (see <see cref="UseSharedAllocator"/>), in bytes; at most 4 GiB - 1.</summary>
    /// <value>Default 0: no limit (ONNX Runtime's default).</value>
    public long SharedArenaMaxBytes { get; set; }

    /// <summary>Gets or sets a callback that adjusts ONNX Runtime's session options after this library has set them.</summary>
    public Action<SessionOptions>? ConfigureSessionOptions { get; set; }

    /// <summary>Gets or sets the name of the first version loaded (see <see cref="ModelVersionInfo.Name"/>), e.g. a release tag.</summary>
    /// <value>Default <see langword="null"/>.</value>
    public string? VersionName { get; set; }

    /// <summary>Gets or sets whether a reload keeps the replaced version loaded so a rollback is instant (costs its memory).</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool KeepPreviousVersion { get; set; } = true;

    /// <summary>
    /// Gets or sets whether a file source is reloaded when the file changes (new version loaded and warmed while the
    /// old one serves, then swapped; a file that fails to load, e.g. half-written, keeps the old version serving).
    /// </summary>
    /// <value>Default <see langword="false"/>.</value>
    public bool WatchForChanges { get; set; }

    /// <summary>Gets or sets how long the file must stay unchanged before a watched reload starts.</summary>
    /// <value>Default 2 seconds.</value>
    public TimeSpan ReloadDebounce { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The streaming options of a model registered with <c>AddStreamingModel</c> (read by its binder at load); null otherwise.</summary>
    internal StreamingOptions? Streaming { get; set; }

    internal ModelOptions Clone()
    {
        var copy = (ModelOptions)MemberwiseClone();
        copy.BatchAxes = new Dictionary<string, int>(BatchAxes, StringComparer.Ordinal);
        return copy;
    }
}
