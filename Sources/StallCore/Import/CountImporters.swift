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

    /// The sum over intervals and CPUs, running share weighted by value (one pass: a
    /// file may name 100,000 distinct events).
    public var totals: [NamedCount] {
        var order: [String] = []
        var sums: [String: (value: Double, weighted: Double, weight: Double)] = [:]
        for w in windows {
            for c in w.counts {
                let weight = max(c.value, 1)
                if let s = sums[c.name] {
                    sums[c.name] = (s.value + c.value, s.weighted + c.percentRunning * weight, s.weight + weight)
                } else {
                    order.append(c.name)
                    sums[c.name] = (c.value, c.percentRunning * weight, weight)
                }
            }
        }
        return order.map { n in
            let s = sums[n]!
            return NamedCount(name: n, value: s.value, percentRunning: s.weight > 0 ? s.weighted / s.weight : 100)
        }
    }

    /// True when not one line of the input gave a count or a `<not counted>` row.
    public var isEmpty: Bool { windows.allSatisfy { $0.counts.isEmpty } && uncounted.isEmpty }
}

public enum CountImporter {
    public typealias Failure = ImportFailure

    /// The units perf prints between a count and its event name.
    static let units: Set<String> = ["msec", "ns", "Joules", "MiB", "us", "ms", "W", "MB"]

    public static func parse(_ text: String) throws -> ImportedCounts {
        // "\r\n" is one Character in Swift: split on it as on "\n".
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
        let firstReal = lines.first { !$0.trimmingWhitespace().isEmpty && !$0.hasPrefix("#") }?.trimmingWhitespace() ?? ""
        if firstReal.hasPrefix("{") { return try parseJSON(lines) }
        if text.contains("Performance counter statistics") { return try parseText(lines, format: .simpleperfText) }
        if text.contains("Performance counter stats") || lines.contains(where: isIntervalTextHeader) { return try parseText(lines, format: .perfText) }
        if lines.contains(where: { $0.contains(",") || $0.contains(";") }) { return parseCSV(lines) }
        throw Failure(message: "not a simpleperf or perf stat output (text, -x CSV or -j JSON)")
    }

    /// perf -I text's header, in every perf version: "#  time  counts unit events".
    static func isIntervalTextHeader(_ line: Substring) -> Bool {
        guard line.hasPrefix("#") else { return false }
        let words = line.dropFirst().split(separator: " ")
        return words.first == "time" && words.contains("counts")
    }

    static func isUncounted(_ s: Substring) -> Bool { s.hasPrefix("<not supported>") || s.hasPrefix("<not counted>") }
    static func isUncounted(_ s: String) -> Bool { isUncounted(Substring(s)) }

    /// A count as `locale` writes it, checked to be what a counter can hold.
    enum CountParse { case success(Double), failure(String) }

    static func count(_ token: Substring, _ locale: NumberLocale) -> CountParse {
        var t = token
        if t.hasSuffix("(ms)") { t = t.dropLast(4) }
        let trimmed = t.trimmingWhitespace()
        // Beyond 2^64 - 1, which a double cannot tell from 2^64: check the integer digits.
        let integerDigits = trimmed.prefix { $0 != locale.decimal }.filter { $0.isASCII && $0.isNumber }
        if !integerDigits.isEmpty, UInt64(integerDigits) == nil, locale.number(Substring(trimmed)) != nil {
            return .failure("the count '\(trimmed)' is larger than a 64-bit counter can hold")
        }
        guard let v = locale.number(Substring(trimmed)) else {
            // Signs, nan, inf and exponents are never perf's: say what is wrong with them.
            if let raw = Double(trimmed), let why = CountRange.problem(raw) { return .failure("the count '\(trimmed)' \(why)") }
            return .failure("cannot read a count from '\(trimmed)'")
        }
        if let why = CountRange.problem(v) { return .failure("the count '\(trimmed)' \(why)") }
        return .success(v)
    }

    /// The leading columns that say what a row stands for (summed into the totals):
    /// perf's `CPU3`, `S0 2`, `S0-D0 2`, `S0-D0-C1 1`, `N0 2`, `comm-tid`; simpleperf's
    /// `cpu` or `thread_name pid tid` (named by its header line).
    struct RowLabels {
        var simpleperfCPU = false
        var simpleperfThread = false
        /// Label columns a header names before "count" (stallstat's own text: `core`,
        /// `thread`, `cgroup`, ...), each one word.
        var headerColumns = 0

        static func isAggregateLabel(_ t: Substring) -> Bool {
            func ids(_ parts: [Substring], _ letters: [Character]) -> Bool {
                parts.count == letters.count && zip(parts, letters).allSatisfy { p, l in p.first == l && p.count > 1 && p.dropFirst().allSatisfy(\.isNumber) }
            }
            let parts = t.split(separator: "-", omittingEmptySubsequences: false)
            return ids(parts, ["S"]) || ids(parts, ["S", "D"]) || ids(parts, ["S", "D", "C"]) || ids(parts, ["N"])
        }

        /// Drops the label columns; nil when the row does not have them.
        func strip(_ f: inout [Substring], _ locale: NumberLocale) -> Bool {
            func isNumber(_ t: Substring) -> Bool { locale.number(t) != nil || isUncounted(t) || t.hasPrefix("<not") }
            if simpleperfThread {
                // "thread_name pid tid count name": the name may hold spaces; pid and tid are the two integers before the count.
                // The last place where "pid tid count name" fits (the name is not a number).
                guard let k = (3..<max(3, f.count - 1)).last(where: { Int(f[$0 - 2]) != nil && Int(f[$0 - 1]) != nil && isNumber(f[$0]) && !isNumber(f[$0 + 1]) }) else { return false }
                f.removeFirst(k)
                return true
            }
            if simpleperfCPU {
                guard f.count >= 3, Int(f[0]) != nil else { return false }
                f.removeFirst()
                return true
            }
            if headerColumns > 0 {
                guard f.count >= headerColumns + 2 else { return false }
                f.removeFirst(headerColumns)
                return true
            }
            guard f.count >= 3, let first = f.first, !isNumber(first) else { return true }
            if first.hasPrefix("CPU"), first.dropFirst(3).allSatisfy(\.isNumber), !first.dropFirst(3).isEmpty {
                f.removeFirst()
            } else if RowLabels.isAggregateLabel(first) {
                // perf: "S0  2  408.37 msec ..." (the CPUs aggregated follow); -x: no count column here.
                f.removeFirst(f.count >= 4 && Int(f[1]) != nil && isNumber(f[2]) ? 2 : 1)
            } else if let dash = first.lastIndex(of: "-"), first[first.index(after: dash)...].allSatisfy(\.isNumber), isNumber(f[1]) {
                f.removeFirst()   // --per-thread: comm-tid
            }
            return true
        }
    }

    // simpleperf: "  25,118,448,822  cpu-cycles   # 0.156965 GHz   (100%)"; perf: "  1,234  page-faults  #  ...  (62.50%)",
    // with -I a leading timestamp, with -A/--per-* a leading label.
    static func parseText(_ lines: [Substring], format: ImportedCounts.Format) throws -> ImportedCounts {
        let locale = try NumberLocale.detect(lines: lines).get()
        var windows: [ImportedCounts.Window] = []
        var problems: [ImportedCounts.Problem] = []
        var uncounted: [String] = []
        var labels = RowLabels()
        var current = ImportedCounts.Window(timestamp: nil, counts: [])
        for (n, raw) in lines.enumerated() {
            var line = raw.trimmingWhitespace()
            if line.hasPrefix("#") {
                // simpleperf's header names its label columns: "# cpu  count  event_name ..."
                let titles = line.dropFirst().split(separator: " ")
                if titles.first == "thread_name" { labels.simpleperfThread = true }
                else if titles.first == "cpu" && titles.dropFirst().first == "count" { labels.simpleperfCPU = true }
                else if let count = titles.firstIndex(of: "count") {
                    labels.headerColumns = titles[..<count].filter { $0 != "time" }.count
                }
                continue
            }
            if line.isEmpty || line.hasPrefix("Performance counter") || line.hasPrefix("Total test time")
                || line.containsBytes("seconds time elapsed") || line.hasSuffix("seconds user") || line.hasSuffix("seconds sys")
                || line.hasPrefix("Some events weren't counted") || line.hasPrefix("Try disabling") || line.hasPrefix("echo ")
                || line.hasPrefix("perf stat") || line.hasPrefix("WARNING") || line.hasPrefix("Warning") { continue }
            var runningShare = 100.0
            if let open = line.lastIndex(of: "("), line.hasSuffix("%)"),
               let pct = locale.number(Substring(line[line.index(after: open)..<line.index(line.endIndex, offsetBy: -2)].trimmingWhitespace())) {
                runningShare = pct
                line = line[..<open].trimmingWhitespace()
            }
            if let hash = line.firstIndex(of: "#") { line = line[..<hash].trimmingWhitespace() }
            var fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            var timestamp: Double? = nil
            if fields.count >= 3, let t = IntervalTimestamp.seconds(fields[0]) {
                timestamp = t
                fields.removeFirst()
            }
            guard labels.strip(&fields, locale) else {
                problems.append(.init(line: n + 1, message: "expected the label columns the header names in '\(raw.trimmingWhitespace())'"))
                continue
            }
            if fields.count >= 2, fields[0].hasPrefix("<not") {
                let value = fields[0] + " " + fields[1]
                if isUncounted(value) {
                    let rest = fields.dropFirst(2).drop { units.contains(String($0)) }
                    if let name = rest.first { uncounted.append(String(name)); continue }
                }
            }
            guard fields.count >= 2 else {
                problems.append(.init(line: n + 1, message: "cannot read a count from '\(raw.trimmingWhitespace())'"))
                continue
            }
            let value: Double
            switch count(fields[0], locale) {
            case .success(let v): value = v
            case .failure(let why):
                problems.append(.init(line: n + 1, message: why + " in '\(raw.trimmingWhitespace())'"))
                continue
            }
            // perf text puts the unit between count and name ("msec").
            let name = fields.count >= 3 && units.contains(String(fields[1])) ? fields[2] : fields[1]
            if timestamp != current.timestamp, !current.counts.isEmpty { windows.append(current); current.counts = [] }
            current.timestamp = timestamp
            current.counts.append(NamedCount(name: String(name), value: value, percentRunning: runningShare))
        }
        if !current.counts.isEmpty { windows.append(current) }
        return ImportedCounts(format: format, windows: windows, problems: problems, uncounted: uncounted)
    }

    // perf -x: [time,][CPUn|S0-D0-C0,[n,]]count,unit,event,[variance%,]runtime,pcnt,metric,metric-unit
    static func parseCSV(_ lines: [Substring]) -> ImportedCounts {
        var windows: [ImportedCounts.Window] = []
        var problems: [ImportedCounts.Problem] = []
        var uncounted: [String] = []
        // perf's -x rows have six or more separators; ';' wins when a row has that many (its numbers may hold decimal commas).
        let sep: Character = lines.contains { $0.filter { $0 == ";" }.count >= 5 } ? ";" : ","
        // With -x';' a decimal comma is unambiguous ("13,64;msec"); with -x, a decimal-comma
        // locale splits a number into two columns, repaired below where the layout allows.
        let locale: NumberLocale = sep == ";" && lines.contains(where: { $0.split(separator: ";").first?.contains(",") ?? false }) ? .decimalComma : NumberLocale(decimal: ".", grouping: [])
        var current = ImportedCounts.Window(timestamp: nil, counts: [])
        for (n, raw) in lines.enumerated() {
            let line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            var f = line.split(separator: sep, omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
            var timestamp: Double? = nil
            // A timestamp column comes first when there is one more column than perf's 7 (+variance, +CPU).
            if f.count >= 8, f[0].contains("."), let t = Double(f[0]), locale.number(Substring(f[1])) != nil || isUncounted(f[1]) || f[1].hasPrefix("CPU") || f[1].hasPrefix("S") || f[1].hasPrefix("N") {
                timestamp = t
                f.removeFirst()
            }
            if f.first == "summary" { f.removeFirst() }
            if let first = f.first, (first.hasPrefix("CPU") && first.dropFirst(3).allSatisfy(\.isNumber)) || RowLabels.isAggregateLabel(Substring(first)) {
                f.removeFirst()
                if !first.hasPrefix("CPU"), f.count >= 8, Int(f[0]) != nil { f.removeFirst() }   // aggregated CPU count
            }
            // --per-thread: "comm-tid,count,unit,event,..."
            if f.count >= 7, locale.number(Substring(f[0])) == nil, !isUncounted(f[0]), locale.number(Substring(f[1])) != nil || isUncounted(f[1]),
               let dash = f[0].lastIndex(of: "-"), f[0][f[0].index(after: dash)...].allSatisfy(\.isNumber) {
                f.removeFirst()
            }
            // "-x," in a decimal-comma locale: "27,98,msec,task-clock,..." — a count split in two.
            if sep == ",", f.count >= 4, !f[1].isEmpty, f[1].allSatisfy(\.isNumber), units.contains(f[2]) || f[2].isEmpty {
                f[0] = f[0] + "." + f[1]
                f.remove(at: 1)
            }
            guard f.count >= 3 else {
                problems.append(.init(line: n + 1, message: "expected perf -x columns count,unit,event,..., got '\(line)'"))
                continue
            }
            if isUncounted(f[0]) { uncounted.append(f[2]); continue }
            guard !f[2].isEmpty else {
                problems.append(.init(line: n + 1, message: "no event name in '\(line)'"))
                continue
            }
            let value: Double
            switch count(Substring(f[0]), locale) {
            case .success(let v): value = v
            case .failure(let why):
                problems.append(.init(line: n + 1, message: why + " in '\(line)'"))
                continue
            }
            var pct = 100.0
            let pctIndex = f.count > 4 && f[3].hasSuffix("%") ? 5 : 4
            if f.count > pctIndex, let p = locale.number(Substring(f[pctIndex])) ?? Double(f[pctIndex]) { pct = p }
            if timestamp != current.timestamp, !current.counts.isEmpty { windows.append(current); current.counts = [] }
            current.timestamp = timestamp
            current.counts.append(NamedCount(name: f[2], value: value, percentRunning: pct))
        }
        if !current.counts.isEmpty { windows.append(current) }
        return ImportedCounts(format: .perfCSV, windows: windows, problems: problems, uncounted: uncounted)
    }

    /// perf -j in a decimal-comma locale prints `"pcnt-running" : 100,00,`: a number
    /// whose comma is followed by a digit is a decimal comma, never a separator.
    static func repairDecimalCommas(_ line: Substring) -> String {
        var out = ""
        out.reserveCapacity(line.count)
        var inString = false, escaped = false, afterColon = false
        var previous: Character = " "
        let chars = Array(line)
        for (i, ch) in chars.enumerated() {
            if inString {
                out.append(ch)
                if escaped { escaped = false } else if ch == "\\" { escaped = true } else if ch == "\"" { inString = false }
                continue
            }
            if ch == "\"" { inString = true; afterColon = false }
            if ch == ":" { afterColon = true }
            if ch == ",", afterColon, previous.isNumber, i + 1 < chars.count, chars[i + 1].isNumber {
                out.append(".")
                previous = "."
                continue
            }
            if ch == "," || ch == "}" { afterColon = false }
            out.append(ch)
            previous = ch
        }
        return out
    }

    static func parseJSON(_ lines: [Substring]) throws -> ImportedCounts {
        var windows: [ImportedCounts.Window] = []
        var problems: [ImportedCounts.Problem] = []
        var uncounted: [String] = []
        var current = ImportedCounts.Window(timestamp: nil, counts: [])
        for (n, raw) in lines.enumerated() {
            let line = raw.trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            let obj: JSONValue
            if let o = try? JSONReader.parse(line), case .object = o { obj = o }
            else if let o = try? JSONReader.parse(repairDecimalCommas(Substring(line))), case .object = o { obj = o }
            else {
                problems.append(.init(line: n + 1, message: "not a JSON object: '\(line.prefix(60))'"))
                continue
            }
            guard let event = obj["event"]?.stringValue, let valueText = obj["counter-value"]?.stringValue ?? obj["counter-value"]?.numberValue.map({ "\($0)" }) else {
                problems.append(.init(line: n + 1, message: "no \"event\" and \"counter-value\" keys"))
                continue
            }
            if isUncounted(valueText) { uncounted.append(event); continue }
            // perf's counter-value is "%f": six decimals after a '.' or, in a decimal-comma locale, a ','.
            let locale: NumberLocale = valueText.contains(",") && !valueText.contains(".") ? .decimalComma : NumberLocale(decimal: ".", grouping: [])
            let value: Double
            switch count(Substring(valueText), locale) {
            case .success(let v): value = v
            case .failure(let why):
                problems.append(.init(line: n + 1, message: "counter-value: " + why))
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
