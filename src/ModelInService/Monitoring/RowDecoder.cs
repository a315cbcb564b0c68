using System.Globalization;
using ModelInService.Sketches;

namespace ModelInService.Monitoring;

/// <summary>What the consumer learned about one row besides its features: the id, the prediction and its confidence.</summary>
internal struct RowFacts
{
    public string? Id;

    /// <summary>Whether a categorical output (a label) was found; otherwise <see cref="Value"/> is a regression value.</summary>
    public bool IsClassification;

    public bool HasPrediction;

    /// <summary>The predicted label as text (labels and codes).</summary>
    public string? Label;

    /// <summary>The predicted code or regression value.</summary>
    public double Value;

    public double Top;

    public double Margin;

    /// <summary>Where the row starts in the block, to decode its inputs again for the evaluation store.</summary>
    public int NumberStart;

    public int LabelStart;
}

/// <summary>
/// Decodes rows written by a <see cref="PredictionRecorder{TInput, TOutput}"/> into feature profiles: scalars as
/// themselves; vectors element by element when short, else norm, mean and seeded random projections; probability
/// vectors and dictionaries also as top probability and margin. Feature names are resolved once and cached by
/// position, so the per-row cost is the profile updates. Not thread-safe: used under the monitor's state lock.
/// </summary>
internal sealed class RowDecoder
{
    private readonly RowSchema _schema;
    private readonly FeatureCatalog _catalog;
    private readonly SlotState[] _slots;
    private readonly int _maxElements;
    private readonly int _maxTabular;
    private readonly int _projections;
    private readonly int _seed;

    public RowDecoder(RowSchema schema, FeatureCatalog catalog, MonitoringOptions options)
    {
        _schema = schema;
        _catalog = catalog;
        _maxElements = options.MaxVectorElements;
        _maxTabular = options.MaxTabularFeatures;
        _projections = options.ProjectionCount;
        _seed = options.Seed;
        _slots = new SlotState[schema.Slots.Count];
        for (var i = 0; i < _slots.Length; i++)
        {
            var slot = schema.Slots[i];
            _slots[i] = new SlotState(slot);
            if (slot.Encoding is SlotEncoding.Number or SlotEncoding.Label)
            {
                // Scalars are registered up front so reports list them even before data arrives.
                _slots[i].Scalar = catalog.GetOrAdd(slot.Name, slot.Role, slot.Categorical ? FeatureKind.Categorical : FeatureKind.Numeric);
            }
        }
    }

    public RowSchema Schema => _schema;

    /// <summary>Decodes every row of <paramref name="block"/> into <paramref name="target"/>; calls <paramref name="observe"/> per row when given.</summary>
    public void Apply(RecordBlock block, IntervalProfile target, ProfileFactory factory, Action<RowFacts>? observe)
    {
        var numbers = block.Numbers;
        var labels = block.Labels;
        var ni = 0;
        var li = 0;
        for (var row = 0; row < block.Rows; row++)
        {
            var facts = new RowFacts { NumberStart = ni, LabelStart = li, Top = double.NaN, Margin = double.NaN };
            if (_schema.HasId)
            {
                facts.Id = labels[li++];
            }

            for (var s = 0; s < _slots.Length; s++)
            {
                DecodeSlot(_slots[s], numbers, labels, ref ni, ref li, target, factory, ref facts);
            }

            observe?.Invoke(facts);
        }

        target.Rows += block.Rows;
        target.SchemaViolations += block.SchemaViolations;
    }

    /// <summary>Decodes the input features of the row at the given offsets into name/value pairs (for the evaluation store).</summary>
    public Dictionary<string, object?> ReadInputs(RecordBlock block, int numberStart, int labelStart)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        var ni = numberStart;
        var li = labelStart + (_schema.HasId ? 1 : 0);
        foreach (var state in _slots)
        {
            var slot = state.Slot;
            switch (slot.Encoding)
            {
                case SlotEncoding.Number:
                    var value = block.Numbers[ni++];
                    if (slot.Role == FeatureRole.Input)
                    {
                        result[slot.Name] = slot.Categorical ? (long)value : value;
                    }

                    break;
                case SlotEncoding.Label:
                    var label = block.Labels[li++];
                    if (slot.Role == FeatureRole.Input)
                    {
                        result[slot.Name] = label;
                    }

                    break;
                case SlotEncoding.NumberVector:
                    var n = (int)block.Numbers[ni++];
                    if (n > 0)
                    {
                        if (slot.Role == FeatureRole.Input)
                        {
                            result[slot.Name] = block.Numbers.AsSpan(ni, n).ToArray();
                        }

                        ni += n;
                    }

                    break;
                case SlotEncoding.LabelVector:
                    var m = (int)block.Numbers[ni++];
                    if (m > 0)
                    {
                        if (slot.Role == FeatureRole.Input)
                        {
                            result[slot.Name] = block.Labels.AsSpan(li, m).ToArray();
                        }

                        li += m;
                    }

                    break;
                case SlotEncoding.CodeDictionary:
                    ni += Math.Max(0, (int)block.Numbers[ni]) * 2 + 1;
                    break;
                case SlotEncoding.LabelDictionary:
                    var entries = Math.Max(0, (int)block.Numbers[ni]);
                    ni += entries + 1;
                    li += entries;
                    break;
            }
        }

        return result;
    }

    private void DecodeSlot(SlotState state, double[] numbers, string?[] labels, ref int ni, ref int li, IntervalProfile target, ProfileFactory factory, ref RowFacts facts)
    {
        var slot = state.Slot;
        switch (slot.Encoding)
        {
            case SlotEncoding.Number:
            {
                var value = numbers[ni++];
                var profile = target.GetOrCreate(_catalog[state.Scalar], factory);
                if (slot.Categorical)
                {
                    profile.Update((long)value);
                }
                else
                {
                    profile.Update(value);
                }

                if (slot.Role == FeatureRole.Output && !facts.HasPrediction)
                {
                    facts.HasPrediction = true;
                    facts.IsClassification = slot.Categorical;
                    facts.Value = value;
                    facts.Label = slot.Categorical ? ((long)value).ToString(CultureInfo.InvariantCulture) : null;
                }

                break;
            }

            case SlotEncoding.Label:
            {
                var label = labels[li++];
                target.GetOrCreate(_catalog[state.Scalar], factory).Update(label);
                if (slot.Role == FeatureRole.Output && !facts.HasPrediction)
                {
                    facts.HasPrediction = true;
                    facts.IsClassification = true;
                    facts.Label = label;
                    facts.Value = double.NaN;
                }

                break;
            }

            case SlotEncoding.NumberVector:
            {
                var n = (int)numbers[ni++];
                if (n < 0)
                {
                    break;
                }

                var values = new ReadOnlySpan<double>(numbers, ni, n);
                ni += n;
                state.Length = n;
                if (n <= Limit(state))
                {
                    for (var i = 0; i < n; i++)
                    {
                        var profile = target.GetOrCreate(_catalog[state.Element(i, _catalog)], factory);
                        if (slot.Categorical)
                        {
                            profile.Update((long)values[i]);
                        }
                        else
                        {
                            profile.Update(values[i]);
                        }
                    }

                    if (slot.Role == FeatureRole.Output && !slot.Categorical && n >= 2)
                    {
                        TopAndMargin(values, out var top, out var margin);
                        target.GetOrCreate(_catalog[state.TopId(_catalog)], factory).Update(top);
                        target.GetOrCreate(_catalog[state.MarginId(_catalog)], factory).Update(margin);
                        if (double.IsNaN(facts.Top))
                        {
                            facts.Top = top;
                            facts.Margin = margin;
                        }
                    }
                }
                else if (!slot.Categorical)
                {
                    Summarize(state, values, target, factory);
                }

                break;
            }

            case SlotEncoding.LabelVector:
            {
                var n = (int)numbers[ni++];
                if (n < 0)
                {
                    break;
                }

                state.Length = n;

                for (var i = 0; i < n; i++)
                {
                    var label = labels[li++];
                    if (i < _maxElements)
                    {
                        target.GetOrCreate(_catalog[state.Element(i, _catalog)], factory).Update(label);
                    }
                }

                break;
            }

            case SlotEncoding.CodeDictionary:
            case SlotEncoding.LabelDictionary:
            {
                var n = (int)numbers[ni++];
                if (n < 0)
                {
                    break;
                }

                double top = double.NegativeInfinity, second = double.NegativeInfinity;
                string? argmax = null;
                for (var i = 0; i < n; i++)
                {
                    int id;
                    string keyText;
                    if (slot.Encoding == SlotEncoding.CodeDictionary)
                    {
                        var code = (long)numbers[ni++];
                        (id, keyText) = state.CodeKey(code, _catalog);
                    }
                    else
                    {
                        (id, keyText) = state.LabelKey(labels[li++] ?? "", _catalog);
                    }

                    var value = numbers[ni++];
                    target.GetOrCreate(_catalog[id], factory).Update(value);
                    if (value > top)
                    {
                        second = top;
                        top = value;
                        argmax = keyText;
                    }
                    else if (value > second)
                    {
                        second = value;
                    }
                }

                if (n > 0)
                {
                    var margin = n > 1 ? top - second : top;
                    target.GetOrCreate(_catalog[state.TopId(_catalog)], factory).Update(top);
                    target.GetOrCreate(_catalog[state.MarginId(_catalog)], factory).Update(margin);
                    target.GetOrCreate(_catalog[state.ArgMaxId(_catalog)], factory).Update(argmax);
                    if (double.IsNaN(facts.Top))
                    {
                        facts.Top = top;
                        facts.Margin = margin;
                    }

                    if (!facts.HasPrediction)
                    {
                        facts.HasPrediction = true;
                        facts.IsClassification = true;
                        facts.Label = argmax;
                        facts.Value = slot.Encoding == SlotEncoding.CodeDictionary ? double.Parse(argmax!, CultureInfo.InvariantCulture) : double.NaN;
                    }
                }

                break;
            }
        }
    }

    /// <summary>The longest vector of this slot profiled element by element: <see cref="MonitoringOptions.MaxTabularFeatures"/> for a tabular input, else <see cref="MonitoringOptions.MaxVectorElements"/>. Decided once per slot.</summary>
    private int Limit(SlotState state)
    {
        if (state.Limit >= 0)
        {
            return state.Limit;
        }

        var (tabular, known) = IsTabular(state.Slot);
        var limit = tabular ? Math.Max(_maxTabular, _maxElements) : _maxElements;
        if (known)
        {
            state.Limit = limit;
        }

        return limit;
    }

    /// <summary>Whether a slot is a tabular input (<c>[batch, F]</c> with a fixed F, or a plain vector when there is no model signature), and whether that is final.</summary>
    private (bool Tabular, bool Known) IsTabular(SlotDescriptor slot)
    {
        if (slot.Role != FeatureRole.Input || slot.Encoding != SlotEncoding.NumberVector)
        {
            return (false, true);
        }

        if (slot.Tensor is null || _schema.FindSpec is not { } find)
        {
            return (true, true);
        }

        if (find(slot.Tensor, slot.Role) is not { } spec)
        {
            return (true, false); // the model is not loaded yet: decide when it is
        }

        return (spec.Dimensions.Count switch
        {
            0 or 1 => true,
            2 => spec.Dimensions[1] >= 0,
            _ => false,
        }, true);
    }

    /// <summary>How each member is profiled: the decision, the features it gives and why (start-up log and reports).</summary>
    public IReadOnlyList<MonitoredMember> Describe()
    {
        var result = new List<MonitoredMember>(_slots.Length);
        foreach (var state in _slots)
        {
            var slot = state.Slot;
            var spec = slot.Tensor is null ? null : _schema.FindSpec?.Invoke(slot.Tensor, slot.Role);
            var tensor = spec is null ? "" : Inv($" ({(slot.Role == FeatureRole.Input ? "input" : "output")} '{spec.Name}' {spec})");
            switch (slot.Encoding)
            {
                case SlotEncoding.Number:
                case SlotEncoding.Label:
                    result.Add(new MonitoredMember(slot.Name, slot.Role, MonitoredTreatment.Scalar, 1, Inv($"{slot.Name}: one {(slot.Categorical ? "categorical" : "numeric")} feature{tensor}")));
                    break;
                case SlotEncoding.NumberVector:
                {
                    var (tabular, _) = IsTabular(slot);
                    var limit = tabular ? Math.Max(_maxTabular, _maxElements) : _maxElements;
                    var length = state.Length >= 0 ? state.Length : ExpectedLength(spec);
                    var rule = tabular
                        ? Inv($"tabular input: up to MaxTabularFeatures = {limit} features one by one")
                        : slot.Role == FeatureRole.Output
                            ? Inv($"output: up to MaxVectorElements = {limit} elements one by one")
                            : Inv($"not tabular (rank {spec?.Dimensions.Count ?? 0}{(spec is { Dimensions.Count: 2 } ? ", free second dimension" : "")}): up to MaxVectorElements = {limit} elements one by one");
                    if (length < 0)
                    {
                        result.Add(new MonitoredMember(slot.Name, slot.Role, MonitoredTreatment.PerElement, -1, Inv($"{slot.Name}: length not known yet{tensor}; {rule}, longer vectors summarized ({slot.Name}.norm, .mean, {_projections} projections)")));
                    }
                    else if (length <= limit)
                    {
                        var extra = slot.Role == FeatureRole.Output && !slot.Categorical && length >= 2 ? 2 : 0;
                        result.Add(new MonitoredMember(slot.Name, slot.Role, MonitoredTreatment.PerElement, length + extra,
                            Inv($"{slot.Name}: {length} features {slot.Name}[0]..{slot.Name}[{length - 1}]{(extra > 0 ? $", {slot.Name}.top, {slot.Name}.margin" : "")}{tensor}; {rule}")));
                    }
                    else if (slot.Categorical)
                    {
                        result.Add(new MonitoredMember(slot.Name, slot.Role, MonitoredTreatment.NotProfiled, 0, Inv($"{slot.Name}: {length} categorical elements{tensor}, more than {limit}: not profiled")));
                    }
                    else
                    {
                        result.Add(new MonitoredMember(slot.Name, slot.Role, MonitoredTreatment.Summarized, 2 + _projections,
                            Inv($"{slot.Name}: {length} elements{tensor} summarized as {slot.Name}.norm, {slot.Name}.mean and {_projections} random projections; {rule}")));
                    }

                    break;
                }

                case SlotEncoding.LabelVector:
                    result.Add(new MonitoredMember(slot.Name, slot.Role, MonitoredTreatment.PerElement, state.Length >= 0 ? Math.Min(state.Length, _maxElements) : -1,
                        Inv($"{slot.Name}: one categorical feature per element, the first MaxVectorElements = {_maxElements}{tensor}")));
                    break;
                default:
                    result.Add(new MonitoredMember(slot.Name, slot.Role, MonitoredTreatment.Dictionary, -1,
                        Inv($"{slot.Name}: {slot.Name}[key] per key (first MaxVectorElements = {_maxElements}), {slot.Name}.top, {slot.Name}.margin, {slot.Name}.argmax")));
                    break;
            }
        }

        return result;
    }

    private static int ExpectedLength(TensorSpec? spec)
    {
        if (spec is null || spec.Dimensions.Count < 2)
        {
            return -1;
        }

        long length = 1;
        for (var d = 1; d < spec.Dimensions.Count; d++)
        {
            if (spec.Dimensions[d] < 0)
            {
                return -1;
            }

            length *= spec.Dimensions[d];
        }

        return (int)Math.Min(length, NumberVectors.MaxRecordedElements);
    }

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private void Summarize(SlotState state, ReadOnlySpan<double> values, IntervalProfile target, ProfileFactory factory)
    {
        var sum = 0.0;
        var squares = 0.0;
        foreach (var v in values)
        {
            sum += v;
            squares += v * v;
        }

        state.EnsureSummaries(_catalog, _projections);
        target.GetOrCreate(_catalog[state.Norm], factory).Update(Math.Sqrt(squares));
        target.GetOrCreate(_catalog[state.Mean], factory).Update(values.Length == 0 ? double.NaN : sum / values.Length);
        if (_projections == 0)
        {
            return;
        }

        var signs = state.Signs(values.Length, _projections, _seed);
        var scale = 1.0 / Math.Sqrt(Math.Max(1, values.Length));
        for (var p = 0; p < _projections; p++)
        {
            var row = signs[p];
            var acc = 0.0;
            for (var i = 0; i < values.Length; i++)
            {
                acc += row[i] * values[i];
            }

            target.GetOrCreate(_catalog[state.Projections[p]], factory).Update(acc * scale);
        }
    }

    private static void TopAndMargin(ReadOnlySpan<double> values, out double top, out double margin)
    {
        top = double.NegativeInfinity;
        var second = double.NegativeInfinity;
        foreach (var v in values)
        {
            if (v > top)
            {
                second = top;
                top = v;
            }
            else if (v > second)
            {
                second = v;
            }
        }

        margin = top - second;
    }

    /// <summary>Per-slot cache of feature ids (elements, summaries, dictionary keys) and projection signs.</summary>
    private sealed class SlotState(SlotDescriptor slot)
    {
        private int[] _elements = [];
        private Dictionary<long, (int, string)>? _codes;
        private Dictionary<string, (int, string)>? _labels;
        private int _top = -1;
        private int _margin = -1;
        private int _argmax = -1;
        private sbyte[][]? _signs;

        public SlotDescriptor Slot { get; } = slot;

        public int Scalar { get; set; } = -1;

        /// <summary>The longest vector profiled element by element, once decided; -1 before.</summary>
        public int Limit { get; set; } = -1;

        /// <summary>The length of the last vector seen; -1 before.</summary>
        public int Length { get; set; } = -1;

        public int Norm { get; private set; } = -1;

        public int Mean { get; private set; } = -1;

        public int[] Projections { get; private set; } = [];

        private FeatureKind ElementKind => Slot.Categorical ? FeatureKind.Categorical : FeatureKind.Numeric;

        public int Element(int i, FeatureCatalog catalog)
        {
            if (i >= _elements.Length)
            {
                var old = _elements.Length;
                Array.Resize(ref _elements, i + 1);
                for (var j = old; j <= i; j++)
                {
                    _elements[j] = catalog.GetOrAdd(string.Create(CultureInfo.InvariantCulture, $"{Slot.Name}[{j}]"), Slot.Role, ElementKind);
                }
            }

            return _elements[i];
        }

        public int TopId(FeatureCatalog catalog) =>
            _top >= 0 ? _top : _top = catalog.GetOrAdd(Slot.Name + ".top", Slot.Role, FeatureKind.Numeric);

        public int MarginId(FeatureCatalog catalog) =>
            _margin >= 0 ? _margin : _margin = catalog.GetOrAdd(Slot.Name + ".margin", Slot.Role, FeatureKind.Numeric);

        public int ArgMaxId(FeatureCatalog catalog) =>
            _argmax >= 0 ? _argmax : _argmax = catalog.GetOrAdd(Slot.Name + ".argmax", Slot.Role, FeatureKind.Categorical);

        public (int, string) CodeKey(long code, FeatureCatalog catalog)
        {
            _codes ??= [];
            if (!_codes.TryGetValue(code, out var entry))
            {
                var text = code.ToString(CultureInfo.InvariantCulture);
                entry = (catalog.GetOrAdd($"{Slot.Name}[{text}]", Slot.Role, FeatureKind.Numeric), text);
                _codes.Add(code, entry);
            }

            return entry;
        }

        public (int, string) LabelKey(string key, FeatureCatalog catalog)
        {
            _labels ??= new(StringComparer.Ordinal);
            if (!_labels.TryGetValue(key, out var entry))
            {
                entry = (catalog.GetOrAdd($"{Slot.Name}[{key}]", Slot.Role, FeatureKind.Numeric), key);
                _labels.Add(key, entry);
            }

            return entry;
        }

        public void EnsureSummaries(FeatureCatalog catalog, int projections)
        {
            if (Norm >= 0)
            {
                return;
            }

            Norm = catalog.GetOrAdd(Slot.Name + ".norm", Slot.Role, FeatureKind.Numeric);
            Mean = catalog.GetOrAdd(Slot.Name + ".mean", Slot.Role, FeatureKind.Numeric);
            Projections = new int[projections];
            for (var p = 0; p < projections; p++)
            {
                Projections[p] = catalog.GetOrAdd(string.Create(CultureInfo.InvariantCulture, $"{Slot.Name}.projection{p}"), Slot.Role, FeatureKind.Numeric);
            }
        }

        /// <summary>±1 signs of the fixed projections for vectors of <paramref name="length"/>: a pure function of (seed, projection, element), so every process and restart projects alike.</summary>
        public sbyte[][] Signs(int length, int projections, int seed)
        {
            if (_signs is { } cached && cached[0].Length == length)
            {
                return cached;
            }

            var signs = new sbyte[projections][];
            for (var p = 0; p < projections; p++)
            {
                signs[p] = new sbyte[length];
                for (var i = 0; i < length; i++)
                {
                    signs[p][i] = (SplitMix64(((ulong)(uint)seed << 32) ^ ((ulong)p << 24) ^ (ulong)i) >> 63) == 0 ? (sbyte)1 : (sbyte)-1;
                }
            }

            _signs = signs;
            return signs;
        }

        private static ulong SplitMix64(ulong x)
        {
            x += 0x9E3779B97F4A7C15UL;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
            return x ^ (x >> 31);
        }
    }
}
