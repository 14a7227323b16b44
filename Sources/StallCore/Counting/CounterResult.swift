/// What became of one counter over a measurement window.
public enum CounterStatus: Equatable, Sendable {
    case counted
    /// Opened, but never scheduled on the PMU in this window (perf's `<not counted>`).
    case notCounted
    /// Could not be opened (perf's `<not supported>`); the reason is for stderr.
    case notSupported(reason: String)
}

/// One row of a stat report: one event, aggregated over CPUs/threads, or for one CPU.
public struct CounterResult: Equatable, Sendable {
    public var name: String
    public var unit: String
    /// Multiplier from the kernel's unit to the printed one (ns → ms for clocks).
    public var scale: Double
    public var status: CounterStatus
    /// Scaled count in the kernel's unit (ns for clocks).
    public var value: Double
    public var timeEnabledNs: Double
    public var timeRunningNs: Double
    public var cpu: Int?
    /// The socket/die/core/node or thread this row stands for (`--per-*`).
    public var aggregate: AggregateKey? = nil
    /// The cgroup counted (`-G`, `--for-each-cgroup`).
    public var cgroup: String? = nil
    /// perf's `( +- x.xx% )` for repeated runs: standard error of the mean / mean.
    public var variancePercent: Double?
    public var needsHardwarePMU: Bool
    /// The generic counter it is, from the event's resolution; nil for imported rows
    /// (their printed name is classified instead: `genericKind`).
    public var kind: GenericKind? = nil
    /// The /proc counter it was read from, from the event's resolution; nil for imported
    /// rows and perf counters (`kernelSignal` classifies an imported name).
    public var signal: KernelSignalKind? = nil
    /// Which of the run's events (its position in the resolved list) the row counts; nil
    /// for imported rows. Runs of one event list can be merged by it (`--no-multiplex`),
    /// whatever the row is called (`cycles:u` after a fallback, two events of one name).
    public var eventIndex: Int? = nil

    /// What the row counts: as resolved, else as its printed name says.
    public var genericKind: GenericKind { kind ?? GenericKind(name: name) }
    public var kernelSignal: KernelSignalKind? { kind == nil ? KernelSignalKind(name: name) : signal }

    public init(name: String, unit: String = "", scale: Double = 1, status: CounterStatus, value: Double = 0,
                timeEnabledNs: Double = 0, timeRunningNs: Double = 0, cpu: Int? = nil,
                variancePercent: Double? = nil, needsHardwarePMU: Bool = false) {
        self.name = name
        self.unit = unit
        self.scale = scale
        self.status = status
        self.value = value
        self.timeEnabledNs = timeEnabledNs
        self.timeRunningNs = timeRunningNs
        self.cpu = cpu
        self.variancePercent = variancePercent
        self.needsHardwarePMU = needsHardwarePMU
    }

    /// The value in printed units (msec for clocks).
    public var printedValue: Double { value * scale }

    /// perf's `(62.50%)`: the share of the enabled time the counter ran.
    public var percentRunning: Double {
        if timeEnabledNs == timeRunningNs || timeEnabledNs == 0 { return 100 }
        return 100 * timeRunningNs / timeEnabledNs
    }

    public var isMultiplexed: Bool { status == .counted && timeRunningNs < timeEnabledNs }
    public var isClock: Bool { unit == "msec" }

    /// Rows that share a CPU, an aggregate and a cgroup are one another's peers for
    /// ratios and rates (perf's shadow metrics are kept per such row).
    public func isPeer(of other: CounterResult) -> Bool {
        cpu == other.cpu && aggregate == other.aggregate && cgroup == other.cgroup
    }
}

extension CounterResult {
    /// Carries the event's identity, decided at resolution, to its row.
    public mutating func identify(as event: ResolvedEvent) {
        kind = event.kind
        signal = event.procCounter
    }

    /// Aggregates per-CPU or per-thread readings the way perf does: each reading is
    /// scaled on its own, then values and times are summed.
    public static func aggregate(event: ResolvedEvent, readings: [CounterReading], cpu: Int? = nil,
                                 key: AggregateKey? = nil) -> CounterResult {
        var value = 0.0, enabled = 0.0, running = 0.0
        var anyRan = false
        for r in readings {
            enabled += Double(r.timeEnabledNs)
            running += Double(r.timeRunningNs)
            if let v = r.scaledValue { value += v; anyRan = true }
            else if r.timeRunningNs > 0 { anyRan = true }
        }
        var r = CounterResult(name: event.name, unit: event.unit, scale: event.scale,
                              status: anyRan ? .counted : .notCounted, value: value,
                              timeEnabledNs: enabled, timeRunningNs: running, cpu: cpu,
                              needsHardwarePMU: event.needsHardwarePMU)
        r.identify(as: event)
        r.aggregate = key
        r.cgroup = event.cgroup
        return r
    }
}
