import ArgumentParser
import StallCore
import StallLinux

/// What to count or sample, shared by `stat` and `record`: -a, -C, -p, -t, --duration.
/// perf's `struct target`; `scope(workload:)` turns it into the engine's scope.
struct TargetOptions: ParsableArguments {
    @Flag(name: [.customShort("a"), .customLong("all-cpus")], help: "Every task on every CPU.")
    var allCPUs = false

    @Option(name: [.customShort("C"), .customLong("cpu")], parsing: .unconditional, help: "CPUs (e.g. 0-3,6); implies -a.")
    var cpuList: String?

    @Option(name: [.customShort("p"), .customLong("pid")], parsing: .unconditional, help: "Existing process ids (comma list); all their threads.")
    var pids: String?

    @Option(name: [.customShort("t"), .customLong("tid")], parsing: .unconditional, help: "Existing thread ids (comma list).")
    var tids: String?

    @Option(name: .customLong("duration"), parsing: .unconditional, help: "Stop after this many seconds (a launched command is sent SIGTERM).")
    var durationText: String?

    /// The longest run --duration and --timeout accept: 10 years.
    static let maxSeconds = 315_360_000.0

    static let duration = DecimalOption(name: "--duration", range: 0.001...maxSeconds, unit: "seconds")
    var durationSeconds: Double? { TargetOptions.duration.value(durationText) }

    func validate() throws {
        try TargetOptions.duration.check(durationText)
        if pids != nil && tids != nil { throw ValidationError("choose one of -p and -t") }
        if (pids != nil || tids != nil) && (allCPUs || cpuList != nil) {
            throw ValidationError("-p/-t count those tasks on any CPU; they cannot be combined with -a or -C")
        }
        if let p = pids { _ = try TargetOptions.ids(p, "-p/--pid") }
        if let t = tids { _ = try TargetOptions.ids(t, "-t/--tid") }
        if let c = cpuList {
            do { _ = try CPUList.parse(c) } catch let e as CPUList.ParseError { throw ValidationError(e.description) }
        }
    }

    /// Whether the run counts whole CPUs (-a, -C, or nothing else named).
    func isSystemWide(workload: [String]) -> Bool {
        allCPUs || cpuList != nil || (pids == nil && tids == nil && workload.isEmpty)
    }

    static func ids(_ text: String, _ option: String) throws -> [Int32] {
        let list = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
        let parsed = list.compactMap { Int32($0) }.filter { $0 > 0 }
        guard !list.isEmpty, parsed.count == list.count else {
            throw ValidationError("\(option) takes positive ids separated by commas (got '\(text)')")
        }
        return parsed
    }

    /// -C, -p (expanded to threads), -t, -a, else the command, else the whole system.
    func scope(workload: [String]) throws -> StatPlan.Scope {
        if let cpuList {
            do { return .systemWide(cpus: try CPUList.parse(cpuList)) } catch let e as CPUList.ParseError { throw ValidationError(e.description) }
        }
        if let pids {
            let list = try TargetOptions.ids(pids, "-p/--pid")
            do { return .threads(try Workload.threads(ofProcesses: list)) } catch {
                throw CLIError.target("\(error)")
            }
        }
        if let tids { return .threads(try TargetOptions.ids(tids, "-t/--tid")) }
        if allCPUs || workload.isEmpty { return .systemWide(cpus: MachineFacts.onlineCPUs()) }
        return .command
    }
}

/// An error the command line reports with one stderr line and a documented exit code.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32

    static func target(_ message: String) -> CLIError { CLIError(message: message, exitCode: ExitCodes.targetError) }
    static func nothingCounted(_ message: String) -> CLIError { CLIError(message: message, exitCode: ExitCodes.nothingCounted) }

    var description: String { message }
}
