/// One `-e` group as the user wrote it: `{a,b}` is a group, a bare name is a group of one.
public struct EventGroupRequest: Equatable, Sendable {
    public var members: [String]
    /// True when the user wrote braces: the members must be scheduled together.
    public var isExplicitGroup: Bool

    public init(members: [String], isExplicitGroup: Bool) {
        self.members = members
        self.isExplicitGroup = isExplicitGroup
    }
}

extension EventListParser {
    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case unbalancedBrace(String)
        case emptyName(String)
        case nestedGroup(String)

        public var description: String {
            switch self {
            case .unbalancedBrace(let s): return "unbalanced '{' or '}' in event list '\(s)'"
            case .emptyName(let s): return "empty event name in event list '\(s)' (two commas in a row, or a trailing comma)"
            case .nestedGroup(let s): return "groups cannot nest: '\(s)'"
            }
        }
    }
}

/// Splits perf-style event lists: `a,b`, `{a,b}:u`, `cpu/event=0x3c,umask=1/` (commas inside
/// `/.../` belong to the PMU terms), libpfm4 strings with `:` and `::`.
public enum EventListParser {
    public static func parse(_ text: String) throws -> [EventGroupRequest] {
        var groups: [EventGroupRequest] = []
        var current = ""
        var groupMembers: [String]? = nil
        var inSlashes = false
        var chars = Array(text)
        var i = 0

        func flushName() throws {
            let name = current.trimmingWhitespace()
            current = ""
            if name.isEmpty { throw EventListParser.ParseError.emptyName(text) }
            if groupMembers != nil { groupMembers!.append(name) }
            else { groups.append(EventGroupRequest(members: [name], isExplicitGroup: false)) }
        }

        while i < chars.count {
            let c = chars[i]
            if inSlashes {
                current.append(c)
                if c == "/" { inSlashes = false }
                i += 1
                continue
            }
            switch c {
            case "/":
                current.append(c)
                // `pmu/` opens a term list unless it closes one (handled above).
                inSlashes = true
            case "{":
                if groupMembers != nil { throw EventListParser.ParseError.nestedGroup(text) }
                if !current.trimmingWhitespace().isEmpty { throw EventListParser.ParseError.unbalancedBrace(text) }
                groupMembers = []
            case "}":
                guard groupMembers != nil else { throw EventListParser.ParseError.unbalancedBrace(text) }
                try flushName()
                var members = groupMembers!
                groupMembers = nil
                // Group modifiers `{a,b}:u` apply to every member.
                var j = i + 1
                var modifier = ""
                if j < chars.count, chars[j] == ":" {
                    j += 1
                    while j < chars.count, chars[j] != "," { modifier.append(chars[j]); j += 1 }
                    members = members.map { "\($0):\(modifier)" }
                }
                groups.append(EventGroupRequest(members: members, isExplicitGroup: true))
                i = j
                if i < chars.count, chars[i] == "," { i += 1 }
                continue
            case ",":
                try flushName()
            default:
                current.append(c)
            }
            i += 1
        }
        if groupMembers != nil || inSlashes { throw EventListParser.ParseError.unbalancedBrace(text) }
        if !current.trimmingWhitespace().isEmpty { try flushName() }
        chars.removeAll()
        return groups
    }
}

/// perf's event modifiers (`:u`, `:k`, `:h`, `:uk`, ...): privilege levels to count.
public struct EventModifiers: Equatable, Sendable {
    public var user = false
    public var kernel = false
    public var hypervisor = false

    /// Splits `name:mods` when the suffix is made only of modifier letters. Returns nil
    /// when there is no such suffix (the `:` then belongs to the name: libpfm4 umasks,
    /// tracepoints).
    public static func split(_ text: String) -> (base: String, modifiers: EventModifiers)? {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex else { return nil }
        let suffix = text[text.index(after: colon)...]
        if suffix.isEmpty || text[text.index(before: colon)] == ":" { return nil }
        var m = EventModifiers()
        for ch in suffix {
            switch ch {
            case "u": m.user = true
            case "k": m.kernel = true
            case "h": m.hypervisor = true
            case "G", "H", "p", "P", "I", "S", "D", "W", "e": continue   // accepted, no effect on counting
            default: return nil
            }
        }
        return (String(text[..<colon]), m)
    }

    /// Applies the privilege selection the way perf does: naming any level excludes
    /// the ones not named.
    public func apply(to attr: inout EventAttr) {
        guard user || kernel || hypervisor else { return }
        attr.excludeUser = !user
        attr.excludeKernel = !kernel
        attr.excludeHypervisor = !hypervisor
    }
}

extension StringProtocol {
    /// The text without leading and trailing white space (Foundation-free).
    public func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
