/// `perf stat -x SEP` layout, field for field (tools/perf/util/stat-display.c):
/// `[time SEP][CPUn SEP]count SEP unit SEP event SEP [variance% SEP]runtime SEP pcnt SEP metric SEP metric-unit`.
public struct PerfCSVWriter {
    public var separator: String

    public init(separator: String = ",") { self.separator = separator }

    public func lines(for window: StatWindow) -> [String] {
        let cgroupColumn = window.results.contains { $0.cgroup != nil }
        return window.results.map { line(for: $0, in: window, cgroupColumn: cgroupColumn) }
    }

    /// `cgroupColumn`: perf prints the cgroup column on every row once any event has a
    /// cgroup (empty for the others).
    public func line(for r: CounterResult, in window: StatWindow, cgroupColumn: Bool = false) -> String {
        var fields: [String] = []
        if let t = window.timestampSeconds { fields.append(cFormat("%16.9f", t)) }
        if let cpu = r.cpu { fields.append("CPU\(cpu)") }
        if let key = r.aggregate {
            fields.append(key.label)
            if key.kind != .thread { fields.append(String(key.members)) }
        }
        switch r.status {
        case .counted: fields.append(r.isClock ? cFormat("%.2f", r.printedValue) : formatWhole(r.printedValue))
        case .notCounted: fields.append("<not counted>")
        case .notSupported: fields.append("<not supported>")
        }
        fields.append(r.unit)
        fields.append(r.name)
        if cgroupColumn || r.cgroup != nil { fields.append(r.cgroup ?? "") }
        if let v = r.variancePercent { fields.append(cFormat("%.2f%%", v)) }
        fields.append(formatWhole(isUnsupported(r) ? 0 : r.timeRunningNs))
        fields.append(formatPercent(r.percentRunning))
        if let m = PerfShadowMetrics.metric(for: r, in: window) {
            fields.append(cFormat("%.*f", Int32(m.csvPrecision), m.value))
            fields.append(m.unit)
        } else {
            fields.append("")
            fields.append("")
        }
        return fields.joined(separator: separator)
    }
}

func isUnsupported(_ r: CounterResult) -> Bool {
    if case .notSupported = r.status { return true }
    return false
}

/// `perf stat -j` layout: one JSON object per line (JSON Lines), keys in perf's order.
/// perf prints `"metric-unit" : "(null)"` for a count with no metric; we print "".
public struct PerfJSONWriter {
    public init() {}

    public func lines(for window: StatWindow) -> [String] {
        let cgroupKey = window.results.contains { $0.cgroup != nil }
        return window.results.map { line(for: $0, in: window, cgroupKey: cgroupKey) }
    }

    public func line(for r: CounterResult, in window: StatWindow, cgroupKey: Bool = false) -> String {
        var parts: [String] = []
        if let t = window.timestampSeconds { parts.append(cFormat("\"interval\" : %.9f", t)) }
        if let cpu = r.cpu { parts.append("\"cpu\" : \"\(cpu)\"") }
        if let key = r.aggregate {
            parts.append("\"\(key.kind.rawValue)\" : \"\(jsonEscape(key.label))\"")
            if key.kind != .thread { parts.append("\"aggregate-number\" : \(key.members)") }
        }
        let value: String
        switch r.status {
        case .counted: value = cFormat("%f", r.printedValue)
        case .notCounted: value = "<not counted>"
        case .notSupported: value = "<not supported>"
        }
        parts.append("\"counter-value\" : \"\(value)\"")
        parts.append("\"unit\" : \"\(jsonEscape(r.unit))\"")
        parts.append("\"event\" : \"\(jsonEscape(r.name))\"")
        if cgroupKey || r.cgroup != nil { parts.append("\"cgroup\" : \"\(jsonEscape(r.cgroup ?? ""))\"") }
        if let v = r.variancePercent { parts.append(cFormat("\"variance\" : %.2f", v)) }
        parts.append("\"event-runtime\" : " + formatWhole(isUnsupported(r) ? 0 : r.timeRunningNs))
        parts.append("\"pcnt-running\" : " + formatPercent(r.percentRunning))
        let m = PerfShadowMetrics.metric(for: r, in: window)
        parts.append(cFormat("\"metric-value\" : %f", m?.value ?? 0))
        parts.append("\"metric-unit\" : \"\(jsonEscape(m?.unit ?? ""))\"")
        return "{" + parts.joined(separator: ", ") + "}"
    }
}

/// simpleperf's `stat` text layout:
/// ```
/// Performance counter statistics:
///
/// #          count  event_name                    # count / runtime
///   25,118,448,822  cpu-cycles                    # 0.156965 GHz
///
/// Total test time: 20.000292 seconds.
/// ```
/// with perf's `(62.50%)` running share when a counter was multiplexed and
/// `( +- x.xx% )` after repeated runs.
public struct SimpleperfTextWriter {
    /// `-B`/`--no-big-num`: thousands separators in counts (on by default, as simpleperf).
    public var bigNumbers: Bool
    public init(bigNumbers: Bool = true) { self.bigNumbers = bigNumbers }

    /// The columns naming what a row stands for, left of the count: cpu (-A), the
    /// socket/die/core/node/thread (--per-*), the cgroup (-G). Header and width of each.
    struct LabelColumns {
        var columns: [(header: String, width: Int, value: (CounterResult) -> String)] = []
        init(_ results: [CounterResult]) {
            if results.contains(where: { $0.cpu != nil }) {
                columns.append(("cpu", 4, { $0.cpu.map(String.init) ?? "-" }))
            }
            if let kind = results.first(where: { $0.aggregate != nil })?.aggregate?.kind {
                let width = max(kind.rawValue.count + (columns.isEmpty ? 1 : 0), results.map { $0.aggregate?.label.count ?? 1 }.max() ?? 1)
                columns.append((kind.rawValue, width, { $0.aggregate?.label ?? "-" }))
            }
            if results.contains(where: { $0.cgroup != nil }) {
                let width = max(6 + (columns.isEmpty ? 1 : 0), results.map { $0.cgroup?.count ?? 1 }.max() ?? 1)
                columns.append(("cgroup", width, { $0.cgroup ?? "-" }))
            }
        }
        var isEmpty: Bool { columns.isEmpty }
        /// The header line's first character becomes its '#': the first column keeps a
        /// space before its title so the title is never cut.
        var header: String { columns.map { padLeft($0.header, $0.width) + "  " }.joined() }
        func text(_ r: CounterResult) -> String { columns.map { padLeft($0.value(r), $0.width) + "  " }.joined() }
    }

    public func render(_ windows: [StatWindow], totalSeconds: Double?, repeats: Int = 1) -> String {
        var out = ""
        let interval = windows.contains { $0.timestampSeconds != nil }
        let rows = windows.map { w in w.results.map { r in (w, r) } }.flatMap { $0 }
        let labels = LabelColumns(rows.map(\.1))
        let perCPU = !labels.isEmpty
        let counts = rows.map { countText($0.1) }
        let countWidth = max(5, counts.map(\.count).max() ?? 0)
        let nameWidth = max(30, (rows.map { $0.1.name.count }.max() ?? 0) + 2)
        out += repeats > 1 ? "Performance counter statistics (\(repeats) runs):\n\n" : "Performance counter statistics:\n\n"
        var header = ""
        if interval { header += padLeft("time", 14) + "  " }
        header += labels.header
        header += padLeft("count", countWidth)
        out += "#" + (interval || perCPU ? String(header.dropFirst()) : padLeft("count", countWidth + 1))
        out += "  " + padRight("event_name", nameWidth) + "# count / runtime\n"
        for (i, (window, r)) in rows.enumerated() {
            var line = ""
            if interval { line += cFormat("%14.6f", window.timestampSeconds ?? 0) + "  " }
            if perCPU { line += labels.text(r) }
            else if !interval { line += "  " }
            out += row(line, count: counts[i], countWidth: countWidth, r, in: window, nameWidth: nameWidth)
        }
        if let totalSeconds { out += "\n" + cFormat("Total test time: %f seconds.", totalSeconds) + "\n" }
        return out
    }

    /// Rows of one -I window, with a fixed layout so successive windows line up.
    public func intervalRows(_ window: StatWindow, includeHeader: Bool, nameWidth: Int) -> String {
        var out = ""
        let countWidth = 20
        let labels = LabelColumns(window.results)
        if includeHeader {
            out += "#" + padLeft("time", 13) + "  " + labels.header
            out += padLeft("count", countWidth) + "  " + padRight("event_name", nameWidth) + "# count / runtime\n"
        }
        for r in window.results {
            var line = cFormat("%14.6f", window.timestampSeconds ?? 0) + "  "
            line += labels.text(r)
            out += row(line, count: countText(r), countWidth: countWidth, r, in: window, nameWidth: nameWidth)
        }
        return out
    }

    /// `prefix` + count, name, the "count / runtime" comment, the running share when
    /// multiplexed and the repeat variance: one line of either layout.
    func row(_ prefix: String, count: String, countWidth: Int, _ r: CounterResult, in window: StatWindow, nameWidth: Int) -> String {
        var line = prefix + padLeft(count, countWidth) + "  " + padRight(r.name, nameWidth)
        line += "# " + SimpleperfComments.comment(for: r, in: window)
        if r.isMultiplexed { line += cFormat("  (%.2f%%)", r.percentRunning) }
        if let v = r.variancePercent { line += cFormat("  ( +- %.2f%% )", v) }
        return trimTrailing(line) + "\n"
    }

    func countText(_ r: CounterResult) -> String {
        switch r.status {
        case .counted:
            if r.isClock { return cFormat("%f(ms)", r.printedValue) }
            return bigNumbers ? groupThousands(r.printedValue) : formatWhole(r.printedValue)
        case .notCounted: return "<not counted>"
        case .notSupported: return "<not supported>"
        }
    }

    func trimTrailing(_ s: String) -> String {
        var t = Substring(s)
        while t.last == " " || t.last == "#" { t.removeLast() }
        return String(t)
    }
}
