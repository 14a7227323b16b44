#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// printf-style formatting through the C library. The process never calls
/// setlocale, so the C locale applies: '.' decimal point, no grouping — numbers in
/// machine output are never localised.
public func cFormat(_ format: String, _ args: CVarArg...) -> String {
    withVaList(args) { list in
        var buffer = [CChar](repeating: 0, count: 128)
        let needed = Int(vsnprintf(&buffer, buffer.count, format, list))
        if needed < buffer.count { return String(cString: buffer) }
        return withVaList(args) { again in
            var big = [CChar](repeating: 0, count: needed + 1)
            _ = vsnprintf(&big, big.count, format, again)
            return String(cString: big)
        }
    }
}

/// "%.0f" without the C library when the value is a whole number that fits: exact,
/// and a hot path in interval output.
public func formatWhole(_ value: Double) -> String {
    if value >= 0, value < 9.0e15, value == value.rounded(.toNearestOrEven) { return String(UInt64(value)) }
    return cFormat("%.0f", value)
}

/// "%.2f" of a percentage, with the common 100.00 spelled out.
public func formatPercent(_ value: Double) -> String {
    value == 100 ? "100.00" : cFormat("%.2f", value)
}

/// 25118448822 → "25,118,448,822" (simpleperf and perf's -B style).
public func groupThousands(_ value: Double) -> String {
    let rounded = formatWhole(value)
    var digits = Substring(rounded)
    var sign = ""
    if digits.first == "-" { sign = "-"; digits = digits.dropFirst() }
    var out: [Character] = []
    for (i, ch) in digits.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return sign + String(out.reversed())
}

/// Scales a per-second rate the way perf and simpleperf print it: "1.234 K/sec".
public func rateWithPrefix(_ perSecond: Double) -> (value: Double, unit: String) {
    if perSecond > 1e9 { return (perSecond / 1e9, "G/sec") }
    if perSecond > 1e6 { return (perSecond / 1e6, "M/sec") }
    if perSecond > 1e3 { return (perSecond / 1e3, "K/sec") }
    return (perSecond, "/sec")
}

func padLeft(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}

func padRight(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

/// Escapes a string for a JSON string literal.
public func jsonEscape(_ s: String) -> String {
    var out = ""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 { out += cFormat("\\u%04x", scalar.value) }
            else { out.unicodeScalars.append(scalar) }
        }
    }
    return out
}
