import ArgumentParser
import StallLinux
#if canImport(Glibc)
import Glibc
#endif

func processExit(_ code: Int32) -> Never { Glibc.exit(code) }

public struct Stallstat: ParsableCommand {
    public init() {}

    /// The entry point: `stat` and `record` take a command after their options, which is
    /// split off before ArgumentParser sees the rest (see `CommandLineSplit`).
    public static func main() {
        var command: ParsableCommand
        do {
            command = try parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            exit(withError: error)   // usage errors, --help, --version: ArgumentParser's own output
        }
        do {
            try command.run()
            if let e = StandardOutput.failure {
                StandardError.write("stallstat: write failure on standard output: \(String(cString: strerror(e)))")
                processExit(ExitCodes.outputError)
            }
        } catch let e as CLIError {
            StandardError.write("stallstat: \(e.message)")
            processExit(e.exitCode)
        } catch let e as ValidationError {
            // Found while running (an unknown event or metric): a usage error, without a usage line.
            StandardError.write("stallstat: \(e.message)")
            processExit(ExitCodes.usage)
        } catch {
            exit(withError: error)
        }
    }

    /// Parses a whole command line (without the program name) into the command to run.
    static func parse(_ arguments: [String]) throws -> ParsableCommand {
        let names = Set(configuration.subcommands.map { $0._commandName })
        var sub = "stat", rest = arguments
        if let first = arguments.first {
            if names.contains(first) {
                sub = first
                rest = Array(arguments.dropFirst())
            } else if ["-h", "--help", "--version", "--generate-completion-script", "help"].contains(first) {
                return try parseAsRoot(arguments)
            } else if !first.hasPrefix("-") {
                let shown = arguments.prefix(3).joined(separator: " ") + (arguments.count > 3 ? " ..." : "")
                throw ValidationError("'\(first)' is not a stallstat command (\(names.sorted().joined(separator: ", "))); to count a command: stallstat stat -- \(shown)")
            }
        }
        switch sub {
        case "stat": return try parse(Stat.self, rest)
        case "record": return try parse(Record.self, rest)
        case "gate":
            // gate's subcommands take a command too: `gate check --baseline b.json --help`
            // is a help request, never a command named --help.
            switch rest.first {
            case "compare": return try parse(Gate.Compare.self, Array(rest.dropFirst()), path: ["gate"])
            case "record": return try parse(Gate.Record.self, Array(rest.dropFirst()), path: ["gate"])
            case "check": return try parse(Gate.Check.self, Array(rest.dropFirst()), path: ["gate"])
            default: return try parseAsRoot([sub] + rest)
            }
        default: return try parseAsRoot([sub] + rest)
        }
    }

    /// Splits off the command, then parses the options. Only the command's first word
    /// goes through ArgumentParser (validation sees whether there is one); the whole
    /// command is set afterwards. `path`: the parent commands' names (`gate`).
    static func parse<C: CommandTaking>(_ type: C.Type, _ arguments: [String], path: [String] = []) throws -> ParsableCommand {
        let split = CommandLineSplit.split(arguments, valueOptions: C.valueOptions)
        let parsed = try parseAsRoot(path + [C._commandName] + C.rewriteOptions(split.options) + (split.command.isEmpty ? [] : ["--", split.command[0]]))
        guard var command = parsed as? C else { return parsed }   // help, for one
        command.command = split.command
        return command
    }
    public static let configuration = CommandConfiguration(
        commandName: "stallstat",
        abstract: "Find where the CPU pipeline stalls and why, and tie memory stalls to the kernel's memory state.",
        discussion: "With no subcommand, `stat` runs: `stallstat -a --duration 20` counts the default stall set system-wide.",
        version: stallstatVersion,
        subcommands: [Stat.self, List.self, Encode.self, Analyze.self, Frag.self, Gate.self, Record.self, Report.self, Serve.self],
        defaultSubcommand: Stat.self)
}

let stallstatVersion = "0.1.0"

/// Exit codes, documented in the README.
enum ExitCodes {
    static let nothingCounted: Int32 = 3
    static let targetError: Int32 = 2
    static let usage: Int32 = 64
    /// The results could not be written (full disk, closed pipe, /dev/full).
    static let outputError: Int32 = 1

    /// The exit status of an error a counting or recording run ended with, decided here
    /// only: a command that could not start exits as a shell's would (127 not found, 126
    /// not executable), a target that is gone is 2, an output that cannot be written is 1,
    /// and nothing that could be opened or counted is 3.
    static func of(_ error: Error) -> Int32 {
        switch error {
        case let e as CLIError: return e.exitCode
        case let e as PausedChild.Failure: return e.exitCode
        case StatRunError.child(let f), RecordError.child(let f): return f.exitCode
        case StatRunError.noSuchProcess: return targetError
        case RecordError.output, is ReplacingOutput.Failure: return outputError
        default: return nothingCounted
        }
    }
}


/// A subcommand that runs a command given after its options (`stat`, `record`).
protocol CommandTaking: ParsableCommand {
    static var valueOptions: Set<String> { get }
    var command: [String] { get set }
    /// Options spelled as perf spells them that ArgumentParser cannot take as they are
    /// (an optional value: `--per-cache=L2`), rewritten before parsing.
    static func rewriteOptions(_ options: [String]) -> [String]
}

extension CommandTaking {
    static func rewriteOptions(_ options: [String]) -> [String] { options }

    /// The command to launch (empty: none; -a, -C, -p or -t say what to count).
    var workload: [String] { command }
}

extension Stat: CommandTaking {}
extension Record: CommandTaking {}

/// gate record, check and compare: the command is their measurement options' own.
protocol GateCommandTaking: CommandTaking {
    var m: Gate.Measurement { get set }
}

extension GateCommandTaking {
    static var valueOptions: Set<String> { CommandLineSplit.valueOptions(of: Self.self) }
    var command: [String] {
        get { m.command }
        set { m.command = newValue }
    }
}

extension Gate.Record: GateCommandTaking {}
extension Gate.Check: GateCommandTaking {}
extension Gate.Compare: GateCommandTaking {}
