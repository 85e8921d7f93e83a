using System.Diagnostics;

namespace MLNetFusion.Cli.Progress;

/// <summary>
/// Progress of one long phase (a fit, a candidate, a fold) with elapsed time and an estimate of what remains: a live
/// line rewritten in place on a terminal, plain lines (at most one per <see cref="PipedInterval"/>, plus every
/// change of stage) when the output is piped or logged. Nothing is printed for phases shorter than a couple of seconds
/// unless they change stage.
/// </summary>
public sealed class ProgressLine : IDisposable
{
    /// <summary>Minimum time between two plain lines when the output is piped.</summary>
    public static readonly TimeSpan PipedInterval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan LiveInterval = TimeSpan.FromMilliseconds(200);

    private readonly TextWriter _out;
    private readonly bool _live;
    private readonly string _title;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan? _lastPrint;
    private string _lastStage = "";
    private int _liveWidth;

    /// <summary>Starts a phase named <paramref name="title"/>.</summary>
    /// <param name="title">What is running, e.g. <c>[3/12] late: stacking</c>.</param>
    /// <param name="output">Where to write (default: standard output).</param>
    /// <param name="live">Rewrite one line in place (default: when the output is a terminal).</param>
    public ProgressLine(string title, TextWriter? output = null, bool? live = null)
    {
        _title = title;
        _out = output ?? Console.Out;
        _live = live ?? (output == null && !Console.IsOutputRedirected);
    }

    /// <summary>Time since the phase started.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Reports that <paramref name="fraction"/> (0 to 1) of the phase is done, at <paramref name="stage"/> (e.g. <c>fold 2/4, epoch 7/15</c>).</summary>
    public void Report(double fraction, string stage)
    {
        fraction = double.IsFinite(fraction) ? Math.Clamp(fraction, 0, 1) : 0;
        var now = _clock.Elapsed;
        string stageKey = stage.Split(',')[0];
        bool newStage = stageKey != _lastStage;
        var since = _lastPrint is { } last ? now - last : TimeSpan.MaxValue;
        if (_live ? since < LiveInterval && !newStage : since < PipedInterval && !(newStage && now > TimeSpan.FromSeconds(2)))
            return;
        _lastPrint = now;
        _lastStage = stageKey;
        string line = $"{_title}: {stage} · {fraction:P0} · {Format(now)} elapsed" + (Remaining(fraction, now) is { } left ? $", ~{Format(left)} left" : "");
        lock (_out)
        {
            if (_live)
            {
                int width = Math.Max(20, SafeWidth() - 1);
                if (line.Length > width) line = line[..(width - 1)] + "…";
                _out.Write("\r" + line.PadRight(Math.Max(_liveWidth, line.Length)));
                _liveWidth = line.Length;
            }
            else _out.WriteLine(line);
            _out.Flush();
        }
    }

    /// <summary>Ends the phase: clears the live line (the caller prints the result).</summary>
    public void Dispose()
    {
        if (_live && _liveWidth > 0)
            lock (_out) { _out.Write("\r" + new string(' ', _liveWidth) + "\r"); _out.Flush(); }
        _liveWidth = 0;
    }

    /// <summary>The estimate of what remains: elapsed × (1 − f) / f, once a little progress makes it meaningful.</summary>
    internal static TimeSpan? Remaining(double fraction, TimeSpan elapsed)
        => fraction >= 0.02 && fraction < 1 && elapsed > TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(elapsed.TotalSeconds * (1 - fraction) / fraction) : null;

    /// <summary>1m05s, 42s, 1h02m.</summary>
    public static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:00}s" : $"{t.TotalSeconds:F0}s";

    private static int SafeWidth()
    {
        try { return Console.WindowWidth > 0 ? Console.WindowWidth : 120; }
        catch (IOException) { return 120; }
    }
}
