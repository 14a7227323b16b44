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
/// Pearson's r over a stream, in O(1) memory (Welford's co-moments: stable for long runs).
public struct RunningPearson: Equatable, Sendable {
    public private(set) var count = 0
    private var meanX = 0.0, meanY = 0.0, m2x = 0.0, m2y = 0.0, cxy = 0.0

    public init() {}

    public mutating func add(_ x: Double, _ y: Double) {
        count += 1
        let n = Double(count)
        let dx = x - meanX
        meanX += dx / n
        let dy = y - meanY
        meanY += dy / n
        m2x += dx * (x - meanX)
        m2y += dy * (y - meanY)
        cxy += dx * (y - meanY)
    }

    /// nil when fewer than 3 points or either series is constant, as `Correlation.pearson`.
    public var r: Double? {
        guard count >= 3, m2x > 0, m2y > 0 else { return nil }
        return max(-1, min(1, cxy / (m2x * m2y).squareRoot()))
    }
}

/// Stall rates against fragmentation measures, interval by interval, in bounded memory:
/// Pearson's r over the whole run from running co-moments; Spearman's ρ and the plot over
/// the last `window` intervals (an hour at -I 1000), so `stallstat -a -I 1000` left running
/// for a day keeps a flat footprint.
public struct FragmentationCorrelation: Sendable {
    /// Intervals kept for Spearman's ρ and the plot.
    public static let window = 3600

    /// Intervals seen in all.
    public private(set) var intervals = 0
    /// Up to twice `window` values each, trimmed by half at a time (amortised O(1));
    /// the public views are the last `window`.
    private var storedTimestamps: [Double] = []
    private var storedStall: [TimeSeries] = []
    private var storedFragmentation: [TimeSeries] = []

    /// The last `window` intervals.
    public var timestamps: [Double] { Array(storedTimestamps.suffix(FragmentationCorrelation.window)) }
    public var stallSeries: [TimeSeries] { storedStall.map { TimeSeries(name: $0.name, unit: $0.unit, values: Array($0.values.suffix(FragmentationCorrelation.window))) } }
    public var fragmentationSeries: [TimeSeries] { storedFragmentation.map { TimeSeries(name: $0.name, unit: $0.unit, values: Array($0.values.suffix(FragmentationCorrelation.window))) } }
    /// [stall series][fragmentation series], over every interval.
    private var pearsons: [[RunningPearson]] = []
    private var previous: MemorySnapshot?
    private let tracksHugePages: Bool
    private var started = false

    /// `baseline`: the snapshot taken before counting started (for vmstat deltas).
    /// `tracksHugePages`: a workload's huge-page share is given with each interval.
    public init(baseline: MemorySnapshot?, tracksHugePages: Bool) {
        previous = baseline
        self.tracksHugePages = tracksHugePages
    }

    /// Builds the series from each interval's counts and the memory snapshot taken with it.
    public init(windows: [StatWindow], snapshots: [MemorySnapshot], baseline: MemorySnapshot?, hugePageShares: [Double]? = nil) {
        self.init(baseline: baseline, tracksHugePages: hugePageShares != nil)
        for k in 0..<min(windows.count, snapshots.count) {
            add(window: windows[k], snapshot: snapshots[k], hugePageShare: hugePageShares.map { k < $0.count ? $0[k] : 0 })
        }
    }

    /// The stall signals worth correlating with memory: TLB/memory events (not perf's
    /// generic names), PSI memory, vmstat, faults, compaction/reclaim tracepoints.
    static func isMemoryStallSignal(_ result: CounterResult) -> Bool {
        let name = result.name
        let isTLBOrMemory = ["tlb", "walk", "stall", "mem"].contains { name.lowercased().contains($0) } && GenericEvents.lookup(name) == nil
        let signal = result.kernelSignal
        let isSignal = (signal != nil && signal != .pressure(resource: "cpu", full: false) && signal != .pressure(resource: "cpu", full: true)
                        && signal != .pressure(resource: "io", full: false) && signal != .pressure(resource: "io", full: true))
            || ["page-faults", "major-faults", "minor-faults"].contains(name)
            || name.hasPrefix("compaction:") || name.hasPrefix("vmscan:") || name == "kmem:mm_page_alloc_extfrag"
        return isTLBOrMemory || isSignal
    }

    /// A rate, or nil when the event was not counted in this window (the series is then
    /// dropped: a correlation with holes would mislead). A task counter that never ran
    /// in an interval did nothing: 0.
    static func rate(_ name: String, in w: StatWindow) -> Double? {
        guard let r = w.results.first(where: { $0.name == name && $0.cpu == nil && $0.aggregate == nil }), w.elapsedNs > 0 else { return nil }
        switch r.status {
        case .counted: return r.value / (w.elapsedNs / 1e9)
        case .notCounted: return 0
        case .notSupported: return nil
        }
    }

    public mutating func add(window w: StatWindow, snapshot s: MemorySnapshot, hugePageShare: Double?) {
        if !started {
            started = true
            let rows = w.results.filter { $0.cpu == nil && $0.aggregate == nil && FragmentationCorrelation.isMemoryStallSignal($0) }
            storedStall = rows.filter { FragmentationCorrelation.rate($0.name, in: w) != nil }.map { row in
                TimeSeries(name: row.name, unit: row.kernelSignal?.isPressure == true ? "us/s" : "/s", values: [])
            }
            storedFragmentation = [
                TimeSeries(name: "unusable index (order \(s.hugePageOrder))", unit: "Normal zones", values: []),
                TimeSeries(name: "free THP-sized blocks", unit: "blocks", values: []),
                TimeSeries(name: "compaction events", unit: "direct stalls + kcompactd wakes per interval", values: []),
            ]
            if tracksHugePages {
                storedFragmentation.append(TimeSeries(name: "workload memory on huge pages", unit: "share of anonymous memory (TLB reach)", values: []))
            }
            pearsons = storedStall.map { _ in storedFragmentation.map { _ in RunningPearson() } }
            if previous == nil { previous = s }
        }
        // A series whose event is missing from this window is dropped from here on.
        var keep: [Int] = []
        var rates: [Double] = []
        for (i, series) in storedStall.enumerated() {
            if let r = FragmentationCorrelation.rate(series.name, in: w) { keep.append(i); rates.append(r) }
        }
        if keep.count != storedStall.count {
            storedStall = keep.map { storedStall[$0] }
            pearsons = keep.map { pearsons[$0] }
        }
        func delta(_ k: String) -> Double { Double((s.vmstat[k] ?? 0) &- (previous?.vmstat[k] ?? s.vmstat[k] ?? 0)) }
        var measures = [s.unusableAtHugePageOrderNormal, Double(s.hugePageBlocksFree), delta("compact_stall") + delta("compact_daemon_wake")]
        if tracksHugePages { measures.append(hugePageShare ?? 0) }
        previous = s

        intervals += 1
        append(&storedTimestamps, w.timestampSeconds ?? 0)
        for (i, rate) in rates.enumerated() {
            append(&storedStall[i].values, rate)
            for (j, m) in measures.enumerated() { pearsons[i][j].add(rate, m) }
        }
        for (j, m) in measures.enumerated() { append(&storedFragmentation[j].values, m) }
    }

    /// Appends; past twice the window, the older half goes at once.
    private func append(_ values: inout [Double], _ v: Double) {
        if values.count >= 2 * FragmentationCorrelation.window { values.removeFirst(values.count - FragmentationCorrelation.window) }
        values.append(v)
    }

    /// Pearson over every interval; Spearman over the last `window`.
    public var pairs: [CorrelationPair] {
        let fragmentation = fragmentationSeries
        return stallSeries.enumerated().flatMap { i, s in
            fragmentation.enumerated().map { j, f in
                CorrelationPair(stall: s.name, fragmentation: f.name, pearson: pearsons[i][j].r,
                                spearman: Correlation.spearman(s.values, f.values), intervals: pearsons[i][j].count)
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
        var out = "\nCorrelation of stall signals with fragmentation over \(intervals) intervals (Pearson r / Spearman ρ"
            + (intervals > FragmentationCorrelation.window ? " over the last \(FragmentationCorrelation.window)" : "") + "):\n"
        if intervals < 3 { return out + "  fewer than 3 intervals: nothing to correlate (use a smaller -I or a longer run).\n" }
        let stall = stallSeries, fragmentation = fragmentationSeries
        let w = max(34, (stall.map(\.name.count).max() ?? 0) + 2)
        let cw = max(26, (fragmentation.map(\.name.count).max() ?? 0) + 2)
        out += padRight("", w) + fragmentation.map { padLeft($0.name, cw) }.joined() + "\n"
        for (i, s) in stall.enumerated() {
            out += padRight(s.name, w)
            for (j, f) in fragmentation.enumerated() {
                let p = pearsons[i][j].r, rho = Correlation.spearman(s.values, f.values)
                let cell = p == nil ? "n/a (constant)" : cFormat("%+.2f / ", p!) + (rho.map { cFormat("%+.2f", $0) } ?? "n/a")
                out += padLeft(cell, cw)
            }
            out += "\n"
        }
        if let thp = fragmentation.first(where: { $0.name == "workload memory on huge pages" }), let last = thp.values.last(where: { $0 > 0 }) ?? thp.values.last {
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
