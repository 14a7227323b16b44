/// A figure derived from one counter and its neighbours, printed after `#` in text
/// and in perf's metric-value / metric-unit columns.
public struct DerivedMetric: Equatable, Sendable {
    public var value: Double
    public var unit: String
    /// Digits after the point in CSV (perf's own print formats differ per metric).
    public var csvPrecision: Int
}

/// The shadow metrics perf stat prints (tools/perf/util/stat-shadow.c): rates are per
/// second of task-clock/cpu-clock time, ratios use the matching counter of the same
/// window (and the same CPU in per-CPU output).
public enum PerfShadowMetrics {
    public static func metric(for result: CounterResult, in window: StatWindow) -> DerivedMetric? {
        guard result.status == .counted else { return nil }
        let peers = window.results.filter { $0.isPeer(of: result) && $0.status == .counted }
        let kind = result.genericKind
        if result.isClock {
            guard window.elapsedNs > 0 else { return nil }
            return DerivedMetric(value: result.value / window.elapsedNs, unit: "CPUs utilized", csvPrecision: 3)
        }
        if let pressure = result.kernelSignal, pressure.isPressure {
            guard window.elapsedNs > 0 else { return nil }
            return DerivedMetric(value: 100 * result.value * 1000 / window.elapsedNs, unit: "% of time stalled", csvPrecision: 2)
        }
        let cycles = peers.first { $0.genericKind == .cycles }?.value
        switch kind {
        case .instructions:
            if let cycles, cycles > 0 { return DerivedMetric(value: result.value / cycles, unit: "insn per cycle", csvPrecision: 2) }
        case .stalledFrontend:
            if let cycles, cycles > 0 { return DerivedMetric(value: 100 * result.value / cycles, unit: "frontend cycles idle", csvPrecision: 2) }
        case .stalledBackend:
            if let cycles, cycles > 0 { return DerivedMetric(value: 100 * result.value / cycles, unit: "backend cycles idle", csvPrecision: 2) }
        case .branchMisses:
            if let branches = peers.first(where: { $0.genericKind == .branches })?.value, branches > 0 {
                return DerivedMetric(value: 100 * result.value / branches, unit: "of all branches", csvPrecision: 2)
            }
        default: break
        }
        guard let nsecs = peers.first(where: { $0.isClock })?.value, nsecs > 0 else { return nil }
        if kind == .cycles { return DerivedMetric(value: result.value / nsecs, unit: "GHz", csvPrecision: 3) }
        let rate = rateWithPrefix(1e9 * result.value / nsecs)
        return DerivedMetric(value: rate.value, unit: rate.unit, csvPrecision: 3)
    }
}

/// The comment simpleperf prints after `#` ("count / runtime"): rates over each
/// counter's own enabled time summed over CPUs (the scaled count over the time it
/// stands for; simpleperf divides by the clock's time, the same when it ran all along), which is why a 20 s system-wide run
/// on 8 CPUs shows cycles as 0.157 GHz.
public enum SimpleperfComments {
    public static func comment(for result: CounterResult, in window: StatWindow) -> String {
        guard result.status == .counted else { return "" }
        // A high-water mark (max-rss) has no rate.
        if result.unit == "KiB" { return "" }
        if result.isClock {
            guard window.elapsedNs > 0 else { return "" }
            return cFormat("%f cpus used", result.value / window.elapsedNs)
        }
        if let signal = result.kernelSignal {
            guard window.elapsedNs > 0 else { return "" }
            if signal.isPressure { return cFormat("%.2f%% of wall time stalled", 100 * result.value * 1000 / window.elapsedNs) }
            let rate = rateWithPrefix(result.value * 1e9 / window.elapsedNs)
            return cFormat("%.3f ", rate.value) + rate.unit
        }
        let kind = result.genericKind
        if kind == .instructions,
           let cycles = window.results.first(where: { $0.isPeer(of: result) && $0.status == .counted && $0.genericKind == .cycles }),
           result.value > 0 {
            return cFormat("%f cycles per instruction", cycles.value / result.value)
        }
        // `value` is already scaled to the enabled time (raw × enabled/running), so the
        // rate is over the enabled time; over the running time it would be scaled twice
        // (a 1 GHz clock counted 67.5% of the time read 1.48 GHz).
        guard result.timeEnabledNs > 0 else { return "" }
        if kind == .cycles { return cFormat("%f GHz", result.value / result.timeEnabledNs) }
        let rate = rateWithPrefix(result.value * 1e9 / result.timeEnabledNs)
        return cFormat("%.3f ", rate.value) + rate.unit
    }
}

/// Which generic counter an event is. Live events get it from their encoding at
/// resolution (`init(attr:armCorePMUTypes:)`); only rows imported from saved text, where
/// a printed name is all there is, are classified by name.
public enum GenericKind: Hashable, Sendable {
    case cycles, instructions, stalledFrontend, stalledBackend, branches, branchMisses, other

    /// From the encoding: perf's generic hardware events (PERF_TYPE_HARDWARE, any PMU on
    /// hybrid machines: the PMU type is in config's upper half), and Arm's architectural
    /// CPU_CYCLES (0x11) and INST_RETIRED (0x08) where the event goes to an Arm core PMU
    /// (its own type, or PERF_TYPE_RAW on an Arm machine). On x86, r11 is not cycles.
    public init(attr: EventAttr?, armCorePMUTypes: Set<UInt32>) {
        guard let attr else { self = .other; return }
        if attr.type == PerfType.hardware {
            switch attr.config & 0xFFFF_FFFF {
            case 0: self = .cycles
            case 1: self = .instructions
            case 4: self = .branches
            case 5: self = .branchMisses
            case 7: self = .stalledFrontend
            case 8: self = .stalledBackend
            default: self = .other
            }
        } else if armCorePMUTypes.contains(attr.type) {
            switch attr.config & 0xFFFF {
            case 0x11: self = .cycles
            case 0x08: self = .instructions
            default: self = .other
            }
        } else {
            self = .other
        }
    }

    /// From a printed name (perf's and simpleperf's spellings, modifiers ignored): for
    /// imported text only. `r11`/`r08` are Arm's CPU_CYCLES/INST_RETIRED only where the
    /// counts are known to be Arm's (`rawCodesAreArm`: a simpleperf capture, an Arm core's
    /// tables); saved perf text does not say which machine it came from, and there the
    /// default reads them as Arm's, the codes raw stall analysis uses.
    public init(name: String, rawCodesAreArm: Bool = true) {
        let base = (EventModifiers.split(name)?.base ?? name).lowercased()
        switch base {
        case "cycles", "cpu-cycles", "cpu_cycles", "raw-cpu-cycles": self = .cycles
        case "r11" where rawCodesAreArm: self = .cycles
        case "instructions", "inst_retired", "raw-inst-retired": self = .instructions
        case "r8" where rawCodesAreArm, "r08" where rawCodesAreArm: self = .instructions
        case "stalled-cycles-frontend", "idle-cycles-frontend": self = .stalledFrontend
        case "stalled-cycles-backend", "idle-cycles-backend": self = .stalledBackend
        case "branches", "branch-instructions": self = .branches
        case "branch-misses": self = .branchMisses
        default: self = .other
        }
    }
}
