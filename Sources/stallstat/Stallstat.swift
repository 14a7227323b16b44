import ArgumentParser

struct Stallstat: ParsableCommand {
    static let configuration = CommandConfiguration(
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
