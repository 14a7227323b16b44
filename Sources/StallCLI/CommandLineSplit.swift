import ArgumentParser
import StallCore

/// Splits `stat`/`record` arguments as perf does (parse-options with
/// PARSE_OPT_STOP_AT_NON_OPTION): options first; the command starts after `--` or at the
/// first word that is neither an option nor an option's value. So `stat --help` is help,
/// `stat --per-core ...` is an option (or a usage error), and `stat -a ls -l` runs `ls -l`.
///
/// The command's words never reach ArgumentParser: its splitting is quadratic in the
/// argument count (20,000 arguments took 10-16 s), and they are not ours to parse.
struct CommandLineSplit: Equatable {
    var options: [String]
    var command: [String]

    /// `valueOptions`: every spelling (`-e`, `--event`) of the options that take a value.
    static func split(_ arguments: [String], valueOptions: Set<String>) -> CommandLineSplit {
        var i = 0
        while i < arguments.count {
            let word = arguments[i]
            if word == "--" {
                return CommandLineSplit(options: Array(arguments[..<i]), command: Array(arguments[(i + 1)...]))
            }
            if word.hasPrefix("--") {
                // --name=value carries its value; --name value takes the next word.
                if !word.contains("="), valueOptions.contains(word) { i += 1 }
            } else if word.hasPrefix("-") && word.count > 1 {
                // A cluster of short flags (-aA); the first short option that takes a
                // value ends it, with the value joined (-x,) or in the next word (-e x).
                for (k, ch) in word.dropFirst().enumerated() where valueOptions.contains("-\(ch)") {
                    if k == word.count - 2 { i += 1 }
                    break
                }
            } else {
                return CommandLineSplit(options: Array(arguments[..<i]), command: Array(arguments[i...]))
            }
            i += 1
        }
        return CommandLineSplit(options: arguments, command: [])
    }

    /// The spellings of a command's value-taking options, from ArgumentParser's own
    /// description of it (hidden options included), so the list cannot drift.
    static func valueOptions<C: ParsableCommand>(of command: C.Type) -> Set<String> {
        var names: Set<String> = []
        for line in command.helpMessage(includeHidden: true, columns: 10_000).split(separator: "\n") {
            let text = line.drop { $0 == " " }
            guard text.hasPrefix("-"), let open = text.firstIndex(of: "<") else { continue }
            let head = text[..<open]
            // "-e, --event <event>" or "--interval, --interval-print <n>"; a flag's help has no '<' before its text.
            guard !head.contains("  ") else { continue }
            for name in head.split(separator: ",") {
                let n = name.trimmingWhitespace()
                if n.hasPrefix("-") { names.insert(n) }
            }
        }
        return names
    }
}

/// Numeric options are taken as text and checked here, so that every bad value gets a
/// message naming the option and the accepted range (never a trap, never "Missing value"
/// for a negative number).
/// One numeric option: its name, range and unit, stated once. `value` is the validated
/// number (nil when absent or invalid: `check` in validate() has refused those already).
struct IntegerOption {
    var name: String
    var range: ClosedRange<Int>
    var meaning: String = ""
    func check(_ text: String?) throws { if let text { _ = try NumericOption.integer(text, option: name, range: range, meaning: meaning).get() } }
    func value(_ text: String?) -> Int? { text.flatMap { try? NumericOption.integer($0, option: name, range: range, meaning: meaning).get() } }
}

struct DecimalOption {
    var name: String
    var range: ClosedRange<Double>
    var unit: String
    func check(_ text: String?) throws { if let text { _ = try NumericOption.decimal(text, option: name, range: range, unit: unit).get() } }
    func value(_ text: String?) -> Double? { text.flatMap { try? NumericOption.decimal($0, option: name, range: range, unit: unit).get() } }
}

enum NumericOption {
    static func integer(_ text: String, option: String, range: ClosedRange<Int>, meaning: String = "") -> Result<Int, ValidationError> {
        let t = text.trimmingWhitespace()
        guard let v = Int(t), range.contains(v) else {
            return .failure(ValidationError("\(option) takes a whole number from \(range.lowerBound) to \(range.upperBound)\(meaning) (got '\(text)')"))
        }
        return .success(v)
    }

    static func decimal(_ text: String, option: String, range: ClosedRange<Double>, unit: String) -> Result<Double, ValidationError> {
        let t = text.trimmingWhitespace()
        // Double("inf"), Double("nan") and hex floats parse: only plain decimals are taken.
        let plain = !t.isEmpty && t.allSatisfy { $0.isNumber || $0 == "." || $0 == "e" || $0 == "E" || $0 == "-" || $0 == "+" }
        guard plain, let v = Double(t), v.isFinite, range.contains(v) else {
            return .failure(ValidationError("\(option) takes \(unit) from \(cFormatNumber(range.lowerBound)) to \(cFormatNumber(range.upperBound)) (got '\(text)')"))
        }
        return .success(v)
    }

    private static func cFormatNumber(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
    }
}
