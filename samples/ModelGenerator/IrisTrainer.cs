namespace ModelInService.ModelGenerator;

/// <summary>
/// The trained Iris classifier: standardisation constants plus a 4-16-3 MLP with ReLU, all float32 as stored in the
/// ONNX initializers. Weight matrices are row-major [in, out], the layout ONNX MatMul expects.
/// </summary>
internal sealed record IrisNetwork(
    float[] Mean,
    float[] Std,
    float[] W1,
    float[] B1,
    float[] W2,
    float[] B2,
    int Hidden,
    double TrainingAccuracy)
{
    /// <summary>Class probabilities for raw features in centimetres, computed like the ONNX graph does.</summary>
    public double[] Predict(ReadOnlySpan<float> features)
    {
        var hidden = new double[Hidden];
        for (var j = 0; j < Hidden; j++)
        {
            double sum = B1[j];
            for (var i = 0; i < IrisDataset.FeatureCount; i++)
            {
                var z = (features[i] - Mean[i]) / Std[i];
                sum += z * W1[(i * Hidden) + j];
            }

            hidden[j] = Math.Max(0.0, sum);
        }

        var logits = new double[IrisDataset.ClassCount];
        for (var c = 0; c < logits.Length; c++)
        {
            double sum = B2[c];
            for (var j = 0; j < Hidden; j++)
            {
                sum += hidden[j] * W2[(j * IrisDataset.ClassCount) + c];
            }

            logits[c] = sum;
        }

        return IrisTrainer.Softmax(logits);
    }
}

/// <summary>
/// Trains the Iris MLP with full-batch Adam on softmax cross-entropy. Deterministic: a fixed seed, a fixed number of
/// steps, plain loops in a fixed order, and <see cref="DeterministicMath"/> instead of the C runtime's exp/pow, so the
/// weights (and so the .onnx bytes) are identical on every run and platform.
/// </summary>
internal static class IrisTrainer
{
    public const int Hidden = 16;
    private const int Steps = 1500;
    private const double LearningRate = 0.01;
    private const double Beta1 = 0.9;
    private const double Beta2 = 0.999;
    private const double Epsilon = 1e-8;
    private const double L2 = 1e-4;
    private const ulong Seed = 20240917;

    public static IrisNetwork Train()
    {
        const int inputs = IrisDataset.FeatureCount;
        const int classes = IrisDataset.ClassCount;
        var n = IrisDataset.Count;

        // Standardisation constants (population standard deviation), rounded to float32 as stored in the graph.
        var mean = new float[inputs];
        var std = new float[inputs];
        for (var i = 0; i < inputs; i++)
        {
            var sum = 0.0;
            for (var r = 0; r < n; r++)
            {
                sum += IrisDataset.Features(r)[i];
            }

            var m = sum / n;
            var squares = 0.0;
            for (var r = 0; r < n; r++)
            {
                var d = IrisDataset.Features(r)[i] - m;
                squares += d * d;
            }

            mean[i] = (float)m;
            std[i] = (float)Math.Sqrt(squares / n);
        }

        // Standardised inputs, as float32 arithmetic in the graph computes them.
        var x = new double[n, inputs];
        var y = new int[n];
        for (var r = 0; r < n; r++)
        {
            var features = IrisDataset.Features(r);
            for (var i = 0; i < inputs; i++)
            {
                x[r, i] = ((float)features[i] - mean[i]) / std[i];
            }

            y[r] = IrisDataset.Label(r);
        }

        // He-uniform initialisation for the ReLU layer, Glorot-uniform for the output layer; biases start at zero.
        var random = new SplitMix64(Seed);
        var parameters = new Parameters(inputs, Hidden, classes);
        for (var k = 0; k < parameters.W1.Length; k++)
        {
            parameters.W1[k] = random.NextUniform(Math.Sqrt(6.0 / inputs));
        }

        for (var k = 0; k < parameters.W2.Length; k++)
        {
            parameters.W2[k] = random.NextUniform(Math.Sqrt(6.0 / (Hidden + classes)));
        }

        var gradient = new Parameters(inputs, Hidden, classes);
        var firstMoment = new Parameters(inputs, Hidden, classes);
        var secondMoment = new Parameters(inputs, Hidden, classes);
        double beta1Power = 1.0, beta2Power = 1.0;

        for (var step = 1; step <= Steps; step++)
        {
            ComputeGradient(parameters, x, y, gradient);
            beta1Power *= Beta1;
            beta2Power *= Beta2;
            var stepSize = LearningRate * Math.Sqrt(1.0 - beta2Power) / (1.0 - beta1Power);
            foreach (var (p, g, m, v) in parameters.Zip(gradient, firstMoment, secondMoment))
            {
                for (var k = 0; k < p.Length; k++)
                {
                    m[k] = (Beta1 * m[k]) + ((1.0 - Beta1) * g[k]);
                    v[k] = (Beta2 * v[k]) + ((1.0 - Beta2) * g[k] * g[k]);
                    p[k] -= stepSize * m[k] / (Math.Sqrt(v[k]) + Epsilon);
                }
            }
        }

        var network = new IrisNetwork(
            mean,
            std,
            ToFloat(parameters.W1),
            ToFloat(parameters.B1),
            ToFloat(parameters.W2),
            ToFloat(parameters.B2),
            Hidden,
            TrainingAccuracy: 0);

        var correct = 0;
        for (var r = 0; r < n; r++)
        {
            var features = Array.ConvertAll(IrisDataset.Features(r), v => (float)v);
            if (ArgMax(network.Predict(features)) == y[r])
            {
                correct++;
            }
        }

        return network with { TrainingAccuracy = (double)correct / n };
    }

    /// <summary>Softmax with the deterministic exp (max subtracted first, as every runtime does).</summary>
    public static double[] Softmax(ReadOnlySpan<double> logits)
    {
        var max = double.NegativeInfinity;
        foreach (var v in logits)
        {
            max = Math.Max(max, v);
        }

        var result = new double[logits.Length];
        var sum = 0.0;
        for (var c = 0; c < logits.Length; c++)
        {
            result[c] = DeterministicMath.Exp(logits[c] - max);
            sum += result[c];
        }

        for (var c = 0; c < logits.Length; c++)
        {
            result[c] /= sum;
        }

        return result;
    }

    /// <summary>Index of the largest value; the first one wins a tie, like ONNX ArgMax.</summary>
    public static int ArgMax(ReadOnlySpan<double> values)
    {
        var best = 0;
        for (var c = 1; c < values.Length; c++)
        {
            if (values[c] > values[best])
            {
                best = c;
            }
        }

        return best;
    }

    /// <summary>Gradient of mean cross-entropy plus L2 on the weights, by backpropagation over the whole data set.</summary>
    private static void ComputeGradient(Parameters p, double[,] x, int[] y, Parameters g)
    {
        var n = y.Length;
        var inputs = x.GetLength(1);
        var hidden = p.B1.Length;
        var classes = p.B2.Length;
        g.Clear();

        var h = new double[hidden];
        var logits = new double[classes];
        var deltaHidden = new double[hidden];
        for (var r = 0; r < n; r++)
        {
            for (var j = 0; j < hidden; j++)
            {
                var sum = p.B1[j];
                for (var i = 0; i < inputs; i++)
                {
                    sum += x[r, i] * p.W1[(i * hidden) + j];
                }

                h[j] = Math.Max(0.0, sum);
            }

            for (var c = 0; c < classes; c++)
            {
                var sum = p.B2[c];
                for (var j = 0; j < hidden; j++)
                {
                    sum += h[j] * p.W2[(j * classes) + c];
                }

                logits[c] = sum;
            }

            // d(loss)/d(logits) = softmax - onehot, averaged over the batch.
            var probabilities = Softmax(logits);
            Array.Clear(deltaHidden);
            for (var c = 0; c < classes; c++)
            {
                var delta = (probabilities[c] - (c == y[r] ? 1.0 : 0.0)) / n;
                g.B2[c] += delta;
                for (var j = 0; j < hidden; j++)
                {
                    g.W2[(j * classes) + c] += h[j] * delta;
                    deltaHidden[j] += p.W2[(j * classes) + c] * delta;
                }
            }

            for (var j = 0; j < hidden; j++)
            {
                if (h[j] <= 0.0)
                {
                    continue;
                }

                g.B1[j] += deltaHidden[j];
                for (var i = 0; i < inputs; i++)
                {
                    g.W1[(i * hidden) + j] += x[r, i] * deltaHidden[j];
                }
            }
        }

        for (var k = 0; k < p.W1.Length; k++)
        {
            g.W1[k] += 2.0 * L2 * p.W1[k];
        }

        for (var k = 0; k < p.W2.Length; k++)
        {
            g.W2[k] += 2.0 * L2 * p.W2[k];
        }
    }

    private static float[] ToFloat(double[] values) => Array.ConvertAll(values, v => (float)v);

    /// <summary>The four parameter arrays of the MLP (also used for gradients and Adam's moments).</summary>
    private sealed class Parameters(int inputs, int hidden, int classes)
    {
        public double[] W1 { get; } = new double[inputs * hidden];
        public double[] B1 { get; } = new double[hidden];
        public double[] W2 { get; } = new double[hidden * classes];
        public double[] B2 { get; } = new double[classes];

        private double[][] All => [W1, B1, W2, B2];

        public void Clear()
        {
            foreach (var array in All)
            {
                Array.Clear(array);
            }
        }

        public IEnumerable<(double[] P, double[] G, double[] M, double[] V)> Zip(Parameters g, Parameters m, Parameters v)
        {
            for (var k = 0; k < All.Length; k++)
            {
                yield return (All[k], g.All[k], m.All[k], v.All[k]);
            }
        }
    }
}
