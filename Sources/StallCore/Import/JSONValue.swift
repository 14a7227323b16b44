/// A JSON value with the line it started on, so table errors can name file, line and field.
public indirect enum JSONValue: Equatable, Sendable {
    case string(String, line: Int)
    case number(Double, text: String, line: Int)
    case bool(Bool, line: Int)
    case null(line: Int)
    case array([JSONValue], line: Int)
    case object([(key: String, value: JSONValue)], line: Int)

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.string(x, _), .string(y, _)): return x == y
        case let (.number(x, _, _), .number(y, _, _)): return x == y
        case let (.bool(x, _), .bool(y, _)): return x == y
        case (.null, .null): return true
        case let (.array(x, _), .array(y, _)): return x == y
        case let (.object(x, _), .object(y, _)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    public var line: Int {
        switch self {
        case .string(_, let l), .number(_, _, let l), .bool(_, let l), .null(let l), .array(_, let l), .object(_, let l): return l
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let members, _) = self { return members.first { $0.key == key }?.value }
        return nil
    }

    public var stringValue: String? { if case .string(let s, _) = self { return s }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let a, _) = self { return a }; return nil }
    public var numberValue: Double? { if case .number(let d, _, _) = self { return d }; return nil }
    /// A whole number that fits, or nil: `UInt64(1e300)` or `Int(-.nan)` would trap, and
    /// these values come from files anyone may hand over.
    public var countValue: UInt64? {
        guard let d = numberValue, d.isFinite, d >= 0, d < 18_446_744_073_709_551_616.0, d == d.rounded() else { return nil }
        return UInt64(d)
    }
    public var intValue: Int? {
        guard let d = numberValue, d.isFinite, d >= -9_007_199_254_740_992, d <= 9_007_199_254_740_992, d == d.rounded() else { return nil }
        return Int(d)
    }
}

extension JSONReader {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }
}

/// A small recursive-descent JSON reader (RFC 8259) that keeps line numbers.
public struct JSONReader {
    private let bytes: [UInt8]
    private var i = 0
    private var line = 1

    public static func parse(_ text: String) throws -> JSONValue {
        var r = JSONReader(bytes: Array(text.utf8))
        r.skipSpace()
        let v = try r.value(depth: 0)
        r.skipSpace()
        if r.i < r.bytes.count { throw JSONReader.ParseError(line: r.line, message: "unexpected text after the JSON value") }
        return v
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipSpace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x0A: line += 1; i += 1
            case 0x20, 0x09, 0x0D: i += 1
            default: return
            }
        }
    }

    private func fail(_ message: String) -> JSONReader.ParseError { JSONReader.ParseError(line: line, message: message) }

    private mutating func value(depth: Int) throws -> JSONValue {
        guard depth < 64 else { throw fail("nesting deeper than 64") }
        guard i < bytes.count else { throw fail("unexpected end of file") }
        let start = line
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var members: [(String, JSONValue)] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object([], line: start) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a \"key\"") }
                let key = try string()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' after \"\(key)\"") }
                i += 1
                skipSpace()
                members.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of file inside an object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members.map { (key: $0.0, value: $0.1) }, line: start) }
                throw fail("expected ',' or '}' in an object")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSONValue] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array([], line: start) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of file inside an array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items, line: start) }
                throw fail("expected ',' or ']' in an array")
            }
        case UInt8(ascii: "\""):
            return .string(try string(), line: start)
        case UInt8(ascii: "t"): try literal("true"); return .bool(true, line: start)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false, line: start)
        case UInt8(ascii: "n"): try literal("null"); return .null(line: start)
        default:
            let s = i
            while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
            let text = String(decoding: bytes[s..<i], as: UTF8.self)
            guard !text.isEmpty, let d = Double(text) else { throw fail("unexpected character '\(Character(UnicodeScalar(bytes[s])))'") }
            return .number(d, text: text, line: start)
        }
    }

    private mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw fail("expected '\(word)'") }
        i += w.count
    }

    private mutating func string() throws -> String {
        i += 1   // opening quote
        var out: [UInt8] = []
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "\""):
                i += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard i + 1 < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard i + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16)
                    else { throw fail("bad \\u escape") }
                    i += 4
                    out.append(contentsOf: Array(String(UnicodeScalar(code) ?? "?").utf8))
                default: out.append(e)
                }
            case 0x0A: throw fail("newline inside a string")
            default:
                out.append(c)
                i += 1
            }
        }
        throw fail("unterminated string")
    }
}
