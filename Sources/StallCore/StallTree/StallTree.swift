/// A counted value with the share of time its counter ran.
public struct CountValue: Equatable, Sendable {
    public var value: Double
    public var percentRunning: Double
    public init(value: Double, percentRunning: Double = 100) {
        self.value = value
        self.percentRunning = percentRunning
    }
}

/// A count as imported or measured, under the name it was printed with.
public struct NamedCount: Equatable, Sendable {
    public var name: String
    public var value: Double
    public var percentRunning: Double
    /// The generic counter it is, when it was counted here (nil: imported, by name).
    public var kind: GenericKind? = nil
    public init(name: String, value: Double, percentRunning: Double = 100, kind: GenericKind? = nil) {
        self.name = name
        self.value = value
        self.percentRunning = percentRunning
        self.kind = kind
    }
}

/// Maps printed names (simpleperf's, perf's, Arm's, raw codes) to the one name the
/// metrics use, so an event counted twice under two names is counted once.
public struct CanonicalCounts: Equatable, Sendable {
    public var counts: [String: CountValue] = [:]
    /// Which printed name supplied each canonical name.
    public var sources: [String: String] = [:]
    public var notes: [String] = []
    /// Names that are not events of this core (software events, tracepoints, ...).
    public var unmatched: [String] = []
    /// The privilege levels of the counts used ("" = all levels, "u" = user only, ...).
    public var scope: String = ""

    public init(_ counted: [NamedCount], catalog: CoreCatalog) {
        var resolved: [(canonical: String, isGenericAlias: Bool, scope: String, count: NamedCount)] = []
        for c in counted {
            guard let (canonical, isGenericAlias) = CanonicalCounts.canonicalName(c.name, kind: c.kind, catalog: catalog) else {
                unmatched.append(c.name)
                continue
            }
            resolved.append((canonical, isGenericAlias, CanonicalCounts.privilegeScope(c.name), c))
        }
        // `r11:u` and `r11` are different events (user-only and all levels): the tree's
        // ratios must not mix them, so it reads one privilege scope, the one with the most
        // events (all levels on a tie), and says which counts it left out.
        var eventsPerScope: [String: Set<String>] = [:]
        for r in resolved { eventsPerScope[r.scope, default: []].insert(r.canonical) }
        let scope = eventsPerScope.max { a, b in
            a.value.count != b.value.count ? a.value.count < b.value.count : (a.key != "" && (b.key == "" || a.key > b.key))
        }?.key ?? ""
        self.scope = scope
        var aliases: [(String, NamedCount)] = []
        for r in resolved {
            if r.scope != scope {
                let other = r.scope.isEmpty ? "all privilege levels" : "privilege level :\(r.scope)"
                let used = scope.isEmpty ? "all privilege levels" : ":\(scope)"
                notes.append("\(r.count.name) counts \(other); the stall tree reads the events counted at \(used), so it leaves \(r.count.name) out.")
                continue
            }
            if r.isGenericAlias { aliases.append((r.canonical, r.count)); continue }
            insert(r.canonical, r.count, catalog: catalog)
        }
        // perf's generic names last: a raw or table name for the same event wins.
        for (canonical, c) in aliases { insert(canonical, c, catalog: catalog) }
    }

    /// The privilege levels a printed name counts: "" for all (no modifier), else the
    /// sorted levels among u, k, h (`cycles:ku` and `cycles:uk` are one scope).
    static func privilegeScope(_ printed: String) -> String {
        guard let (_, m) = EventModifiers.split(printed), m.user || m.kernel || m.hypervisor else { return "" }
        return (m.hypervisor ? "h" : "") + (m.kernel ? "k" : "") + (m.user ? "u" : "")
    }

    mutating func insert(_ canonical: String, _ c: NamedCount, catalog: CoreCatalog) {
        guard let existing = counts[canonical], let first = sources[canonical] else {
            counts[canonical] = CountValue(value: c.value, percentRunning: c.percentRunning)
            sources[canonical] = c.name
            return
        }
        let diff = existing.value == 0 ? (c.value == 0 ? 0 : 1) : abs(c.value - existing.value) / existing.value
        let why = (c.kind ?? GenericKind(name: c.name, rawCodesAreArm: catalog.model.vendor == .arm)) == .other ? "both count \(canonical)"
            : "on \(catalog.model.vendor == .arm ? "Arm" : "this CPU") the kernel maps \(c.name) to \(canonical)"
        notes.append("\(c.name) (\(groupThousands(c.value))) and \(first) (\(groupThousands(existing.value))) differ by "
            + cFormat("%.3f%%", 100 * diff) + ": \(why); counted once, as \(first).")
    }

    /// The canonical name, and whether the printed name is one of perf's generic aliases.
    /// `kind`: the event's, when it was counted here; else its name says (r11/r08 as
    /// Arm's codes only on an Arm core).
    static func canonicalName(_ printed: String, kind: GenericKind? = nil, catalog: CoreCatalog) -> (String, Bool)? {
        let base = EventModifiers.split(printed)?.base ?? printed
        let arm = catalog.model.vendor == .arm
        let generic = GenericEvents.lookup(base) != nil
        switch kind ?? GenericKind(name: base, rawCodesAreArm: arm) {
        case .cycles: return (arm ? "CPU_CYCLES" : "cycles", generic)
        case .instructions: return (arm ? "INST_RETIRED" : "instructions", generic)
        case .stalledFrontend where arm: return ("STALL_FRONTEND", true)
        case .stalledBackend where arm: return ("STALL_BACKEND", true)
        default: break
        }
        if let code = RawEventSyntax.rawCode(base), arm {
            if let e = catalog.events.first(where: { $0.armCode == code }) { return (e.name, false) }
            if let e = catalog.armCommon.values.first(where: { $0.armCode == code }) { return (e.name, false) }
            return nil
        }
        switch catalog.lookup(base) {
        case .found(let e), .notImplemented(let e): return (e.name, false)
        case .unknown: return nil
        }
    }
}

/// One node of the stall tree.
public struct StallTreeNode: Equatable, Sendable {
    public var name: String
    public var brief: String
    public var parent: String?
    public var depth: Int
    public var count: Double
    public var shareOfParent: Double?
    public var shareOfRoot: Double
    public var root: String
    /// The lowest running share among the counters the node reads.
    public var percentRunning: Double
    public var flags: [String]
    /// Shown when the node's threshold (a table expression) holds.
    public var guidance: String?
    public var unit: String
}

/// A derived figure outside the tree (IPC, TLB walks per 1000 instructions, top-down %).
public struct InfoMetric: Equatable, Sendable {
    public var name: String
    public var brief: String
    public var value: Double
    public var unit: String
    public var group: String
    public var guidance: String?
}

public struct StallReport: Equatable, Sendable {
    public var cpu: String
    public var nodes: [StallTreeNode]
    public var info: [InfoMetric]
    public var notes: [String]
    /// Tree nodes that could not be computed, and why.
    public var missing: [(name: String, reason: String)]

    public static func == (a: StallReport, b: StallReport) -> Bool {
        a.cpu == b.cpu && a.nodes == b.nodes && a.info == b.info && a.notes == b.notes
            && a.missing.map(\.name) == b.missing.map(\.name)
    }

    public func node(_ name: String) -> StallTreeNode? { nodes.first { $0.name == name } }
    public func info(_ name: String) -> InfoMetric? { info.first { $0.name == name } }
}

/// Evaluates a core's metrics over canonical counts and arranges the tree.
public struct StallTreeBuilder {
    public var catalog: CoreCatalog
    /// Slot width: the PMU's caps/slots at run time, else the table's.
    public var slots: Int?
    /// The CPU's MIDR (Arm), for formulas gated on the core's revision (strcmp_cpuid_str).
    public var midr: UInt64?

    public init(catalog: CoreCatalog, slots: Int? = nil, midr: UInt64? = nil) {
        self.catalog = catalog
        self.slots = slots ?? catalog.model.slots
        self.midr = midr
    }

    public func build(_ counted: [NamedCount]) -> StallReport {
        let canonical = CanonicalCounts(counted, catalog: catalog)
        var notes = canonical.notes
        notes += consistencyNotes(canonical.counts)
        var cache: [String: MetricValue] = [:]
        var problems: [String] = []
        let metricsByName = Dictionary(catalog.metrics.map { ($0.name, $0) }, uniquingKeysWith: { _, b in b })
        var constants: [String: Double] = slots.map { ["slots": Double($0)] } ?? [:]
        if let midr, midr < 1 << 53 { constants["midr"] = Double(midr) }

        func nameValue(_ n: String, visiting: Set<String>) -> NameValue {
            if let c = canonical.counts[n] { return .value(c.value) }
            if metricsByName[n] != nil, !visiting.contains(n) {
                if case .value(let v) = evaluate(n, visiting: visiting.union([n])) { return .value(v) }
                return .notCounted
            }
            if ["cycles", "instructions"].contains(n) || CanonicalCounts.canonicalName(n, catalog: catalog) != nil { return .notCounted }
            return .unknown
        }

        func evaluate(_ name: String, visiting: Set<String> = []) -> MetricValue {
            if let v = cache[name] { return v }
            guard let m = metricsByName[name] else { return .missing("no metric \(name)") }
            var result: MetricValue = .missing("not evaluated")
            for text in [m.expression] + m.alternatives {
                do {
                    let expr = try MetricExpression.parse(text)
                    result = try expr.evaluate(names: { nameValue($0, visiting: visiting.union([name])) }, constants: constants)
                } catch {
                    problems.append("metric \(name) (\(m.file):\(m.line)): \(error)")
                    result = .missing("\(error)")
                }
                if case .value = result { break }
            }
            cache[name] = result
            return result
        }

        func runningShare(_ m: TableMetric) -> Double {
            var names = (try? MetricExpression.parse(m.expression).names) ?? []
            var seen = Set<String>()
            var lowest = 100.0
            while let n = names.popLast() {
                guard seen.insert(n).inserted else { continue }
                if let c = canonical.counts[n] { lowest = min(lowest, c.percentRunning) }
                else if let sub = metricsByName[n] { names += (try? MetricExpression.parse(sub.expression).names) ?? [] }
            }
            return lowest
        }

        // Tree nodes present, and their effective parents.
        let treeMetrics = catalog.metrics.filter(\.isTreeNode)
        var present: [String: Double] = [:]
        var missing: [(String, String)] = []
        for m in treeMetrics {
            switch evaluate(m.name) {
            case .value(let v): present[m.name] = v
            case .missing(let why): missing.append((m.name, why))
            }
        }
        func effectiveParent(_ m: TableMetric) -> String? {
            var candidates = (m.parent ?? "").split(separator: "|").map(String.init)
            var guardCount = 0
            while !candidates.isEmpty, guardCount < 32 {
                guardCount += 1
                if let hit = candidates.first(where: { present[$0] != nil }) { return hit }
                // None present: try the parents of the first candidate (walk up the tree).
                guard let up = metricsByName[candidates[0]]?.parent else { return nil }
                candidates = up.split(separator: "|").map(String.init)
            }
            return nil
        }
        var parentOf: [String: String] = [:]
        for m in treeMetrics where present[m.name] != nil {
            if let p = effectiveParent(m) { parentOf[m.name] = p }
        }
        let roots = treeMetrics.filter { present[$0.name] != nil && parentOf[$0.name] == nil && $0.parent == nil }
        var nodes: [StallTreeNode] = []
        func visit(_ m: TableMetric, depth: Int, root: String) {
            let count = present[m.name]!
            let parent = parentOf[m.name]
            let parentCount = parent.flatMap { present[$0] }
            let rootCount = present[root] ?? count
            var flags: [String] = []
            if let pc = parentCount, count > pc * 1.001 {
                flags.append("larger than its parent " + (parent ?? "") + cFormat(" (%.1f%%)", 100 * count / pc))
            }
            let children = treeMetrics.filter { parentOf[$0.name] == m.name }
            let childSum = children.reduce(0.0) { $0 + (present[$1.name] ?? 0) }
            if children.count > 1, count > 0, childSum > count * 1.01 {
                flags.append("its parts sum to " + cFormat("%.1f%%", 100 * childSum / count) + " of it: they overlap, or were not counted at one moment")
            }
            let running = runningShare(m)
            if running < 99.995 { flags.append(cFormat("counters ran %.2f%% of the time (multiplexed, scaled)", running)) }
            let shareOfParent = parentCount.map { $0 > 0 ? count / $0 : 0 }
            let shareOfRoot = rootCount > 0 ? count / rootCount : 0
            var guidance: String? = nil
            if let t = m.threshold, let g = m.guidance, let expr = try? MetricExpression.parse(t) {
                let vars: [String: Double] = ["share": shareOfParent ?? 1, "share_of_total": shareOfRoot, "value": count]
                if case .value(let hit)? = try? expr.evaluate(names: { vars[$0].map(NameValue.value) ?? .unknown }), hit != 0 {
                    guidance = g
                }
            }
            let unit = m.scaled(count).unit
            nodes.append(StallTreeNode(name: m.name, brief: m.brief, parent: parent, depth: depth, count: count,
                                       shareOfParent: shareOfParent, shareOfRoot: shareOfRoot, root: root,
                                       percentRunning: running, flags: flags, guidance: guidance, unit: unit))
            for c in children { visit(c, depth: depth + 1, root: root) }
        }
        for r in roots { visit(r, depth: 0, root: r.name) }

        var info: [InfoMetric] = []
        for m in catalog.metrics where !m.isTreeNode {
            guard case .value(let raw) = evaluate(m.name) else { continue }
            let (v, unit) = m.scaled(raw)
            var guidance: String? = nil
            if let t = m.threshold, let g = m.guidance, let expr = try? MetricExpression.parse(t),
               case .value(let hit)? = try? expr.evaluate(names: { $0 == "value" ? .value(unit == "%" ? v / 100 : v) : .unknown }), hit != 0 {
                guidance = g
            }
            info.append(InfoMetric(name: m.name, brief: m.brief, value: v, unit: unit, group: m.groups.first ?? "", guidance: guidance))
        }
        notes += problems
        if !nodes.contains(where: { $0.depth > 0 }), let generic = GenericStallSplit.nodes(counted) {
            // The core's tree has at most its roots here (only perf's generic events were counted).
            // Only perf's generic stalled-cycles events: perf's own frontend/backend split.
            nodes = generic.nodes
            info += generic.info.filter { g in !info.contains { $0.brief == g.brief } }
            notes.append("The \(catalog.model.name) tree needs its own events; shown instead: perf's generic split, stalled-cycles-frontend and stalled-cycles-backend as shares of cycles (perf's \"frontend/backend cycles idle\"). The two may overlap: they are not a partition.")
            return StallReport(cpu: "generic", nodes: nodes, info: info, notes: notes, missing: [])
        }
        return StallReport(cpu: catalog.model.name, nodes: nodes, info: info, notes: notes,
                           missing: missing.filter { !$0.1.hasPrefix("no metric") })
    }

    /// What a careful reader notices in the counts themselves.
    func consistencyNotes(_ c: [String: CountValue]) -> [String] {
        var notes: [String] = []
        func near(_ a: Double, _ b: Double) -> Double { a == 0 ? (b == 0 ? 0 : 1) : abs(a - b) / a }
        if let stall = c["STALL"]?.value, let fe = c["STALL_FRONTEND"]?.value, let be = c["STALL_BACKEND"]?.value {
            let d = near(stall, fe + be)
            if d < 0.01 {
                notes.append("STALL (\(groupThousands(stall))) ≈ STALL_FRONTEND + STALL_BACKEND (\(groupThousands(fe + be)), " + cFormat("%.3f%%", 100 * d)
                    + " apart): frontend and backend partition the stalled cycles on this core, so their shares of STALL add up to 100%.")
            } else if fe + be > stall {
                notes.append("STALL_FRONTEND + STALL_BACKEND exceed STALL by " + cFormat("%.1f%%", 100 * d)
                    + ": some cycles count as both frontend and backend stalls.")
            } else {
                notes.append("STALL exceeds STALL_FRONTEND + STALL_BACKEND by " + cFormat("%.1f%%", 100 * d) + ": part of the stalled cycles is attributed to neither.")
            }
        }
        if let mem = c["STALL_BACKEND_MEM"]?.value, let membound = c["STALL_BACKEND_MEMBOUND"]?.value, near(membound, mem) < 0.01 {
            notes.append("STALL_BACKEND_MEM (\(groupThousands(mem))) ≈ STALL_BACKEND_MEMBOUND (\(groupThousands(membound))): every memory-bound backend stall here missed the core's last cache level.")
        }
        if let slot = c["STALL_SLOT"]?.value, let cycles = c["CPU_CYCLES"]?.value, cycles > 0 {
            notes.append("STALL_SLOT / CPU_CYCLES = " + cFormat("%.2f", slot / cycles) + " empty issue slots per cycle"
                + (slots.map { " of \($0)" } ?? " (slot width not known for this core: the PMU's caps/slots gives it at run time)") + ".")
        }
        return notes
    }
}

/// perf's generic stall figures for any core (stat-shadow.c): stalled-cycles-frontend and
/// stalled-cycles-backend as shares of cycles, and stalled cycles per instruction. Used
/// when a file or a run has only these generic events (x86 perf output commonly does).
public enum GenericStallSplit {
    public static func nodes(_ counted: [NamedCount]) -> (nodes: [StallTreeNode], info: [InfoMetric])? {
        func value(_ kind: GenericKind) -> NamedCount? { counted.first { ($0.kind ?? GenericKind(name: $0.name)) == kind } }
        guard let cycles = value(.cycles), cycles.value > 0 else { return nil }
        let frontend = value(.stalledFrontend), backend = value(.stalledBackend)
        guard frontend != nil || backend != nil else { return nil }
        var nodes = [StallTreeNode(name: "cycles", brief: "Core cycles", parent: nil, depth: 0, count: cycles.value,
                                   shareOfParent: nil, shareOfRoot: 1, root: "cycles", percentRunning: cycles.percentRunning,
                                   flags: [], guidance: nil, unit: "")]
        for (part, name, brief) in [(frontend, "frontend_cycles_idle", "Cycles the frontend delivered nothing (stalled-cycles-frontend)"),
                                    (backend, "backend_cycles_idle", "Cycles the backend could not accept work (stalled-cycles-backend)")] {
            guard let part else { continue }
            let share = part.value / cycles.value
            var flags: [String] = []
            let running = min(part.percentRunning, cycles.percentRunning)
            if running < 99.995 { flags.append(cFormat("counters ran %.2f%% of the time (multiplexed, scaled)", running)) }
            if share > 1.001 { flags.append("larger than its parent cycles" + cFormat(" (%.1f%%)", 100 * share)) }
            nodes.append(StallTreeNode(name: name, brief: brief, parent: "cycles", depth: 1, count: part.value,
                                       shareOfParent: share, shareOfRoot: share, root: "cycles", percentRunning: running,
                                       flags: flags, guidance: nil, unit: ""))
        }
        var info: [InfoMetric] = []
        if let instructions = value(.instructions), instructions.value > 0 {
            info.append(InfoMetric(name: "ipc", brief: "Instructions per cycle", value: instructions.value / cycles.value, unit: "", group: "generic", guidance: nil))
            let stalled = max(frontend?.value ?? 0, backend?.value ?? 0)
            info.append(InfoMetric(name: "stalled_cycles_per_insn", brief: "Stalled cycles per instruction (perf's)",
                                   value: stalled / instructions.value, unit: "", group: "generic", guidance: nil))
        }
        return (nodes, info)
    }
}

/// Rows counted per core PMU (perf's `cpu_core/EVENT/` rows on an Intel hybrid part, and
/// `--no-merge` rows on Arm big.LITTLE), regrouped so each core type's stall tree reads its
/// own PMU's counts under the event's own name. Rows of no core PMU (software events) go
/// to every core type. Nil when no row names one of the PMUs (merged counts).
public enum CorePMURows {
    public static func split(_ rows: [NamedCount], pmus: [String]) -> [String: [NamedCount]]? {
        var result: [String: [NamedCount]] = [:]
        var shared: [NamedCount] = []
        var anyPrefixed = false
        for row in rows {
            guard let pmu = pmus.first(where: { row.name.hasPrefix($0 + "/") }) else { shared.append(row); continue }
            anyPrefixed = true
            var name = String(row.name.dropFirst(pmu.count + 1))
            // `cpu_core/EVENT/` → EVENT; `cpu_core/EVENT/:k` → EVENT:k.
            if name.hasSuffix("/") { name.removeLast() }
            else if let slash = name.lastIndex(of: "/"), name[name.index(after: slash)...].hasPrefix(":") { name.remove(at: slash) }
            var own = row
            own.name = name
            result[pmu, default: []].append(own)
        }
        guard anyPrefixed else { return nil }
        for pmu in pmus { result[pmu, default: []] += shared }
        return result
    }
}
