/// Parsed /proc/pressure/{memory,cpu,io}: cumulative stall time in microseconds.
public struct PressureStall: Equatable, Sendable {
    public struct Line: Equatable, Sendable {
        public var avg10: Double
        public var avg60: Double
        public var avg300: Double
        public var totalMicroseconds: UInt64
    }
    public var some: Line?
    public var full: Line?

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case malformed(line: Int, text: String)
        public var description: String {
            switch self {
            case .malformed(let line, let text): return "line \(line): cannot read a PSI line from '\(text)'"
            }
        }
    }

    public static func parse(_ text: String) throws -> PressureStall {
        let p = ProcFields(text)
        var result = PressureStall()
        for (n, f) in p.lines {
            // "some avg10=0.00 avg60=0.00 avg300=0.00 total=0"
            var values: [Double?] = [nil, nil, nil]
            var total: UInt64? = nil
            for r in f.dropFirst() {
                guard let eq = p.bytes[r].firstIndex(of: 0x3D) else { continue }   // '='
                let key = r.lowerBound..<eq, value = (eq + 1)..<r.upperBound
                if p.equals(key, "total") { total = p.number(value) }
                else if p.equals(key, "avg10") { values[0] = Double(p.string(value)) }
                else if p.equals(key, "avg60") { values[1] = Double(p.string(value)) }
                else if p.equals(key, "avg300") { values[2] = Double(p.string(value)) }
            }
            guard let a10 = values[0], let a60 = values[1], let a300 = values[2], let total else {
                throw ParseError.malformed(line: n, text: p.string(f[0].lowerBound..<f.last!.upperBound))
            }
            let line = Line(avg10: a10, avg60: a60, avg300: a300, totalMicroseconds: total)
            if p.equals(f[0], "some") { result.some = line }
            else if p.equals(f[0], "full") { result.full = line }
            else { throw ParseError.malformed(line: n, text: p.string(f[0].lowerBound..<f.last!.upperBound)) }
        }
        if result.some == nil && result.full == nil { throw ParseError.malformed(line: 1, text: text) }
        return result
    }
}

/// Parsed /proc/vmstat: `name value` per line.
public struct VMStat: Equatable, Sendable {
    public var counters: [String: UInt64]

    public init(counters: [String: UInt64]) { self.counters = counters }

    /// Lines that cannot be read are returned with their numbers rather than dropped
    /// silently; the rest is kept.
    public static func parse(_ text: String) -> (VMStat, malformedLines: [Int]) {
        let p = ProcFields(text)
        var counters: [String: UInt64] = [:]
        counters.reserveCapacity(p.lines.count)
        var bad: [Int] = []
        for (n, f) in p.lines {
            if f.count == 2, let v = p.number(f[1]) { counters[p.string(f[0])] = v } else { bad.append(n) }
        }
        return (VMStat(counters: counters), bad)
    }

    /// A counter, or the sum of a family (`allocstall` = allocstall_dma + _normal + ...).
    public func value(_ name: String) -> UInt64? {
        if let v = counters[name] { return v }
        let family = counters.filter { $0.key.hasPrefix(name + "_") }
        return family.isEmpty ? nil : family.values.reduce(0, &+)
    }
}

/// Kernel-visible stall signals that need no PMU, named `pressure:RESOURCE-some|full`
/// (µs of stall) and `vmstat:COUNTER`; read at the start and end of each window.
public enum KernelSignalKind: Equatable, Hashable, Sendable {
    case pressure(resource: String, full: Bool)
    case vmstat(counter: String)

    public init?(name: String) {
        if name.hasPrefix("pressure:") {
            let spec = name.dropFirst("pressure:".count)
            let parts = spec.split(separator: "-")
            guard parts.count == 2, ["memory", "cpu", "io", "irq"].contains(String(parts[0])),
                  parts[1] == "some" || parts[1] == "full" else { return nil }
            self = .pressure(resource: String(parts[0]), full: parts[1] == "full")
        } else if name.hasPrefix("vmstat:") {
            let counter = String(name.dropFirst("vmstat:".count))
            guard !counter.isEmpty, counter.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
            self = .vmstat(counter: counter)
        } else {
            return nil
        }
    }

    public var isPressure: Bool { if case .pressure = self { return true } else { return false } }
    public var unit: String { isPressure ? "us" : "" }
    public var name: String {
        switch self {
        case .pressure(let r, let full): return "pressure:\(r)-\(full ? "full" : "some")"
        case .vmstat(let c): return "vmstat:\(c)"
        }
    }
    public var procFile: String {
        switch self {
        case .pressure(let r, _): return "/proc/pressure/\(r)"
        case .vmstat: return "/proc/vmstat"
        }
    }

    /// Reads this signal's cumulative value from parsed sources.
    public func value(pressure: [String: PressureStall], vmstat: VMStat?) -> UInt64? {
        switch self {
        case .pressure(let r, let full):
            guard let p = pressure[r] else { return nil }
            return (full ? p.full : p.some)?.totalMicroseconds
        case .vmstat(let c):
            return vmstat?.value(c)
        }
    }

    /// The kernel signals counted by default, on any machine.
    public static let defaultSet: [KernelSignalKind] = [
        .pressure(resource: "memory", full: false), .pressure(resource: "memory", full: true),
        .pressure(resource: "cpu", full: false),
        .pressure(resource: "io", full: false), .pressure(resource: "io", full: true),
        .vmstat(counter: "compact_stall"), .vmstat(counter: "allocstall"), .vmstat(counter: "thp_fault_fallback"),
    ]
}

extension VMStat {
    /// Extracts only the named counters (or, where no counter has the exact name, families: `allocstall` sums `allocstall_*`)
    /// from /proc/vmstat bytes without building a String per line: interval mode reads
    /// the file every tick, and the full parse was most of stallstat's own CPU time.
    public static func scan(_ bytes: [UInt8], wanted: [String]) -> VMStat {
        let found = scan(bytes, prefixes: wanted.map { $0 + "_" }, names: wanted)
        var counters: [String: UInt64] = [:]
        for w in wanted {
            // As `value(_:)`: an exact counter wins over the family sharing its prefix.
            if let exact = found[w] { counters[w] = exact; continue }
            let family = found.filter { $0.key.hasPrefix(w + "_") }
            if !family.isEmpty { counters[w] = family.values.reduce(0, &+) }
        }
        return VMStat(counters: counters)
    }
}

extension VMStat {
    /// The counters whose names start with one of `prefixes` or equal one of `names`,
    /// each under its own name, scanned on bytes (the snapshot of every -I interval).
    public static func scan(_ bytes: [UInt8], prefixes: [String], names: [String]) -> [String: UInt64] {
        let wanted = prefixes.map { (Array($0.utf8), true) } + names.map { (Array($0.utf8), false) }
        var out: [String: UInt64] = [:]
        var lineStart = 0
        let n = bytes.count
        while lineStart < n {
            var space = lineStart
            while space < n, bytes[space] != 0x20, bytes[space] != 0x0A { space += 1 }
            var end = space
            while end < n, bytes[end] != 0x0A { end += 1 }
            let nameLength = space - lineStart
            match: for (w, isPrefix) in wanted where nameLength >= w.count && (isPrefix || nameLength == w.count) {
                for j in 0..<w.count where bytes[lineStart + j] != w[j] { continue match }
                var value: UInt64 = 0
                var i = space + 1
                var digits = 0
                while i < end, bytes[i] >= 0x30, bytes[i] <= 0x39 { value = value &* 10 &+ UInt64(bytes[i] - 0x30); i += 1; digits += 1 }
                if digits > 0 && i == end { out[String(decoding: bytes[lineStart..<space], as: UTF8.self)] = value }
                break
            }
            lineStart = end + 1
        }
        return out
    }
}
