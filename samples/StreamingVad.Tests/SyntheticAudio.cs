namespace StreamingVad.Tests;

/// <summary>Deterministic synthetic 16 kHz mono signals in [-1, 1] for driving the VAD.</summary>
internal static class SyntheticAudio
{
    public const int SampleRate = 16000;

    public static float[] Silence(double seconds) => new float[Samples(seconds)];

    /// <summary>Pure sine bursts: <paramref name="on"/> seconds of tone, <paramref name="off"/> seconds of silence, repeated.</summary>
    public static float[] ToneBursts(double seconds, double frequency, double on = 0.5, double off = 0.5, double amplitude = 0.5)
    {
        var signal = new float[Samples(seconds)];
        for (var i = 0; i < signal.Length; i++)
        {
            var t = (double)i / SampleRate;
            if (t % (on + off) < on)
            {
                signal[i] = (float)(amplitude * Math.Sin(2 * Math.PI * frequency * t));
            }
        }

        return signal;
    }

    /// <summary>White Gaussian noise with the given RMS.</summary>
    public static float[] WhiteNoise(double seconds, double rms, int seed)
    {
        var random = new Random(seed);
        var signal = new float[Samples(seconds)];
        for (var i = 0; i < signal.Length; i++)
        {
            signal[i] = (float)Math.Clamp(rms * Gaussian(random), -1, 1);
        }

        return signal;
    }

    /// <summary>
    /// A voiced, speech-like signal (a Klatt-style cascade synthesizer): a glottal pulse train around 120 Hz with a
    /// falling-rising pitch contour and jitter, shaped by a two-pole glottal low-pass, through three formant resonators
    /// that move from vowel to vowel (/a/, /i/, /u/, /e/, /o/), lip radiation (a first difference), and a syllable-rate
    /// (~4 Hz) amplitude envelope with short gaps between syllables.
    /// </summary>
    public static float[] Voiced(double seconds, int seed, double f0 = 120, double syllableRate = 4, double level = 0.3)
    {
        (double F1, double F2, double F3)[] vowels = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410)];
        var random = new Random(seed);
        var n = Samples(seconds);
        var signal = new double[n];
        var syllable = SampleRate / syllableRate;
        var phase = 0.0;
        double g1 = 0, g2 = 0, previous = 0;
        var r1 = new Resonator();
        var r2 = new Resonator();
        var r3 = new Resonator();
        for (var i = 0; i < n; i++)
        {
            var t = (double)i / SampleRate;
            var s = (int)(i / syllable);
            var within = (i % syllable) / syllable;

            // A pitch contour over the utterance plus a little jitter per period.
            var pitch = f0 * (1 + (0.15 * Math.Sin(2 * Math.PI * 0.7 * t)) + (0.05 * Math.Sin(2 * Math.PI * syllableRate * t)));
            phase += pitch / SampleRate;
            var pulse = 0.0;
            if (phase >= 1)
            {
                phase -= 1 + ((random.NextDouble() - 0.5) * 0.02);
                pulse = 1;
            }

            // Glottal shaping: two one-pole low-passes (-12 dB/octave above ~100 Hz).
            g1 = (0.96 * g1) + pulse;
            g2 = (0.96 * g2) + g1;

            // The vowel glides from this syllable's to the next one's.
            var (a, b) = (vowels[(s + seed) % vowels.Length], vowels[(s + seed + 1) % vowels.Length]);
            var glide = Math.Clamp((within - 0.6) / 0.4, 0, 1);
            var x = r1.Next(g2, Lerp(a.F1, b.F1, glide), 90);
            x = r2.Next(x, Lerp(a.F2, b.F2, glide), 110);
            x = r3.Next(x, Lerp(a.F3, b.F3, glide), 170);

            // Lip radiation, then the syllable envelope: a raised cosine over 85% of the syllable, a gap after it.
            var radiated = x - previous;
            previous = x;
            var envelope = within < 0.85 ? Math.Sin(Math.PI * within / 0.85) : 0;
            signal[i] = radiated * envelope;
        }

        var peak = signal.Max(Math.Abs);
        return [.. signal.Select(v => (float)(v / peak * level))];
    }

    /// <summary>Concatenates signals.</summary>
    public static float[] Concat(params float[][] parts) => [.. parts.SelectMany(p => p)];

    /// <summary>16-bit little-endian PCM, as the endpoint takes it.</summary>
    public static byte[] ToPcm16(float[] signal)
    {
        var bytes = new byte[signal.Length * 2];
        for (var i = 0; i < signal.Length; i++)
        {
            var s = (short)Math.Clamp(Math.Round(signal[i] * 32767), short.MinValue, short.MaxValue);
            bytes[2 * i] = (byte)s;
            bytes[(2 * i) + 1] = (byte)(s >> 8);
        }

        return bytes;
    }

    public static int Samples(double seconds) => (int)Math.Round(seconds * SampleRate);

    private static double Lerp(double a, double b, double t) => a + ((b - a) * t);

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>A Klatt second-order resonator: y[n] = A x[n] + B y[n-1] + C y[n-2].</summary>
    private sealed class Resonator
    {
        private double _y1;
        private double _y2;

        public double Next(double x, double frequency, double bandwidth)
        {
            var c = -Math.Exp(-2 * Math.PI * bandwidth / SampleRate);
            var b = 2 * Math.Exp(-Math.PI * bandwidth / SampleRate) * Math.Cos(2 * Math.PI * frequency / SampleRate);
            var a = 1 - b - c;
            var y = (a * x) + (b * _y1) + (c * _y2);
            _y2 = _y1;
            _y1 = y;
            return y;
        }
    }
}
