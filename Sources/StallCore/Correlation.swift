/// Pearson and Spearman correlation of two series.
public enum Correlation {
    /// nil when fewer than 3 points or either series is constant (r is undefined).
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        let n = min(x.count, y.count)
        guard n >= 3 else { return nil }
        let mx = x.prefix(n).reduce(0, +) / Double(n), my = y.prefix(n).reduce(0, +) / Double(n)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in 0..<n {
            let dx = x[i] - mx, dy = y[i] - my
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        }
        guard sxx > 0, syy > 0 else { return nil }
        return max(-1, min(1, sxy / (sxx * syy).squareRoot()))
    }

    /// Ranks from 1, ties given their average rank (as scipy.stats.rankdata).
    public static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, x[order[j + 1]] == x[order[i]] { j += 1 }
            let avg = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = avg }
            i = j + 1
        }
        return r
    }

    public static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
        let n = min(x.count, y.count)
        return pearson(ranks(Array(x.prefix(n))), ranks(Array(y.prefix(n))))
    }
}

/// A named series over the intervals of a run.
public struct TimeSeries: Equatable, Sendable {
    public var name: String
    public var unit: String
    public var values: [Double]
    public init(name: String, unit: String, values: [Double]) {
        self.name = name
        self.unit = unit
        self.values = values
    }
}

public struct CorrelationPair: Equatable, Sendable {
    public var stall: String
    public var fragmentation: String
    public var pearson: Double?
    public var spearman: Double?
    public var intervals: Int
}

/// Sets stall signals against fragmentation measures, interval by interval.
public struct FragmentationCorrelation: Sendable {
    public var timestamps: [Double]
    public var stallSeries: [TimeSeries]
    public var fragmentationSeries: [TimeSeries]

    /// Builds the series from each interval's counts and the memory snapshot taken with it.
    /// `baseline` is the snapshot taken before counting started (for vmstat deltas).
    public init(windows: [StatWindow], snapshots: [MemorySnapshot], baseline: MemorySnapshot?, hugePageShares: [Double]? = nil) {
        let n = min(windows.count, snapshots.count)
        timestamps = windows.prefix(n).map { $0.timestampSeconds ?? 0 }
        var stall: [TimeSeries] = []
        let names = windows.first?.results.filter { $0.cpu == nil }.map(\.name) ?? []
        for name in names {
            let isTLBOrMemory = ["tlb", "walk", "stall", "mem"].contains { name.lowercased().contains($0) } && GenericEvents.lookup(name) == nil
            // Memory stall signals: PSI memory (not cpu or io), vmstat, faults, compaction/reclaim tracepoints.
            let signal = KernelSignalKind(name: name)
            let isSignal = (signal != nil && signal != .pressure(resource: "cpu", full: false) && signal != .pressure(resource: "cpu", full: true)
                            && signal != .pressure(resource: "io", full: false) && signal != .pressure(resource: "io", full: true))
                || ["page-faults", "major-faults", "minor-faults"].contains(name)
                || name.hasPrefix("compaction:") || name.hasPrefix("vmscan:") || name == "kmem:mm_page_alloc_extfrag"
            guard isTLBOrMemory || isSignal else { continue }
            var values: [Double] = []
            var counted = true
            for w in windows.prefix(n) {
                guard let r = w.results.first(where: { $0.name == name && $0.cpu == nil }), w.elapsedNs > 0 else { counted = false; break }
                switch r.status {
                case .counted: values.append(r.value / (w.elapsedNs / 1e9))
                // A task counter that never ran in an interval: the task did nothing, so 0.
                case .notCounted: values.append(0)
                case .notSupported: counted = false
                }
                if !counted { break }
            }
            guard counted else { continue }
            let unit = KernelSignalKind(name: name)?.isPressure == true ? "us/s" : "/s"
            stall.append(TimeSeries(name: name, unit: unit, values: values))
        }
        stallSeries = stall
        let snaps = Array(snapshots.prefix(n))
        var frag = [
            TimeSeries(name: "unusable index (order \(snaps.first?.hugePageOrder ?? 9))", unit: "Normal zones", values: snaps.map(\.unusableAtHugePageOrderNormal)),
            TimeSeries(name: "free THP-sized blocks", unit: "blocks", values: snaps.map { Double($0.hugePageBlocksFree) }),
        ]
        var previous = baseline ?? snaps.first
        var compaction: [Double] = []
        for s in snaps {
            func delta(_ k: String) -> Double { Double((s.vmstat[k] ?? 0) &- (previous?.vmstat[k] ?? s.vmstat[k] ?? 0)) }
            compaction.append(delta("compact_stall") + delta("compact_daemon_wake"))
            previous = s
        }
        frag.append(TimeSeries(name: "compaction events", unit: "direct stalls + kcompactd wakes per interval", values: compaction))
        if let shares = hugePageShares, shares.count >= n {
            frag.append(TimeSeries(name: "workload memory on huge pages", unit: "share of anonymous memory (TLB reach)", values: Array(shares.prefix(n))))
        }
        fragmentationSeries = frag
    }

    public var pairs: [CorrelationPair] {
        stallSeries.flatMap { s in
            fragmentationSeries.map { f in
                CorrelationPair(stall: s.name, fragmentation: f.name, pearson: Correlation.pearson(s.values, f.values),
                                spearman: Correlation.spearman(s.values, f.values), intervals: min(s.values.count, f.values.count))
            }
        }
    }

    /// Plain sentences for the strong relations (|r| ≥ 0.7 over at least 5 intervals).
    public var sentences: [String] {
        pairs.compactMap { p in
            guard let r = p.pearson, abs(r) >= 0.7, p.intervals >= 5 else { return nil }
            let verb = r > 0 ? "rose with" : "fell as"
            let tail = r > 0 ? "" : " rose"
            return "\(p.stall) \(verb) the \(p.fragmentation)\(tail): r = " + cFormat("%.2f", r) + " over \(p.intervals) intervals"
                + (p.spearman.map { cFormat(" (Spearman %.2f)", $0) } ?? "") + "."
        }
    }

    public func text() -> String {
        var out = "\nCorrelation of stall signals with fragmentation over \(timestamps.count) intervals (Pearson r / Spearman ρ):\n"
        if timestamps.count < 3 { return out + "  fewer than 3 intervals: nothing to correlate (use a smaller -I or a longer run).\n" }
        let w = max(34, (stallSeries.map(\.name.count).max() ?? 0) + 2)
        let cw = max(26, (fragmentationSeries.map(\.name.count).max() ?? 0) + 2)
        out += padRight("", w) + fragmentationSeries.map { padLeft($0.name, cw) }.joined() + "\n"
        for s in stallSeries {
            out += padRight(s.name, w)
            for f in fragmentationSeries {
                let p = Correlation.pearson(s.values, f.values), rho = Correlation.spearman(s.values, f.values)
                let cell = p == nil ? "n/a (constant)" : cFormat("%+.2f / ", p!) + (rho.map { cFormat("%+.2f", $0) } ?? "n/a")
                out += padLeft(cell, cw)
            }
            out += "\n"
        }
        if let thp = fragmentationSeries.first(where: { $0.name == "workload memory on huge pages" }), let last = thp.values.last(where: { $0 > 0 }) ?? thp.values.last {
            out += cFormat("Workload memory mapped by huge pages (AnonHugePages / Anonymous, last sample): %.1f%%\n", 100 * last)
        }
        let s = sentences
        out += s.isEmpty ? "No strong relation (|r| ≥ 0.7 over ≥ 5 intervals).\n" : s.map { "  " + $0 }.joined(separator: "\n") + "\n"
        return out
    }

    /// Series that stayed at zero the whole run get no panel, only a footnote.
    public func plot(title: String) -> String {
        let all = stallSeries + fragmentationSeries
        let shown = all.filter { s in s.values.contains { $0 != 0 } }
        let flat = all.filter { s in !s.values.contains { $0 != 0 } }.map(\.name)
        let panels = shown.map { s in PlotPanel(title: s.name, unit: s.unit, points: zip(timestamps, s.values).map { ($0, $1) }) }
        return SVGPlot.render(title: title, panels: panels, footnote: flat.isEmpty ? nil : "zero throughout: " + flat.joined(separator: ", "))
    }
}
