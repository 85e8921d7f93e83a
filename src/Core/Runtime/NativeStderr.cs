using System.Runtime.InteropServices;

namespace MLNetFusion.Runtime;

/// <summary>
/// Holds back what native code writes to the process's standard error for the length of one call (libtorch's one-time
/// initialisation warnings, which a library must not print into its user's console). Unix only; elsewhere it does nothing.
/// </summary>
internal static class NativeStderr
{
    private const int StderrFd = 2, O_WRONLY = 1;

    [DllImport("libc", EntryPoint = "dup", SetLastError = true)] private static extern int Dup(int fd);
    [DllImport("libc", EntryPoint = "dup2", SetLastError = true)] private static extern int Dup2(int fd, int fd2);
    [DllImport("libc", EntryPoint = "close")] private static extern int Close(int fd);
    [DllImport("libc", EntryPoint = "open", SetLastError = true)] private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    /// <summary>Sends file descriptor 2 to <c>/dev/null</c> until the result is disposed.</summary>
    public static IDisposable Silence()
    {
        if (OperatingSystem.IsWindows()) return Restore.None;
        try
        {
            int saved = Dup(StderrFd);
            if (saved < 0) return Restore.None;
            int sink = Open("/dev/null", O_WRONLY);
            if (sink < 0 || Dup2(sink, StderrFd) < 0)
            {
                if (sink >= 0) Close(sink);
                Close(saved);
                return Restore.None;
            }
            Close(sink);
            return new Restore(saved);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException) { return Restore.None; }
    }

    private sealed class Restore(int saved) : IDisposable
    {
        public static readonly IDisposable None = new Restore(-1);
        private int _saved = saved;

        public void Dispose()
        {
            if (_saved < 0) return;
            Dup2(_saved, StderrFd);
            Close(_saved);
            _saved = -1;
        }
    }
}
