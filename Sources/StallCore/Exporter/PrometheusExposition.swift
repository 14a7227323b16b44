/// Prometheus's two text formats, rendered from one model: the classic text exposition
/// format 0.0.4 and OpenMetrics 1.0 (what Prometheus asks for first). The differences
/// that matter: OpenMetrics names a counter family without `_total` (its samples carry
/// it), has `# UNIT`, escapes `"` in HELP and ends with `# EOF`.
///
/// swift-prometheus (2.x) was considered: it renders only the 0.0.4 format, its counters
/// can only be incremented (the exporter publishes totals it accumulated itself) and its
/// manifest needs Swift 6.2, which the arm64 lab's toolchain is not.
public enum ExpositionFormat: Equatable, Sendable {
    case text
    /// OpenMetrics, answered in the version the client asked for ("1.0.0" or "0.0.1").
    case openMetrics(version: String)

    public var contentType: String {
        switch self {
        case .text: return "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics(let v): return "application/openmetrics-text; version=\(v); charset=utf-8"
        }
    }

    /// The format for an `Accept` header, as client_golang's expfmt.NegotiateIncludingOpenMetrics:
    /// media ranges by descending q (ties keep their order), the first that names
    /// OpenMetrics (version 1.0.0, 0.0.1 or none) or text/plain (0.0.4 or none) wins;
    /// anything else, or no header, gets the text format.
    public static func negotiate(accept: String?) -> ExpositionFormat {
        guard let accept else { return .text }
        var ranges: [(type: String, params: [String: String], q: Double, index: Int)] = []
        for (i, part) in accept.split(separator: ",").enumerated() {
            let fields = part.split(separator: ";").map { $0.trimmingWhitespace() }
            guard let type = fields.first?.lowercased(), !type.isEmpty else { continue }
            var params: [String: String] = [:]
            var q = 1.0
            for f in fields.dropFirst() {
                guard let eq = f.firstIndex(of: "=") else { continue }
                let key = f[..<eq].trimmingWhitespace().lowercased()
                var value = f[f.index(after: eq)...].trimmingWhitespace()
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
                if key == "q" { q = Double(value) ?? 0 } else { params[key] = value }
            }
            ranges.append((type, params, q, i))
        }
        ranges.sort { $0.q != $1.q ? $0.q > $1.q : $0.index < $1.index }
        for r in ranges where r.q > 0 {
            let version = r.params["version"]
            if r.type == "application/openmetrics-text" {
                switch version {
                case nil, "1.0.0": return .openMetrics(version: "1.0.0")
                case "0.0.1": return .openMetrics(version: "0.0.1")
                default: continue
                }
            }
            if r.type == "text/plain" && (version == nil || version == "0.0.4") { return .text }
        }
        return .text
    }
}

public struct MetricSample: Equatable, Sendable {
    /// Label names and values in the order printed.
    public var labels: [(name: String, value: String)]
    public var value: Double

    public init(_ labels: [(String, String)] = [], _ value: Double) {
        self.labels = labels.map { (name: $0.0, value: $0.1) }
        self.value = value
    }

    public static func == (a: MetricSample, b: MetricSample) -> Bool {
        a.value.bitPattern == b.value.bitPattern && a.labels.count == b.labels.count
            && zip(a.labels, b.labels).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

public struct MetricFamily: Equatable, Sendable {
    /// `info`: a constant 1 whose labels carry the information (OpenMetrics' info type,
    /// a gauge in the text format, as client_golang renders build info).
    public enum Kind: String, Sendable { case counter, gauge, info }
    /// The family's name: for a counter without `_total`, for info without `_info`
    /// (samples get them).
    public var name: String
    public var help: String
    public var kind: Kind
    /// OpenMetrics' UNIT ("seconds", "bytes", "ratio"): the name ends with `_` + unit.
    public var unit: String?
    public var samples: [MetricSample]

    public init(name: String, help: String, kind: Kind, unit: String? = nil, samples: [MetricSample]) {
        self.name = name
        self.help = help
        self.kind = kind
        self.unit = unit
        self.samples = samples
    }

    /// The name its samples carry.
    public var sampleName: String {
        switch kind {
        case .counter: return name + "_total"
        case .info: return name + "_info"
        case .gauge: return name
        }
    }
}

public enum PrometheusExposition {
    /// The whole exposition. Families without samples are left out (a HELP without
    /// samples says nothing); a family named twice is a programming error the tests catch.
    public static func render(_ families: [MetricFamily], format: ExpositionFormat) -> String {
        String(decoding: renderBytes(families, format: format), as: UTF8.self)
    }

    /// The exposition as bytes, built in one buffer (the exporter renders one per window
    /// a scrape asks for; escaping works on UTF-8 bytes, where `\\`, `"` and line feed never
    /// occur inside a multi-byte character).
    public static func renderBytes(_ families: [MetricFamily], format: ExpositionFormat) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(families.reduce(0) { $0 + 120 + $1.samples.count * 80 })
        func put(_ s: String) { out.append(contentsOf: s.utf8) }
        let openMetrics: Bool
        if case .openMetrics = format { openMetrics = true } else { openMetrics = false }
        for f in families where !f.samples.isEmpty {
            let sampleName = f.sampleName
            if openMetrics {
                put("# TYPE "); put(f.name); put(" "); put(f.kind.rawValue); out.append(0x0A)
                if let unit = f.unit { put("# UNIT "); put(f.name); put(" "); put(unit); out.append(0x0A) }
                put("# HELP "); put(f.name); out.append(0x20); escape(f.help, into: &out, quotes: true); out.append(0x0A)
            } else {
                put("# HELP "); put(sampleName); out.append(0x20); escape(f.help, into: &out, quotes: false); out.append(0x0A)
                put("# TYPE "); put(sampleName); put(" "); put(f.kind == .info ? "gauge" : f.kind.rawValue); out.append(0x0A)
            }
            for s in f.samples {
                put(sampleName)
                if !s.labels.isEmpty {
                    out.append(UInt8(ascii: "{"))
                    for (i, l) in s.labels.enumerated() {
                        if i > 0 { out.append(UInt8(ascii: ",")) }
                        put(l.name); out.append(UInt8(ascii: "=")); out.append(UInt8(ascii: "\""))
                        escape(l.value, into: &out, quotes: true)
                        out.append(UInt8(ascii: "\""))
                    }
                    out.append(UInt8(ascii: "}"))
                }
                out.append(0x20)
                put(number(s.value))
                out.append(0x0A)
            }
        }
        if openMetrics { put("# EOF\n") }
        return out
    }

    /// Label values escape `\\`, `"` and line feed; HELP escapes `\\` and line feed, and in
    /// OpenMetrics `"` too (`quotes`). By byte: "\r\n" is one Character in Swift, and its
    /// line feed must be escaped as any other.
    static func escape(_ s: String, into out: inout [UInt8], quotes: Bool) {
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\\"))
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\"") where quotes: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "\""))
            default: out.append(b)
            }
        }
    }

    /// Go's strconv.ParseFloat reads all of these; whole numbers below 2^53 print without
    /// an exponent so counts read as counts.
    public static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 9_007_199_254_740_992 { return String(Int64(v)) }
        return "\(v)"
    }

    public static func escapeLabelValue(_ s: String) -> String {
        var out: [UInt8] = []
        escape(s, into: &out, quotes: true)
        return String(decoding: out, as: UTF8.self)
    }

    /// A metric-name fragment from a kernel or event name: `[a-zA-Z0-9_]`, anything else `_`.
    public static func nameFragment(_ s: String) -> String {
        String(s.map { c -> Character in
            c.isASCII && (c.isLetter || c.isNumber || c == "_") ? c : "_"
        })
    }
}
