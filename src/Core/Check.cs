using System.Runtime.CompilerServices;

namespace MLNetFusion;

/// <summary>
/// Range checks of options and arguments, written once: each names the parameter (taken from the expression), rejects
/// NaN and infinities, and states the allowed range, as <see cref="ArgumentOutOfRangeException"/>.
/// </summary>
internal static class Check
{
    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static void InRange(int value, int min, int max, [CallerArgumentExpression(nameof(value))] string name = "")
    {
        if (value < min || value > max)
            throw new ArgumentOutOfRangeException(Name(name), value, $"{Name(name)} must be in [{min}, {max}].");
    }

    /// <summary>A positive whole number, at most <paramref name="max"/> (a documented bound that keeps allocations sane).</summary>
    public static void Positive(int value, int max = int.MaxValue, [CallerArgumentExpression(nameof(value))] string name = "")
    {
        if (value <= 0) throw new ArgumentOutOfRangeException(Name(name), value, $"{Name(name)} must be positive.");
        if (value > max) throw new ArgumentOutOfRangeException(Name(name), value, $"{Name(name)} must be at most {max}.");
    }

    /// <summary>A finite number above 0.</summary>
    public static void Positive(double value, [CallerArgumentExpression(nameof(value))] string name = "")
    {
        if (!(value > 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(Name(name), value, $"{Name(name)} must be a finite number above 0.");
    }

    /// <summary>A whole number ≥ 0.</summary>
    public static void NonNegative(int value, [CallerArgumentExpression(nameof(value))] string name = "")
    {
        if (value < 0) throw new ArgumentOutOfRangeException(Name(name), value, $"{Name(name)} must be >= 0.");
    }

    /// <summary>A finite number ≥ 0.</summary>
    public static void NonNegative(double value, [CallerArgumentExpression(nameof(value))] string name = "")
    {
        if (!(value >= 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(Name(name), value, $"{Name(name)} must be a finite number >= 0.");
    }

    /// <summary>A share in [0, 1) (or [0, 1] with <paramref name="allowOne"/>).</summary>
    public static void Fraction(double value, bool allowOne = false, [CallerArgumentExpression(nameof(value))] string name = "")
    {
        if (!(value >= 0) || value > 1 || (!allowOne && value == 1))
            throw new ArgumentOutOfRangeException(Name(name), value, $"{Name(name)} must be in [0, 1{(allowOne ? "]" : ")")}.");
    }

    /// <summary>A finite number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static void InRange(double value, double min, double max, [CallerArgumentExpression(nameof(value))] string name = "")
    {
        if (!(value >= min && value <= max)) throw new ArgumentOutOfRangeException(Name(name), value, $"{Name(name)} must be in [{min}, {max}].");
    }

    // "options.Epochs" or "Epochs" → "Epochs": the option's name as the user wrote it.
    private static string Name(string expression) => expression[(expression.LastIndexOf('.') + 1)..];
}
