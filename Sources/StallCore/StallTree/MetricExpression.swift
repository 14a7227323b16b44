/// perf's metric expression language (tools/perf/util/expr.y), as used in pmu-events
/// `MetricExpr`: numbers (and 0x hex), event and metric names, `#constants`, + - * / %,
/// unary -, comparisons, `&`, `^` and `|`, `a if cond else b`, and min, max, abs, d_ratio,
/// strcmp_cpuid_str.
public indirect enum MetricExpression: Equatable, Sendable {
    case number(Double)
    case name(String)
    case constant(String)              // #slots, #SMT_on, ...
    case unary(String, MetricExpression)
    case binary(String, MetricExpression, MetricExpression)
    case call(String, [MetricExpression])
    case conditional(then: MetricExpression, condition: MetricExpression, otherwise: MetricExpression)

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var expression: String
        public var position: Int
        public var message: String
        public var description: String { "cannot read metric expression '\(expression)' at character \(position + 1): \(message)" }
    }

    public static func parse(_ text: String) throws -> MetricExpression {
        // Bounds the tree (and the recursion evaluating it); the longest vendor metric is ~2 KB.
        guard text.utf8.count <= 16_384 else {
            throw ParseError(expression: String(text.prefix(40)) + "…", position: 16_384, message: "longer than 16,384 characters")
        }
        var p = ExpressionParser(text: text)
        let e = try p.parseConditional()
        p.skipSpace()
        if p.i < p.chars.count { throw p.error("unexpected '\(p.chars[p.i])'") }
        return e
    }

    /// The names read once each condition that depends on constants alone is decided, as
    /// perf's expr.y computes a metric's ids: `A if #smt_on else B` reads only B without SMT,
    /// so A's events are not opened. A condition that reads an event keeps both branches.
    public func names(deciding constants: [String: Double]) -> [String] { collectNames(deciding: constants) }

    var asksHasEvent: Bool {
        switch self {
        case .number, .constant, .name: return false
        case .call("has_event", _): return true
        case .call(_, let args): return args.contains(where: \.asksHasEvent)
        case .unary(_, let a): return a.asksHasEvent
        case .binary(_, let a, let b): return a.asksHasEvent || b.asksHasEvent
        case .conditional(let t, let c, let o): return t.asksHasEvent || c.asksHasEvent || o.asksHasEvent
        }
    }

    /// Every event or metric name the expression reads, in the text's order. has_event's
    /// argument is asked about, not read (perf's expr.y adds no id for it), so not listed.
    public var names: [String] { collectNames(deciding: nil) }

    /// `constants` nil: no condition is decided (every branch's names).
    func collectNames(deciding constants: [String: Double]?) -> [String] {
        switch self {
        case .number, .constant: return []
        case .name(let n): return [n]
        case .unary(_, let a): return a.collectNames(deciding: constants)
        case .binary(_, let a, let b): return a.collectNames(deciding: constants) + b.collectNames(deciding: constants)
        case .call("has_event", _): return []
        case .call(_, let args): return args.flatMap { $0.collectNames(deciding: constants) }
        case .conditional(let t, let c, let o):
            // has_event asks the machine, which the counts answer later (stallstat opens
            // what it can): such a condition is not decided here.
            if let constants, !c.asksHasEvent, case .value(let v)? = try? c.evaluate(names: { _ in .notCounted }, constants: constants) {
                return (v != 0 ? t : o).collectNames(deciding: constants)
            }
            return t.collectNames(deciding: constants) + c.collectNames(deciding: constants) + o.collectNames(deciding: constants)
        }
    }
}

/// The result of evaluating a metric: a number, or why there is none.
public enum MetricValue: Equatable, Sendable {
    case value(Double)
    /// A marked missing value: division by zero, or an input that was not counted.
    case missing(String)

    public var number: Double? { if case .value(let v) = self { return v }; return nil }
}

public struct MetricEvaluationError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// What a name stands for when evaluating.
public enum NameValue: Equatable, Sendable {
    case value(Double)
    /// A known event that was not counted (or never ran).
    case notCounted
    /// Neither an event the core knows nor a metric: an error in the expression.
    case unknown
}

extension MetricExpression {
    /// `hasEvent`: has_event(NAME), whether the machine has the event (perf asks its PMUs).
    public func evaluate(names: (String) -> NameValue, constants: [String: Double] = [:],
                         hasEvent: (String) -> Bool = { _ in false }) throws -> MetricValue {
        func sub(_ e: MetricExpression) throws -> MetricValue { try e.evaluate(names: names, constants: constants, hasEvent: hasEvent) }
        switch self {
        case .number(let d): return .value(d)
        case .constant(let c):
            guard let v = constants[c] ?? constants[c.lowercased()] else { return .missing("#\(c) is not known for this CPU") }
            return .value(v)
        case .name(let n):
            switch names(n) {
            case .value(let v): return .value(v)
            case .notCounted: return .missing("\(n) was not counted")
            case .unknown: throw MetricEvaluationError(message: "unknown event or metric '\(n)'")
            }
        case .unary(let op, let a):
            let v = try sub(a)
            guard case .value(let x) = v else { return v }
            return .value(op == "-" ? -x : (x == 0 ? 1 : 0))
        case .binary(let op, let a, let b):
            let l = try sub(a)
            let r = try sub(b)
            guard case .value(let x) = l else { return l }
            guard case .value(let y) = r else { return r }
            switch op {
            case "+": return .value(x + y)
            case "-": return .value(x - y)
            case "*": return .value(x * y)
            case "/": return y == 0 ? .missing("division by zero") : .value(x / y)
            case "%": return y == 0 ? .missing("division by zero") : .value(x.truncatingRemainder(dividingBy: y))
            case "<": return .value(x < y ? 1 : 0)
            case ">": return .value(x > y ? 1 : 0)
            case "<=": return .value(x <= y ? 1 : 0)
            case ">=": return .value(x >= y ? 1 : 0)
            case "==": return .value(x == y ? 1 : 0)
            case "&": return .value(x != 0 && y != 0 ? 1 : 0)
            case "|": return .value(x != 0 || y != 0 ? 1 : 0)
            case "^": return .value((x != 0) != (y != 0) ? 1 : 0)
            default: throw MetricEvaluationError(message: "unknown operator \(op)")
            }
        case .call("strcmp_cpuid_str", let args):
            // perf (arm64): 1 when this CPU is the MIDR's part at that variant and revision or
            // later (expr__strcmp_cpuid_str is !strcmp_cpuid_str). Gates formulas by
            // revision: Neoverse N2's slot correction before r0p3. `midr` is the CPU's.
            guard args.count == 1, case .number(let wanted) = args[0], wanted >= 0, wanted < 0x1p53 else {
                throw MetricEvaluationError(message: "strcmp_cpuid_str takes one MIDR number")
            }
            guard let cpu = constants["midr"], cpu >= 0, cpu < 0x1p53 else { return .missing("the CPU's MIDR is not known") }
            let (want, have) = (UInt64(wanted), UInt64(cpu))
            let version: UInt64 = 0x00F0_000F   // variant 23:20, revision 3:0
            guard want & ~version == have & ~version else { return .value(0) }
            let (wv, hv) = (want >> 20 & 0xF, have >> 20 & 0xF)
            return .value(hv > wv || (hv == wv && have & 0xF >= want & 0xF) ? 1 : 0)
        case .call("has_event", let args):
            guard args.count == 1, case .name(let n) = args[0] else { throw MetricEvaluationError(message: "has_event takes one event name") }
            return .value(hasEvent(n) ? 1 : 0)
        case .call("source_count", let args):
            // perf: how many counters were summed into the event's value; a core event
            // aggregated by stallstat is one event.
            guard args.count == 1, case .name(let n) = args[0] else { throw MetricEvaluationError(message: "source_count takes one event name") }
            if case .value = try sub(args[0]) { return .value(1) }
            return .missing("\(n) was not counted")
        case .call(let f, let args):
            let values = try args.map { try sub($0) }
            if let missing = values.first(where: { $0.number == nil }), f != "d_ratio" { return missing }
            let xs = values.compactMap(\.number)
            switch (f, xs.count) {
            case ("min", 2...): return .value(xs.min()!)
            case ("max", 2...): return .value(xs.max()!)
            case ("abs", 1): return .value(abs(xs[0]))
            case ("d_ratio", _):
                // perf: d_ratio(a, b) is a / b, and 0 when b is 0.
                guard values.count == 2 else { throw MetricEvaluationError(message: "d_ratio takes two arguments") }
                guard let a = values[0].number, let b = values[1].number else { return values.first { $0.number == nil }! }
                return .value(b == 0 ? 0 : a / b)
            default: throw MetricEvaluationError(message: "unknown function \(f) with \(xs.count) arguments")
            }
        case .conditional(let t, let c, let o):
            let cond = try sub(c)
            guard case .value(let x) = cond else { return cond }
            return try sub(x != 0 ? t : o)
        }
    }
}

struct ExpressionParser {
    let text: String
    let chars: [Character]
    var i = 0
    /// Parentheses and unary operators open a recursion; vendors' metrics nest a few
    /// levels, 1,000 "(" overflowed the stack (found by fuzzing).
    var depth = 0
    static let maxDepth = 64
    /// Operands in all: bounds the tree's depth (a chain a+a+... is as deep as it is long),
    /// so evaluating it cannot overflow the stack. Vendors' metrics have a few dozen.
    var operands = 0
    static let maxOperands = 512

    init(text: String) {
        self.text = text
        chars = Array(text)
    }

    func error(_ message: String) -> MetricExpression.ParseError {
        MetricExpression.ParseError(expression: text, position: i, message: message)
    }

    mutating func skipSpace() { while i < chars.count, chars[i].isWhitespace { i += 1 } }

    mutating func peekWord() -> String? {
        skipSpace()
        var j = i
        var w = ""
        while j < chars.count, chars[j].isLetter { w.append(chars[j]); j += 1 }
        return w.isEmpty ? nil : w
    }

    mutating func consumeWord(_ w: String) -> Bool {
        skipSpace()
        let end = i + w.count
        guard end <= chars.count, String(chars[i..<end]) == w, end == chars.count || !isNameChar(chars[end]) else { return false }
        i = end
        return true
    }

    mutating func consume(_ s: String) -> Bool {
        skipSpace()
        let end = i + s.count
        guard end <= chars.count, String(chars[i..<end]) == s else { return false }
        i = end
        return true
    }

    // cond := or ('if' or 'else' cond)?
    mutating func parseConditional() throws -> MetricExpression {
        let value = try parseOr()
        if consumeWord("if") {
            let condition = try parseOr()
            guard consumeWord("else") else { throw error("expected 'else'") }
            let otherwise = try parseConditional()
            return .conditional(then: value, condition: condition, otherwise: otherwise)
        }
        return value
    }

    // perf's precedence: | below ^ below &.
    mutating func parseOr() throws -> MetricExpression {
        var l = try parseXor()
        while consume("|") { l = .binary("|", l, try parseXor()) }
        return l
    }

    mutating func parseXor() throws -> MetricExpression {
        var l = try parseAnd()
        while consume("^") { l = .binary("^", l, try parseAnd()) }
        return l
    }

    mutating func parseAnd() throws -> MetricExpression {
        var l = try parseComparison()
        while consume("&") { l = .binary("&", l, try parseComparison()) }
        return l
    }

    mutating func parseComparison() throws -> MetricExpression {
        let l = try parseSum()
        for op in ["<=", ">=", "==", "<", ">"] where consume(op) { return .binary(op, l, try parseSum()) }
        return l
    }

    mutating func parseSum() throws -> MetricExpression {
        var l = try parseProduct()
        while true {
            if consume("+") { l = .binary("+", l, try parseProduct()) }
            else if consume("-") { l = .binary("-", l, try parseProduct()) }
            else { return l }
        }
    }

    mutating func parseProduct() throws -> MetricExpression {
        var l = try parseUnary()
        while true {
            if consume("*") { l = .binary("*", l, try parseUnary()) }
            else if consume("/") { l = .binary("/", l, try parseUnary()) }
            else if consume("%") { l = .binary("%", l, try parseUnary()) }
            else { return l }
        }
    }

    mutating func parseUnary() throws -> MetricExpression {
        depth += 1
        operands += 1
        defer { depth -= 1 }
        guard depth <= ExpressionParser.maxDepth else { throw error("nested more than \(ExpressionParser.maxDepth) levels deep") }
        guard operands <= ExpressionParser.maxOperands else { throw error("more than \(ExpressionParser.maxOperands) operands") }
        if consume("-") { return .unary("-", try parseUnary()) }
        if consume("!") { return .unary("!", try parseUnary()) }
        return try parsePrimary()
    }

    func isNameChar(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" || c == "." || c == "@" || c == ":" || c == "\\" }

    mutating func parsePrimary() throws -> MetricExpression {
        skipSpace()
        guard i < chars.count else { throw error("unexpected end of expression") }
        let c = chars[i]
        if c == "(" {
            i += 1
            let e = try parseConditional()
            guard consume(")") else { throw error("expected ')'") }
            return e
        }
        if c == "0", i + 2 < chars.count, chars[i + 1] == "x" || chars[i + 1] == "X", chars[i + 2].isHexDigit {
            i += 2
            var s = ""
            while i < chars.count, chars[i].isHexDigit { s.append(chars[i]); i += 1 }
            guard s.count <= 13, let v = UInt64(s, radix: 16) else { throw error("hex number 0x\(s) is too large") }
            return .number(Double(v))
        }
        if c.isNumber || (c == "." && i + 1 < chars.count && chars[i + 1].isNumber) {
            var s = ""
            while i < chars.count, chars[i].isNumber || chars[i] == "." || chars[i] == "e" || chars[i] == "E"
                    || ((chars[i] == "-" || chars[i] == "+") && (s.last == "e" || s.last == "E")) {
                s.append(chars[i]); i += 1
            }
            guard let d = Double(s) else { throw error("bad number '\(s)'") }
            return .number(d)
        }
        if c == "#" {
            i += 1
            var s = ""
            while i < chars.count, isNameChar(chars[i]) { s.append(chars[i]); i += 1 }
            guard !s.isEmpty else { throw error("expected a constant name after '#'") }
            return .constant(s)
        }
        if isNameChar(c) {
            var s = ""
            while i < chars.count, isNameChar(chars[i]) {
                // perf escapes '-' and ',' in event names with a backslash.
                if chars[i] == "\\", i + 1 < chars.count { s.append(chars[i + 1]); i += 2; continue }
                s.append(chars[i]); i += 1
            }
            if ["if", "else"].contains(s) { throw error("unexpected '\(s)'") }
            if consume("(") {
                var args: [MetricExpression] = []
                if !consume(")") {
                    repeat { args.append(try parseConditional()) } while consume(",")
                    guard consume(")") else { throw error("expected ')' after the arguments of \(s)") }
                }
                return .call(s, args)
            }
            return .name(s)
        }
        throw error("unexpected '\(c)'")
    }
}
