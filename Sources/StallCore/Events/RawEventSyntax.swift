/// `rNNNN` raw codes and `pmu/term=value,.../` terms encoded with a PMU's sysfs `format/`.
public enum RawEventSyntax {
    /// `r4005` → 0x4005. perf and simpleperf both take hex digits after `r`.
    public static func rawCode(_ name: String) -> UInt64? {
        guard name.count > 1, name.first == "r" || name.first == "R" else { return nil }
        let digits = name.dropFirst()
        guard digits.allSatisfy(\.isHexDigit) else { return nil }
        return UInt64(digits, radix: 16)
    }

    /// Splits `pmu/a=1,b=0x2,flag/` into the PMU name and its terms (a bare term means 1).
    public static func pmuTerms(_ name: String) -> (pmu: String, terms: [(String, UInt64)])? {
        // "pmu/.../": two slashes (a single trailing one made an inverted range: found by fuzzing).
        guard name.hasSuffix("/"), let slash = name.firstIndex(of: "/"), slash < name.index(before: name.endIndex) else { return nil }
        let pmu = String(name[..<slash])
        let body = name[name.index(after: slash)..<name.index(before: name.endIndex)]
        guard !pmu.isEmpty else { return nil }
        var terms: [(String, UInt64)] = []
        for part in body.split(separator: ",", omittingEmptySubsequences: true) {
            // "=" or "=5" has no key (a fuzzed "=" indexed an empty split).
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = kv[0].trimmingWhitespace()
            guard !key.isEmpty else { return nil }
            if kv.count == 1 { terms.append((key, 1)); continue }
            guard let value = parseNumber(kv[1].trimmingWhitespace()) else { return nil }
            terms.append((key, value))
        }
        return (pmu, terms)
    }

    public static func parseNumber(_ s: String) -> UInt64? {
        if s.hasPrefix("0x") || s.hasPrefix("0X") { return UInt64(s.dropFirst(2), radix: 16) }
        return UInt64(s)
    }
}

/// A sysfs format field such as `config:0-7,32-35`: which attr word and which bits
/// hold a term's value, low bits first.
public struct PMUFormatField: Equatable, Sendable {
    public enum Word: String, Sendable { case config, config1, config2, config3 }
    public var word: Word
    public var bitRanges: [ClosedRange<Int>]

    public init(word: Word, bitRanges: [ClosedRange<Int>]) {
        self.word = word
        self.bitRanges = bitRanges
    }

    public static func parse(_ text: String) -> PMUFormatField? {
        let parts = text.trimmingWhitespace().split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let word = Word(rawValue: String(parts[0])) else { return nil }
        var ranges: [ClosedRange<Int>] = []
        for r in parts[1].split(separator: ",") {
            // "lo" or "lo-hi"; "-", "5-", "-5" and "1-2-3" are malformed (a fuzzed "-" indexed an empty split).
            let ends = r.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count <= 2, let lo = Int(ends[0]), lo >= 0, lo < 64 else { return nil }
            let hi = ends.count > 1 ? Int(ends[1]) : lo
            guard let hi, hi >= lo, hi < 64 else { return nil }
            ranges.append(lo...hi)
        }
        return ranges.isEmpty ? nil : PMUFormatField(word: word, bitRanges: ranges)
    }

    public var width: Int { bitRanges.reduce(0) { $0 + $1.count } }

    /// Scatters `value` into the field's bits. Fails when the value does not fit.
    public func place(_ value: UInt64) -> UInt64? {
        if width < 64, value >> UInt64(width) != 0 { return nil }
        var result: UInt64 = 0
        var remaining = value
        for range in bitRanges {
            let n = range.count
            let mask: UInt64 = n == 64 ? ~0 : (1 << UInt64(n)) - 1
            result |= (remaining & mask) << UInt64(range.lowerBound)
            remaining = n == 64 ? 0 : remaining >> UInt64(n)
        }
        return result
    }
}

extension RawEventSyntax {
    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case unknownTerm(pmu: String, term: String, known: [String])
        case valueTooLarge(pmu: String, term: String, value: UInt64, bits: Int)

        public var description: String {
            switch self {
            case .unknownTerm(let pmu, let term, let known):
                return "PMU '\(pmu)' has no format term '\(term)'; it has: \(known.sorted().joined(separator: ", "))"
            case .valueTooLarge(let pmu, let term, let value, let bits):
                return "value 0x\(String(value, radix: 16)) does not fit term '\(term)' of PMU '\(pmu)' (\(bits) bits)"
            }
        }
    }
}

/// Encodes terms into config words using the PMU's `format/` files.
///
/// Besides the format terms, perf's built-in terms `config`, `config1`, `config2` set an
/// attr word directly (`software/config=2/`), and a bare name is looked up among the
/// PMU's sysfs event aliases (`msr/tsc/`, `cpu/cycles-t/`), whose file holds terms.
public func encodePMUTerms(pmu: String, type: UInt32, terms: [(String, UInt64)],
                           formats: [String: PMUFormatField], aliases: (String) -> String? = { _ in nil }) throws -> EventAttr {
    var attr = EventAttr(type: type, config: 0)
    for (key, value) in terms {
        switch key {
        case "config": attr.config |= value; continue
        case "config1": attr.config1 |= value; continue
        case "config2": attr.config2 |= value; continue
        default: break
        }
        if formats[key] == nil, value == 1, let alias = aliases(key) {
            // "event=0x3c,umask=0x00": terms of the same PMU (no alias of an alias).
            let aliasTerms = RawEventSyntax.pmuTerms("\(pmu)/\(alias.trimmingWhitespace())/")?.terms ?? []
            let inner = try encodePMUTerms(pmu: pmu, type: type, terms: aliasTerms, formats: formats)
            attr.config |= inner.config
            attr.config1 |= inner.config1
            attr.config2 |= inner.config2
            continue
        }
        guard let field = formats[key] else {
            throw RawEventSyntax.ParseError.unknownTerm(pmu: pmu, term: key, known: Array(formats.keys) + ["config", "config1", "config2"])
        }
        guard let bits = field.place(value) else {
            throw RawEventSyntax.ParseError.valueTooLarge(pmu: pmu, term: key, value: value, bits: field.width)
        }
        switch field.word {
        case .config: attr.config |= bits
        case .config1: attr.config1 |= bits
        case .config2: attr.config2 |= bits
        case .config3: break   // no field in our attr yet; never produced by the cores we know
        }
    }
    return attr
}
