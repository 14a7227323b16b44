import ArgumentParser

public struct Stallstat: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "stallstat",
        abstract: "Find where the CPU pipeline stalls and why, and tie memory stalls to the kernel's memory state.",
        discussion: "With no subcommand, `stat` runs: `stallstat -a --duration 20` counts the default stall set system-wide.",
        version: stallstatVersion,
        subcommands: [Stat.self, List.self, Encode.self, Analyze.self, Frag.self, Gate.self, Record.self, Report.self],
        defaultSubcommand: Stat.self)
}

let stallstatVersion = "0.1.0"

/// Exit codes, documented in the README.
enum ExitCodes {
    static let nothingCounted: Int32 = 3
    static let targetError: Int32 = 2
    static let usage: Int32 = 64
}

import StallCore
import StallLinux

/// Turns the target options shared by `stat` and `record` into a scope:
/// -C, -p (expanded to threads), -t, -a, else the command, else the whole system.
func targetScope(cpuList: String?, pids: String?, tids: String?, allCPUs: Bool, workload: [String]) throws -> StatPlan.Scope {
    func ids(_ text: String, _ option: String) throws -> [Int32] {
        let list = text.split(separator: ",").map { $0.trimmingWhitespace() }
        let parsed = list.compactMap { Int32($0) }.filter { $0 > 0 }
        guard !list.isEmpty, parsed.count == list.count else { throw ValidationError("\(option) takes positive ids separated by commas, got '\(text)'") }
        return parsed
    }
    if let cpuList {
        do { return .systemWide(cpus: try CPUList.parse(cpuList)) } catch let e as CPUList.ParseError { throw ValidationError(e.description) }
    }
    if let pids {
        let list = try ids(pids, "-p")
        do { return .threads(try StatRunner.threads(ofProcesses: list)) } catch {
            StandardError.write("stallstat: \(error)")
            throw ExitCode(ExitCodes.targetError)
        }
    }
    if let tids { return .threads(try ids(tids, "-t")) }
    if allCPUs || workload.isEmpty { return .systemWide(cpus: MachineFacts.onlineCPUs()) }
    return .command
}
