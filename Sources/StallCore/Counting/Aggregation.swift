/// What one output row stands for when counts are not summed over everything:
/// perf's `--per-socket`, `--per-die`, `--per-cluster`, `--per-cache`, `--per-core`,
/// `--per-node` (a set of CPUs) and `--per-thread` (one monitored thread). `-A` rows keep
/// using `CounterResult.cpu`.
public struct AggregateKey: Hashable, Sendable, Comparable {
    public enum Kind: String, Sendable {
        case socket, die, cluster, cache, core, node, thread
    }

    public var kind: Kind
    /// perf's label: `S0`, `S0-D0`, `S0-D0-CLS0`, `S0-D0-L3-ID0`, `S0-D0-C1`, `N0`, `comm-tid`.
    public var label: String
    /// CPUs aggregated into this row (perf's `aggregate-number`); 0 for a thread.
    public var members: Int
    /// Sort order: the numeric ids (socket, die, core / node / tid).
    public var order: [Int]

    public init(kind: Kind, label: String, members: Int, order: [Int]) {
        self.kind = kind
        self.label = label
        self.members = members
        self.order = order
    }

    public static func < (a: AggregateKey, b: AggregateKey) -> Bool { a.order.lexicographicallyPrecedes(b.order) }

    public static func thread(comm: String, tid: Int32) -> AggregateKey {
        AggregateKey(kind: .thread, label: "\(comm)-\(tid)", members: 0, order: [Int(tid)])
    }
}

/// Where a CPU sits: what `/sys/devices/system/cpu/cpuN/topology` and the NUMA node
/// directories say.
public struct CPUPlace: Hashable, Sendable {
    public var socket: Int
    public var die: Int
    public var core: Int
    public var node: Int
    /// topology/cluster_id (0 where the kernel has none).
    public var cluster: Int = 0
    /// The cache `--per-cache` groups by: its level, and its instance id, which perf takes
    /// as the lowest CPU of the cache's shared_cpu_list (-1: no cache information).
    public var cacheLevel: Int = 0
    public var cacheID: Int = -1

    public init(socket: Int, die: Int, core: Int, node: Int, cluster: Int = 0, cacheLevel: Int = 0, cacheID: Int = -1) {
        self.socket = socket
        self.die = die
        self.core = core
        self.node = node
        self.cluster = cluster
        self.cacheLevel = cacheLevel
        self.cacheID = cacheID
    }
}

/// One cache a CPU uses, as sysfs lists it (cpuN/cache/indexK): its level and the CPUs that
/// share it.
public struct CPUCache: Equatable, Sendable {
    public var level: Int
    public var sharedCPUs: [Int]
    public init(level: Int, sharedCPUs: [Int]) {
        self.level = level
        self.sharedCPUs = sharedCPUs
    }

    /// perf's choice for `--per-cache[=Ln]` (builtin-stat.c, cpu__get_cache_details): the
    /// first cache of that level, or without a level the highest level the CPU has; its id
    /// is the lowest CPU sharing it (the CPU itself when the list is empty).
    public static func pick(_ caches: [CPUCache], level: Int?, cpu: Int) -> (level: Int, id: Int)? {
        let chosen: CPUCache?
        if let level { chosen = caches.first { $0.level == level } } else {
            var best: CPUCache? = nil
            for c in caches where c.level > (best?.level ?? Int.min) { best = c }
            chosen = best
        }
        guard let c = chosen else { return nil }
        return (c.level, c.sharedCPUs.min() ?? cpu)
    }

    /// `--per-cache`'s value, as perf takes it: `L` or `l` and one digit 1-4 (perf's
    /// MAX_CACHE_LVL); nil when absent (the highest level).
    public static func parseLevel(_ text: String) -> Result<Int, ParseError> {
        let chars = Array(text)
        guard chars.count == 2, chars[0] == "L" || chars[0] == "l", let n = Int(String(chars[1])), n >= 1 else {
            return .failure(ParseError(message: "--per-cache: the cache level must be of the form L[1-4] or l[1-4] (got '\(text)')"))
        }
        guard n <= 4 else { return .failure(ParseError(message: "--per-cache: levels go up to 4, as perf's (got '\(text)')")) }
        return .success(n)
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}

/// How the counts of one event are split into rows.
public enum Aggregation: Equatable, Sendable {
    /// One row per event (the default).
    case global
    /// `-A`: one row per CPU.
    case perCPU
    /// `--per-socket/--per-die/--per-core/--per-node`: CPUs grouped by their place.
    case perPlace(AggregateKey.Kind, places: [Int: CPUPlace])
    /// `--per-thread`: one row per monitored task (target index → its key).
    case perTarget([AggregateKey])

    /// The row key for a CPU under a per-place mode.
    public static func key(_ kind: AggregateKey.Kind, place p: CPUPlace, members: Int) -> AggregateKey {
        switch kind {
        case .socket: return AggregateKey(kind: kind, label: "S\(p.socket)", members: members, order: [p.socket])
        case .die: return AggregateKey(kind: kind, label: "S\(p.socket)-D\(p.die)", members: members, order: [p.socket, p.die])
        case .cluster:
            return AggregateKey(kind: kind, label: "S\(p.socket)-D\(p.die)-CLS\(p.cluster)", members: members, order: [p.socket, p.die, p.cluster])
        case .cache:
            return AggregateKey(kind: kind, label: "S\(p.socket)-D\(p.die)-L\(p.cacheLevel)-ID\(p.cacheID)", members: members,
                                order: [p.socket, p.die, p.cacheLevel, p.cacheID])
        case .core: return AggregateKey(kind: kind, label: "S\(p.socket)-D\(p.die)-C\(p.core)", members: members, order: [p.socket, p.die, p.core])
        case .node: return AggregateKey(kind: kind, label: "N\(p.node)", members: members, order: [p.node])
        case .thread: return AggregateKey(kind: kind, label: "?", members: 0, order: [])
        }
    }

    /// CPU → row key, with each key's member count, for the CPUs counted on.
    public static func keys(_ kind: AggregateKey.Kind, places: [Int: CPUPlace], cpus: [Int]) -> [Int: AggregateKey] {
        func id(_ p: CPUPlace) -> [Int] {
            switch kind {
            case .socket: return [p.socket]
            case .die: return [p.socket, p.die]
            case .cluster: return [p.socket, p.die, p.cluster]
            case .cache: return [p.socket, p.die, p.cacheLevel, p.cacheID]
            case .core: return [p.socket, p.die, p.core]
            case .node, .thread: return [p.node]
            }
        }
        var count: [[Int]: Int] = [:]
        for cpu in cpus { if let p = places[cpu] { count[id(p), default: 0] += 1 } }
        var result: [Int: AggregateKey] = [:]
        for cpu in cpus {
            let p = places[cpu] ?? CPUPlace(socket: 0, die: 0, core: cpu, node: 0)
            result[cpu] = key(kind, place: p, members: count[id(p)] ?? 1)
        }
        return result
    }
}
