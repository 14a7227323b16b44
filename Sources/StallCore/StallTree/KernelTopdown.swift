/// The stall tree of a core stallstat keeps no tree for (every imported Intel and AMD model,
/// both core types of a hybrid part): the kernel's own top-down metrics, level 1
/// (TopdownL1, AMD's PipelineL1) under all slots, level 2 under its level-1 parent (the
/// `tma_frontend_bound_group` / `frontend_bound_group` membership perf's metric groups
/// give). Each node is the kernel metric's value, so the tree is what `-M TopdownL1,
/// TopdownL2` prints, arranged. Pure: the caller counts `metricsToCount` and hands back values.
public struct KernelTopdown: Sendable {
    public let set: KernelMetricSet
    public let level1: [TableMetric]
    public let level2: [TableMetric]
    /// Level-2 metric name → its level-1 parent.
    public let parentOf: [String: String]
    /// The metric giving all slots, where the core's metrics have one (counts beside shares).
    public let slots: TableMetric?

    /// The metric groups of each level (Intel's and Arm's TopdownLn, AMD's PipelineLn).
    public static let level1Groups = ["TopdownL1", "PipelineL1"]
    public static let level2Groups = ["TopdownL2", "PipelineL2"]
    static let slotMetrics = ["tma_info_thread_slots", "tma_info_core_slots", "total_dispatch_slots"]

    /// Nil when the core's kernel metrics have no level 1.
    public init?(set: KernelMetricSet) {
        self.set = set
        let l1 = set.metrics.filter { m in Self.level1Groups.contains { m.groups.contains($0) } }
        guard !l1.isEmpty else { return nil }
        var parents: [String: String] = [:]
        var l2: [TableMetric] = []
        for m in set.metrics where Self.level2Groups.contains(where: { m.groups.contains($0) }) {
            guard let parent = m.groups.lazy.filter({ $0.hasSuffix("_group") }).map({ String($0.dropLast(6)) })
                .first(where: { p in l1.contains { $0.name == p } }) else { continue }
            parents[m.name] = parent
            l2.append(m)
        }
        level1 = l1
        level2 = l2
        parentOf = parents
        slots = Self.slotMetrics.lazy.compactMap { set.metric(named: $0) }.first
    }

    /// The metrics whose events the tree needs.
    public var metricsToCount: [TableMetric] { level1 + level2 + (slots.map { [$0] } ?? []) }

    /// Whether the metric's MetricThreshold holds on these counts (perf colours the metric then).
    public func thresholdHolds(_ m: TableMetric, counts: [String: Double], durationSeconds: Double, constants: [String: Double]) -> Bool {
        guard let t = m.threshold else { return false }
        var probe = m
        // The threshold names the metric itself (`tma_frontend_bound > 0.15`): under its own
        // name the probe would read as referring to itself.
        probe.name += " threshold"
        probe.expression = t
        if case .value(let v) = set.evaluate(probe, counts: counts, durationSeconds: durationSeconds, constants: constants,
                                             hasEvent: { counts[$0] != nil }) { return v != 0 }
        return false
    }

    /// A metric's value as a fraction of slots (ScaleUnit `100%`, `1percent of slots`, `100%slots`).
    func fraction(_ m: TableMetric, _ raw: Double) -> Double {
        let (v, unit) = m.scaled(raw)
        return unit.hasPrefix("%") || unit.hasPrefix("percent") ? v / 100 : raw
    }

    /// The tree from each metric's value (`value(m)`, the kernel metric as evaluated), with
    /// a node's threshold (the kernel's MetricThreshold) marking it as perf colours it.
    public func report(cpu: String, value: (TableMetric) -> MetricValue, threshold: (TableMetric) -> Bool = { _ in false }) -> StallReport {
        var nodes: [StallTreeNode] = []
        var missing: [(name: String, reason: String)] = []
        var total: Double? = nil
        if let slots, case .value(let v) = value(slots), v > 0 { total = v }
        let unit = total == nil ? "" : "slots"
        nodes.append(StallTreeNode(name: "slots", brief: "All pipeline slots", parent: nil, depth: 0, count: total ?? 0, shareOfParent: nil,
                                   shareOfRoot: 1, root: "slots", percentRunning: 100, flags: [], guidance: nil, unit: unit))
        func node(_ m: TableMetric, parent: String, parentShare: Double, depth: Int) -> Double? {
            switch value(m) {
            case .value(let raw):
                let share = fraction(m, raw)
                nodes.append(StallTreeNode(name: m.name, brief: m.brief, parent: parent, depth: depth, count: (total ?? 0) * share,
                                           shareOfParent: parentShare > 0 ? share / parentShare : nil, shareOfRoot: share, root: "slots",
                                           percentRunning: 100, flags: [], guidance: threshold(m) ? m.brief : nil, unit: unit))
                return share
            case .missing(let why):
                missing.append((m.name, why))
                return nil
            }
        }
        for l1 in level1 {
            guard let share = node(l1, parent: "slots", parentShare: 1, depth: 1) else { continue }
            for l2 in level2 where parentOf[l2.name] == l1.name { _ = node(l2, parent: l1.name, parentShare: share, depth: 2) }
        }
        var notes = ["The kernel's top-down metrics for \(set.catalog.model.name) (tools/perf/pmu-events; `stallstat list metricgroup` lists them): stallstat keeps no tree of its own for this core."]
        if total == nil { notes.append("These metrics give no slot count: the count column is empty; the shares are the metrics' values.") }
        return StallReport(cpu: cpu, nodes: total == nil && nodes.count == 1 ? [] : nodes, info: [], notes: notes, missing: missing)
    }
}
