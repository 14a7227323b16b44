/// How demangled names are shown: as perf shows them.
///
/// The demangling itself is the runtimes' (the C++ runtime's `__cxa_demangle`, libiberty's
/// Rust demangler, the Swift runtime's `swift_demangle`, called from StallLinux); this is
/// what is done with the text.
public enum SymbolNames {
    /// The scheme a symbol is mangled with, from its prefix.
    public enum Scheme: Equatable { case itanium, rustV0, swift, none }

    public static func scheme(of name: String) -> Scheme {
        if name.hasPrefix("_Z") { return .itanium }
        if name.hasPrefix("_R") { return .rustV0 }
        if name.hasPrefix("$s") || name.hasPrefix("$S") || name.hasPrefix("_$s") || name.hasPrefix("$e") { return .swift }
        return .none
    }

    /// perf demangles C++ without parameters or return types (libiberty's DMGL_NO_OPTS):
    /// `bool ns::operator!=<int*>(X const&, X const&)` is shown as `ns::operator!=<int*>`.
    /// A clone suffix (`[clone .cold]`) is kept, as perf keeps it.
    public static func withoutSignature(_ demangled: String) -> String {
        // Special names (thunks, clones, tables) are printed whole by libiberty, so by perf.
        if specialNamePrefixes.contains(where: { demangled.hasPrefix($0) }) { return demangled }
        var text = Substring(demangled)
        var clones = ""
        while text.hasSuffix("]"), let r = text.ranges(of: " [clone ").last {
            clones = String(text[r.lowerBound...]) + clones
            text = text[..<r.lowerBound]
        }
        // Qualifiers of a member function come after its parameters.
        var stripped = true
        while stripped {
            stripped = false
            for q in [" const", " volatile", " &&", " &", " noexcept", " transaction_safe"] where text.hasSuffix(q) {
                text = text.dropLast(q.count)
                stripped = true
            }
        }
        guard text.hasSuffix(")"), let open = matchingOpenParenthesis(text) else { return demangled }
        let name = text[..<open]
        return String(name[startAfterReturnType(name)...]) + clones
    }

    static let specialNamePrefixes = ["transaction clone for ", "non-virtual thunk to ", "virtual thunk to ", "covariant return thunk to ",
                                      "construction vtable for ", "vtable for ", "typeinfo for ", "typeinfo name for ", "VTT for ",
                                      "guard variable for ", "reference temporary #", "TLS init function for ", "TLS wrapper function for ",
                                      "hidden alias for ", "java Class for ", "template parameter object for "]

    /// The `(` that opens the final parenthesized group.
    static func matchingOpenParenthesis(_ text: Substring) -> Substring.Index? {
        var depth = 0
        var i = text.endIndex
        while i > text.startIndex {
            i = text.index(before: i)
            switch text[i] {
            case ")": depth += 1
            case "(":
                depth -= 1
                if depth == 0 { return i > text.startIndex ? i : nil }
            default: break
            }
        }
        return nil
    }

    static let operatorTokens = ["<<=", ">>=", "->*", "<=>", "()", "[]", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "++", "--", "->",
                                 "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<", ">", "+", "-", "*", "/", "%", "^", "&", "|", "~", "!", "=", ","]

    /// Where the function's own name starts: after a return type (template functions carry
    /// one: `bool f<int>`), which ends at the last space outside brackets that is not part
    /// of an operator's name (`operator new`, `operator unsigned long`).
    static func startAfterReturnType(_ name: Substring) -> Substring.Index {
        var depth = 0
        var start = name.startIndex
        var componentStart = name.startIndex
        var i = name.startIndex
        while i < name.endIndex {
            let c = name[i]
            if c == "o", name[i...].hasPrefix("operator"), i == name.startIndex || !isIdentifier(name[name.index(before: i)]) {
                // Skip the operator's own symbol so its < > ( ) do not count as brackets.
                var j = name.index(i, offsetBy: 8)
                if j < name.endIndex, let token = operatorTokens.first(where: { name[j...].hasPrefix($0) }) {
                    j = name.index(j, offsetBy: token.count)
                }
                i = j
                continue
            }
            switch c {
            case "<", "(", "[", "{": depth += 1
            case ">", ")", "]", "}": depth = max(0, depth - 1)
            case ":" where depth == 0:
                let next = name.index(after: i)
                if next < name.endIndex, name[next] == ":" { componentStart = name.index(after: next) }
            case " " where depth == 0:
                if !name[componentStart..<i].hasPrefix("operator") {
                    start = name.index(after: i)
                    componentStart = start
                }
            default: break
            }
            i = name.index(after: i)
        }
        return start
    }

    static func isIdentifier(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }
}
