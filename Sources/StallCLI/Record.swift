import ArgumentParser
import StallCore
import StallLinux
#if canImport(Glibc)
import Glibc
#endif

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample a command, processes or the whole system into a perf.data file that perf and stallstat both read.",
        discussion: """
        stallstat record -g -- ./app                          cpu-clock (cycles where there is a PMU), 4000 Hz, call chains
        stallstat record -e raw-stall-backend-mem -c 10000 -- ./app   find the code that waits on memory
        stallstat record -d --data-page-size -- ./app         data addresses and the page size backing them
        """)

    @Option(name: [.customShort("e"), .customLong("event")], parsing: .singleValue, help: "Events to sample (comma lists; default cycles, or cpu-clock without a PMU).")
    var events: [String] = []

    @Option(name: [.customShort("F"), .customLong("freq")], help: "Samples per second per event (default 4000).")
    var frequency: UInt64?

    @Option(name: [.customShort("c"), .customLong("count")], help: "Sample every N events instead of a frequency.")
    var period: UInt64?

    @Flag(name: .customShort("g"), help: "Record call chains (frame pointers; --call-graph dwarf for programs built without them).")
    var framePointerChains = false

    @Option(name: .customLong("call-graph"), help: "Call chains: fp (frame pointers, as -g) or dwarf[,SIZE] (copies SIZE bytes of user stack per sample, default 8192, unwound by report).")
    var callGraphText: String?

    /// -g and --call-graph as perf combines them: --call-graph implies -g.
    var callGraph: CallGraphMode? {
        get throws {
            if let t = callGraphText {
                do { return try CallGraphMode.parse(t) } catch let e as CallGraphMode.ParseError { throw ValidationError(e.description) }
            }
            return framePointerChains ? .framePointers : nil
        }
    }

    @OptionGroup var target: TargetOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output file (default perf.data).")
    var output = "perf.data"

    @Flag(name: [.customShort("d"), .customLong("data")], help: "Record data addresses.")
    var dataAddresses = false

    @Flag(name: .customLong("data-page-size"), help: "Record the page size backing each data address (PERF_SAMPLE_DATA_PAGE_SIZE).")
    var dataPageSize = false

    @Flag(name: .customLong("code-page-size"), help: "Record the page size backing each sampled instruction.")
    var codePageSize = false

    @Option(name: [.customShort("m"), .customLong("mmap-pages")], help: "Ring buffer data pages per CPU, a power of two (default 256).")
    var mmapPages = 256

    @Argument(parsing: .postTerminator, help: "Command to run (options come first; the command starts after -- or at the first word that is not an option).")
    var command: [String] = []

    /// Every spelling of the options that take a value, for splitting off the command
    /// (checked by a test against ArgumentParser's description of `Record`).
    static let valueOptions: Set<String> = [
        "--call-graph", "--count", "--cpu", "--duration", "--event", "--freq", "--mmap-pages", "--output", "--pid", "--tid",
        "-C", "-F", "-c", "-e", "-m", "-o", "-p", "-t",
    ]

    func validate() throws {
        if frequency != nil && period != nil { throw ValidationError("choose one of -F and -c") }
        if let f = frequency, f == 0 { throw ValidationError("-F must be positive") }
        if let c = period, c == 0 { throw ValidationError("-c must be positive") }
        if mmapPages < 1 || mmapPages & (mmapPages - 1) != 0 { throw ValidationError("-m must be a power of two") }
        _ = try callGraph
        if workload.isEmpty && !target.allCPUs && target.cpuList == nil && target.pids == nil && target.tids == nil && target.durationText == nil {
            throw ValidationError("say what to record: a command after --, -p, -t, or -a with --duration")
        }
    }

    func run() throws {
        MachineFacts.blockStopSignals()
        let pmus = SysfsPMUs()
        let resolver = EventResolver(pmus: pmus)
        var names = events.flatMap { (try? EventListParser.parse($0))?.flatMap(\.members) ?? [$0] }
        if names.isEmpty { names = [pmus.hasHardwarePMU ? "cycles" : "cpu-clock"] }
        var resolved: [ResolvedEvent] = []
        for n in names {
            do {
                let e = try resolver.resolve(n)
                guard case .perf = e.backend else { throw ValidationError("\(n) is read from /proc and cannot be sampled") }
                resolved.append(e)
            } catch let e as EventResolver.Failure { throw ValidationError(e.description) }
        }
        let max = SystemFiles.readTrimmed("/proc/sys/kernel/perf_event_max_sample_rate").flatMap { UInt64($0) }
        var hz = frequency ?? (period == nil ? 4000 : nil)
        if let h = hz, let max, h > max {
            StandardError.write("stallstat: -F \(h) is above kernel.perf_event_max_sample_rate (\(max)); using \(max)")
            hz = max
        }
        let scope = try target.scope(workload: workload)
        let chains = try callGraph
        // As perf: dwarf mode samples data addresses too, which records the data mappings an unwinder reads.
        var dwarf = false
        if case .dwarf? = chains { dwarf = true }
        var plan = RecordPlan(events: resolved, scope: scope, command: workload, frequency: hz, period: period, callchains: chains != nil,
                              dataAddresses: dataAddresses || dwarf, dataPageSize: dataPageSize, codePageSize: codePageSize,
                              durationSeconds: target.durationSeconds, output: output, ringPages: mmapPages, stallstatArguments: CommandLine.arguments)
        plan.toolVersion = "stallstat " + stallstatVersion
        if case .dwarf(let bytes)? = chains { plan.userStackBytes = bytes }
        let outcome: RecordOutcome
        do {
            outcome = try Recorder(plan: plan, hasHardwarePMU: pmus.hasHardwarePMU, paranoid: MachineFacts.perfEventParanoid()).run()
        } catch let e as RecordError {
            throw CLIError(message: "\(e)", exitCode: ExitCodes.of(e))
        }
        for f in outcome.failures { StandardError.write("stallstat: \(f.message)") }
        for w in outcome.warnings { StandardError.write("stallstat: warning: \(w)") }
        if dataPageSize {
            StandardError.write("stallstat: data page sizes need a sampling event with data addresses (precise memory events on a PMU); with software events the kernel records no address and the size reads N/A")
        }
        var summary = "stallstat: wrote \(output): \(outcome.samples) samples, " + cFormat("%.1f MB", Double(outcome.bytes) / 1e6) + cFormat(", %.2f s", outcome.elapsedSeconds)
        if outcome.lost > 0 { summary += "; the kernel LOST \(outcome.lost) samples (raise -m or lower -F)" } else { summary += "; 0 lost" }
        if outcome.throttled > 0 { summary += "; throttled \(outcome.throttled) times (kernel.perf_event_max_sample_rate)" }
        StandardError.write(summary)
        if let w = outcome.writeError {
            throw CLIError(message: "\(w); the file holds the \(outcome.bytes) bytes of samples written before it and stays readable", exitCode: ExitCodes.targetError)
        }
        if let sig = outcome.interruptedBy { throw ExitCode(128 + sig) }
        if let code = outcome.commandExitCode, code != 0 { throw ExitCode(code) }
    }
}
