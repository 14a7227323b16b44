/// The fields of a `perf_event_attr` that identify what an event counts.
/// Sampling, grouping and enable settings are chosen by the engine that opens it.
public struct EventAttr: Hashable, Sendable {
    public var type: UInt32
    public var config: UInt64
    public var config1: UInt64
    public var config2: UInt64
    public var excludeUser: Bool
    public var excludeKernel: Bool
    public var excludeHypervisor: Bool

    public init(type: UInt32, config: UInt64, config1: UInt64 = 0, config2: UInt64 = 0,
                excludeUser: Bool = false, excludeKernel: Bool = false, excludeHypervisor: Bool = false) {
        self.type = type
        self.config = config
        self.config1 = config1
        self.config2 = config2
        self.excludeUser = excludeUser
        self.excludeKernel = excludeKernel
        self.excludeHypervisor = excludeHypervisor
    }
}

/// `perf_type_id` from <linux/perf_event.h>.
public enum PerfType {
    public static let hardware: UInt32 = 0
    public static let software: UInt32 = 1
    public static let tracepoint: UInt32 = 2
    public static let hardwareCache: UInt32 = 3
    public static let raw: UInt32 = 4
    public static let breakpoint: UInt32 = 5
}

/// `read_format` bits.
public enum ReadFormat {
    public static let totalTimeEnabled: UInt64 = 1 << 0
    public static let totalTimeRunning: UInt64 = 1 << 1
    public static let id: UInt64 = 1 << 2
    public static let group: UInt64 = 1 << 3
    /// PERF_FORMAT_LOST (Linux 6.0): a lost-samples count after each value.
    public static let lost: UInt64 = 1 << 4
    /// What the counting engine always asks for.
    public static let counting: UInt64 = totalTimeEnabled | totalTimeRunning | id | group
}

/// Where a name was resolved, printed by `stallstat encode` and `list`.
public enum EventSource: Hashable, Sendable {
    case generic            // perf's built-in hardware/software/cache names
    case raw                // rNNNN
    case sysfs(pmu: String) // pmu/term=value/
    case tracepoint(path: String)
    case libpfm4(pmu: String, fullName: String)
    case table(file: String)
    case kernelSignal(file: String)   // a /proc counter read at start and end

    public var label: String {
        switch self {
        case .generic: return "generic"
        case .raw: return "raw"
        case .sysfs(let pmu): return "sysfs:\(pmu)"
        case .tracepoint(let path): return "tracefs:\(path)"
        case .libpfm4(let pmu, let full): return "libpfm4:\(pmu):\(full)"
        case .table(let file): return "table:\(file)"
        case .kernelSignal(let file): return "procfs:\(file)"
        }
    }
}

/// A name the user typed, resolved to something the engine can open or read.
public struct ResolvedEvent: Hashable, Sendable {
    /// The name as it will be printed (what the user typed, modifiers included).
    public var name: String
    /// nil for kernel signals, which are read from /proc rather than opened.
    public var attr: EventAttr?
    public var source: EventSource
    /// perf's unit column: "msec" for the clock events, "" otherwise.
    public var unit: String
    /// Multiplier from the raw kernel count to the printed value (clock events: ns → ms).
    public var scale: Double
    /// On heterogeneous (big.LITTLE) systems: each CPU's own encoding (its core's event
    /// number, its cluster's PMU type). A CPU missing here does not implement the event.
    public var cpuAttrs: [Int: EventAttr]? = nil
    /// The /proc counter this event reads, for kernel signals (`pressure:`, `vmstat:`).
    public var procCounter: KernelSignalKind? = nil
    /// A tracepoint filter (`--filter`), set with PERF_EVENT_IOC_SET_FILTER.
    public var tracepointFilter: String? = nil
    /// Count only tasks of this cgroup (`-G`), a path below the perf_event cgroup mount.
    public var cgroup: String? = nil
    /// Which generic counter this is (cycles, instructions, ...), decided once from its
    /// encoding at resolution and carried to every row counted from it.
    public var kind: GenericKind = .other

    public init(name: String, attr: EventAttr?, source: EventSource, unit: String = "", scale: Double = 1) {
        self.name = name
        self.attr = attr
        self.source = source
        self.unit = unit
        self.scale = scale
    }

    /// True for counters a hardware PMU provides (they can be multiplexed or missing).
    public var needsHardwarePMU: Bool {
        guard let attr else { return false }
        switch attr.type {
        case PerfType.hardware, PerfType.hardwareCache, PerfType.raw: return true
        case PerfType.software, PerfType.tracepoint, PerfType.breakpoint: return false
        default: return true   // dynamic PMU types from sysfs
        }
    }

    public var isClock: Bool { unit == "msec" }

    /// How the engine gets the count: a perf_event_open counter, or a /proc counter read
    /// at window boundaries. Decided at resolution, never re-derived from the name.
    public enum Backend: Hashable, Sendable {
        case perf(EventAttr)
        case procCounter(KernelSignalKind)
        case none
    }

    public var backend: Backend {
        if let procCounter { return .procCounter(procCounter) }
        if let attr { return .perf(attr) }
        return .none
    }

    /// The encoding to open on `cpu` (-1: a task on any CPU).
    public func attr(forCPU cpu: Int) -> EventAttr? {
        guard let cpuAttrs else { return attr }
        return cpu >= 0 ? cpuAttrs[cpu] : nil
    }
}
