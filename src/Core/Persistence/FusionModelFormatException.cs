namespace MLNetFusion.Persistence;

/// <summary>
/// A fusion model file could not be read: it is truncated, corrupted, tampered with, from a newer format version, or
/// names a component this version does not know. The message names the file entry or component and says what to do.
/// </summary>
public sealed class FusionModelFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public FusionModelFormatException(string message, Exception? inner = null) : base(message, inner) { }
}
