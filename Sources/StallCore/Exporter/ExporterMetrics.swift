/// What `stallstat serve` publishes, kept between scrapes: counter totals accumulated from
/// the counting loop's windows (scaled for multiplexing, never reset), the last window's
/// gauges (multiplexing share, stall-tree shares) and the last memory snapshot. Pure: the
/// loop feeds it, `families()` turns it into Prometheus metric families.
public struct ExporterMetrics: Sendable {
    /// An event the loop counts, as the exporter labels it.
    public struct Event: Equatable, Sendable {
        public var name: String
        /// The PMU it is counted on (`cpu`, `armv8_pmuv3_0`, `software`, `tracepoint`).
        public var pmu: String
        public init(name: String, pmu: String) {
            self.name = name
            self.pmu = pmu
        }
    }

    /// The software events with a family of their own, in base units (clocks count ns).
    static let namedEvents: [String: (family: String, help: String, nanoseconds: Bool)] = [
        "task-clock": ("stallstat_task_clock_seconds", "CPU time counted by the task-clock software event, summed over CPUs (perf's task-clock)", true),
        "cpu-clock": ("stallstat_cpu_clock_seconds", "CPU time counted by the cpu-clock software event, summed over CPUs", true),
        "context-switches": ("stallstat_context_switches", "Context switches (perf's context-switches software event)", false),
        "cpu-migrations": ("stallstat_cpu_migrations", "Tasks moved between CPUs (perf's cpu-migrations)", false),
        "page-faults": ("stallstat_page_faults", "Page faults, minor and major (perf's page-faults software event)", false),
        "minor-faults": ("stallstat_minor_faults", "Page faults served without I/O (perf's minor-faults)", false),
        "major-faults": ("stallstat_major_faults", "Page faults that needed I/O (perf's major-faults)", false),
    ]

    public var events: [Event]
    public var perCPU: Bool
    public var pmuAvailable: Bool
    public var intervalSeconds: Double
    public var version: String

    /// Totals by event and CPU (nil without --per-cpu), in the kernel's unit.
    private(set) var totals: [String: [Int?: Double]] = [:]
    /// The last window's running share by event and CPU (1 = never multiplexed).
    private(set) var runningShare: [String: [Int?: Double]] = [:]
    public private(set) var windows: UInt64 = 0
    public private(set) var lastWindowSeconds: Double = 0
    public private(set) var lastWindowUnixSeconds: Double = 0
    /// Events counting (nil: all that were asked; 0 when perf_event_open was refused).
    public var countersOpen: Int? = nil
    public var stallTree: StallReport? = nil
    public var memory: MemorySnapshot? = nil
    /// Why the stall tree is absent, published as a label-free info line in HELP.
    public var stallTreeUnavailable: String? = nil

    public init(events: [Event], perCPU: Bool, pmuAvailable: Bool, intervalSeconds: Double, version: String) {
        self.events = events
        self.perCPU = perCPU
        self.pmuAvailable = pmuAvailable
        self.intervalSeconds = intervalSeconds
        self.version = version
        for e in events { totals[e.name] = [:] }
    }

    /// One window of the counting loop (deltas since the previous window). Rows that did
    /// not count add nothing; a known event with no row keeps its total.
    public mutating func add(window: StatWindow, unixSeconds: Double) {
        runningShare = [:]
        for r in window.results where r.status == .counted && r.aggregate == nil && r.cgroup == nil {
            guard totals[r.name] != nil else { continue }
            let cpu = perCPU ? r.cpu : nil
            // Deltas of raw counts scaled by their own enabled/running times are never
            // negative; a NaN or negative (an impossible reading) is not added, so the
            // counter stays monotonic.
            if r.value.isFinite && r.value > 0 { totals[r.name]![cpu, default: 0] += r.value }
            else if totals[r.name]![cpu] == nil { totals[r.name]![cpu] = 0 }
            runningShare[r.name, default: [:]][cpu] = r.timeEnabledNs > 0 ? min(1, r.timeRunningNs / r.timeEnabledNs) : 1
        }
        // Opened events are the rows that are not <not supported>.
        countersOpen = Set(window.results.filter { if case .notSupported = $0.status { return false } else { return true } }.map(\.name)).count
        windows &+= 1
        lastWindowSeconds = window.elapsedNs / 1e9
        lastWindowUnixSeconds = unixSeconds
    }

    public func total(_ event: String, cpu: Int? = nil) -> Double? { totals[event]?[cpu] }

    /// The stall tree's input from one window: each event's count summed over its rows
    /// (one per CPU with --per-cpu), with the lowest running share among them.
    public static func treeInput(_ window: StatWindow) -> [NamedCount] {
        var totals: [String: (value: Double, running: Double, kind: GenericKind?)] = [:]
        var order: [String] = []
        for r in window.results where r.status == .counted && r.aggregate == nil && r.cgroup == nil {
            if totals[r.name] == nil { order.append(r.name); totals[r.name] = (0, 100, r.kind) }
            totals[r.name]!.value += r.value
            totals[r.name]!.running = min(totals[r.name]!.running, r.percentRunning)
        }
        return order.map { NamedCount(name: $0, value: totals[$0]!.value, percentRunning: totals[$0]!.running, kind: totals[$0]!.kind) }
    }

    public func families() -> [MetricFamily] {
        var out: [MetricFamily] = []
        out.append(MetricFamily(name: "stallstat_build", help: "stallstat's version (always 1)", kind: .info,
                                samples: [MetricSample([("version", version)], 1)]))
        out.append(MetricFamily(name: "stallstat_pmu_available", help: "1 when a hardware PMU counts (cycles, stalls); 0: software events, kernel signals and fragmentation only",
                                kind: .gauge, samples: [MetricSample([], pmuAvailable ? 1 : 0)]))
        out.append(MetricFamily(name: "stallstat_counters_open", help: "Events the counting loop has open (0: perf_event_open was refused; only PSI, vmstat and fragmentation are exported)",
                                kind: .gauge, samples: [MetricSample([], Double(countersOpen ?? events.count))]))
        out.append(MetricFamily(name: "stallstat_interval_seconds", help: "The counting loop's interval (--interval)", kind: .gauge, unit: "seconds",
                                samples: [MetricSample([], intervalSeconds)]))
        out.append(MetricFamily(name: "stallstat_windows", help: "Counting windows completed since the exporter started", kind: .counter,
                                samples: [MetricSample([], Double(windows))]))
        if windows > 0 {
            out.append(MetricFamily(name: "stallstat_last_window_seconds", help: "Length of the last counting window", kind: .gauge, unit: "seconds",
                                    samples: [MetricSample([], lastWindowSeconds)]))
            out.append(MetricFamily(name: "stallstat_last_window_end_timestamp_seconds", help: "When the last counting window ended (Unix time)",
                                    kind: .gauge, unit: "seconds", samples: [MetricSample([], lastWindowUnixSeconds)]))
        }
        out += counterFamilies()
        out += stallFamilies()
        if let memory { out += ExporterMetrics.memoryFamilies(memory) }
        return out
    }

    private func cpuLabels(_ cpu: Int?) -> [(String, String)] { cpu.map { [("cpu", String($0))] } ?? [] }

    private func counterFamilies() -> [MetricFamily] {
        var out: [MetricFamily] = []
        var generic: [MetricSample] = []
        var running: [MetricSample] = []
        for e in events {
            guard let byCPU = totals[e.name], !byCPU.isEmpty else { continue }
            let cpus = byCPU.keys.sorted { ($0 ?? -1) < ($1 ?? -1) }
            if let named = ExporterMetrics.namedEvents[e.name] {
                out.append(MetricFamily(name: named.family, help: named.help, kind: .counter, unit: named.nanoseconds ? "seconds" : nil,
                                        samples: cpus.map { MetricSample(cpuLabels($0), byCPU[$0]! / (named.nanoseconds ? 1e9 : 1)) }))
            } else {
                generic += cpus.map { MetricSample([("pmu", e.pmu), ("event", e.name)] + cpuLabels($0), byCPU[$0]!) }
            }
            if let shares = runningShare[e.name] {
                running += cpus.compactMap { c in shares[c].map { MetricSample([("event", e.name)] + cpuLabels(c), $0) } }
            }
        }
        out.append(MetricFamily(name: "stallstat_pmu_events",
                                help: "Events counted system-wide since the exporter started, scaled for multiplexing (perf stat -a's counts, summed over windows)",
                                kind: .counter, samples: generic))
        out.append(MetricFamily(name: "stallstat_event_running_ratio",
                                help: "Share of the last window each counter was on the PMU (below 1: multiplexed and scaled, as perf's percentage)",
                                kind: .gauge, unit: "ratio", samples: running))
        return out
    }

    private func stallFamilies() -> [MetricFamily] {
        guard let tree = stallTree else { return [] }
        let nodes = tree.nodes.map { n in
            MetricSample([("node", n.name), ("parent", n.parent ?? ""), ("level", String(n.depth))], n.shareOfRoot)
        }
        let info = tree.info.filter { $0.value.isFinite }.map { m in MetricSample([("metric", m.name), ("unit", m.unit)], m.value) }
        return [
            MetricFamily(name: "stallstat_stall_share_ratio",
                         help: "The stall tree over the last window: each node's share of all cycles (or slots), frontend/backend and their causes",
                         kind: .gauge, unit: "ratio", samples: nodes),
            MetricFamily(name: "stallstat_stall_metric", help: "The stall tree's other metrics over the last window (IPC, miss rates), in the unit labelled",
                         kind: .gauge, samples: info),
        ]
    }

    /// The memory snapshot as `frag --json` shows it, per zone and order.
    public static func memoryFamilies(_ m: MemorySnapshot) -> [MetricFamily] {
        var freeBlocks: [MetricSample] = [], unusable: [MetricSample] = [], fragmentation: [MetricSample] = []
        var freeBytes: [MetricSample] = [], thpPossible: [MetricSample] = [], largest: [MetricSample] = []
        var watermarks: [MetricSample] = [], byType: [MetricSample] = [], pageblocks: [MetricSample] = []
        for z in m.zones {
            let ix = m.indices(z)
            let zone: [(String, String)] = [("node", String(z.node)), ("zone", z.zone)]
            for order in z.freeBlocks.indices {
                let o = zone + [("order", String(order))]
                freeBlocks.append(MetricSample(o, Double(z.freeBlocks[order])))
                unusable.append(MetricSample(o, Double(ix.unusableIndexMilli(order: order)) / 1000))
                fragmentation.append(MetricSample(o, Double(ix.fragmentationIndexMilli(order: order)) / 1000))
            }
            freeBytes.append(MetricSample(zone, Double(ix.freePages) * Double(m.pageBytes)))
            thpPossible.append(MetricSample(zone, Double(ix.hugePageAllocationsPossible)))
            if let l = ix.largestFreeOrder { largest.append(MetricSample(zone, Double(l))) }
            if let w = m.watermarks.first(where: { $0.key == z.key }) {
                for (level, pages) in [("min", w.min), ("low", w.low), ("high", w.high)] {
                    watermarks.append(MetricSample(zone + [("level", level)], Double(pages) * Double(m.pageBytes)))
                }
            }
            if let pt = m.pageTypes {
                for (type, counts) in (pt.freeByType[z.key] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    for order in counts.indices {
                        byType.append(MetricSample(zone + [("migrate_type", type), ("order", String(order))], Double(counts[order])))
                    }
                }
                for (type, n) in (pt.pageblocksByType[z.key] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    pageblocks.append(MetricSample(zone + [("migrate_type", type)], Double(n)))
                }
            }
        }
        var out: [MetricFamily] = [
            MetricFamily(name: "stallstat_memory_page_size_bytes", help: "The kernel's base page size", kind: .gauge, unit: "bytes",
                         samples: [MetricSample([], Double(m.pageBytes))]),
            MetricFamily(name: "stallstat_memory_huge_page_order", help: "The transparent huge page order (log2 of pages per PMD huge page)", kind: .gauge,
                         samples: [MetricSample([], Double(m.hugePageOrder))]),
            MetricFamily(name: "stallstat_memory_free_blocks", help: "Free blocks of 2^order pages (/proc/buddyinfo)", kind: .gauge, samples: freeBlocks),
            MetricFamily(name: "stallstat_memory_unusable_index_ratio",
                         help: "The kernel's unusable free space index per order (debugfs extfrag/unusable_index): share of free memory in blocks too small for the order",
                         kind: .gauge, unit: "ratio", samples: unusable),
            MetricFamily(name: "stallstat_memory_fragmentation_index",
                         help: "The kernel's fragmentation index per order (debugfs extfrag/extfrag_index): towards 1 failure is from fragmentation, towards 0 from lack of memory; -1 when an allocation of the order would succeed",
                         kind: .gauge, samples: fragmentation),
            MetricFamily(name: "stallstat_memory_thp_unusable_index_ratio",
                         help: "Unusable free space index at the huge page order over the zones huge pages come from (Normal and DMA32): the figure THP allocation follows",
                         kind: .gauge, unit: "ratio", samples: m.zones.isEmpty ? [] : [MetricSample([], m.unusableAtHugePageOrderNormal)]),
            MetricFamily(name: "stallstat_memory_free_bytes", help: "Free memory per zone (buddy allocator)", kind: .gauge, unit: "bytes", samples: freeBytes),
            MetricFamily(name: "stallstat_memory_huge_page_allocations_possible", help: "Huge pages that could be allocated from free blocks now, per zone",
                         kind: .gauge, samples: thpPossible),
            MetricFamily(name: "stallstat_memory_largest_free_order", help: "The largest order with a free block, per zone", kind: .gauge, samples: largest),
            MetricFamily(name: "stallstat_memory_watermark_bytes", help: "Zone watermarks (/proc/zoneinfo): reclaim wakes below low, allocations stall below min",
                         kind: .gauge, unit: "bytes", samples: watermarks),
            MetricFamily(name: "stallstat_memory_free_blocks_by_migrate_type", help: "Free blocks of 2^order pages per migrate type (/proc/pagetypeinfo)",
                         kind: .gauge, samples: byType),
            MetricFamily(name: "stallstat_memory_pageblocks", help: "Pageblocks per migrate type (/proc/pagetypeinfo)", kind: .gauge, samples: pageblocks),
        ]
        var pressure: [MetricSample] = []
        for (resource, p) in m.pressure.sorted(by: { $0.key < $1.key }) {
            for (kind, line) in [("some", p.some), ("full", p.full)] {
                if let line { pressure.append(MetricSample([("resource", resource), ("kind", kind)], Double(line.totalMicroseconds) / 1e6)) }
            }
        }
        out.append(MetricFamily(name: "stallstat_pressure_stalled_seconds",
                                help: "Time tasks were stalled on the resource since boot (/proc/pressure: some = at least one task, full = all non-idle tasks)",
                                kind: .counter, unit: "seconds", samples: pressure))
        for (name, value) in m.vmstat.sorted(by: { $0.key < $1.key }) where !MemorySnapshot.vmstatNames.contains(name) {
            out.append(MetricFamily(name: "stallstat_vmstat_" + PrometheusExposition.nameFragment(name),
                                    help: "/proc/vmstat \(name) since boot (compaction, migration, THP, reclaim)", kind: .counter,
                                    samples: [MetricSample([], Double(value))]))
        }
        return out
    }
}
