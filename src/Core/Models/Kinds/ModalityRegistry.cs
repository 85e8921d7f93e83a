using System.Collections.Concurrent;

namespace MLNetFusion.Models;

/// <summary>
/// A kind of modality: everything MLNetFusion decides from what a modality is. A new kind (a time series, video) is a
/// class implementing this, registered once with <see cref="ModalityRegistry.Register(IModalityKind)"/>, plus its
/// encoder (<see cref="IEncoderKind"/>) when the built-in ones do not suit it.
/// </summary>
public interface IModalityKind
{
    /// <summary>The kind's name, as <see cref="ModalityOptions.Kind"/> holds it.</summary>
    ModalityKind Kind { get; }

    /// <summary>The encoder a modality of this kind gets by default.</summary>
    EncoderKind DefaultEncoder { get; }

    /// <summary>The training-time augmentation preset at <paramref name="strength"/> (1: the documented default; 0: off).</summary>
    ModalityAugmentation DefaultAugmentation(double strength);

    /// <summary>
    /// Whether late fusion's member for this modality is MLNetFusion's single-modality network on its encoder input
    /// (images, spectrograms) rather than a linear model on its fixed features (tabular columns, text n-grams).
    /// </summary>
    bool NeuralLateFusionMember { get; }

    /// <summary>
    /// The plain model of this modality alone that a leaderboard shows as a baseline, on its fixed features
    /// (<see cref="ModalityOptions.FeaturesColumn"/>). Default <see cref="PlainBaseline.None"/>.
    /// </summary>
    PlainBaseline Baseline => PlainBaseline.None;

    /// <summary>
    /// What this kind's fixed features are, as the plain concatenation baseline's name lists them (<c>pixels</c>,
    /// <c>log-mel</c>, <c>FeaturizeText</c>). Default: the kind's name and "values".
    /// </summary>
    string PlainFeatures => $"{Kind.Name} values";

    /// <summary>
    /// Applies a trainer's modality-wide settings to one of its modalities (a copy the trainer owns), when training
    /// and when rebuilding a saved network. The default: the kind's augmentation preset at the trainer's strength when
    /// the modality sets none of its own.
    /// </summary>
    void ApplyTrainerSettings(ModalityOptions modality, ModalityTrainerSettings settings)
    {
        if (modality.Augmentation == null && settings.AugmentationStrength > 0) modality.Augmentation = DefaultAugmentation(settings.AugmentationStrength);
    }

    /// <summary>
    /// How column inference recognises and featurizes a CSV column of this kind, or <c>null</c> (the default) when
    /// inference leaves the kind to code that builds its <see cref="ModalityOptions"/> by hand. The built-in image and
    /// audio kinds have one (MLNetFusion.AutoML supplies it); tabular and text columns have roles of their own (numbers,
    /// categories, text), which combine several columns into one modality.
    /// </summary>
    IModalityColumnInference? ColumnInference => null;

    /// <summary>
    /// Settings of this kind's modalities that a sweep may tune (the audio kind: its augmentation strength and per-clip
    /// normalisation). A sweep over data with a modality of this kind adds each as a parameter of the neural families
    /// (<c>FusionSearchSpace.Tunings</c>) and applies the trial's value to every modality of the kind. Default: none.
    /// </summary>
    IReadOnlyList<ModalityTuning> Tunings => Array.Empty<ModalityTuning>();
}

/// <summary>A setting of a kind's modalities that a sweep may tune (see <see cref="IModalityKind.Tunings"/>).</summary>
/// <param name="Name">The sweep parameter's name, unique among all kinds (for example <c>audioAugmentationStrength</c>).</param>
/// <param name="Description">What it sets, for documentation and reports.</param>
/// <param name="Values">The values a sweep tries; the first is the default. All of one type (<c>double</c>, <c>int</c>, <c>bool</c> or <c>string</c>).</param>
/// <param name="Apply">Sets a value on one modality of the kind (a copy the trainer owns), before the trainer applies its own settings.</param>
public sealed record ModalityTuning(string Name, string Description, IReadOnlyList<object> Values, Action<ModalityOptions, object> Apply);

/// <summary>The plain single-modality model a leaderboard shows for a kind (<see cref="IModalityKind.Baseline"/>).</summary>
public enum PlainBaseline
{
    /// <summary>None (the kind's own network alone is already an entry).</summary>
    None,
    /// <summary>LightGBM on the modality's features (tabular columns).</summary>
    LightGbm,
    /// <summary>A linear model (L-BFGS maximum entropy) on the modality's features (a text's n-grams).</summary>
    Linear,
}

/// <summary>A trainer's settings that apply to its modalities by kind (see <see cref="IModalityKind.ApplyTrainerSettings"/>).</summary>
/// <param name="AugmentationStrength">Every kind's augmentation preset at this strength (0: each kind's own default, which is none for most).</param>
public sealed record ModalityTrainerSettings(double AugmentationStrength);

/// <summary>
/// An encoder architecture: how a modality's column becomes its per-row shape, the encoder module, and a lower bound
/// on its parameters (which the model reader checks before allocating a saved network).
/// </summary>
public interface IEncoderKind
{
    /// <summary>The encoder's name, as <see cref="ModalityOptions.Encoder"/> holds it.</summary>
    EncoderKind Kind { get; }

    /// <summary>
    /// The encoder's settings at their defaults: an instance of its own <see cref="EncoderOptions"/> subclass, which
    /// <see cref="ModalityOptions.EncoderOptions"/> holds and a model file stores by this encoder's name.
    /// </summary>
    EncoderOptions CreateOptions();

    /// <summary>The per-row shape the encoder reads from a column of <paramref name="size"/> values with ML.NET's vector <paramref name="dimensions"/>.</summary>
    /// <exception cref="ArgumentException">The column cannot hold that shape; the message says how to fix it.</exception>
    int[] ResolveShape(ModalityOptions options, int size, IReadOnlyList<int> dimensions) => new[] { size };

    /// <summary>Creates the encoder for <paramref name="options"/> on rows of <paramref name="shape"/>, standardised by <paramref name="stats"/>.</summary>
    ModalityEncoder Create(ModalityOptions options, int[] shape, FeatureStatistics stats);

    /// <summary>
    /// A lower bound on the encoder's parameters from its options and shape alone (for example its first dense layer),
    /// computed in doubles so a configuration claiming more than <c>long</c> can count cannot overflow.
    /// </summary>
    double MinimumParameters(ModalityOptions options, int[] shape, int size);

    /// <summary>
    /// Checks the settings this encoder needs (throws <see cref="ArgumentException"/> naming the modality and the
    /// setting). The default: its options' own <see cref="EncoderOptions.Validate"/>.
    /// </summary>
    void Validate(ModalityOptions options) => options.EncoderOptions.Validate(options.Name);
}

/// <summary>
/// The modality and encoder kinds MLNetFusion knows: the built-in ones (tabular, image, audio, text; MLP, CNN,
/// embedding bag) and any a library registers. It is also an allow-list: a model file can only build encoders that
/// are registered in the process that loads it.
/// </summary>
public static class ModalityRegistry
{
    private static readonly ConcurrentDictionary<ModalityKind, IModalityKind> Modalities = new();
    private static readonly ConcurrentDictionary<EncoderKind, IEncoderKind> Encoders = new();

    static ModalityRegistry()
    {
        foreach (var k in new IModalityKind[] { new Kinds.TabularKind(), new Kinds.ImageKind(), new Kinds.AudioKind(), new Kinds.TextKind() }) Modalities[k.Kind] = k;
        foreach (var e in new IEncoderKind[] { new Kinds.MlpEncoderKind(), new Kinds.CnnEncoderKind(), new Kinds.EmbeddingBagEncoderKind() }) Encoders[e.Kind] = e;
    }

    /// <summary>Registers a modality kind. Registering it again does nothing; another kind of the same name is an error.</summary>
    public static void Register(IModalityKind kind) => Add(Modalities, (kind ?? throw new ArgumentNullException(nameof(kind))).Kind, kind, "A modality kind");

    /// <summary>Registers an encoder kind. Registering it again does nothing; another encoder of the same name is an error.</summary>
    public static void Register(IEncoderKind encoder) => Add(Encoders, (encoder ?? throw new ArgumentNullException(nameof(encoder))).Kind, encoder, "An encoder kind");

    private static void Add<TKey, TValue>(ConcurrentDictionary<TKey, TValue> registry, TKey name, TValue plugin, string what) where TKey : notnull where TValue : class
    {
        var existing = registry.GetOrAdd(name, plugin);
        if (!ReferenceEquals(existing, plugin) && existing.GetType() != plugin.GetType())
            throw new InvalidOperationException($"{what} named '{name}' is registered already ({existing.GetType().Name})." + Environment.NewLine + "Hint: give the new one another name.");
    }

    /// <summary>The registered modality kind.</summary>
    /// <exception cref="ArgumentException">No kind of that name is registered; the message says how to register it.</exception>
    public static IModalityKind Get(ModalityKind kind) => Modalities.TryGetValue(kind, out var k) ? k
        : throw new ArgumentException($"Modality kind '{kind}' is not registered (known: {string.Join(", ", Modalities.Keys.Select(n => n.Name).Order())})." + Environment.NewLine +
            "Hint: register it with ModalityRegistry.Register before training or loading a model that uses it.", nameof(kind));

    /// <summary>The registered encoder kind.</summary>
    /// <exception cref="ArgumentException">No encoder of that name is registered; the message says how to register it.</exception>
    public static IEncoderKind Get(EncoderKind encoder) => Encoders.TryGetValue(encoder, out var e) ? e
        : throw new ArgumentException($"Encoder kind '{encoder}' is not registered (known: {string.Join(", ", Encoders.Keys.Select(n => n.Name).Order())})." + Environment.NewLine +
            "Hint: register it with ModalityRegistry.Register before training or loading a model that uses it.", nameof(encoder));

    /// <summary>The registered modality kinds, ordered by name.</summary>
    public static IReadOnlyList<IModalityKind> Kinds => Modalities.Values.OrderBy(k => k.Kind.Name, StringComparer.Ordinal).ToArray();

    /// <summary>Whether a modality kind of that name is registered.</summary>
    public static bool IsRegistered(ModalityKind kind) => Modalities.ContainsKey(kind);

    /// <summary>Whether an encoder kind of that name is registered.</summary>
    public static bool IsRegistered(EncoderKind encoder) => Encoders.ContainsKey(encoder);
}
