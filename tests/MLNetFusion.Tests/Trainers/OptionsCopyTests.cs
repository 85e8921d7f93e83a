using System.Reflection;
using MLNetFusion.Models;
using MLNetFusion.Trainers.Merge;
using MLNetFusion.Training;
using Xunit;

namespace MLNetFusion.Tests;

/// <summary>
/// The one copy mechanism of the options (issue 22): every public settable property, set to a value unlike its default,
/// survives <c>ModalityOptions.Clone</c> and <c>CopyTrainingOptionsTo</c>, so a property added later cannot be forgotten.
/// </summary>
public class OptionsCopyTests
{
    /// <summary>A value of <paramref name="type"/> unlike the default.</summary>
    private static object? Unusual(Type type, int salt)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(int)) return 7 + salt;
        if (t == typeof(long)) return 70L + salt;
        if (t == typeof(double)) return 0.37 + salt / 100.0;
        if (t == typeof(float)) return 0.37f;
        if (t == typeof(bool)) return true;
        if (t == typeof(string)) return "x" + salt;
        if (t == typeof(int[])) return new[] { 3 + salt, 5 };
        if (t.IsEnum) return Enum.GetValues(t).Cast<object>().Last();
        if (t == typeof(ModalityKind)) return new ModalityKind("Kind" + salt);
        if (t == typeof(EncoderKind)) return new EncoderKind("Encoder" + salt);
        if (t == typeof(ModalityAugmentation)) return ModalityAugmentation.Spectrogram(0.3);
        if (t == typeof(EncoderOptions)) return new CnnEncoderOptions { ConvChannels = new[] { 3, 5 }, OutputWidth = 9, BatchNorm = false, Shape = new[] { 1, 4, 4 } };
        if (t == typeof(CancellationToken)) return new CancellationTokenSource().Token;
        if (t == typeof(Action<EpochReport>)) return (Action<EpochReport>)(_ => { });
        return null;
    }

    private static void SetAll(object target, IEnumerable<PropertyInfo> properties)
    {
        int salt = 0;
        foreach (var p in properties)
            if (Unusual(p.PropertyType, salt++) is { } value) p.SetValue(target, value);
    }

    private static void AssertSame(object expected, object actual, IEnumerable<PropertyInfo> properties)
    {
        foreach (var p in properties)
        {
            object? a = p.GetValue(expected), b = p.GetValue(actual);
            if (a is int[] x) { Assert.Equal(x, (int[])b!); Assert.NotSame(x, b); }
            else if (a is ModalityAugmentation m) { Assert.Equal(System.Text.Json.JsonSerializer.Serialize(m), System.Text.Json.JsonSerializer.Serialize(b)); Assert.NotSame(m, b); }
            else if (a is EncoderOptions e)
            {
                Assert.Equal(System.Text.Json.JsonSerializer.Serialize(e), System.Text.Json.JsonSerializer.Serialize((EncoderOptions)b!));
                Assert.NotSame(e, b);
                AssertSame(e, b!, Settable(e.GetType()));   // its arrays copied too
            }
            else Assert.True(Equals(a, b), $"{p.DeclaringType!.Name}.{p.Name} was not copied ({a} → {b})");
        }
    }

    private static PropertyInfo[] Settable(Type t, Type? declaredBy = null) => t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.CanRead && p.CanWrite && (declaredBy == null || p.DeclaringType == declaredBy)).ToArray();

    [Fact]
    public void ModalityOptionsCloneCopiesEveryPropertyDeeply()
    {
        var properties = Settable(typeof(ModalityOptions));
        var original = new ModalityOptions();
        SetAll(original, properties);
        Assert.All(properties, p => Assert.NotNull(Unusual(p.PropertyType, 0)));   // every property got a value unlike its default
        AssertSame(original, original.Clone(), properties);

        // Each encoder's own settings too.
        foreach (var encoder in new EncoderOptions[] { new MlpEncoderOptions(), new CnnEncoderOptions(), new EmbeddingBagEncoderOptions() })
        {
            var settings = Settable(encoder.GetType());
            SetAll(encoder, settings);
            Assert.All(settings, p => Assert.NotNull(Unusual(p.PropertyType, 0)));
            AssertSame(encoder, encoder.Clone(), settings);
        }
    }

    [Fact]
    public void CopyTrainingOptionsToCopiesEveryTrainingOption()
    {
        var properties = Settable(typeof(TorchTrainerOptions), typeof(TorchTrainerOptions));
        var source = new MergeFusionOptions();
        SetAll(source, properties);
        Assert.All(properties, p => Assert.NotNull(Unusual(p.PropertyType, 0)));
        var target = new MergeFusionOptions();
        source.CopyTrainingOptionsTo(target);
        AssertSame(source, target, properties);
    }

    [Fact]
    public void FusionMlpOptionsValidateChangesNothingAndItsModalityFollowsItsProperties()
    {
        var o = new MLNetFusion.Trainers.Early.FusionMlpOptions { FeatureColumnName = "F", HiddenWidths = new[] { 32 }, Dropout = 0.2 };
        o.Validate();
        o.HiddenWidths = new[] { 16, 8 };            // after Validate: the modality is what the properties say now
        var m = Assert.Single(o.Modalities);
        Assert.Equal("F", m.ColumnName);
        Assert.Equal(new[] { 16, 8 }, m.EncoderOptionsAs<MlpEncoderOptions>().HiddenWidths);
        Assert.Equal(0.2, m.Dropout);
        m.EncoderOptionsAs<MlpEncoderOptions>().HiddenWidths[0] = 99;   // a copy: editing it leaves the options alone
        Assert.Equal(16, o.HiddenWidths[0]);
        var ex = Assert.Throws<NotSupportedException>(() => o.Modalities = new());
        Assert.Contains("Hint: set those properties", ex.Message);
    }
}
