import ArgumentParser
import StallCore
import StallLinux

/// The events `stat` counts and how they are grouped, from its options: the default
/// stall set or -e (tracepoint wildcards expanded), -d's cache events, -M's and
/// --topdown's metric events, then the per-event settings (--all-user/--all-kernel,
/// --filter, -G/--for-each-cgroup, --no-merge) and -g.
struct StatEventSelection {
    var events: [ResolvedEvent] = []
    /// Indices into `events`, one array per requested group.
    var groups: [[Int]] = []
    /// -M/--topdown: the metrics to print, and the core they belong to.
    var metrics: [TableMetric] = []
    var catalog: CoreCatalog? = nil
    /// -M names found among the kernel's metrics, evaluated as perf does: the set each one
    /// belongs to (its core type's, on a hybrid part), and which selected events each of its
    /// event requests became (a metric reads its own group's events, not every copy).
    var kernelMetricSets: [String: KernelMetricSet] = [:]
    var kernelMetricEvents: [String: [String: [Int]]] = [:]
    /// The stall tree of a core type stallstat keeps no tree for: the kernel's top-down, and
    /// the prefix its metrics were planned under in `kernelMetricEvents` (model name → tree).
    var topdownTrees: [String: (KernelTopdown, String)] = [:]

    static func build(_ stat: Stat, resolver: EventResolver, pmus: SysfsPMUs) throws -> StatEventSelection {
        var selection = StatEventSelection()
        if stat.nullRun { return selection }
        var requests: [EventGroupRequest] = []
        var readsFrom: [String: [Int]] = [:]
        // Read from sysfs only when kernel metrics are planned.
        var constantsFor: ((CPUModel) -> [String: Double])? = nil
        /// Kernel metrics' groups as -M plans them, their request indices starting at `offset`.
        func planned(_ set: KernelMetricSet, _ metrics: [TableMetric], at offset: Int) -> [EventGroupRequest] {
            let constants = constantsFor ?? stat.kernelMetricConstants(resolver: resolver, pmus: pmus)
            constantsFor = constants
            let plan = set.plan(metrics, noGroup: stat.metricNoGroup, noMerge: stat.metricNoMerge, counters: stat.counterBudget,
                                constants: constants(set.catalog.model))
            for (name, indices) in plan.readsFrom { readsFrom[name] = indices.map { $0 + offset } }
            return plan.requests
        }
        if !stat.metrics.isEmpty || stat.topdown {
            let (catalog, metrics, kernelSets) = try selectMetrics(stat, resolver: resolver, pmus: pmus)
            selection.catalog = catalog
            selection.metrics = metrics
            // The kernel metrics' groups first, so each plan's request indices are `requests`'
            // (offset by the plans before it: one per core type on a hybrid part).
            for (set, kernel) in kernelSets {
                for m in kernel { selection.kernelMetricSets[m.name] = set }
                requests += planned(set, kernel, at: requests.count)
            }
            var tuples = MetricScheduler.tuples(for: metrics.filter { !$0.isKernelMetric }, catalog: catalog)
            if !stat.metricNoMerge {
                var seen = Set<String>()
                tuples = tuples.map { $0.filter { seen.insert($0).inserted } }.filter { !$0.isEmpty }
            }
            requests += tuples.map { EventGroupRequest(members: Array(orderedUnique($0)), isExplicitGroup: !stat.metricNoGroup) }
                .flatMap { r in r.isExplicitGroup ? [r] : r.members.map { EventGroupRequest(members: [$0], isExplicitGroup: false) } }
        }
        if stat.events.isEmpty && requests.isEmpty {
            requests = DefaultEvents.requests(hasHardwarePMU: pmus.hasHardwarePMU)
            let coreTypes = resolver.coreTypes()
            if pmus.hasHardwarePMU, !coreTypes.isEmpty {
                // The stall tree's events, one group per metric that fits the PMU, for each
                // core type (a name resolves on the CPUs whose table has it: big.LITTLE clusters).
                var treeGroups: [[String]] = []
                var kernelTreeRequests: [EventGroupRequest] = []
                for t in coreTypes {
                    let catalog = resolver.tables.catalog(for: t.model)
                    // No tree of stallstat's for this core: the kernel's top-down metrics, planned
                    // as -M plans them, on this core type's own PMU on a hybrid part.
                    if !catalog.metrics.contains(where: \.isTreeNode),
                       let td = KernelTopdown(set: KernelMetricSet(catalog: catalog, corePMU: coreTypes.count > 1 && pmus.isIntelHybrid ? t.model.pmu : nil)) {
                        let prefix = "tree \(t.model.name): "
                        let renamed = td.metricsToCount.map { m -> TableMetric in var m = m; m.name = prefix + m.name; return m }
                        kernelTreeRequests += planned(td.set, renamed, at: requests.count + kernelTreeRequests.count)
                        selection.topdownTrees[t.model.name] = (td, prefix)
                        continue
                    }
                    for g in MetricScheduler.leadersFirst(MetricScheduler.groups(tuples: MetricScheduler.treeTuples(catalog: catalog),
                                                                                 budget: stat.counterBudget), catalog: catalog)
                    where !treeGroups.contains(g) { treeGroups.append(g) }
                }
                if !treeGroups.isEmpty {
                    // stallstat's tree groups replace the default cycles/instructions/stalled group
                    // (they count those); the kernel's top-down does not, so the group stays then.
                    // Removing it shifts the kernel plans' request indices, planned before.
                    let before = requests.count
                    requests.removeAll { $0.isExplicitGroup }
                    let removed = before - requests.count
                    if removed > 0 { readsFrom = readsFrom.mapValues { $0.map { $0 - removed } } }
                }
                requests += kernelTreeRequests
                requests += treeGroups.map { EventGroupRequest(members: $0, isExplicitGroup: true) }
            }
        } else {
            for text in stat.events {
                do { requests += try EventListParser.parse(text) } catch let e as EventListParser.ParseError {
                    throw ValidationError(e.description)
                }
            }
        }
        requests += DetailedEvents.requests(level: stat.detailed)

        // Filters attach to the last tracepoint named before them; ArgumentParser keeps
        // no order across options, so with several they go to the tracepoints in turn.
        var filters = stat.filters[...]
        var requestEvents: [[String: [Int]]] = []
        for request in requests {
            var group: [Int] = []
            var byName: [String: [Int]] = [:]
            for name in request.members {
                for var event in try resolve(name, resolver: resolver) {
                    if stat.allUser || stat.allKernel, var attr = event.attr {
                        attr.excludeKernel = stat.allUser
                        attr.excludeUser = stat.allKernel
                        attr.excludeHypervisor = true
                        event.attr = attr
                        event.cpuAttrs = event.cpuAttrs?.mapValues { var a = $0; a.excludeKernel = stat.allUser; a.excludeUser = stat.allKernel; a.excludeHypervisor = true; return a }
                    }
                    if event.attr?.type == PerfType.tracepoint, let f = filters.first {
                        event.tracepointFilter = f
                        filters = filters.dropFirst()
                    }
                    selection.events.append(event)
                    group.append(selection.events.count - 1)
                    byName[name, default: []].append(selection.events.count - 1)
                }
            }
            selection.groups.append(group)
            requestEvents.append(byName)
        }
        for (metric, requestIndices) in readsFrom {
            selection.kernelMetricEvents[metric] = requestIndices.reduce(into: [:]) { events, r in
                events.merge(requestEvents[r]) { $0 + $1 }
            }
        }
        if !filters.isEmpty { throw ValidationError("--filter '\(filters.first!)' has no tracepoint event to apply to") }
        // perf: per-PMU rows with --no-merge, and on an Intel hybrid part always (its
        // --hybrid-merge is the exception, not the default); Arm big.LITTLE merges by default.
        if stat.noMerge || (pmus.isIntelHybrid && !stat.hybridMerge) { selection.splitPerPMU(pmus: pmus) }
        try selection.applyCgroups(stat)
        if stat.groupAll {
            // -g: every -e event in one group, as perf's --group.
            selection.groups = [selection.groups.flatMap { $0 }]
        }
        return selection
    }

    /// One name, or every tracepoint a wildcard (`kmem:*`, `syscalls:sys_enter_*`) matches.
    static func resolve(_ name: String, resolver: EventResolver) throws -> [ResolvedEvent] {
        do {
            if Tracefs.isWildcard(name) {
                let names = try Tracefs.matching(name)
                if names.isEmpty { throw ValidationError("no tracepoint matches '\(name)' (`stallstat list tracepoint` shows them)") }
                return try names.map { try resolver.resolve($0) }
            }
            return [try resolver.resolve(name)]
        } catch let e as EventResolver.Failure {
            throw ValidationError(e.description)
        } catch let e as EventResolver.ModelError {
            throw ValidationError(e.description)
        } catch let e as Tracefs.Failure {
            throw ValidationError(e.description)
        }
    }

    /// -M names (metric or metric group, any case) or --topdown's tree, on this core's tables.
    /// The kernel's metrics are looked up first (perf's names: tma_*, frontend_bound, ...),
    /// then stallstat's own (the stall tree's nodes and TLB metrics). On an Intel hybrid part
    /// a kernel metric is selected for each core type that has it, evaluated on that core
    /// PMU's events and named with it (`tma_retiring (cpu_core)`), as perf evaluates hybrid
    /// metrics per PMU. Returns the primary core's catalog (the lowest CPU's, for
    /// stallstat's own metrics), every metric to print, and the kernel metrics per set.
    static func selectMetrics(_ stat: Stat, resolver: EventResolver, pmus: SysfsPMUs) throws
        -> (CoreCatalog, [TableMetric], [(KernelMetricSet, [TableMetric])]) {
        var coreTypes = resolver.coreTypes().map(\.model)
        guard let model = coreTypes.first else {
            let id = resolver.topology.identities.values.first.map { "\($0)" } ?? "unknown"
            throw CLIError.nothingCounted("-M/--topdown need this core's metrics, but EventTables has no entry for this CPU (\(id)); give --cpu-model MODEL of the same vendor, or count events with -e")
        }
        let perCoreType = pmus.isIntelHybrid && stat.cpuModel == nil && coreTypes.count > 1
        if !perCoreType { coreTypes = [model] }
        let catalog = resolver.tables.catalog(for: model)
        let kernelSets = coreTypes.map { KernelMetricSet(catalog: resolver.tables.catalog(for: $0), corePMU: $0.pmu) }
        var kernelChosen = Array(repeating: [TableMetric](), count: kernelSets.count)
        var chosen: [TableMetric] = []
        func add(_ m: TableMetric) { if !chosen.contains(where: { $0.name == m.name }) { chosen.append(m) } }
        /// Each core type's kernel metrics of a -M word (named with their PMU on a hybrid part); false if none.
        func addKernel(_ select: (KernelMetricSet) -> [TableMetric]) -> Bool {
            var found = false
            for (k, set) in kernelSets.enumerated() {
                for var m in select(set) {
                    found = true
                    if perCoreType, let pmu = set.corePMU { m.name += " (\(pmu))" }
                    if !kernelChosen[k].contains(where: { $0.name == m.name }) { kernelChosen[k].append(m) }
                    add(m)
                }
            }
            return found
        }
        for list in stat.metrics {
            for raw in list.split(separator: ",") {
                let name = raw.trimmingWhitespace()
                if addKernel({ $0.select(name) }) { continue }
                let byName = catalog.metrics.filter { $0.name.lowercased() == name.lowercased() }
                let byGroup = catalog.metrics.filter { $0.groups.contains { $0.lowercased() == name.lowercased() } }
                if byName.isEmpty && byGroup.isEmpty {
                    let all = catalog.metrics + catalog.kernelMetrics
                    let known = Array(Set(all.map(\.name) + all.flatMap(\.groups))).sorted()
                    let close = Suggestions.closest(to: name, among: known)
                    // A core has hundreds of metrics: name the close ones, else where the list is.
                    let hint = close.isEmpty ? "" : "did you mean: \(close.joined(separator: ", "))? "
                    throw ValidationError("unknown metric or metric group '\(name)' for \(model.name); \(hint)`stallstat list metric --cpu \(model.name)` lists its \(Set(all.map(\.name)).count) metrics, `stallstat list metricgroup --cpu \(model.name)` its groups")
                }
                (byName + byGroup).forEach(add)
            }
        }
        if stat.topdown {
            if !pmus.hasHardwarePMU {
                throw CLIError.nothingCounted("--topdown counts the stall tree's hardware events, and this machine exposes no hardware PMU (a virtual machine or container without a virtual PMU)")
            }
            catalog.metrics.filter(\.isTreeNode).forEach(add)
            // A core with no tree of stallstat's: the kernel's top-down levels, as perf's
            // --topdown (TopdownL1, and L2 with --td-level 2; AMD's PipelineL1/L2).
            if !catalog.metrics.contains(where: \.isTreeNode) {
                let groups = KernelTopdown.level1Groups + (stat.topdownLevel >= 2 ? KernelTopdown.level2Groups : [])
                _ = addKernel { set in groups.flatMap { set.select($0) } }
            }
        }
        return (catalog, chosen, zip(kernelSets, kernelChosen).filter { !$0.1.isEmpty }.map { ($0.0, $0.1) })
    }

    /// --no-merge: an event with a different encoding per cluster (big.LITTLE) becomes
    /// one event per PMU, named as perf names them (`armv8_cortex_a53/cycles/`).
    mutating func splitPerPMU(pmus: SysfsPMUs) {
        var newEvents: [ResolvedEvent] = []
        var mapping: [Int: [Int]] = [:]
        for (i, e) in events.enumerated() {
            guard let perCPU = e.cpuAttrs else {
                mapping[i] = [newEvents.count]
                newEvents.append(e)
                continue
            }
            let byType = Dictionary(grouping: perCPU.keys.sorted(), by: { perCPU[$0]!.type })
            mapping[i] = []
            for type in byType.keys.sorted() {
                var part = e
                let cpus = byType[type]!
                part.cpuAttrs = Dictionary(uniqueKeysWithValues: cpus.map { ($0, perCPU[$0]!) })
                part.attr = perCPU[cpus[0]]
                let pmu = pmus.pmus.first { $0.type == type }?.name ?? "type\(type)"
                // `cpu_core/EVENT/` already names its PMU.
                part.name = e.name.hasPrefix(pmu + "/") ? e.name : "\(pmu)/\(e.name)/"
                mapping[i]!.append(newEvents.count)
                newEvents.append(part)
            }
        }
        events = newEvents
        groups = groups.map { $0.flatMap { mapping[$0] ?? [] } }
        kernelMetricEvents = kernelMetricEvents.mapValues { $0.mapValues { $0.flatMap { mapping[$0] ?? [] } } }
    }

    /// -G: one name for every event, else the i-th cgroup for the i-th event ('' for
    /// none); --for-each-cgroup: every
    /// event once per cgroup, cgroup by cgroup (perf's order).
    mutating func applyCgroups(_ stat: Stat) throws {
        if let list = stat.forEachCgroup {
            let names = list.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if names.contains(where: \.isEmpty) { throw ValidationError("--for-each-cgroup takes cgroup names separated by commas (got '\(list)')") }
            let original = events, originalGroups = groups
            events = []
            groups = []
            for name in names {
                let base = events.count
                events += original.map { var e = $0; e.cgroup = name; return e }
                groups += originalGroups.map { $0.map { $0 + base } }
            }
            return
        }
        let names = stat.cgroups.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard !names.isEmpty else { return }
        let countable = events.indices.filter { events[$0].procCounter == nil }
        if names.count == 1 {
            // One name applies to every event, as in perf (`-G name` with several -e).
            if !names[0].isEmpty { for i in countable { events[i].cgroup = names[0] } }
            return
        }
        if names.count > countable.count {
            throw ValidationError("-G names \(names.count) cgroups but only \(countable.count) events were given before it (each cgroup applies to one event, in order)")
        }
        for (k, name) in names.enumerated() where !name.isEmpty { events[countable[k]].cgroup = name }
    }
}

/// Keeps the first of each repeated name, in order.
func orderedUnique(_ names: [String]) -> [String] {
    var seen = Set<String>()
    return names.filter { seen.insert($0).inserted }
}

/// The default stall set: the kernel-visible stall signals on every machine, and the
/// hardware counters the stall hierarchy needs where a PMU exists.
enum DefaultEvents {
    static func requests(hasHardwarePMU: Bool) -> [EventGroupRequest] {
        var r: [EventGroupRequest] = ["task-clock", "context-switches", "cpu-migrations", "page-faults", "major-faults"]
            .map { EventGroupRequest(members: [$0], isExplicitGroup: false) }
        // One group, so instructions-per-cycle and stall shares come from one moment. On a
        // machine without a PMU they print <not supported> with one line saying why.
        r.append(EventGroupRequest(members: ["cycles", "instructions", "stalled-cycles-frontend", "stalled-cycles-backend"],
                                   isExplicitGroup: true))
        r += KernelSignalKind.defaultSet.map { EventGroupRequest(members: [$0.name], isExplicitGroup: false) }
        return r
    }
}

/// perf's -d/-dd/-ddd sets (builtin-stat.c detailed_attrs, very_detailed_attrs,
/// very_very_detailed_attrs), appended to the counted events.
enum DetailedEvents {
    static let levels: [[String]] = [
        ["L1-dcache-loads", "L1-dcache-load-misses", "LLC-loads", "LLC-load-misses"],
        ["L1-icache-loads", "L1-icache-load-misses", "dTLB-loads", "dTLB-load-misses", "iTLB-loads", "iTLB-load-misses"],
        ["L1-dcache-prefetches", "L1-dcache-prefetch-misses"],
    ]

    static func requests(level: Int) -> [EventGroupRequest] {
        levels.prefix(max(0, min(level, levels.count))).flatMap { $0 }.map { EventGroupRequest(members: [$0], isExplicitGroup: false) }
    }
}
