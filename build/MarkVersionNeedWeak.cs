#nullable enable
// Compiled by MSBuild's RoslynCodeTaskFactory (see TorchSharpNativeFix.targets). Keep it self-contained.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace MLNetFusion.Build
{
    /// <summary>
    /// Marks selected ELF version needs (entries of <c>.gnu.version_r</c>) as weak (<c>VER_FLG_WEAK</c>) in a copy of a
    /// shared library, so the dynamic loader accepts it on systems whose libraries lack that version. It refuses to patch
    /// when any relocation binds a symbol of that version, because such a symbol would then resolve to nothing.
    /// </summary>
    public sealed class MarkVersionNeedWeak : Task
    {
        private const uint ShtRela = 4, ShtRel = 9, ShtDynsym = 11, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;
        private const ushort VerFlgWeak = 0x2;

        [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
        [Required] public string VersionNames { get; set; } = "";

        public override bool Execute()
        {
            var names = VersionNames.Split(new[] { ';', ',' }, StringSplitOptions.RemoveEmptyEntries);
            foreach (var item in Files)
            {
                string path = item.GetMetadata("FullPath");
                try
                {
                    if (!Patch(path, names)) return false;
                }
                catch (Exception ex)
                {
                    Log.LogError("MLNetFusion: could not patch '{0}' so that TorchSharp loads on this system: {1}. " +
                        "Hint: install a libstdc++ that exports {2} (GCC 13+), or build with -p:MLNetFusionPatchTorchSharpNative=false " +
                        "if your system already loads TorchSharp.", path, ex.Message, VersionNames);
                    return false;
                }
            }
            return !Log.HasLoggedErrors;
        }

        private bool Patch(string path, string[] names)
        {
            var missing = new List<string>();
            string? libstdcxx = FindSystemLibStdCxx();
            byte[]? sys = libstdcxx == null ? null : File.ReadAllBytes(libstdcxx);
            foreach (var n in names)
                if (sys == null || IndexOf(sys, Encoding.ASCII.GetBytes(n + "\0")) < 0) missing.Add(n);
            if (missing.Count == 0)
            {
                Log.LogMessage(MessageImportance.Low, "MLNetFusion: {0} exports {1}; '{2}' needs no patch.", libstdcxx, VersionNames, path);
                return true;
            }

            byte[] elf = File.ReadAllBytes(path);
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("only 64-bit little-endian ELF is supported");

            long shoff = (long)U64(elf, 0x28);
            int shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
            var sections = new List<(uint type, long off, long size, uint link, uint info, long entsize)>();
            for (int i = 0; i < shnum; i++)
            {
                long s = shoff + (long)i * shentsize;
                sections.Add((U32(elf, s + 4), (long)U64(elf, s + 24), (long)U64(elf, s + 32), U32(elf, s + 40), U32(elf, s + 44), (long)U64(elf, s + 56)));
            }

            int verneedIndex = sections.FindIndex(x => x.type == ShtGnuVerneed);
            if (verneedIndex < 0) throw new InvalidDataException("no .gnu.version_r section");
            var verneed = sections[verneedIndex];
            var strtab = sections[(int)verneed.link];

            // Collect the vernaux entries (version index -> flags offset) for the requested names.
            var toPatch = new List<(string name, long flagsOffset, ushort index)>();
            long vn = verneed.off;
            for (uint e = 0; e < verneed.info; e++)
            {
                ushort cnt = U16(elf, vn + 2);
                long aux = vn + U32(elf, vn + 8);
                for (int a = 0; a < cnt; a++)
                {
                    string name = CString(elf, strtab.off + U32(elf, aux + 8));
                    if (missing.Contains(name)) toPatch.Add((name, aux + 4, (ushort)(U16(elf, aux + 6) & 0x7fff)));
                    uint next = U32(elf, aux + 12);
                    if (next == 0) break;
                    aux += next;
                }
                uint vnNext = U32(elf, vn + 12);
                if (vnNext == 0) break;
                vn += vnNext;
            }

            if (toPatch.Count == 0)
            {
                Log.LogMessage(MessageImportance.Low, "MLNetFusion: '{0}' does not need {1}; nothing to patch.", path, string.Join(", ", missing));
                return true;
            }

            // Safety: no relocation may reference a dynamic symbol bound to a version we make weak.
            int versymIndex = sections.FindIndex(x => x.type == ShtGnuVersym);
            if (versymIndex >= 0)
            {
                var versym = sections[versymIndex];
                var weakIndices = new HashSet<ushort>();
                foreach (var p in toPatch) weakIndices.Add(p.index);
                foreach (var sec in sections)
                {
                    if (sec.type != ShtRela && sec.type != ShtRel) continue;
                    if (sec.link >= sections.Count || sections[(int)sec.link].type != ShtDynsym) continue;
                    long ent = sec.entsize > 0 ? sec.entsize : (sec.type == ShtRela ? 24 : 16);
                    for (long r = sec.off; r + ent <= sec.off + sec.size; r += ent)
                    {
                        ulong sym = U64(elf, r + 8) >> 32;
                        if (sym == 0) continue;
                        ushort ver = (ushort)(U16(elf, versym.off + (long)sym * 2) & 0x7fff);
                        if (weakIndices.Contains(ver))
                            throw new InvalidDataException($"a relocation references symbol #{sym}, which is bound to a version this patch would make weak; patching is unsafe");
                    }
                }
            }

            bool changed = false;
            foreach (var p in toPatch)
            {
                ushort flags = U16(elf, p.flagsOffset);
                if ((flags & VerFlgWeak) != 0) continue;
                flags |= VerFlgWeak;
                elf[p.flagsOffset] = (byte)(flags & 0xff);
                elf[p.flagsOffset + 1] = (byte)(flags >> 8);
                changed = true;
            }
            if (!changed)
            {
                Log.LogMessage(MessageImportance.Low, "MLNetFusion: '{0}' is already patched.", path);
                return true;
            }

            // Write a new file and swap it in, so a hard link into the NuGet cache is never written through.
            string tmp = path + ".mlnetfusion.tmp";
            File.WriteAllBytes(tmp, elf);
            File.Delete(path);
            File.Move(tmp, path);
            Log.LogMessage(MessageImportance.High, "MLNetFusion: marked {0} weak in {1} (system libstdc++ '{2}' lacks it).",
                string.Join(", ", toPatch.ConvertAll(p => p.name)), path, libstdcxx ?? "not found");
            return true;
        }

        private static string? FindSystemLibStdCxx()
        {
            var dirs = new List<string>();
            var ld = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
            if (!string.IsNullOrEmpty(ld)) dirs.AddRange(ld!.Split(':'));
            dirs.AddRange(new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib/aarch64-linux-gnu",
                                  "/usr/lib64", "/lib64", "/usr/lib", "/lib", "/usr/local/lib64", "/usr/local/lib" });
            foreach (var d in dirs)
            {
                if (string.IsNullOrEmpty(d)) continue;
                var p = Path.Combine(d, "libstdc++.so.6");
                if (File.Exists(p)) return p;
            }
            return null;
        }

        private static int IndexOf(byte[] hay, byte[] needle)
        {
            for (int i = 0; i <= hay.Length - needle.Length; i++)
            {
                int j = 0;
                while (j < needle.Length && hay[i + j] == needle[j]) j++;
                if (j == needle.Length) return i;
            }
            return -1;
        }

        private static ushort U16(byte[] b, long o) => (ushort)(b[o] | (b[o + 1] << 8));
        private static uint U32(byte[] b, long o) => (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));
        private static ulong U64(byte[] b, long o) => U32(b, o) | ((ulong)U32(b, o + 4) << 32);
        private static string CString(byte[] b, long o)
        {
            long e = o;
            while (e < b.Length && b[e] != 0) e++;
            return Encoding.ASCII.GetString(b, (int)o, (int)(e - o));
        }
    }
}
