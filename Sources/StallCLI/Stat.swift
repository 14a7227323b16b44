import ArgumentParser
import StallCore
import StallLinux
#if canImport(Glibc)
import Glibc
#endif

struct Stat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count events for a command, processes, or the whole system.",
        discussion: """
        Examples:
          stallstat -a --duration 20                  default stall set, system-wide, 20 s
          stallstat stat -e '{cycles,instructions}' -- ./app
          stallstat stat -x, -I 1000 -a -e task-clock,page-faults --duration 10
        Exit status: 0 when at least one event counted (or the workload's own non-zero
        status), 2 target error, 3 nothing could be counted, 64 usage error,
        126/127 the command could not be run, 128+N interrupted by signal N.
        """)

    @Option(name: [.customShort("e"), .customLong("event")], parsing: .singleValue,
            help: "Event(s) to count: comma lists, {a,b} groups, perf/simpleperf/libpfm4 names, rNNNN, pmu/terms/, subsys:tracepoint, pressure:memory-some, vmstat:NAME.")
    var events: [String] = []

    @Flag(name: [.customShort("a"), .customLong("all-cpus")], help: "Count every task on every CPU.")
    var allCPUs = false

    @Option(name: [.customShort("C"), .customLong("cpu")], help: "CPUs to count on (e.g. 0-3,6); implies -a.")
    var cpuList: String?

    @Option(name: [.customShort("p"), .customLong("pid")], help: "Existing process ids (comma list); all their threads are counted.")
    var pids: String?

    @Option(name: [.customShort("t"), .customLong("tid")], help: "Existing thread ids (comma list).")
    var tids: String?

    @Flag(name: [.customShort("A"), .customLong("per-cpu")], help: "With -a/-C: one row per CPU instead of the sum.")
    var perCPU = false

    @Option(name: .customLong("duration"), help: "Stop after this many seconds (a launched command is sent SIGTERM).")
    var durationSeconds: Double?

    @Option(name: [.customShort("I"), .customLong("interval")], help: "Print deltas every N milliseconds (>= 10).")
    var intervalMilliseconds: Int?

    @Option(name: [.customShort("r"), .customLong("repeat")], help: "Run the command N times; print means and ( +- SEM% ).")
    var repeatCount: Int = 1

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write results to FILE instead of standard output.")
    var outputFile: String?

    @Option(name: [.customShort("x", allowingJoined: true), .customLong("field-separator")],
            help: "perf stat -x layout with this separator.")
    var fieldSeparator: String?

    @Flag(name: .customLong("csv"), help: "Same as -x, (perf's CSV layout).")
    var csv = false

    @Flag(name: [.customShort("j"), .customLong("json")], help: "perf stat -j layout: one JSON object per line.")
    var json = false

    @Flag(name: .customLong("no-inherit"), help: "Do not count children the workload forks.")
    var noInherit = false

    @Flag(name: .customLong("frag"), help: "With -I: take a memory snapshot every interval and correlate stalls with fragmentation (default with the default stall set and -I).")
    var frag = false

    @Option(name: .customLong("plot"), help: "With -I: draw the stall rates and fragmentation measures over time into FILE.svg.")
    var plotFile: String?

    @Flag(name: .customLong("tree"), help: "Print the stall tree after the counts (default when stall events were counted; text output).")
    var tree = false

    @Flag(name: .customLong("no-multiplex"), help: "Run the command once per group of events that fits the PMU, instead of multiplexing.")
    var noMultiplex = false

    @Option(name: .customLong("pmu-counters"), help: "Programmable counters the PMU has (default: libpfm4's figure for the detected PMU, else 6).")
    var pmuCounters: Int?

    @Option(name: .customLong("cpu-model"), help: "Use this core's EventTables instead of the detected one (e.g. cortex-a520, zen4).")
    var cpuModel: String?

    @Option(name: .customLong("event-tables"), help: "Load EventTables from DIR (default: $STALLSTAT_EVENT_TABLES, next to the binary, or embedded).")
    var eventTables: String?

    @Argument(parsing: .captureForPassthrough, help: "Command to run (counting starts at its exec).")
    var command: [String] = []

    func validate() throws {
        if let i = intervalMilliseconds, i < 10 { throw ValidationError("-I/--interval must be at least 10 ms (got \(i))") }
        if let d = durationSeconds, !(d > 0) { throw ValidationError("--duration must be a positive number of seconds") }
        if repeatCount < 1 { throw ValidationError("-r/--repeat must be at least 1") }
        if repeatCount > 1 && workload.isEmpty { throw ValidationError("-r/--repeat needs a command to run") }
        if repeatCount > 1 && intervalMilliseconds != nil { throw ValidationError("-r and -I cannot be combined") }
        if json && (fieldSeparator != nil || csv) { throw ValidationError("choose one of -j/--json and -x/--csv") }
        if pids != nil && tids != nil { throw ValidationError("choose one of -p and -t") }
        if (pids != nil || tids != nil) && (allCPUs || cpuList != nil) {
            throw ValidationError("-p/-t count those tasks on any CPU; they cannot be combined with -a or -C")
        }
        if perCPU && !(allCPUs || cpuList != nil || (pids == nil && tids == nil && workload.isEmpty)) {
            throw ValidationError("--per-cpu needs system-wide counting (-a or -C)")
        }
        if let f = fieldSeparator, f.isEmpty { throw ValidationError("-x needs a separator") }
        if noMultiplex && workload.isEmpty { throw ValidationError("--no-multiplex re-runs the workload once per group: it needs a command") }
        if noMultiplex && intervalMilliseconds != nil { throw ValidationError("--no-multiplex and -I cannot be combined") }
        if let n = pmuCounters, n < 1 { throw ValidationError("--pmu-counters must be at least 1") }
        if (frag || plotFile != nil) && intervalMilliseconds == nil { throw ValidationError("--frag and --plot work per interval: add -I MS") }
    }

    var workload: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

    enum OutputFormat { case text, csv(String), json }
    var format: OutputFormat {
        if json { return .json }
        if let f = fieldSeparator { return .csv(f) }
        if csv { return .csv(",") }
        return .text
    }

    func run() throws {
        MachineFacts.blockStopSignals()
        let pmus = SysfsPMUs()
        let resolver = EventResolver(pmus: pmus, tablesDirectory: eventTables, cpuModel: cpuModel)
        try refuseForeignModel(resolver)
        var (resolved, groups) = try resolveEvents(resolver: resolver, hasHardwarePMU: pmus.hasHardwarePMU)
        let correlate = intervalMilliseconds != nil && (frag || plotFile != nil || events.isEmpty)
        if correlate { addFragmentationEvents(&resolved, &groups, resolver: resolver) }

        let scope = try targetScope(cpuList: cpuList, pids: pids, tids: tids, allCPUs: allCPUs, workload: workload)

        let kernelGroups = CounterGrouping.kernelGroups(events: resolved, requested: groups)
        var runGroups = [kernelGroups]
        if noMultiplex {
            runGroups = RunPartitioner.runs(groups: kernelGroups, hardwareCount: { g in g.filter { resolved[$0].needsHardwarePMU }.count },
                                            budget: counterBudget)
        }
        let plan = StatPlan(events: resolved, groups: kernelGroups, scope: scope, command: workload, perCPU: perCPU,
                            durationSeconds: durationSeconds, intervalMilliseconds: intervalMilliseconds,
                            inherit: !noInherit)
        let runner = StatRunner(plan: plan, hasHardwarePMU: pmus.hasHardwarePMU, paranoid: MachineFacts.perfEventParanoid())
        let sink = try OutputSink(path: outputFile)
        let intervalPrinter = IntervalPrinter(format: format, events: resolved, sink: sink)
        let snapshotReader = MemorySnapshotReader(detailed: false)
        let baselineSnapshot = correlate ? try? snapshotReader.read() : nil
        var intervalWindows: [StatWindow] = []
        var intervalSnapshots: [MemorySnapshot] = []
        var hugePageShares: [Double] = []
        let attachedPID = pids.flatMap { $0.split(separator: ",").first.flatMap { Int32($0.trimmingWhitespace()) } }
        if correlate {
            intervalPrinter.afterEach = { [runner] window in
                if let s = try? snapshotReader.read() {
                    intervalWindows.append(window)
                    intervalSnapshots.append(s)
                    // TLB reach of the workload: how much of its memory huge pages map.
                    let pid = runner.childPID ?? attachedPID
                    hugePageShares.append(pid.flatMap { MemorySnapshotReader.smapsRollup(pid: $0)?.hugePageShareOfAnonymous } ?? 0)
                }
            }
        }

        var summaries: [StatWindow] = []
        var last: StatOutcome? = nil
        var reportedFailures = false
        for run in 0..<repeatCount {
            var outcome: StatOutcome
            do {
                if runGroups.count > 1 {
                    outcome = try runOncePerGroup(plan: plan, runGroups: runGroups, hasHardwarePMU: pmus.hasHardwarePMU)
                } else {
                    outcome = try runner.run { window in intervalPrinter.print(window) }
                }
            } catch let e as StatRunError {
                StandardError.write("stallstat: \(e)")
                if summaries.isEmpty {
                    switch e {
                    case .nothingOpened: throw ExitCode(ExitCodes.nothingCounted)
                    case .noSuchProcess: throw ExitCode(ExitCodes.targetError)
                    case .child(let f): throw ExitCode(f.exitCode)
                    }
                }
                break
            }
            if !reportedFailures { reportFailures(outcome.failures); reportedFailures = true }
            summaries.append(outcome.summary)
            last = outcome
            if outcome.interruptedBy != nil {
                if repeatCount > 1 { StandardError.write("stallstat: interrupted during run \(run + 1) of \(repeatCount); showing the runs that completed") }
                break
            }
        }
        guard let last else { throw ExitCode(ExitCodes.nothingCounted) }
        var summary = last.summary
        let completed = last.interruptedBy != nil && summaries.count > 1 ? Array(summaries.dropLast()) : summaries
        if repeatCount > 1, let combined = RepeatAggregator.combine(completed) { summary = combined }

        if let sig = last.interruptedBy {
            StandardError.write("stallstat: stopped by \(signalName(sig)) after \(cFormat("%.3f", last.elapsedSeconds)) s; printing what was counted so far")
        }
        if last.targetsExited { StandardError.write("stallstat: the attached process(es) exited; counting stopped") }
        warnAboutMultiplexing(summary)

        if intervalMilliseconds == nil {
            switch format {
            case .text:
                sink.write(SimpleperfTextWriter().render([summary], totalSeconds: last.elapsedSeconds,
                                                         repeats: completed.count))
            case .csv(let sep):
                sink.write(PerfCSVWriter(separator: sep).lines(for: summary).map { $0 + "\n" }.joined())
            case .json:
                sink.write(PerfJSONWriter().lines(for: summary).map { $0 + "\n" }.joined())
            }
        } else if case .text = format {
            sink.write("\n" + SimpleperfTextWriter().render([summary], totalSeconds: last.elapsedSeconds))
        }

        if case .text = format, tree || (events.isEmpty && pmus.hasHardwarePMU) || summary.results.contains(where: { $0.needsHardwarePMU && $0.status == .counted }) {
            sink.write(stallTree(summary, resolver: resolver, pmus: pmus))
        } else if tree {
            StandardError.write("stallstat: --tree is printed with the text output; save the -j output and run `stallstat analyze` on it")
        }
        if correlate {
            let hasWorkload = !workload.isEmpty || attachedPID != nil
            let c = FragmentationCorrelation(windows: intervalWindows, snapshots: intervalSnapshots, baseline: baselineSnapshot,
                                             hugePageShares: hasWorkload ? hugePageShares : nil)
            if case .text = format { sink.write(c.text()) } else { StandardError.write(c.text()) }
            if let plotFile {
                do {
                    try SystemFiles.writeText(c.plot(title: "stallstat stat -I \(intervalMilliseconds!) " + (workload.isEmpty ? "-a" : workload.joined(separator: " "))), to: plotFile)
                    StandardError.write("stallstat: wrote \(plotFile) (\(c.timestamps.count) intervals, \(c.stallSeries.count + c.fragmentationSeries.count) panels)")
                } catch {
                    StandardError.write("stallstat: cannot write \(plotFile): \(error)")
                }
            }
        }
        if runGroups.count > 1 { StandardError.write("stallstat: --no-multiplex: measured in \(runGroups.count) runs of the command, each group of events counted alone") }

        if !summary.results.contains(where: { $0.status == .counted }) {
            StandardError.write("stallstat: no event was counted")
            throw ExitCode(ExitCodes.nothingCounted)
        }
        if let sig = last.interruptedBy { throw ExitCode(128 + sig) }
        if let code = last.commandExitCode, code != 0 {
            StandardError.write("stallstat: the command '\(workload.joined(separator: " "))' exited with status \(code)")
            throw ExitCode(code)
        }
    }

    /// `--frag`: the compaction, extfrag and direct-reclaim tracepoints and the kernel
    /// stall signals join the counted events (a tracepoint missing here is left out).
    func addFragmentationEvents(_ resolved: inout [ResolvedEvent], _ groups: inout [[Int]], resolver: EventResolver) {
        let wanted = ["compaction:mm_compaction_begin", "compaction:mm_compaction_end", "kmem:mm_page_alloc_extfrag",
                      "vmscan:mm_vmscan_direct_reclaim_begin"] + KernelSignalKind.defaultSet.map(\.name)
            + ["vmstat:thp_fault_alloc", "page-faults"]
        var skipped: [String] = []
        for name in wanted where !resolved.contains(where: { $0.name == name }) {
            if let e = try? resolver.resolve(name) {
                resolved.append(e)
                groups.append([resolved.count - 1])
            } else {
                skipped.append(name)
            }
        }
        if !skipped.isEmpty { StandardError.write("stallstat: --frag: not available here, left out: \(skipped.joined(separator: ", "))") }
    }

    /// Counters available for one group: --pmu-counters, libpfm4's figure, else 6
    /// (Arm PMUv3 cores commonly have 6 programmable counters besides the cycle counter).
    var counterBudget: Int {
        if let pmuCounters { return pmuCounters }
        if let n = LibPfm.presentPMUs().first(where: { $0.isCore && $0.counters > 0 })?.counters { return n }
        return 6
    }

    /// `--no-multiplex`: one run of the command per set of groups that fits the PMU;
    /// each event's count comes from the run that scheduled it.
    func runOncePerGroup(plan: StatPlan, runGroups: [[[Int]]], hasHardwarePMU: Bool) throws -> StatOutcome {
        var merged: StatOutcome? = nil
        for (k, groups) in runGroups.enumerated() {
            var p = plan
            p.groups = groups
            let outcome: StatOutcome
            do {
                outcome = try StatRunner(plan: p, hasHardwarePMU: hasHardwarePMU, paranoid: MachineFacts.perfEventParanoid()).run { _ in }
            } catch StatRunError.nothingOpened(let failures) where merged != nil {
                // This run's events could not be opened: record why, keep the other runs.
                for f in failures {
                    if let i = merged!.summary.results.firstIndex(where: { $0.name == f.event }) {
                        merged!.summary.results[i].status = .notSupported(reason: f.message)
                    }
                }
                merged!.failures += failures
                continue
            }
            let mine = Set(groups.flatMap { $0 })
            guard var m = merged else { merged = outcome; continue }
            for (i, r) in outcome.summary.results.enumerated() where i < m.summary.results.count {
                let event = plan.events.firstIndex { $0.name == r.name }
                if let event, mine.contains(event) { m.summary.results[i] = r }
            }
            m.elapsedSeconds += outcome.elapsedSeconds
            m.failures += outcome.failures
            if outcome.interruptedBy != nil { m.interruptedBy = outcome.interruptedBy; merged = m; StandardError.write("stallstat: interrupted in run \(k + 1) of \(runGroups.count)"); break }
            if (outcome.commandExitCode ?? 0) != 0 { m.commandExitCode = outcome.commandExitCode }
            merged = m
        }
        return merged!
    }

    /// The stall tree for what was counted, after the counts (text output).
    func stallTree(_ summary: StatWindow, resolver: EventResolver, pmus: SysfsPMUs) -> String {
        let counted = summary.results.filter { $0.status == .counted && $0.cpu == nil }
            .map { NamedCount(name: $0.name, value: $0.value, percentRunning: $0.percentRunning) }
        guard let model = (try? resolver.cpuModels())?.values.first else {
            let why = pmus.hasHardwarePMU ? "EventTables has no entry for this CPU (give --cpu-model)" : "this machine exposes no hardware PMU, so no cycle or stall counts exist"
            return "\nStall tree: not available: \(why).\n"
        }
        let slots = pmus.corePMUs.compactMap(\.slots).first
        let report = StallTreeBuilder(catalog: resolver.tables.catalog(for: model), slots: slots).build(counted)
        return "\n" + StallTreeRenderer(color: outputFile == nil && isatty(1) != 0).text(report)
    }

    /// `--cpu-model` picks tables for counting; a model of another vendor would program
    /// another vendor's event codes into this PMU.
    func refuseForeignModel(_ resolver: EventResolver) throws {
        guard let cpuModel else { return }
        guard let model = resolver.tables.model(named: cpuModel) else {
            throw ValidationError("unknown CPU model '\(cpuModel)'; EventTables knows: \(resolver.tables.cpus.map(\.name).joined(separator: ", "))")
        }
        for id in Set(resolver.topology.identities.values) {
            let vendor: CPUVendor?
            switch id {
            case .arm: vendor = .arm
            case .x86(let v, _, _): vendor = v
            case .unknown: vendor = nil
            }
            if let vendor, vendor != model.vendor {
                throw ValidationError("--cpu-model \(model.name) is a \(model.vendor.rawValue) core but this CPU is \(id); counting would program the wrong events. Use `stallstat encode --cpu \(model.name)` to see encodings offline.")
            }
        }
    }

    /// The events to count and their groups (indices into the event list).
    func resolveEvents(resolver: EventResolver, hasHardwarePMU: Bool) throws -> ([ResolvedEvent], [[Int]]) {
        var requests: [EventGroupRequest] = []
        if events.isEmpty {
            requests = DefaultEvents.requests(hasHardwarePMU: hasHardwarePMU)
            if hasHardwarePMU, let model = try? resolver.cpuModels().values.first {
                // The stall tree's events, one group per metric that fits the PMU.
                let catalog = resolver.tables.catalog(for: model)
                let treeGroups = MetricScheduler.leadersFirst(
                    MetricScheduler.groups(tuples: MetricScheduler.treeTuples(catalog: catalog), budget: counterBudget), catalog: catalog)
                requests.removeAll { $0.isExplicitGroup }
                requests += treeGroups.map { EventGroupRequest(members: $0, isExplicitGroup: true) }
            }
        } else {
            for text in events {
                do { requests += try EventListParser.parse(text) } catch let e as EventListError {
                    throw ValidationError(e.description)
                }
            }
        }
        var resolved: [ResolvedEvent] = []
        var groups: [[Int]] = []
        for request in requests {
            var group: [Int] = []
            for name in request.members {
                do {
                    resolved.append(try resolver.resolve(name))
                } catch let e as EventResolver.Failure {
                    throw ValidationError(e.description)
                } catch let e as EventResolver.ModelError {
                    throw ValidationError(e.description)
                }
                group.append(resolved.count - 1)
            }
            groups.append(group)
        }
        return (resolved, groups)
    }

    /// One stderr line for everything the missing PMU took away, one per other failure.
    func reportFailures(_ failures: [OpenFailure]) {
        let noPMU = failures.filter { $0.cause == .noHardwarePMU }
        if !noPMU.isEmpty {
            StandardError.write("stallstat: " + OpenFailure.noHardwarePMUMessage(events: noPMU.map(\.event)))
        }
        for f in failures where f.cause != .noHardwarePMU { StandardError.write("stallstat: \(f.message)") }
    }

    func warnAboutMultiplexing(_ window: StatWindow) {
        let muxed = window.results.filter(\.isMultiplexed)
        guard !muxed.isEmpty else { return }
        let list = muxed.map { "\($0.name) (\(cFormat("%.2f", $0.percentRunning))%)" }.joined(separator: ", ")
        StandardError.write("stallstat: warning: more events were asked for than the PMU has counters, so these were multiplexed (counted part of the time, scaled by enabled/running): \(list). Count fewer events, or put the ones a ratio needs in one {group}.")
    }
}

func signalName(_ sig: Int32) -> String {
    switch sig {
    case SIGINT: return "SIGINT"
    case SIGTERM: return "SIGTERM"
    case SIGHUP: return "SIGHUP"
    default: return "signal \(sig)"
    }
}

/// The default stall set: the kernel-visible stall signals on every machine, and the
/// hardware counters the stall hierarchy needs where a PMU exists.
enum DefaultEvents {
    static func requests(hasHardwarePMU: Bool) -> [EventGroupRequest] {
        var r: [EventGroupRequest] = ["task-clock", "context-switches", "cpu-migrations", "page-faults", "major-faults"]
            .map { EventGroupRequest(members: [$0], isExplicitGroup: false) }
        // One group, so instructions-per-cycle and stall shares come from one moment. On a
        // machine without a PMU they print <not supported> with one line saying why.
        r.append(EventGroupRequest(members: ["cycles", "instructions", "stalled-cycles-frontend", "stalled-cycles-backend"],
                                   isExplicitGroup: true))
        r += KernelSignalKind.defaultSet.map { EventGroupRequest(members: [$0.name], isExplicitGroup: false) }
        return r
    }
}

/// Where results go: standard output, or -o FILE.
final class OutputSink {
    let path: String?
    init(path: String?) throws {
        self.path = path
        if let path {
            do { try SystemFiles.writeText("", to: path) } catch let e as SystemError {
                throw ValidationError("cannot write -o \(path): \(e)")
            }
        }
    }
    func write(_ text: String) {
        if let path {
            do { try SystemFiles.writeText(text, to: path, append: true) } catch {
                StandardError.write("stallstat: cannot write \(path): \(error)")
            }
        } else {
            StandardOutput.write(text)
        }
    }
}

/// Prints each -I window as it arrives, so a pipe reader sees it at once.
final class IntervalPrinter {
    let format: Stat.OutputFormat
    let sink: OutputSink
    var printedHeader = false
    /// Called after each window is printed (the memory snapshot of `--frag`).
    var afterEach: ((StatWindow) -> Void)? = nil
    let nameWidth: Int

    init(format: Stat.OutputFormat, events: [ResolvedEvent], sink: OutputSink) {
        self.format = format
        self.sink = sink
        nameWidth = max(30, (events.map(\.name.count).max() ?? 0) + 2)
    }

    func print(_ window: StatWindow) {
        switch format {
        case .csv(let sep): sink.write(PerfCSVWriter(separator: sep).lines(for: window).map { $0 + "\n" }.joined())
        case .json: sink.write(PerfJSONWriter().lines(for: window).map { $0 + "\n" }.joined())
        case .text:
            sink.write(SimpleperfTextWriter().intervalRows(window, includeHeader: !printedHeader, nameWidth: nameWidth))
            printedHeader = true
        }
        afterEach?(window)
    }
}
