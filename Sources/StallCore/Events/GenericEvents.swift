/// perf's generic event names (tools/perf/util/parse-events.c, evsel.c), mapped to
/// PERF_TYPE_HARDWARE / SOFTWARE / HW_CACHE configs from <linux/perf_event.h>.
public enum GenericEvents {
    public static let hardware: [(names: [String], config: UInt64)] = [
        (["cpu-cycles", "cycles"], 0),
        (["instructions"], 1),
        (["cache-references"], 2),
        (["cache-misses"], 3),
        (["branch-instructions", "branches"], 4),
        (["branch-misses"], 5),
        (["bus-cycles"], 6),
        (["stalled-cycles-frontend", "idle-cycles-frontend"], 7),
        (["stalled-cycles-backend", "idle-cycles-backend"], 8),
        (["ref-cycles"], 9),
    ]

    public static let software: [(names: [String], config: UInt64)] = [
        (["cpu-clock"], 0),
        (["task-clock"], 1),
        (["page-faults", "faults"], 2),
        (["context-switches", "cs"], 3),
        (["cpu-migrations", "migrations"], 4),
        (["minor-faults"], 5),
        (["major-faults"], 6),
        (["alignment-faults"], 7),
        (["emulation-faults"], 8),
        (["dummy"], 9),
        (["bpf-output"], 10),
        (["cgroup-switches"], 11),
    ]

    // PERF_COUNT_HW_CACHE_* ids and perf's spelling of each.
    static let caches: [(name: String, id: UInt64)] = [
        ("L1-dcache", 0), ("L1-icache", 1), ("LLC", 2), ("dTLB", 3), ("iTLB", 4), ("branch", 5), ("node", 6),
    ]
    static let cacheOps: [(name: String, id: UInt64)] = [("load", 0), ("store", 1), ("prefetch", 2)]

    /// Every perf cache event name, e.g. "dTLB-load-misses" → config 3 | 0<<8 | 1<<16.
    public static let cache: [(name: String, config: UInt64)] = {
        var result: [(String, UInt64)] = []
        for cache in caches {
            for op in cacheOps {
                result.append(("\(cache.name)-\(op.name)s", cache.id | op.id << 8 | 0 << 16))
                result.append(("\(cache.name)-\(op.name)-misses", cache.id | op.id << 8 | 1 << 16))
            }
        }
        return result
    }()

    /// Looks up a generic name (case-insensitive, as perf does). Clock events are
    /// printed in msec, as perf and simpleperf do.
    /// Lower-cased name → (type, config), first spelling wins (hardware, software, cache).
    private static let index: [String: (type: UInt32, config: UInt64)] = {
        var index: [String: (type: UInt32, config: UInt64)] = [:]
        for h in hardware { for n in h.names where index[n] == nil { index[n] = (PerfType.hardware, h.config) } }
        for s in software { for n in s.names where index[n] == nil { index[n] = (PerfType.software, s.config) } }
        for c in cache where index[c.name.lowercased()] == nil { index[c.name.lowercased()] = (PerfType.hardwareCache, c.config) }
        return index
    }()

    public static func lookup(_ name: String) -> ResolvedEvent? {
        guard let hit = index[name.lowercased()] else { return nil }
        let clock = hit.type == PerfType.software && hit.config <= 1
        return ResolvedEvent(name: name, attr: EventAttr(type: hit.type, config: hit.config),
                             source: .generic, unit: clock ? "msec" : "", scale: clock ? 1e-6 : 1)
    }

    public static var allNames: [String] {
        hardware.flatMap(\.names) + software.flatMap(\.names) + cache.map(\.name)
    }
}
