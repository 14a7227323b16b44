import ArgumentParser
import StallCore
import StallLinux

/// Options shared by the commands that read EventTables offline.
struct TableOptions: ParsableArguments {
    @Option(name: .customLong("cpu"), help: "Core model to use instead of the detected one (e.g. cortex-a520, neoverse-v2, skylake, zen4).")
    var cpuModel: String?

    @Option(name: .customLong("event-tables"), help: "Load EventTables from DIR (default: $STALLSTAT_EVENT_TABLES, next to the binary, or embedded).")
    var eventTables: String?

    func resolver() -> EventResolver {
        let r = EventResolver(tablesDirectory: eventTables, cpuModel: cpuModel)
        r.allowForeignPMUs = true
        return r
    }

    /// Table problems are reported on stderr, never fatal.
    func reportDiagnostics(_ tables: EventTableSet) {
        for d in tables.diagnostics { StandardError.write("stallstat: event table \(tables.origin)/\(d)") }
    }
}

struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the perf_event_attr each event name resolves to, and where it came from.",
        discussion: "One line per event: NAME type=N config=0x... config1=0x... config2=0x... source. On cores that differ per CPU, one line per CPU set.")

    @OptionGroup var tableOptions: TableOptions

    @Argument(help: "Event names.")
    var events: [String]

    func run() throws {
        let resolver = tableOptions.resolver()
        var failed = false
        for name in events {
            do {
                let e = try resolver.resolve(name)
                if tableOptions.cpuModel != nil || e.source.label.hasPrefix("table") { tableOptions.reportDiagnostics(resolver.tables) }
                StandardOutput.write(EncodeFormatter.lines(for: e).joined(separator: "\n") + "\n")
            } catch {
                StandardError.write("stallstat: \(error)")
                failed = true
            }
        }
        if failed { throw ExitCode(ExitCodes.usage) }
    }
}

