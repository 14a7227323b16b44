/// The kernel's metrics for one core (EventTables' `kernel-metrics.json`, imported
/// wholesale from tools/perf/pmu-events): how each name a metric reads is counted, and
/// the metric's value, by perf's rules (tools/perf/util/metricgroup.c and expr.c).
/// Pure: the caller counts the event requests and hands back their values.
public struct KernelMetricSet: Sendable {
    public let catalog: CoreCatalog
    /// The core PMU the metrics' events open on: `cpu_core`/`cpu_atom` on a hybrid part,
    /// nil where the core PMU is the only one (`cpu`, `armv8_pmuv3_0`).
    public let corePMU: String?
    private let byName: [String: TableMetric]

    public init(catalog: CoreCatalog, corePMU: String? = nil) {
        self.catalog = catalog
        self.corePMU = corePMU
        byName = Dictionary(catalog.kernelMetrics.map { ($0.name.lowercased(), $0) }, uniquingKeysWith: { a, _ in a })
    }

    public var metrics: [TableMetric] { catalog.kernelMetrics }

    public func metric(named name: String) -> TableMetric? { byName[name.lowercased()] }

    /// The metrics a `-M` word names: a metric, or every metric of a group (any case).
    public func select(_ word: String) -> [TableMetric] {
        if let m = metric(named: word) { return [m] }
        let w = word.lowercased()
        return catalog.kernelMetrics.filter { $0.groups.contains { $0.lowercased() == w } }
    }

    /// How one name of an expression is counted.
    public enum Term: Equatable, Sendable {
        /// Another metric of this core.
        case metric(String)
        /// An event, as stallstat's event syntax names it (`INST_RETIRED.ANY:k`, `r1c0`,
        /// `cpu_core/topdown-retiring/`, `msr/tsc/`).
        case event(String)
        /// perf's tool event: the run's wall-clock time in nanoseconds.
        case durationTime
        /// Why stallstat cannot count it (an uncore PMU, an event the import left out).
        case unsupported(String)
    }

    /// PMUs whose named events stallstat opens as `pmu/name/` (sysfs aliases).
    static let sysfsPMUs: Set<String> = ["msr", "cstate_core", "cstate_pkg", "cstate_module", "power"]
    /// The core PMU's sysfs aliases that metrics read by name (x86 `cpu/events/`).
    static let coreAliases: Set<String> = ["slots", "topdown-retiring", "topdown-bad-spec", "topdown-fe-bound", "topdown-be-bound",
                                           "topdown-heavy-ops", "topdown-br-mispredict", "topdown-fetch-lat", "topdown-mem-bound",
                                           "cycles-t", "cycles-ct", "tx-start", "el-start", "mem-loads", "mem-stores"]

    public func term(_ name: String) -> Term {
        if byName[name.lowercased()] != nil { return .metric(byName[name.lowercased()]!.name) }
        if name == "duration_time" { return .durationTime }
        var base = name, modifier = ""
        if let colon = name.lastIndex(of: ":"), !name[name.index(after: colon)...].isEmpty,
           name[name.index(after: colon)...].allSatisfy({ "ukhHGpPS".contains($0) }) {
            base = String(name[..<colon])
            modifier = String(name[colon...])
        }
        let arm = catalog.model.vendor == .arm
        let pmuName = corePMU ?? (arm ? "armv8_pmuv3_0" : "cpu")
        if base.contains("@") {
            let parts = base.split(separator: "@", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3 else { return .unsupported("'\(name)' is not of the form pmu@event@") }
            let (head, body) = (parts[0], parts[1])
            // perf's modifiers follow the closing @ (`cpu_core@EVENT@k`).
            if !parts[2].isEmpty {
                if parts[2].contains("R") { return .unsupported("'\(name)' reads the event's retire latency (R), which perf takes from sampling and stallstat does not") }
                guard parts[2].allSatisfy({ "ukhHGpPS".contains($0) }) else { return .unsupported("'\(name)': unknown modifier \(parts[2])") }
                modifier = ":" + parts[2]
            }
            let isCorePMU = head == "cpu" || head == "cpu_core" || head == "cpu_atom" || head.hasPrefix("armv8_pmuv3") || head == corePMU
            if Self.sysfsPMUs.contains(head) { return .event("\(head)/\(body)/\(modifier)") }
            guard isCorePMU else {
                return .unsupported("\(head) is an uncore PMU (stallstat counts core and sysfs events)")
            }
            if let c = corePMU, head != "cpu", !head.hasPrefix("armv8"), head != c {
                return .unsupported("\(head) is the other core type's PMU (this table is \(c)'s)")
            }
            let items = body.split(separator: ",").map(String.init)
            guard let first = items.first else { return .unsupported("'\(name)' names no event") }
            if first.contains("=") || items.count > 1 {
                guard let config = composedConfig(items) else {
                    if !first.contains("="), case .unknown = catalog.lookup(first) { return .unsupported(Self.leftOut(first, catalog.model.name)) }
                    return .unsupported("'\(name)': cannot compose \(body) from \(catalog.model.name)'s events")
                }
                return .event(corePMU.map { "\($0)/config=0x\(String(config, radix: 16))/\(modifier)" } ?? "r\(String(config, radix: 16))\(modifier)")
            }
            if case .found = catalog.lookup(first) { return .event(onCorePMU(first, modifier)) }
            if GenericEvents.lookup(first) != nil || Self.coreAliases.contains(first.lowercased()) { return .event("\(pmuName)/\(first)/\(modifier)") }
            return .unsupported(Self.leftOut(first, catalog.model.name))
        }
        switch catalog.lookup(base) {
        case .found: return .event(onCorePMU(base, modifier))
        case .notImplemented:
            // The table says the core lacks it; its PMU's PMCEID may still say otherwise.
            return .event(base + modifier)
        case .unknown: break
        }
        if GenericEvents.lookup(base) != nil { return .event(corePMU.map { "\($0)/\(base)/\(modifier)" } ?? base + modifier) }
        if Self.coreAliases.contains(base.lowercased()) { return .event("\(pmuName)/\(base)/\(modifier)") }
        if base.lowercased() == "tsc" { return .event("msr/tsc/\(modifier)") }
        if base.uppercased().hasPrefix("UNC_") { return .unsupported("\(base) is an uncore event (stallstat counts core and sysfs events)") }
        return .unsupported(Self.leftOut(base, catalog.model.name))
    }

    /// A table event as opened for this core type: on a hybrid part on its own PMU only
    /// (`cpu_core/INST_RETIRED.ANY/`; the bare name would count every core type's CPUs).
    func onCorePMU(_ event: String, _ modifier: String) -> String {
        corePMU.map { "\($0)/\(event)/\(modifier)" } ?? event + modifier
    }

    static func leftOut(_ event: String, _ model: String) -> String {
        "'\(event)' is not an event of \(model) (the import leaves out events of several codes and AMD's data-fabric, L3 and memory-controller units)"
    }

    /// `EVENT,cmask=1,inv,edge` or `event=0x..,umask=0x..`: the event's kernel config with
    /// the terms applied (x86: perf's cpu/format layout; Arm: the 16-bit event number).
    func composedConfig(_ items: [String]) -> UInt64? {
        var config: UInt64 = 0
        for (i, item) in items.enumerated() {
            let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
            let value: UInt64? = kv.count == 2 ? parseHex(kv[1]) : nil
            switch (kv[0].lowercased(), kv.count) {
            case (_, 1) where i == 0:
                guard case .found(let e) = catalog.lookup(kv[0]) else { return nil }
                guard let c = e.kernelConfig ?? e.armCode else { return nil }
                config = c
            case ("event", 2):
                guard let v = value else { return nil }
                if catalog.model.vendor == .arm { guard v <= 0xFFFF else { return nil }; config = v }
                else { config = X86ConfigField.event.set(v, in: config) }
            case ("umask", 2) where catalog.model.vendor != .arm:
                guard let v = value, v <= 0xFF else { return nil }
                config = X86ConfigField.umask.set(v, in: config)
            case ("cmask", 2) where catalog.model.vendor != .arm:
                guard let v = value, v <= 0xFF else { return nil }
                config = X86ConfigField.cmask.set(v, in: config)
            case ("inv", 1) where catalog.model.vendor != .arm: config = X86ConfigField.inv.set(1, in: config)
            case ("edge", 1) where catalog.model.vendor != .arm: config = X86ConfigField.edge.set(1, in: config)
            default: return nil
            }
        }
        return config
    }

    /// Everything a metric reads, through the metrics it refers to: the event requests to
    /// count (in order, once each), and the names that cannot be counted, with why.
    /// `constants` (`smt_on`, ...) decide the conditions that read only them, as in perf.
    public func inputs(of metric: TableMetric, constants: [String: Double] = [:]) -> (events: [String], unsupported: [(name: String, why: String)]) {
        var events: [String] = [], unsupported: [(String, String)] = []
        var seenMetrics: Set<String> = [], seenEvents: Set<String> = []
        func walk(_ m: TableMetric, depth: Int) {
            guard depth < 16, seenMetrics.insert(m.name).inserted else { return }
            guard let expr = try? MetricExpression.parse(m.expression) else {
                unsupported.append((m.name, "its expression does not parse")); return
            }
            for n in expr.names(deciding: constants) {
                switch term(n) {
                case .metric(let sub): if let s = self.metric(named: sub) { walk(s, depth: depth + 1) }
                case .event(let request): if seenEvents.insert(request).inserted { events.append(request) }
                case .durationTime: break   // the run's duration, always known
                case .unsupported(let why): unsupported.append((n, why))
                }
            }
        }
        walk(metric, depth: 0)
        return (events, unsupported)
    }

    /// How `stat -M` opens the metrics' events, and which of them each metric reads.
    public struct EventPlan: Equatable, Sendable {
        public var requests: [EventGroupRequest]
        /// Metric name → the indices in `requests` whose events the metric is evaluated from.
        public var readsFrom: [String: [Int]]
    }

    /// perf's metricgroup.c parse_groups: metrics largest first; one that is not grouped
    /// (`noGroup`, its NO_GROUP_EVENTS constraint, or more events than `counters`) reads a
    /// list of single events shared by all such metrics; a grouped one reads the group of an
    /// earlier metric that holds all its events, else opens its own whole group, so a
    /// group never loses an event it needs to another (a topdown group keeps its slots
    /// leader). `noMerge`: every metric opens its own events.
    public func plan(_ metrics: [TableMetric], noGroup: Bool, noMerge: Bool, counters: Int, constants: [String: Double] = [:]) -> EventPlan {
        let reads = metrics.map { self.inputs(of: $0, constants: constants).events }
        let largestFirst = metrics.indices.sorted { (-reads[$0].count, $0) < (-reads[$1].count, $1) }
        var plan = EventPlan(requests: [], readsFrom: [:])
        var singles: [String: Int] = [:]
        var groups: [(events: Set<String>, request: Int)] = []
        for i in largestFirst {
            let (m, events) = (metrics[i], reads[i])
            guard !events.isEmpty else { plan.readsFrom[m.name] = []; continue }
            let grouped = !noGroup && !(m.constraint ?? "").hasPrefix("NO_GROUP_EVENTS") && events.count <= counters
            if !grouped {
                plan.readsFrom[m.name] = events.map { e in
                    if !noMerge, let r = singles[e] { return r }
                    plan.requests.append(EventGroupRequest(members: [e], isExplicitGroup: false))
                    singles[e] = plan.requests.count - 1
                    return plan.requests.count - 1
                }
                continue
            }
            let wanted = Set(events)
            if !noMerge, let earlier = groups.first(where: { wanted.isSubset(of: $0.events) }) {
                plan.readsFrom[m.name] = [earlier.request]
                continue
            }
            plan.requests.append(EventGroupRequest(members: Self.perfGroupOrder(events), isExplicitGroup: true))
            groups.append((wanted, plan.requests.count - 1))
            plan.readsFrom[m.name] = [plan.requests.count - 1]
        }
        return plan
    }

    /// A metric group's events in the order perf opens them (arch/x86/util/evlist.c
    /// arch_evlist__cmp): with a PERF_METRICS event (`topdown-*`, which must be in a group led
    /// by slots) the slots event first, then the topdown events, then the rest; otherwise as given.
    public static func perfGroupOrder(_ events: [String]) -> [String] {
        let lower = events.map { $0.lowercased() }
        guard lower.contains(where: { $0.contains("topdown-") }) else { return events }
        func rank(_ i: Int) -> Int {
            if lower[i].contains("slots") && !lower[i].contains("uops_retired.slots") { return 0 }
            return lower[i].contains("topdown") ? 1 : 2
        }
        return events.indices.sorted { (rank($0), $0) < (rank($1), $1) }.map { events[$0] }
    }

    /// A metric's value, from the counted value of each event request (`counts`), the
    /// run's duration in seconds, and the constants (`smt_on`, `num_cpus_online`,
    /// `slots`, `midr`, ... lower-cased). `hasEvent`: whether the machine has an event
    /// (has_event(); perf asks its PMUs).
    public func evaluate(_ metric: TableMetric, counts: [String: Double], durationSeconds: Double?,
                         constants: [String: Double], hasEvent: (String) -> Bool = { _ in false }) -> MetricValue {
        var cache: [String: MetricValue] = [:]
        func value(of m: TableMetric, visiting: Set<String>) -> MetricValue {
            if let v = cache[m.name] { return v }
            guard visiting.count < 16, !visiting.contains(m.name) else { return .missing("\(m.name) refers to itself") }
            let result: MetricValue
            do {
                let expr = try MetricExpression.parse(m.expression)
                result = try expr.evaluate(names: { n in
                    switch term(n) {
                    case .metric(let sub):
                        guard let s = self.metric(named: sub), case .value(let v) = value(of: s, visiting: visiting.union([m.name])) else { return .notCounted }
                        return .value(v)
                    case .event(let request): return counts[request].map(NameValue.value) ?? .notCounted
                    case .durationTime: return durationSeconds.map { .value($0 * 1e9) } ?? .notCounted
                    case .unsupported: return .notCounted
                    }
                }, constants: constants, hasEvent: { n in
                    if case .event(let request) = term(n) { return hasEvent(request) }
                    return false
                })
            } catch {
                result = .missing("\(error)")
            }
            cache[m.name] = result
            return result
        }
        return value(of: metric, visiting: [])
    }
}
