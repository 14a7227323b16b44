/// Where counts come from.
public enum CounterSource: String, CaseIterable, Sendable {
    /// perf_event_open, and rusage when it is refused (a launched command only).
    case auto
    /// perf_event_open counters (software, tracepoint and hardware events).
    case perf
    /// What the kernel accounts to every process anyway (wait4's rusage, /proc): no
    /// privilege, no PMU, no perf_event_open.
    case rusage
    /// The command run under valgrind's cachegrind: simulated instructions and cache
    /// misses, the same on every run of a deterministic program.
    case simulated

    /// The suffix a metric measured this way carries (`page-faults (rusage)`), so a
    /// baseline of one source is never compared with counts of another.
    public var suffix: String {
        switch self {
        case .auto, .perf: return ""
        case .rusage: return " (rusage)"
        case .simulated: return " (simulated)"
        }
    }

    /// How stderr names the source.
    public var description: String {
        switch self {
        case .auto, .perf: return "perf_event_open"
        case .rusage: return "the kernel's accounting of the command (rusage)"
        case .simulated: return "valgrind's cachegrind (simulated)"
        }
    }

    /// The metric name without a source suffix, for thresholds and aliases.
    public static func baseName(_ metric: String) -> String {
        for s in [CounterSource.rusage, .simulated] where metric.hasSuffix(s.suffix) { return String(metric.dropLast(s.suffix.count)) }
        return metric
    }
}

/// A count one of the accounting sources offers, named as the user typed it: its own
/// name, an alias, either with the source's suffix (`page-faults (rusage)`, as a baseline
/// stores it).
public protocol SourceMetric: RawRepresentable where RawValue == String {
    static var aliases: [String: Self] { get }
}

extension SourceMetric {
    public init?(eventName: String) {
        let name = CounterSource.baseName(eventName)
        guard let m = Self(rawValue: name) ?? Self.aliases[name] else { return nil }
        self = m
    }
}

/// The kernel's accounting of a process and the descendants it waited for (wait4's
/// struct rusage), in the units printed.
public struct ResourceUsage: Equatable, Sendable {
    public var userNs: Double = 0
    public var systemNs: Double = 0
    public var minorFaults: Double = 0
    public var majorFaults: Double = 0
    public var voluntarySwitches: Double = 0
    public var involuntarySwitches: Double = 0
    public var maxRSSKiB: Double = 0
    public var blockInputs: Double = 0
    public var blockOutputs: Double = 0
    public init() {}

    /// What the command spent before its exec (the paused child between fork and exec,
    /// read from /proc just before it is released) taken away, so counting starts at exec
    /// as perf's enable_on_exec does. Max RSS is a high-water mark and is kept.
    public func since(_ before: ProcessCounts) -> ResourceUsage {
        var r = self
        // The pre-exec time is the scheduler's exact runtime; rusage splits its total the
        // same way, so it comes off the system share first (fork and exec are kernel work).
        let cpu = max(0, userNs + systemNs - before.runtimeNs)
        r.systemNs = min(systemNs, max(0, cpu - userNs))
        r.userNs = cpu - r.systemNs
        r.minorFaults = max(0, minorFaults - before.minorFaults)
        r.majorFaults = max(0, majorFaults - before.majorFaults)
        r.voluntarySwitches = max(0, voluntarySwitches - before.voluntarySwitches)
        r.involuntarySwitches = max(0, involuntarySwitches - before.involuntarySwitches)
        return r
    }
}

/// One task's own counts from /proc: runtime (schedstat, ns), faults (stat), switches
/// (status). Read of the paused child before its exec.
public struct ProcessCounts: Equatable, Sendable {
    public var runtimeNs: Double = 0
    public var minorFaults: Double = 0
    public var majorFaults: Double = 0
    public var voluntarySwitches: Double = 0
    public var involuntarySwitches: Double = 0
    public init() {}

    /// /proc/PID/schedstat ("runtime_ns wait_ns slices"), /proc/PID/stat (minflt is field
    /// 10, majflt 12, counted after the command name's closing parenthesis), and the
    /// `voluntary_ctxt_switches` lines of /proc/PID/status. Anything unreadable is 0.
    public static func parse(schedstat: String, stat: String, status: String) -> ProcessCounts {
        var c = ProcessCounts()
        if let first = schedstat.split(separator: " ").first, let v = UInt64(first.trimmingWhitespace()) { c.runtimeNs = Double(v) }
        if let paren = stat.lastIndex(of: ")") {
            // Fields after the name start at field 3 (state).
            let fields = stat[stat.index(after: paren)...].split(separator: " ")
            if fields.count > 9 {
                c.minorFaults = Double(UInt64(fields[7]) ?? 0)
                c.majorFaults = Double(UInt64(fields[9]) ?? 0)
            }
        }
        for line in status.split(separator: "\n") {
            let kv = line.split(separator: ":", maxSplits: 1)
            guard kv.count == 2, let v = UInt64(kv[1].trimmingWhitespace()) else { continue }
            if kv[0] == "voluntary_ctxt_switches" { c.voluntarySwitches = Double(v) }
            if kv[0] == "nonvoluntary_ctxt_switches" { c.involuntarySwitches = Double(v) }
        }
        return c
    }
}

/// The counts `--counters=rusage` offers, with perf's names where perf has the event.
public enum RusageMetric: String, CaseIterable, Sendable, SourceMetric {
    case taskClock = "task-clock"
    case userTime = "user-time"
    case systemTime = "system-time"
    case pageFaults = "page-faults"
    case minorFaults = "minor-faults"
    case majorFaults = "major-faults"
    case contextSwitches = "context-switches"
    case voluntarySwitches = "voluntary-context-switches"
    case involuntarySwitches = "involuntary-context-switches"
    case maxRSS = "max-rss"
    case blockInput = "block-input"
    case blockOutput = "block-output"

    /// perf's aliases (`faults`, `cs`); a `:u` modifier has no meaning here (rusage counts
    /// the task in user and kernel mode alike) and is refused.
    public static let aliases: [String: RusageMetric] = ["faults": .pageFaults, "cs": .contextSwitches, "maj-faults": .majorFaults,
                                                         "min-faults": .minorFaults, "rss": .maxRSS]

    /// The set `stat --counters=rusage` prints when no event is named.
    public static let defaultSet: [RusageMetric] = allCases

    public var unit: String {
        switch self {
        case .taskClock, .userTime, .systemTime: return "msec"
        case .maxRSS: return "KiB"
        default: return ""
        }
    }

    /// Times in ns (printed in ms, as perf's clock events), KiB for the RSS, counts otherwise.
    public func value(_ u: ResourceUsage) -> Double {
        switch self {
        case .taskClock: return u.userNs + u.systemNs
        case .userTime: return u.userNs
        case .systemTime: return u.systemNs
        case .pageFaults: return u.minorFaults + u.majorFaults
        case .minorFaults: return u.minorFaults
        case .majorFaults: return u.majorFaults
        case .contextSwitches: return u.voluntarySwitches + u.involuntarySwitches
        case .voluntarySwitches: return u.voluntarySwitches
        case .involuntarySwitches: return u.involuntarySwitches
        case .maxRSS: return u.maxRSSKiB
        case .blockInput: return u.blockInputs
        case .blockOutput: return u.blockOutputs
        }
    }

    /// The row: `page-faults (rusage)`, counted over the whole run (never multiplexed).
    public func result(_ u: ResourceUsage, elapsedNs: Double) -> CounterResult {
        CounterResult(name: rawValue + CounterSource.rusage.suffix, unit: unit, scale: unit == "msec" ? 1e-6 : 1, status: .counted, value: value(u),
                      timeEnabledNs: elapsedNs, timeRunningNs: elapsedNs)
    }
}

/// valgrind's cachegrind summary: `events:` names the columns, `summary:` totals them
/// (one file per process with --trace-children). Ir instructions, I1mr/ILmr instruction
/// fetch misses in L1/last level, Dr/D1mr/DLmr data reads, Dw/D1mw/DLmw data writes.
public struct CachegrindSummary: Equatable, Sendable {
    public var totals: [String: Double] = [:]
    public init() {}

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case missing(String)
        case badNumber(String)
        public var description: String {
            switch self {
            case .missing(let what): return "cachegrind output has no \(what) line"
            case .badNumber(let v): return "cachegrind output has a malformed count '\(v)'"
            }
        }
    }

    /// Reads one cachegrind.out file (only its `events:` and `summary:` lines).
    public static func parse(_ text: String) throws -> CachegrindSummary {
        var names: [String]? = nil, values: [String]? = nil
        for line in text.split(separator: "\n") {
            if line.hasPrefix("events:") { names = line.dropFirst(7).split(separator: " ").map(String.init) }
            if line.hasPrefix("summary:") { values = line.dropFirst(8).split(separator: " ").map(String.init) }
        }
        guard let names else { throw ParseError.missing("events:") }
        guard let values else { throw ParseError.missing("summary:") }
        var s = CachegrindSummary()
        for (i, name) in names.enumerated() {
            // A column left out at the end of a summary line is 0, as cg_annotate reads it.
            let text = i < values.count ? values[i] : "0"
            guard let v = UInt64(text) else { throw ParseError.badNumber(text) }
            s.totals[name] = Double(v)
        }
        return s
    }

    /// Sums the summaries of several processes (a command and the children it ran).
    public static func + (a: CachegrindSummary, b: CachegrindSummary) -> CachegrindSummary {
        var s = a
        for (k, v) in b.totals { s.totals[k, default: 0] += v }
        return s
    }

    public subscript(_ event: String) -> Double { totals[event] ?? 0 }
}

/// The counts `--counters=simulated` offers.
public enum SimulatedMetric: String, CaseIterable, Sendable, SourceMetric {
    case instructions
    case dataReads = "data-reads"
    case dataWrites = "data-writes"
    case l1InstructionMisses = "L1-icache-misses"
    case l1DataMisses = "L1-dcache-misses"
    case lastLevelMisses = "LL-misses"
    case estimatedCycles = "estimated-cycles"

    /// The names perf users type for the closest hardware events.
    public static let aliases: [String: SimulatedMetric] = ["inst_retired": .instructions, "instructions:u": .instructions, "cycles": .estimatedCycles,
                                                            "LLC-misses": .lastLevelMisses, "L1-dcache-load-misses": .l1DataMisses]

    public static let defaultSet: [SimulatedMetric] = allCases

    /// Every count is the program's own user-space work as valgrind executes it. The
    /// cycle estimate is the one iai-callgrind and CodSpeed use: L1 hits + 5 × last-level
    /// hits + 35 × memory accesses (misses of the last level).
    public func value(_ s: CachegrindSummary) -> Double {
        let l1Misses = s["I1mr"] + s["D1mr"] + s["D1mw"]
        let llMisses = s["ILmr"] + s["DLmr"] + s["DLmw"]
        switch self {
        case .instructions: return s["Ir"]
        case .dataReads: return s["Dr"]
        case .dataWrites: return s["Dw"]
        case .l1InstructionMisses: return s["I1mr"]
        case .l1DataMisses: return s["D1mr"] + s["D1mw"]
        case .lastLevelMisses: return llMisses
        case .estimatedCycles:
            let accesses = s["Ir"] + s["Dr"] + s["Dw"]
            return (accesses - l1Misses) + 5 * (l1Misses - llMisses) + 35 * llMisses
        }
    }

    public func result(_ s: CachegrindSummary, elapsedNs: Double) -> CounterResult {
        CounterResult(name: rawValue + CounterSource.simulated.suffix, status: .counted, value: value(s), timeEnabledNs: elapsedNs, timeRunningNs: elapsedNs)
    }
}
