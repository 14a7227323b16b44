import StallCore

/// Turns the names users type into events the engine can open, trying in order:
/// kernel signals (`pressure:`, `vmstat:`), perf's generic names, `rNNNN`,
/// `pmu/terms/` via sysfs, tracepoints via tracefs, then libpfm4. A trailing perf
/// modifier (`:u`, `:k`) is honoured on all of them.
public struct EventResolver {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case unknownEvent(String, suggestions: [String], details: [String])
        case badTerms(String, reason: String)

        public var description: String {
            switch self {
            case .unknownEvent(let name, let suggestions, let details):
                var s = "unknown event '\(name)'"
                if !suggestions.isEmpty { s += "; did you mean: \(suggestions.joined(separator: ", "))" }
                s += ". `stallstat list` shows every event usable here."
                for d in details { s += "\n  (\(d))" }
                return s
            case .badTerms(let name, let reason): return "cannot encode '\(name)': \(reason)"
            }
        }
    }

    public var pmus: SysfsPMUs

    public init(pmus: SysfsPMUs = SysfsPMUs()) {
        self.pmus = pmus
    }

    public func resolve(_ name: String) throws -> ResolvedEvent {
        var details: [String] = []
        if let event = try resolveExact(name, details: &details) { return event }
        if let (base, modifiers) = EventModifiers.split(name), var event = try resolveExact(base, details: &details, allowLibpfm: false) {
            guard var attr = event.attr else {
                throw Failure.badTerms(name, reason: "modifiers do not apply to a /proc kernel signal")
            }
            modifiers.apply(to: &attr)
            event.attr = attr
            event.name = name
            return event
        }
        var candidates = GenericEvents.allNames + KernelSignalKind.defaultSet.map(\.name)
        if Tracefs.looksLikeTracepoint(name) { candidates += Tracefs.allTracepoints() }
        throw Failure.unknownEvent(name, suggestions: Suggestions.closest(to: name, among: candidates), details: details)
    }

    func resolveExact(_ name: String, details: inout [String], allowLibpfm: Bool = true) throws -> ResolvedEvent? {
        if let signal = KernelSignalKind(name: name) {
            return ResolvedEvent(name: name, attr: nil, source: .kernelSignal(file: signal.procFile), unit: signal.unit)
        }
        if let generic = GenericEvents.lookup(name) { return generic }
        if let code = RawEventSyntax.rawCode(name) {
            // On Arm big.LITTLE the engine re-types this per CPU with that cluster's PMU.
            return ResolvedEvent(name: name, attr: EventAttr(type: PerfType.raw, config: code), source: .raw)
        }
        if let (pmuName, terms) = RawEventSyntax.pmuTerms(name) {
            guard let pmu = pmus.named(pmuName) else {
                throw Failure.badTerms(name, reason: "no PMU '\(pmuName)' in \(pmus.root); present: \(pmus.pmus.map(\.name).joined(separator: ", "))")
            }
            do {
                let attr = try encodePMUTerms(pmu: pmuName, type: pmu.type, terms: terms, formats: pmu.formats)
                return ResolvedEvent(name: name, attr: attr, source: .sysfs(pmu: pmuName))
            } catch let e as PMUTermError {
                throw Failure.badTerms(name, reason: e.description)
            }
        }
        if Tracefs.looksLikeTracepoint(name) {
            do {
                let (id, path) = try Tracefs.tracepointID(name)
                return ResolvedEvent(name: name, attr: EventAttr(type: PerfType.tracepoint, config: id), source: .tracepoint(path: path))
            } catch let e as Tracefs.Failure {
                details.append(e.description)
            }
        }
        if allowLibpfm {
            do {
                let (attr, pmu, full) = try LibPfm.encode(name)
                return ResolvedEvent(name: name, attr: attr, source: .libpfm4(pmu: pmu, fullName: full))
            } catch let e as LibPfm.Failure {
                details.append(e.description)
            }
        }
        return nil
    }
}
