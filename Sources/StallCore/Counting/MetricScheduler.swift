/// Packs the events metrics need into PMU-sized groups, so every ratio is counted at
/// one moment (Arm topdown-tool's "collect by metric" and perf's metric groups):
/// each metric's events form one tuple, tuples contained in another are dropped, and
/// the rest are merged greedily while the union fits the counter budget.
public enum MetricScheduler {
    public static func groups(tuples: [[String]], budget: Int) -> [[String]] {
        precondition(budget > 0)
        var sets: [[String]] = []
        for t in tuples {
            var seen = Set<String>()
            let unique = t.filter { seen.insert($0).inserted }
            if !unique.isEmpty { sets.append(unique) }
        }
        // Drop tuples that another tuple contains (keep the first of equal ones).
        var kept: [[String]] = []
        for (i, s) in sets.enumerated() {
            let contained = sets.enumerated().contains { j, other in
                j != i && Set(s).isSubset(of: Set(other)) && (other.count > s.count || j < i)
            }
            if !contained { kept.append(s) }
        }
        // A tuple larger than the budget cannot be measured at one moment: split it.
        var pieces: [[String]] = []
        for s in kept.sorted(by: { $0.count > $1.count }) {
            if s.count <= budget { pieces.append(s) } else {
                stride(from: 0, to: s.count, by: budget).forEach { pieces.append(Array(s[$0..<min($0 + budget, s.count)])) }
            }
        }
        var result: [[String]] = []
        for p in pieces {
            if let i = result.firstIndex(where: { Set($0).union(p).count <= budget }) {
                for e in p where !result[i].contains(e) { result[i].append(e) }
            } else {
                result.append(p)
            }
        }
        return result
    }

    /// Puts the events that must lead a kernel group (PERF_METRICS needs TOPDOWN.SLOTS
    /// first) at the front of their group.
    public static func leadersFirst(_ groups: [[String]], catalog: CoreCatalog) -> [[String]] {
        groups.map { g in
            let leads = g.filter { name in if case .found(let e) = catalog.lookup(name) { return e.leadsGroup }; return false }
            return leads + g.filter { !leads.contains($0) }
        }
    }

    /// The event tuples of a core's stall tree: each node with its parent, so that every
    /// share of a parent is a ratio counted at one moment.
    public static func treeTuples(catalog: CoreCatalog) -> [[String]] { tuples(for: catalog.metrics, catalog: catalog) }

    /// The events each of `selected` needs (through the metrics it refers to, and its
    /// parent's, whose share it is), one tuple per metric.
    public static func tuples(for selected: [TableMetric], catalog: CoreCatalog) -> [[String]] {
        let metrics = Dictionary(catalog.metrics.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        func events(_ m: TableMetric, depth: Int = 0) -> [String] {
            guard depth < 8, let expr = try? MetricExpression.parse(m.expression) else { return [] }
            return expr.names.flatMap { n -> [String] in
                // A metric named like the event it reads (Intel's `cycles` node is `cycles`) reads the event.
                if let sub = metrics[n], sub.name != m.name { return events(sub, depth: depth + 1) }
                if case .found = catalog.lookup(n) { return [n] }
                if catalog.model.vendor == .arm, let e = catalog.armCommon[n], catalog.events.contains(e) { return [n] }
                return ["cycles", "instructions"].contains(n) ? [n] : []
            }
        }
        var tuples: [[String]] = []
        for m in selected {
            var t = events(m)
            if let parentName = m.parent?.split(separator: "|").first, let parent = metrics[String(parentName)] { t += events(parent) }
            if !t.isEmpty { tuples.append(t) }
        }
        return tuples
    }
}

/// Splits kernel groups into runs of a re-run workload so that no run needs more
/// hardware counters than the PMU has (`--no-multiplex`, as toplev and topdown-tool do).
/// Groups without hardware events go in the first run.
public enum RunPartitioner {
    public static func runs(groups: [[Int]], hardwareCount: ([Int]) -> Int, budget: Int) -> [[[Int]]] {
        var runs: [[[Int]]] = [[]]
        var used: [Int] = [0]
        for g in groups {
            let need = hardwareCount(g)
            if need == 0 { runs[0].append(g); continue }
            if let i = used.indices.first(where: { used[$0] + need <= budget || used[$0] == 0 }) {
                runs[i].append(g)
                used[i] += need
            } else {
                runs.append([g])
                used.append(need)
            }
        }
        return runs.filter { !$0.isEmpty }
    }
}
