/// How numbers were written in a saved perf/simpleperf output. perf formats with the
/// user's locale (`setlocale(LC_ALL, "")` and `%'`), so a German run prints
/// `9.134,89 msec` and `21.091` faults, a French one `16 437` (U+202F between groups)
/// and `0,986`. The importer detects the convention from the file itself and refuses
/// when the evidence disagrees, instead of reading 9.134,89 as 9.
public struct NumberLocale: Equatable, Sendable {
    /// The decimal mark.
    public var decimal: Character
    /// Thousands separators that may appear between digit groups.
    public var grouping: Set<Character>

    public static let c = NumberLocale(decimal: ".", grouping: [",", "'"])
    public static let decimalComma = NumberLocale(decimal: ",", grouping: [".", "'", " ", "\u{00A0}", "\u{202F}"])

    public init(decimal: Character, grouping: Set<Character>) {
        self.decimal = decimal
        self.grouping = grouping
    }

    /// Reads `1,234,567`, `9.134,89`, `16 437`; nil for anything else (letters, two
    /// decimal marks, a sign, inf, nan, hex).
    public func number(_ token: Substring) -> Double? {
        var digits = ""
        digits.reserveCapacity(token.count)
        var sawDecimal = false, sawDigit = false
        for ch in token {
            if ch.isASCII && ch.isNumber {
                digits.append(ch)
                sawDigit = true
            } else if ch == decimal && !sawDecimal {
                digits.append(".")
                sawDecimal = true
            } else if grouping.contains(ch) && sawDigit && !sawDecimal {
                continue
            } else {
                return nil
            }
        }
        guard sawDigit else { return nil }
        return Double(digits)
    }

    public func number(_ token: String) -> Double? { number(Substring(token)) }

    /// The convention of a perf text output, from the decimal numbers it must contain
    /// (the "seconds time elapsed" line, msec values with two decimals). -I timestamps
    /// are no evidence: perf prints them as "%lu.%09lu", with a '.' in every locale.
    public static func detect(lines: [Substring]) -> Result<NumberLocale, ImportFailure> {
        var commaDecimal = 0, pointDecimal = 0
        var evidence: [String] = []
        for line in lines {
            let isElapsed = line.containsBytes("seconds time elapsed") || line.hasSuffix("seconds user") || line.hasSuffix("seconds sys")
            guard isElapsed || line.containsBytes("msec") else { continue }
            let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            for (k, token) in tokens.enumerated() where isElapsed || !(k == 0 && IntervalTimestamp.seconds(token) != nil && tokens.count > 2) {
                // A decimal number's mark is the last separator, followed by 2 (msec), 6 or 9 digits.
                guard let last = token.lastIndex(where: { !($0.isASCII && $0.isNumber) }), token.first?.isNumber == true else { continue }
                let fraction = token[token.index(after: last)...]
                let isMsec = k + 1 < tokens.count && tokens[k + 1] == "msec"
                guard (isMsec && fraction.count == 2) || isElapsed, fraction.allSatisfy({ $0.isNumber }), !fraction.isEmpty else { continue }
                switch token[last] {
                case ",": commaDecimal += 1; if evidence.count < 2 { evidence.append(String(token)) }
                case ".": pointDecimal += 1; if evidence.count < 2 { evidence.append(String(token)) }
                default: break
                }
            }
        }
        if commaDecimal > 0 && pointDecimal > 0 {
            return .failure(ImportFailure(message: "numbers are written with both ',' and '.' as the decimal mark (\(evidence.joined(separator: ", "))): cannot tell the locale of this output; re-run perf with LC_ALL=C"))
        }
        return .success(commaDecimal > 0 ? .decimalComma : .c)
    }
}

/// perf -I's first column: "%lu.%09lu" seconds (older perf: "%.9f"), '.' in every locale.
public enum IntervalTimestamp {
    public static func seconds(_ token: Substring) -> Double? {
        guard let dot = token.firstIndex(where: { $0 == "." || $0 == "," }) else { return nil }
        let whole = token[..<dot], fraction = token[token.index(after: dot)...]
        guard !whole.isEmpty, whole.allSatisfy({ $0.isASCII && $0.isNumber }), (6...9).contains(fraction.count),
              fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Double(whole + "." + fraction)
    }
}

public struct ImportFailure: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// A count read from a file must be what a 64-bit counter can hold.
public enum CountRange {
    public static let maximum = 18_446_744_073_709_551_615.0   // 2^64 - 1

    /// Why `value` cannot be a count, or nil when it can.
    public static func problem(_ value: Double) -> String? {
        if value.isNaN { return "is not a number" }
        if value.isInfinite { return "is infinite" }
        if value < 0 { return "is negative" }
        if value > maximum { return "is larger than a 64-bit counter can hold" }
        return nil
    }
}

extension StringProtocol {
    /// A plain byte search: the generic `contains(_:)` of String Processing costs
    /// microseconds a call, and the importers ask it of every line.
    func containsBytes(_ needle: StaticString) -> Bool {
        let n = UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        guard let first = n.first else { return true }
        let hay = Array(utf8)
        guard hay.count >= n.count else { return false }
        var i = 0
        while i <= hay.count - n.count {
            if hay[i] == first {
                var k = 1
                while k < n.count && hay[i + k] == n[k] { k += 1 }
                if k == n.count { return true }
            }
            i += 1
        }
        return false
    }
}
