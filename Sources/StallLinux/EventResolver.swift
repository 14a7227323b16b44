import StallCore

/// Turns the names users type into events the engine can open, trying in order:
/// kernel signals (`pressure:`, `vmstat:`), perf's generic names, `rNNNN`,
/// `pmu/terms/` via sysfs, tracepoints via tracefs, the EventTables of the detected
/// (or `--cpu`) core, then libpfm4. A trailing perf modifier (`:u`, `:k`) is honoured.
public final class EventResolver {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case unknownEvent(String, suggestions: [String], details: [String])
        case badTerms(String, reason: String)
        case notImplemented(String, core: String, available: [String])
        case noTableForCPU(String, knownOn: [String], cpu: String)
        case foreignLibpfmPMU(String, pmu: String, present: [String])

        public var description: String {
            switch self {
            case .unknownEvent(let name, let suggestions, let details):
                var s = "unknown event '\(name)'"
                if !suggestions.isEmpty { s += "; did you mean: \(suggestions.joined(separator: ", "))" }
                s += ". `stallstat list` shows every event usable here."
                for d in details { s += "\n  (\(d))" }
                return s
            case .badTerms(let name, let reason): return "cannot encode '\(name)': \(reason)"
            case .notImplemented(let name, let core, let available):
                return "\(core) does not implement '\(name)'. Its stall and TLB events are: \(available.joined(separator: ", ")). (A raw code such as r4005 is opened as given.)"
            case .noTableForCPU(let name, let known, let cpu):
                return "'\(name)' is an event of \(known.joined(separator: ", ")), but this machine's CPU is \(cpu), for which EventTables has no entry. Give --cpu-model MODEL (stat) or --cpu MODEL (encode, list) to encode it for another core, or use a raw rNNNN code."
            case .foreignLibpfmPMU(let name, let pmu, let present):
                return "libpfm4 encodes '\(name)' for its PMU '\(pmu)', which is not this machine's (libpfm4 detected: \(present.isEmpty ? "no core PMU" : present.joined(separator: ", "))). Counting it here would program the wrong event; `stallstat encode` shows the encoding."
            }
        }
    }

    public let pmus: SysfsPMUs
    private let tablesDirectory: String?
    private let modelOverride: String?
    private let topologyOverride: CPUTopology?
    /// `encode` may show encodings for PMUs this machine does not have; `stat` may not.
    public var allowForeignPMUs = false

    public init(pmus: SysfsPMUs = SysfsPMUs(), tablesDirectory: String? = nil, cpuModel: String? = nil,
                topology: CPUTopology? = nil) {
        self.pmus = pmus
        self.tablesDirectory = tablesDirectory
        self.modelOverride = cpuModel
        self.topologyOverride = topology
    }

    /// Loaded on first use: perf's own names never need the tables.
    public private(set) lazy var tables: EventTableSet = EventTableLoader.load(explicitDirectory: tablesDirectory)
    public private(set) lazy var topology: CPUTopology = topologyOverride ?? CPUTopology.detect(pmus: pmus)

    public enum ModelError: Error, CustomStringConvertible {
        case unknownModel(String, known: [String])
        public var description: String {
            switch self {
            case .unknownModel(let m, let known): return "unknown CPU model '\(m)'; EventTables knows: \(known.joined(separator: ", "))"
            }
        }
    }

    /// The core model of each CPU: the `--cpu` override for all, or detection.
    public func cpuModels() throws -> [Int: CPUModel] {
        if let name = modelOverride {
            guard let m = tables.model(named: name) else { throw ModelError.unknownModel(name, known: tables.cpus.map(\.name)) }
            let cpus = topology.identities.keys.isEmpty ? [0] : Array(topology.identities.keys)
            return Dictionary(uniqueKeysWithValues: cpus.map { ($0, m) })
        }
        return topology.models(in: tables)
    }

    /// Each core type here with its CPUs, the lowest CPU's first (the primary core, whose
    /// table answers where one table must: a merged count, stallstat's own metrics).
    public func coreTypes() -> [(model: CPUModel, cpus: [Int])] {
        let models = (try? cpuModels()) ?? [:]
        var result: [(model: CPUModel, cpus: [Int])] = []
        for cpu in models.keys.sorted() {
            if let i = result.firstIndex(where: { $0.model.name == models[cpu]!.name }) { result[i].cpus.append(cpu) }
            else { result.append((models[cpu]!, [cpu])) }
        }
        return result
    }

    public func resolve(_ name: String) throws -> ResolvedEvent {
        var event = try resolveEncoding(name)
        event.kind = GenericKind(attr: event.attr, armCorePMUTypes: armCorePMUTypes)
        return event
    }

    /// The PMU types whose events use Arm's architectural numbers: each Arm core PMU's,
    /// and PERF_TYPE_RAW when the machine's core PMU is Arm's (raw codes go to it).
    lazy var armCorePMUTypes: Set<UInt32> = {
        let arm = pmus.pmus.filter { SysfsPMU.isArmCorePMUName($0.name) }.map(\.type)
        return arm.isEmpty ? [] : Set(arm + [PerfType.raw])
    }()

    func resolveEncoding(_ name: String) throws -> ResolvedEvent {
        var details: [String] = []
        // libpfm4 last: it also reads `task-clock:u` (as its own perf::TASK-CLOCK, without
        // the unit), so perf's own names with a modifier are tried before it.
        if let event = try resolveExact(name, details: &details, allowLibpfm: false) { return event }
        if let (base, modifiers) = EventModifiers.split(name), var event = try resolveExact(base, details: &details, allowLibpfm: false) {
            guard var attr = event.attr else {
                throw Failure.badTerms(name, reason: "modifiers do not apply to a /proc kernel signal")
            }
            modifiers.apply(to: &attr)
            event.attr = attr
            event.cpuAttrs = event.cpuAttrs?.mapValues { var a = $0; modifiers.apply(to: &a); return a }
            event.name = name
            return event
        }
        if let event = try resolveLibpfm(name, details: &details) { return event }
        var candidates = GenericEvents.allNames + KernelSignalKind.defaultSet.map(\.name)
        if Tracefs.looksLikeTracepoint(name) { candidates += Tracefs.allTracepoints() }
        if let models = try? cpuModels() {
            for m in Set(models.values.map(\.name)).compactMap({ tables.model(named: $0) }) { candidates += tables.catalog(for: m).allNames }
        }
        throw Failure.unknownEvent(name, suggestions: Suggestions.closest(to: name, among: candidates), details: details)
    }

    func resolveExact(_ name: String, details: inout [String], allowLibpfm: Bool = true) throws -> ResolvedEvent? {
        if let signal = KernelSignalKind(name: name) {
            var event = ResolvedEvent(name: name, attr: nil, source: .kernelSignal(file: signal.procFile), unit: signal.unit)
            event.procCounter = signal
            return event
        }
        if let generic = GenericEvents.lookup(name) { return generic }
        if let code = RawEventSyntax.rawCode(name) {
            return ResolvedEvent(name: name, attr: EventAttr(type: PerfType.raw, config: code), source: .raw)
        }
        if let (pmuName, terms) = RawEventSyntax.pmuTerms(name) {
            guard let pmu = pmus.named(pmuName) else {
                throw Failure.badTerms(name, reason: "no PMU '\(pmuName)' in \(pmus.root); present: \(pmus.pmus.map(\.name).joined(separator: ", "))")
            }
            // `cpu_core/TOPDOWN.SLOTS/`: a table event of the core type whose PMU this is, on
            // that PMU's CPUs only (perf takes its JSON events as aliases of their PMU).
            if terms.count == 1, terms[0].1 == 1, pmu.formats[terms[0].0] == nil, pmus.alias(pmu: pmuName, event: terms[0].0) == nil,
               var event = try resolveFromTables(terms[0].0, onCorePMU: pmuName) {
                event.name = name
                return event
            }
            do {
                let attr = try encodePMUTerms(pmu: pmuName, type: pmu.type, terms: terms, formats: pmu.formats,
                                              aliases: { pmus.alias(pmu: pmuName, event: $0) })
                var event = ResolvedEvent(name: name, attr: attr, source: .sysfs(pmu: pmuName))
                // A core PMU of some CPUs only (cpu_core, cpu_atom, one big.LITTLE cluster)
                // counts on those CPUs, as perf opens a PMU's events on its `cpus`.
                let ownCPUs = topology.corePMU.filter { $0.value.name == pmuName }.map(\.key)
                if !ownCPUs.isEmpty, ownCPUs.count < topology.corePMU.count {
                    event = ResolvedEvent.perCPU(name: name, Dictionary(uniqueKeysWithValues: ownCPUs.map { ($0, attr) }),
                                                 everyCPU: topology.corePMU.count, source: .sysfs(pmu: pmuName))
                }
                // An alias with a unit and scale (power/energy-pkg/: Joules, 2.3e-10).
                if terms.count == 1, let unit = pmus.alias(pmu: pmuName, event: terms[0].0 + ".unit"),
                   let scale = pmus.alias(pmu: pmuName, event: terms[0].0 + ".scale").flatMap({ Double($0) }) {
                    event.unit = unit
                    event.scale = scale
                }
                return event
            } catch let e as RawEventSyntax.ParseError {
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
        if let event = try resolveFromTables(name) { return event }
        if allowLibpfm { return try resolveLibpfm(name, details: &details) }
        return nil
    }

    func resolveLibpfm(_ name: String, details: inout [String]) throws -> ResolvedEvent? {
        do {
            let (attr, pmu, full) = try LibPfm.encode(name)
            if !allowForeignPMUs && !["perf", "perf_raw"].contains(pmu) {
                let present = LibPfm.presentPMUs().map(\.name)
                if !present.contains(pmu) { throw Failure.foreignLibpfmPMU(name, pmu: pmu, present: present.filter { $0 != "perf" && $0 != "perf_raw" }) }
            }
            return ResolvedEvent(name: name, attr: attr, source: .libpfm4(pmu: pmu, fullName: full))
        } catch let e as LibPfm.Failure {
            details.append(e.description)
        }
        return nil
    }

    /// A table name on the CPUs' own core models, with per-CPU encodings where the cores differ.
    // Not optimised: Swift 6.3.1's CopyPropagation pass crashes on this function in release
    // builds (an ownership-verifier error on the borrowed TableEvent). It runs once per
    // event name, so nothing is lost; remove the attribute when the compiler is fixed.
    @_optimize(none)
    func resolveFromTables(_ name: String, onCorePMU corePMUName: String? = nil) throws -> ResolvedEvent? {
        var models = try cpuModels()
        // An event restricted to one core PMU's CPUs keeps its per-CPU attrs (never "every CPU").
        let everyCPU = models.count
        if let corePMUName {
            guard modelOverride == nil else { return nil }
            models = models.filter { topology.corePMU[$0.key]?.name == corePMUName }
            if models.isEmpty { return nil }
        }
        let distinct = Dictionary(grouping: models.keys.sorted(), by: { models[$0]!.name })
        if distinct.isEmpty {
            // An Arm core without a table still has the architecture's common events
            // (CPU_CYCLES, INST_RETIRED, STALL_FRONTEND, ...: the same codes on every
            // Armv8/v9 core; perf knows them from sysfs and its JSON): whether this core
            // implements one is its PMCEID's to say, and stat flags those it lacks.
            if let event = try resolveArchitecturalArmEvent(name) { return event }
            // No table for this CPU: say so if the name belongs to some other core.
            let known = tables.cpus.filter { m in
                if case .found = tables.catalog(for: m).lookup(name) { return true }
                return false
            }.map(\.name)
            if known.isEmpty { return nil }
            let id = topology.identities.values.first.map { "\($0)" } ?? "unknown"
            throw Failure.noTableForCPU(name, knownOn: known.count > 4 ? Array(known.prefix(4)) + ["..."] : known, cpu: id)
        }
        var perCPU: [Int: EventAttr] = [:]
        var found: TableEvent? = nil
        var refusals: [(String, [String])] = []
        for (modelName, cpus) in distinct.sorted(by: { $0.key < $1.key }) {
            let model = tables.model(named: modelName)!
            let catalog = tables.catalog(for: model)
            switch catalog.lookup(name) {
            case .found(let e):
                found = found ?? e
                for cpu in cpus {
                    perCPU[cpu] = try encode(e, pmu: modelOverride == nil ? topology.corePMU[cpu] : nil)
                }
            case .notImplemented(let e):
                // The core's own PMU lists it (PMCEID, in sysfs events/): the hardware's word
                // over the vendor's table, as perf takes the PMU's alias (QEMU's cortex-a53
                // counts STALL_FRONTEND, which a Cortex-A53 does not implement).
                let advertised = cpus.filter { cpu in
                    e.armCode.map { topology.corePMU[cpu]?.armAdvertisement?.status($0) == .implemented } ?? false
                }
                if modelOverride == nil, !advertised.isEmpty {
                    found = found ?? e
                    for cpu in advertised { perCPU[cpu] = try encode(e, pmu: topology.corePMU[cpu]) }
                    continue
                }
                refusals.append((model.name, catalog.stallAndTLBEvents.compactMap { catalog.simpleperfName($0) ?? $0.name }))
            case .unknown:
                continue
            }
        }
        guard let event = found else {
            if let (core, available) = refusals.first { throw Failure.notImplemented(name, core: core, available: available) }
            return nil
        }
        // Hybrid parts: say which core PMUs the encodings are for (cpu_core, cpu_atom).
        let hybrid = Set(distinct.keys.compactMap { tables.model(named: $0)?.pmu }).sorted()
        let pmuNote = hybrid.isEmpty ? "" : " on " + hybrid.joined(separator: " and ")
        return ResolvedEvent.perCPU(name: name, perCPU, everyCPU: everyCPU, source: .table(file: "\(event.file):\(event.name)\(pmuNote)"))
    }

    /// The architecture's common event of that name (any spelling the tables accept),
    /// on a machine whose CPUs are all Arm cores EventTables has no entry for.
    func resolveArchitecturalArmEvent(_ name: String) throws -> ResolvedEvent? {
        let ids = topology.identities
        guard !ids.isEmpty, ids.values.allSatisfy({ if case .arm = $0 { return true }; return false }) else { return nil }
        let event: TableEvent
        switch tables.catalog(for: .armArchitectural).lookup(name) {
        case .found(let e), .notImplemented(let e): event = e   // a generic core lists none: all are "common"
        case .unknown: return nil
        }
        var perCPU: [Int: EventAttr] = [:]
        for cpu in ids.keys { perCPU[cpu] = try encode(event, pmu: topology.corePMU[cpu]) }
        return ResolvedEvent.perCPU(name: name, perCPU, everyCPU: ids.count,
                                    source: .table(file: "\(event.file):\(event.name) (architectural: no table for this core)"))
    }

    func encode(_ e: TableEvent, pmu: SysfsPMU?) throws -> EventAttr {
        switch e.encoding {
        case .armEvent(let code):
            return EventAttr(type: pmu?.type ?? PerfType.raw, config: code)
        case .x86Raw(let config):
            var attr = EventAttr(type: pmu?.type ?? PerfType.raw, config: config)
            attr.config1 = e.kernelConfig1 ?? 0
            return attr
        case .libpfm4(let pfmName):
            do {
                return try LibPfm.encode(pfmName).attr
            } catch let f as LibPfm.Failure {
                throw Failure.badTerms(e.name, reason: "\(f.description) (table \(e.file):\(e.line))")
            }
        }
    }
}

extension ResolvedEvent {
    /// One event from its encoding on each CPU: a single attr when every CPU has the same
    /// one, else per-CPU attrs (big.LITTLE, or a core that lacks the event).
    static func perCPU(name: String, _ perCPU: [Int: EventAttr], everyCPU: Int, source: EventSource) -> ResolvedEvent {
        let attrs = Set(perCPU.values)
        if attrs.count == 1, perCPU.count == everyCPU, let attr = attrs.first { return ResolvedEvent(name: name, attr: attr, source: source) }
        var resolved = ResolvedEvent(name: name, attr: perCPU[perCPU.keys.min()!]!, source: source)
        resolved.cpuAttrs = perCPU
        return resolved
    }
}
