/// /proc/PID/maps: the mappings a process had before recording started, which the
/// recorder synthesizes as MMAP2 records (perf's perf_event__synthesize_mmap_events).
public enum ProcPIDMaps {
    /// Lines of /proc/PID/maps with an executable mapping, and with `data` the readable
    /// file-backed others too (perf's mmap_data): (start, end, pgoff, prot, path).
    public static func executableMappings(_ text: String, data: Bool = false) -> [(UInt64, UInt64, UInt64, UInt32, String)] {
        var out: [(UInt64, UInt64, UInt64, UInt32, String)] = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard f.count >= 5, f[1].count == 4 else { continue }
            let executable = f[1].dropFirst(2).first == "x"
            // The path field keeps the spaces that align it: trimmed before it is looked at.
            guard executable || (data && f[1].first == "r" && f.count == 6 && f[5].trimmingWhitespace().hasPrefix("/")) else { continue }
            let range = f[0].split(separator: "-")
            guard range.count == 2, let a = UInt64(range[0], radix: 16), let b = UInt64(range[1], radix: 16), let off = UInt64(f[2], radix: 16) else { continue }
            let path = f.count == 6 ? f[5].trimmingWhitespace() : "//anon"
            var prot: UInt32 = 0
            let p = Array(f[1])
            if p[0] == "r" { prot |= 1 }
            if p[1] == "w" { prot |= 2 }
            if p[2] == "x" { prot |= 4 }
            out.append((a, b, off, prot, path))
        }
        return out
    }
}
