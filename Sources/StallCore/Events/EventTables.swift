/// A problem in one table file: it is reported, and the other tables are still used.
public struct TableDiagnostic: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var field: String?
    public var message: String
    public init(file: String, line: Int, field: String?, message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }
    public var description: String {
        "\(file):\(line): " + (field.map { "field \($0): " } ?? "") + message
    }
}

public enum CPUVendor: String, Sendable { case arm, intel, amd }

/// A core model from `EventTables/cpus.json`.
public struct CPUModel: Equatable, Sendable {
    public var name: String
    public var vendor: CPUVendor
    public var implementer: UInt32?
    public var parts: [UInt32]
    public var family: Int?
    public var models: [ClosedRange<Int>]
    public var libpfmPMU: String?
    public var directory: String
    public var aliases: [String]
    /// Pipeline slot width where published (Arm: caps/slots overrides it at run time).
    public var slots: Int?
    /// The core PMU of this core type on a hybrid part (`cpu_core`, `cpu_atom`), nil otherwise.
    public var pmu: String? = nil
    /// x86 steppings the entry is for, where a model number is shared (the kernel's mapfile
    /// `GenuineIntel-6-55-[01234]`: Skylake-X; 5-F: Cascade Lake-X); empty: every stepping.
    public var steppings: [ClosedRange<Int>] = []
    /// A hand-kept model whose stall tree, portable names and hand metrics this imported model
    /// takes (`skylakex` → `skylake`: the same core), its own events and kernel metrics kept.
    public var base: String? = nil

    public init(name: String, vendor: CPUVendor, implementer: UInt32? = nil, parts: [UInt32] = [], family: Int? = nil,
                models: [ClosedRange<Int>] = [], libpfmPMU: String? = nil, directory: String, aliases: [String] = [], slots: Int? = nil) {
        self.name = name
        self.vendor = vendor
        self.implementer = implementer
        self.parts = parts
        self.family = family
        self.models = models
        self.libpfmPMU = libpfmPMU
        self.directory = directory
        self.aliases = aliases
        self.slots = slots
    }

    /// An Arm core EventTables has no entry for: only the architecture's common events.
    public static let armArchitectural = CPUModel(name: "armv8-architectural", vendor: .arm, directory: "arm")

    public func matches(name: String) -> Bool {
        let n = name.lowercased()
        return self.name == n || aliases.contains(n) || (libpfmPMU?.lowercased() == n)
    }
}

/// One event in a table, after ArchStdEvent references are resolved.
public struct TableEvent: Equatable, Sendable {
    public enum Encoding: Equatable, Sendable {
        /// Arm: PERF_TYPE_RAW (or the core PMU's type) with config = event number.
        case armEvent(UInt64)
        /// x86 encoded by libpfm4 from this fully qualified name.
        case libpfm4(String)
        /// x86 raw config composed from EventCode/UMask/CounterMask/Invert/EdgeDetect.
        case x86Raw(UInt64)
    }
    public var name: String
    public var encoding: Encoding
    public var brief: String
    public var portable: [String]
    public var isImplementationDefined: Bool
    /// x86 kernel-style raw config, kept to cross-check libpfm4 where both exist.
    public var kernelConfig: UInt64?
    /// x86 MSRValue (offcore response, load latency, frontend): perf's config1.
    public var kernelConfig1: UInt64? = nil
    public var file: String
    public var line: Int
    public var source: String?
    /// Must be the leader of its kernel group (Intel's TOPDOWN.SLOTS for PERF_METRICS).
    public var leadsGroup = false
    /// The vendor's data marks it deprecated: perf still opens it (metrics read some) but
    /// `perf list` hides it; `list` says so.
    public var isDeprecated = false

    public var armCode: UInt64? { if case .armEvent(let c) = encoding { return c }; return nil }
}

/// A metric in the kernel's schema (used by the stall tree).
public struct TableMetric: Equatable, Sendable {
    public var name: String
    public var expression: String
    public var groups: [String]
    public var brief: String
    public var scaleUnit: String?
    public var threshold: String?
    public var parent: String?
    public var guidance: String?
    /// Expressions tried in order when MetricExpr reads an event that was not counted
    /// (e.g. STALL_FRONTEND + STALL_BACKEND where a core has no STALL).
    public var alternatives: [String] = []
    /// The kernel's MetricConstraint (NO_GROUP_EVENTS, ...): its events are not grouped.
    public var constraint: String? = nil
    public var file: String
    public var line: Int

    public var isTreeNode: Bool { groups.contains("StallTree") }
    /// One of the kernel's metrics (kernel-metrics.json), not stallstat's own.
    public var isKernelMetric: Bool { file.hasSuffix("kernel-metrics.json") }

    /// A value scaled as perf prints it: ScaleUnit is a factor and a unit ("100%",
    /// "1percent of slots", "1e9ns").
    public static func scaled(_ value: Double, scaleUnit: String?) -> (value: Double, unit: String) {
        guard let su = scaleUnit?.trimmingWhitespace(), !su.isEmpty else { return (value, "") }
        var numberEnd = su.startIndex
        while numberEnd < su.endIndex, su[numberEnd].isNumber || ".eE".contains(su[numberEnd])
                || ((su[numberEnd] == "-" || su[numberEnd] == "+") && numberEnd > su.startIndex && "eE".contains(su[su.index(before: numberEnd)])) {
            numberEnd = su.index(after: numberEnd)
        }
        // "1e9ns": the scan stops at 'n'; "100%": at '%'. A unit that starts with 'e' ("1events")
        // would be read as an exponent: back off to the longest prefix that is a number.
        var end = numberEnd
        while end > su.startIndex, Double(su[su.startIndex..<end]) == nil { end = su.index(before: end) }
        guard end > su.startIndex, let factor = Double(su[su.startIndex..<end]) else { return (value, su) }
        return (value * factor, String(su[end...]).trimmingWhitespace())
    }

    /// This metric's value as printed, and its unit.
    public func scaled(_ value: Double) -> (value: Double, unit: String) { TableMetric.scaled(value, scaleUnit: scaleUnit) }
}

/// Every table file, parsed. Built from (path, text) pairs so it is tested without a disk.
public struct EventTableSet: Sendable {
    public private(set) var cpus: [CPUModel] = []
    public private(set) var armCommon: [String: TableEvent] = [:]
    /// Events per core name, in file order.
    public private(set) var coreEvents: [String: [TableEvent]] = [:]
    public private(set) var coreMetrics: [String: [TableMetric]] = [:]
    /// The kernel's metrics per core (`kernel-metrics.json`, imported wholesale): what
    /// `-M` finds first, evaluated as perf evaluates them.
    public private(set) var kernelMetrics: [String: [TableMetric]] = [:]
    /// `arm/metrics.json`: the cycle-accounting tree every Arm core shares.
    public private(set) var armCommonMetrics: [TableMetric] = []
    public private(set) var diagnostics: [TableDiagnostic] = []
    /// Where the tables came from (a directory, or "embedded").
    public var origin: String = ""

    public init(files: [(path: String, text: String)], origin: String = "") {
        self.origin = origin
        var parsed: [(String, JSONValue)] = []
        for (path, text) in files.sorted(by: { $0.path < $1.path }) where path.hasSuffix(".json") {
            do { parsed.append((path, try JSONReader.parse(text))) } catch let e as JSONReader.ParseError {
                diagnostics.append(TableDiagnostic(file: path, line: e.line, field: nil, message: e.message))
            } catch {
                diagnostics.append(TableDiagnostic(file: path, line: 1, field: nil, message: "\(error)"))
            }
        }
        if let cpusFile = parsed.first(where: { $0.0 == "cpus.json" }) { loadCPUs(cpusFile.1, file: cpusFile.0) }
        else { diagnostics.append(TableDiagnostic(file: "cpus.json", line: 1, field: nil, message: "missing: no CPU models are known")) }
        if let common = parsed.first(where: { $0.0 == "arm/common.json" }) {
            for e in events(in: common.1, file: common.0, isArm: true, common: [:]) { armCommon[e.name] = e }
        }
        if let m = parsed.first(where: { $0.0 == "arm/metrics.json" }) { armCommonMetrics = metrics(in: m.1, file: m.0) }
        for (path, json) in parsed where !["cpus.json", "arm/common.json", "arm/metrics.json"].contains(path) {
            let dir = path.split(separator: "/").dropLast().joined(separator: "/")
            guard let model = cpus.first(where: { $0.directory == dir }) else {
                diagnostics.append(TableDiagnostic(file: path, line: 1, field: nil,
                                                   message: "not in the directory of a CPU listed in cpus.json; ignored"))
                continue
            }
            if path.hasSuffix("/kernel-metrics.json") {
                kernelMetrics[model.name, default: []] += metrics(in: json, file: path)
                continue
            }
            coreEvents[model.name, default: []] += events(in: json, file: path, isArm: model.vendor == .arm, common: armCommon)
            coreMetrics[model.name, default: []] += metrics(in: json, file: path)
        }
    }

    public func model(named name: String) -> CPUModel? { cpus.first { $0.matches(name: name) } }

    public func model(armImplementer: UInt32, part: UInt32) -> CPUModel? {
        cpus.first { $0.vendor == .arm && $0.implementer == armImplementer && $0.parts.contains(part) }
    }

    /// `corePMU`: the CPU's core PMU on a hybrid part (cpu_core, cpu_atom): the table of
    /// that core type; otherwise the first model that matches, as perf's mapfile.
    public func model(x86Vendor: CPUVendor, family: Int, model: Int, stepping: Int? = nil, corePMU: String? = nil) -> CPUModel? {
        var matching = cpus.filter { $0.vendor == x86Vendor && $0.family == family && $0.models.contains { $0.contains(model) } }
        // As perf's mapfile: a stepping-qualified row matches only its steppings; unknown
        // stepping: the first row, as before.
        if let stepping {
            matching = matching.filter { $0.steppings.isEmpty || $0.steppings.contains { $0.contains(stepping) } }
        }
        if let corePMU, let typed = matching.first(where: { $0.pmu == corePMU }) { return typed }
        return matching.first
    }

    public func catalog(for model: CPUModel) -> CoreCatalog {
        // A core's own metric replaces the shared one of the same name.
        var own = coreMetrics[model.name] ?? []
        var events = coreEvents[model.name] ?? []
        if let baseName = model.base, baseName != model.name {
            // The hand-kept base's stall tree and metrics, its portable names on the same
            // events (by the kernel's name), and its events the import does not have.
            if own.isEmpty { own = coreMetrics[baseName] ?? [] }
            let baseEvents = coreEvents[baseName] ?? []
            let byName = Dictionary(baseEvents.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            events = events.map { e in
                var e = e
                if let b = byName[e.name] { e.portable = Array(Set(e.portable + b.portable)).sorted() }
                return e
            }
            let names = Set(events.map(\.name))
            events += baseEvents.filter { !names.contains($0.name) }
        }
        let shared = model.vendor == .arm ? armCommonMetrics.filter { m in !own.contains { $0.name == m.name } } : []
        var catalog = CoreCatalog(model: model, events: events, armCommon: model.vendor == .arm ? armCommon : [:],
                                  metrics: shared + own)
        catalog.kernelMetrics = kernelMetrics[model.name] ?? []
        return catalog
    }

    // MARK: loading

    private mutating func loadCPUs(_ json: JSONValue, file: String) {
        guard let items = json.arrayValue else {
            diagnostics.append(TableDiagnostic(file: file, line: json.line, field: nil, message: "expected an array of CPU models"))
            return
        }
        for item in items {
            func str(_ k: String) -> String? { item[k]?.stringValue }
            guard let name = str("Name"), let vendorText = str("Vendor"), let vendor = CPUVendor(rawValue: vendorText),
                  let dir = str("Directory") else {
                diagnostics.append(TableDiagnostic(file: file, line: item.line, field: "Name/Vendor/Directory",
                                                   message: "each CPU needs Name, Vendor (arm, intel, amd) and Directory"))
                continue
            }
            var m = CPUModel(name: name.lowercased(), vendor: vendor, implementer: nil, parts: [], family: nil, models: [],
                             libpfmPMU: str("Libpfm4Pmu"), directory: dir,
                             aliases: (item["Aliases"]?.arrayValue ?? []).compactMap { $0.stringValue?.lowercased() },
                             slots: item["Slots"]?.intValue)
            m.pmu = str("Pmu")
            if vendor == .arm {
                guard let imp = str("Implementer").flatMap(parseHex), imp <= 0xFF else {
                    diagnostics.append(TableDiagnostic(file: file, line: item.line, field: "Implementer", message: "\(name): expected a hex MIDR implementer such as 0x41"))
                    continue
                }
                m.implementer = UInt32(imp)
                for p in item["Parts"]?.arrayValue ?? [] {
                    if let v = p.stringValue.flatMap(parseHex), v <= 0xFFF { m.parts.append(UInt32(v)) } else {
                        diagnostics.append(TableDiagnostic(file: file, line: p.line, field: "Parts", message: "\(name): expected hex part numbers"))
                    }
                }
            } else {
                m.family = item["Family"]?.intValue
                m.base = str("Base")
                // x86 models are 8 bits (CPUID's model with its extended model), steppings 4.
                for (field, limit) in [("Models", UInt64(0xFF)), ("Steppings", 0xF)] {
                    for r in item[field]?.arrayValue ?? [] {
                        let text = r.stringValue ?? ""
                        let ends = text.split(separator: "-").map { parseHex(String($0)).flatMap { $0 <= limit ? Int($0) : nil } }
                        var range: ClosedRange<Int>? = nil
                        if ends.count == 1, let a = ends[0] { range = a...a }
                        else if ends.count == 2, let a = ends[0], let b = ends[1], a <= b { range = a...b }
                        guard let range else {
                            diagnostics.append(TableDiagnostic(file: file, line: r.line, field: field, message: "\(name): '\(text)' is not a number or range such as 0x10-0x1f"))
                            continue
                        }
                        if field == "Models" { m.models.append(range) } else { m.steppings.append(range) }
                    }
                }
            }
            cpus.append(m)
        }
    }

    private mutating func events(in json: JSONValue, file: String, isArm: Bool, common: [String: TableEvent]) -> [TableEvent] {
        guard let items = json.arrayValue else {
            diagnostics.append(TableDiagnostic(file: file, line: json.line, field: nil, message: "expected an array of events"))
            return []
        }
        var result: [TableEvent] = []
        for item in items {
            guard case .object = item else {
                diagnostics.append(TableDiagnostic(file: file, line: item.line, field: nil, message: "expected an object"))
                continue
            }
            if item["MetricName"] != nil { continue }
            if let std = item["ArchStdEvent"] {
                guard let name = std.stringValue else {
                    diagnostics.append(TableDiagnostic(file: file, line: std.line, field: "ArchStdEvent", message: "expected a string"))
                    continue
                }
                guard var e = common[name.uppercased()] else {
                    diagnostics.append(TableDiagnostic(file: file, line: std.line, field: "ArchStdEvent",
                                                       message: "'\(name)' is not in arm/common.json"))
                    continue
                }
                // A kernel per-core file may refine the description.
                if let b = item["BriefDescription"]?.stringValue { e.brief = b }
                result.append(e)
                continue
            }
            guard let name = item["EventName"]?.stringValue, !name.isEmpty else {
                diagnostics.append(TableDiagnostic(file: file, line: item.line, field: "EventName", message: "missing or not a string"))
                continue
            }
            let brief = item["BriefDescription"]?.stringValue ?? item["PublicDescription"]?.stringValue ?? ""
            let portable = (item["Portable"]?.arrayValue ?? []).compactMap { $0.stringValue }
            func hexField(_ key: String) -> (UInt64?, TableDiagnostic?) {
                guard let v = item[key] else { return (nil, nil) }
                if let s = v.stringValue, let n = parseHex(s) { return (n, nil) }
                if let n = v.countValue { return (n, nil) }
                return (nil, TableDiagnostic(file: file, line: v.line, field: key, message: "\(name): '\(v.stringValue ?? "?")' is not a number"))
            }
            let (code, codeError) = hexField("EventCode")
            if let codeError { diagnostics.append(codeError); continue }
            var event = TableEvent(name: name, encoding: .armEvent(0), brief: brief, portable: portable,
                                   isImplementationDefined: isArm && !file.hasSuffix("common.json"),
                                   kernelConfig: nil, file: file, line: item.line, source: item["Source"]?.stringValue)
            event.leadsGroup = item["LeadsGroup"] == .bool(true, line: 0)
            event.isDeprecated = item["Deprecated"]?.stringValue == "1"
            if isArm {
                guard let code else {
                    diagnostics.append(TableDiagnostic(file: file, line: item.line, field: "EventCode", message: "\(name): missing"))
                    continue
                }
                guard code <= 0xFFFF else {
                    diagnostics.append(TableDiagnostic(file: file, line: item.line, field: "EventCode", message: "\(name): 0x\(String(code, radix: 16)) does not fit Arm's 16-bit event number"))
                    continue
                }
                event.encoding = .armEvent(code)
            } else {
                var raw: UInt64? = nil
                if let code {
                    var fields: [String: UInt64] = [:]
                    var failed = false
                    for k in ["UMask", "CounterMask", "Invert", "EdgeDetect", "AnyThread"] {
                        let (v, err) = hexField(k)
                        if let err { diagnostics.append(err); failed = true }
                        if let v { fields[k] = v }
                    }
                    if failed { continue }
                    var config = X86ConfigField.event.set(code, in: 0)
                    for (field, key) in [(X86ConfigField.umask, "UMask"), (.edge, "EdgeDetect"), (.any, "AnyThread"), (.inv, "Invert"), (.cmask, "CounterMask")] {
                        config = field.set(fields[key, default: 0], in: config)
                    }
                    raw = config
                }
                event.kernelConfig = raw
                let (msrValue, msrError) = hexField("MSRValue")
                if let msrError { diagnostics.append(msrError); continue }
                event.kernelConfig1 = msrValue
                if let pfm = item["Libpfm4"]?.stringValue { event.encoding = .libpfm4(pfm) }
                else if let raw { event.encoding = .x86Raw(raw) }
                else {
                    diagnostics.append(TableDiagnostic(file: file, line: item.line, field: "EventCode", message: "\(name): needs EventCode or Libpfm4"))
                    continue
                }
            }
            result.append(event)
        }
        return result
    }

    private mutating func metrics(in json: JSONValue, file: String) -> [TableMetric] {
        guard let items = json.arrayValue else { return [] }
        var result: [TableMetric] = []
        for item in items where item["MetricName"] != nil {
            guard let name = item["MetricName"]?.stringValue, let expr = item["MetricExpr"]?.stringValue else {
                diagnostics.append(TableDiagnostic(file: file, line: item.line, field: "MetricExpr", message: "a metric needs MetricName and MetricExpr strings"))
                continue
            }
            result.append(TableMetric(name: name, expression: expr,
                                      groups: (item["MetricGroup"]?.stringValue ?? "").split(separator: ";").map(String.init),
                                      brief: item["BriefDescription"]?.stringValue ?? "", scaleUnit: item["ScaleUnit"]?.stringValue,
                                      threshold: item["MetricThreshold"]?.stringValue, parent: item["Parent"]?.stringValue,
                                      guidance: item["Guidance"]?.stringValue,
                                      alternatives: (item["Alternatives"]?.arrayValue ?? []).compactMap { $0.stringValue },
                                      constraint: item["MetricConstraint"]?.stringValue, file: file, line: item.line))
        }
        return result
    }
}

/// perf's x86 `cpu/format/` layout of a raw config, shared by the table loader (the kernel's
/// EventCode/UMask/EdgeDetect/Invert/CounterMask) and the kernel metrics' `cpu@EVENT\,cmask\=1@`
/// terms: event 0-7 (AMD's event bits 8-11 at 32-35), umask 8-15, edge 18, inv 23, cmask 24-31.
public enum X86ConfigField: Sendable {
    /// `any` (config:21): count for both hyper-threads of the core (AnyThread; Intel before Ice Lake).
    case event, umask, edge, any, inv, cmask

    /// `config` with this field replaced by `value`, cut to the field's width.
    public func set(_ value: UInt64, in config: UInt64) -> UInt64 {
        switch self {
        case .event: return config & ~0xF_0000_00FF | (value & 0xFF) | (value >> 8 & 0xF) << 32
        case .umask: return config & ~0xFF00 | (value & 0xFF) << 8
        case .edge: return config & ~(1 << 18) | (value & 1) << 18
        case .any: return config & ~(1 << 21) | (value & 1) << 21
        case .inv: return config & ~(1 << 23) | (value & 1) << 23
        case .cmask: return config & ~0xFF00_0000 | (value & 0xFF) << 24
        }
    }
}

func parseHex(_ s: String) -> UInt64? {
    let t = s.trimmingWhitespace().lowercased()
    if t.hasPrefix("0x") { return UInt64(t.dropFirst(2), radix: 16) }
    return UInt64(t)
}

/// The events one core implements, and every name they answer to.
public struct CoreCatalog: Sendable {
    public var model: CPUModel
    public var events: [TableEvent]
    public var armCommon: [String: TableEvent]
    public var metrics: [TableMetric]
    /// The kernel's metrics for this core (perf's `-M` names: tma_*, frontend_bound, ipc, ...).
    public var kernelMetrics: [TableMetric] = []
    /// Lower-cased name → the first event answering to it, and (Arm) → the common event
    /// this core lacks: built once, so a lookup costs one hash (files name 100,000 events).
    private let foundIndex: [String: Int]
    private let commonIndex: [String: TableEvent]

    public init(model: CPUModel, events: [TableEvent], armCommon: [String: TableEvent], metrics: [TableMetric]) {
        self.model = model
        self.events = events
        self.armCommon = armCommon
        self.metrics = metrics
        var found: [String: Int] = [:]
        for (i, e) in events.enumerated() {
            for n in CoreCatalog.names(of: e, model: model) { found[n.lowercased()] = found[n.lowercased()] ?? i }
        }
        var common: [String: TableEvent] = [:]
        if model.vendor == .arm {
            for e in armCommon.values.sorted(by: { $0.name < $1.name }) {
                for n in [e.name, "raw-" + e.name.lowercased().replacingUnderscores()] + e.portable {
                    common[n.lowercased()] = common[n.lowercased()] ?? e
                }
            }
        }
        foundIndex = found
        commonIndex = common
    }

    public enum Lookup: Equatable {
        case found(TableEvent)
        /// A known Arm common event this core does not implement.
        case notImplemented(TableEvent)
        case unknown
    }

    /// simpleperf's name: `raw-` + lower case with dashes; implementation-defined events
    /// carry the core name (`raw-cortex-a55-stall-backend-ld`).
    public func simpleperfName(_ e: TableEvent) -> String? { CoreCatalog.simpleperfName(e, model: model) }

    static func simpleperfName(_ e: TableEvent, model: CPUModel) -> String? {
        guard model.vendor == .arm else { return nil }
        let base = e.isImplementationDefined ? "raw-\(model.name)-\(e.name)" : "raw-\(e.name)"
        return base.lowercased().replacingUnderscores()
    }

    /// Every name an event answers to on this core.
    public func names(of e: TableEvent) -> [String] { CoreCatalog.names(of: e, model: model) }

    static func names(of e: TableEvent, model: CPUModel) -> [String] {
        var n = [e.name]
        if let s = simpleperfName(e, model: model) { n.append(s) }
        if case .libpfm4(let pfm) = e.encoding {
            n.append(pfm)
            if let bare = pfm.split(separator: "::", omittingEmptySubsequences: false).last.map(String.init), bare != pfm { n.append(bare) }
        }
        n.append(contentsOf: e.portable)
        return n
    }

    public func lookup(_ name: String) -> Lookup {
        let key = name.lowercased()
        if let i = foundIndex[key] { return .found(events[i]) }
        if let e = commonIndex[key] { return .notImplemented(e) }
        return .unknown
    }

    /// The stall and TLB events, for `list --cpu` and for refusals.
    public var stallAndTLBEvents: [TableEvent] {
        events.filter { e in
            let n = e.name.uppercased()
            return n.contains("STALL") || n.contains("TLB") || n.contains("WALK") || !e.portable.isEmpty
                || n.contains("CYCLE_ACTIVITY") || n.contains("MEMORY_ACTIVITY") || n.contains("NO_RETIRE") || n.contains("DISPATCH")
        }
    }

    public var allNames: [String] { events.flatMap(names(of:)) }
}

extension String {
    func replacingUnderscores() -> String { String(map { $0 == "_" ? "-" : $0 }) }
}
