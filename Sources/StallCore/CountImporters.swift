/// Counts read back from another tool's output: `simpleperf stat` text, `perf stat`
/// text, `-x` CSV and `-j` JSON (with or without -I), and stallstat's own output.
public struct ImportedCounts: Equatable, Sendable {
    public enum Format: String, Sendable { case simpleperfText = "simpleperf text", perfText = "perf text", perfCSV = "perf CSV", perfJSON = "perf JSON" }
    public struct Window: Equatable, Sendable {
        public var timestamp: Double?
        public var counts: [NamedCount]
    }
    public struct Problem: Equatable, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    public var format: Format
    public var windows: [Window]
    public var problems: [Problem]
    /// Events printed as <not supported> / <not counted>.
    public var uncounted: [String]

    /// The sum over intervals and CPUs, running share weighted by value.
    public var totals: [NamedCount] {
        var order: [String] = []
        var sums: [String: (Double, Double)] = [:]
        for w in windows {
            for c in w.counts {
                if sums[c.name] == nil { order.append(c.name); sums[c.name] = (0, 0) }
                sums[c.name]!.0 += c.value
                sums[c.name]!.1 += c.percentRunning * max(c.value, 1)
            }
        }
        return order.map { n in
            let (v, weighted) = sums[n]!
            let weight = windows.flatMap(\.counts).filter { $0.name == n }.reduce(0.0) { $0 + max($1.value, 1) }
            return NamedCount(name: n, value: v, percentRunning: weight > 0 ? weighted / weight : 100)
        }
    }
}

public enum CountImporter {
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public static func parse(_ text: String) throws -> ImportedCounts {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let firstReal = lines.first { !$0.trimmingWhitespace().isEmpty && !$0.hasPrefix("#") }?.trimmingWhitespace() ?? ""
        if firstReal.hasPrefix("{") { return parseJSON(lines) }
        if text.contains("Performance counter statistics") { return parseText(lines, format: .simpleperfText) }
        if text.contains("Performance counter stats") || text.contains("time             counts") { return parseText(lines, format: .perfText) }
        if lines.contains(where: { $0.contains(",") || $0.contains(";") }) { return parseCSV(lines) }
        throw Failure(message: "not a simpleperf or perf stat output (text, -x CSV or -j JSON)")
    }

    static func number(_ s: String) -> Double? {
        var t = s.trimmingWhitespace()
        if t.hasSuffix("(ms)") { t = String(t.dropLast(4)) }
        return Double(String(t.filter { $0 != "," }))
    }

    static func isUncounted(_ s: String) -> Bool { s.hasPrefix("<not supported>") || s.hasPrefix("<not counted>") }

    // simpleperf: "  25,118,448,822  cpu-cycles   # 0.156965 GHz   (100%)"; perf: "  1,234  page-faults  #  ...  (62.50%)",
    // with -I a leading timestamp.
    static func parseText(_ lines: [String], format: ImportedCounts.Format) -> ImportedCounts {
        var windows: [ImportedCounts.Window] = []
        var problems: [ImportedCounts.Problem] = []
        var uncounted: [String] = []
        var current = ImportedCounts.Window(timestamp: nil, counts: [])
        for (n, raw) in lines.enumerated() {
            var line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("Performance counter") || line.hasPrefix("Total test time")
                || line.contains("seconds time elapsed") || line.hasSuffix("seconds user") || line.hasSuffix("seconds sys")
                || line.hasPrefix("Some events weren't counted") || line.hasPrefix("Try disabling") || line.hasPrefix("echo ")
                || line.hasPrefix("perf stat") || line.hasPrefix("WARNING") || line.hasPrefix("Warning") { continue }
            var runningShare = 100.0
            if let open = line.lastIndex(of: "("), line.hasSuffix("%)"),
               let pct = Double(line[line.index(after: open)..<line.index(line.endIndex, offsetBy: -2)].trimmingWhitespace()) {
                runningShare = pct
                line = line[..<open].trimmingWhitespace()
            }
            if let hash = line.firstIndex(of: "#") { line = line[..<hash].trimmingWhitespace() }
            var fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            var timestamp: Double? = nil
            if fields.count >= 3, fields[0].contains("."), !fields[0].contains(","), let t = Double(fields[0]), number(fields[1]) != nil || fields[1].hasPrefix("<") {
                timestamp = t
                fields.removeFirst()
            }
            if fields.count >= 2, fields[0].hasPrefix("<not") {
                let value = fields[0] + " " + fields[1]
                if isUncounted(value), fields.count >= 3 { uncounted.append(fields[2]); continue }
            }
            guard fields.count >= 2, let value = number(fields[0]) else {
                problems.append(.init(line: n + 1, message: "cannot read a count from '\(raw.trimmingWhitespace())'"))
                continue
            }
            // perf text puts the unit between count and name ("msec").
            let name = fields.count >= 3 && ["msec", "ns", "Joules", "MiB", "us"].contains(fields[1]) ? fields[2] : fields[1]
            if timestamp != current.timestamp, !current.counts.isEmpty { windows.append(current); current.counts = [] }
            current.timestamp = timestamp
            current.counts.append(NamedCount(name: name, value: value, percentRunning: runningShare))
        }
        if !current.counts.isEmpty { windows.append(current) }
        return ImportedCounts(format: format, windows: windows, problems: problems, uncounted: uncounted)
    }

    // perf -x: [time,][CPUn|S0-D0-C0,[n,]]count,unit,event,[variance%,]runtime,pcnt,metric,metric-unit
    static func parseCSV(_ lines: [String]) -> ImportedCounts {
        var windows: [ImportedCounts.Window] = []
        var problems: [ImportedCounts.Problem] = []
        var uncounted: [String] = []
        let sep: Character = lines.contains { $0.contains(",") } ? "," : ";"
        var current = ImportedCounts.Window(timestamp: nil, counts: [])
        for (n, raw) in lines.enumerated() {
            let line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            var f = line.split(separator: sep, omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
            var timestamp: Double? = nil
            // A timestamp column comes first when there is one more column than perf's 7 (+variance, +CPU).
            if f.count >= 8, f[0].contains("."), let t = Double(f[0]), number(f[1]) != nil || isUncounted(f[1]) || f[1].hasPrefix("CPU") || f[1].hasPrefix("S") {
                timestamp = t
                f.removeFirst()
            }
            if let first = f.first, first.hasPrefix("CPU") || (first.hasPrefix("S") && first.contains("-")) {
                f.removeFirst()
                if f.count >= 8, Int(f[0]) != nil, number(f[1]) != nil || isUncounted(f[1]) { f.removeFirst() }   // aggregated CPU count
            }
            guard f.count >= 3 else {
                problems.append(.init(line: n + 1, message: "expected perf -x columns count,unit,event,..., got '\(line)'"))
                continue
            }
            if isUncounted(f[0]) { uncounted.append(f[2]); continue }
            guard let value = number(f[0]), !f[2].isEmpty else {
                problems.append(.init(line: n + 1, message: "cannot read a count from '\(line)'"))
                continue
            }
            var pct = 100.0
            let pctIndex = f.count > 4 && f[3].hasSuffix("%") ? 5 : 4
            if f.count > pctIndex, let p = Double(f[pctIndex]) { pct = p }
            if timestamp != current.timestamp, !current.counts.isEmpty { windows.append(current); current.counts = [] }
            current.timestamp = timestamp
            current.counts.append(NamedCount(name: f[2], value: value, percentRunning: pct))
        }
        if !current.counts.isEmpty { windows.append(current) }
        return ImportedCounts(format: .perfCSV, windows: windows, problems: problems, uncounted: uncounted)
    }

    static func parseJSON(_ lines: [String]) -> ImportedCounts {
        var windows: [ImportedCounts.Window] = []
        var problems: [ImportedCounts.Problem] = []
        var uncounted: [String] = []
        var current = ImportedCounts.Window(timestamp: nil, counts: [])
        for (n, raw) in lines.enumerated() {
            let line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let obj = try? JSONReader.parse(line), case .object = obj else {
                problems.append(.init(line: n + 1, message: "not a JSON object: '\(line.prefix(60))'"))
                continue
            }
            guard let event = obj["event"]?.stringValue, let valueText = obj["counter-value"]?.stringValue ?? obj["counter-value"]?.numberValue.map({ "\($0)" }) else {
                problems.append(.init(line: n + 1, message: "no \"event\" and \"counter-value\" keys"))
                continue
            }
            if isUncounted(valueText) { uncounted.append(event); continue }
            guard let value = Double(valueText) else {
                problems.append(.init(line: n + 1, message: "counter-value '\(valueText)' is not a number"))
                continue
            }
            let timestamp = obj["interval"]?.numberValue
            if timestamp != current.timestamp, !current.counts.isEmpty { windows.append(current); current.counts = [] }
            current.timestamp = timestamp
            current.counts.append(NamedCount(name: event, value: value, percentRunning: obj["pcnt-running"]?.numberValue ?? 100))
        }
        if !current.counts.isEmpty { windows.append(current) }
        return ImportedCounts(format: .perfJSON, windows: windows, problems: problems, uncounted: uncounted)
    }
}
