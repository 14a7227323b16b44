import ArgumentParser
import StallCore
import StallLinux
#if canImport(Glibc)
import Glibc
#endif

/// `stallstat stat`: perf stat's options with perf's meaning (README: option table),
/// plus stallstat's own (--frag, --plot, --tree, --no-multiplex, --cpu-model, ...).
struct Stat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count events for a command, processes, or the whole system.",
        discussion: """
        Examples:
          stallstat -a --duration 20                  default stall set, system-wide, 20 s
          stallstat stat -e '{cycles,instructions}' -- ./app
          stallstat stat -a -e page-faults -- sleep 5 system-wide while the command runs
          stallstat stat -x, -I 1000 -a -e task-clock,page-faults --duration 10
        Options come first; the command starts after `--` or at the first word that is not
        an option. -x/-j output goes to standard error, as perf's does (or to -o FILE).
        Exit status: 0 when at least one event counted (or the workload's own non-zero
        status), 1 the output could not be written, 2 target error, 3 nothing could be
        counted, 64 usage error, 126/127 the command could not be run, 128+N interrupted
        by signal N.
        """)

    /// Every spelling of the options that take a value, for splitting off the command.
    /// Written out (deriving it from the help text cost 18% of start-up); a test checks
    /// it equals what ArgumentParser's own description of `Stat` says.
    static let valueOptions: Set<String> = [
        "--cgroup", "--control", "--counters", "--cpu", "--cpu-model", "--cputype", "--delay", "--duration", "--event", "--event-tables",
        "--field-separator", "--filter", "--for-each-cgroup", "--interval", "--interval-count", "--interval-print",
        "--log-fd", "--metrics", "--output", "--per-cache-level", "--pid", "--plot", "--pmu-counters", "--post", "--pre", "--repeat", "--td-level",
        "--tid", "--timeout", "-C", "-D", "-G", "-I", "-M", "-e", "-o", "-p", "-r", "-t", "-x",
    ]

    // MARK: events

    @Option(name: [.customShort("e"), .customLong("event")], parsing: .unconditionalSingleValue,
            help: "Event(s) to count: comma lists, {a,b} groups, perf/simpleperf/libpfm4 names, rNNNN, pmu/terms/, subsys:tracepoint (wildcards: kmem:*), pressure:memory-some, vmstat:NAME.")
    var events: [String] = []

    @Flag(name: [.customShort("d"), .customLong("detailed")], help: "Add cache events: -d L1-dcache and LLC, -dd also L1-icache, dTLB and iTLB, -ddd also L1-dcache prefetches.")
    var detailed: Int

    @Option(name: [.customShort("M"), .customLong("metrics")], parsing: .unconditionalSingleValue,
            help: "Metrics or metric groups of this core's EventTables (comma list; `stallstat list --cpu MODEL` shows them); the stall tree's nodes are metrics.")
    var metrics: [String] = []

    @Flag(name: .customLong("metric-only"), help: "Print only the metrics, not the counts.")
    var metricOnly = false

    @Flag(name: .customLong("metric-no-threshold"), help: "Accepted for perf 6.12 compatibility: stallstat adds no threshold events to a metric.")
    var metricNoThreshold = false

    @Flag(name: .customLong("metric-no-group"), help: "Do not group each metric's events (more multiplexing, fewer counters at once).")
    var metricNoGroup = false

    @Flag(name: .customLong("metric-no-merge"), help: "Do not share events between metrics: each metric counts its own.")
    var metricNoMerge = false

    @Flag(name: .customLong("topdown"), help: "The stall tree (top-down) of this core, to --td-level.")
    var topdown = false

    @Option(name: .customLong("td-level"), parsing: .unconditional, help: "Top-down levels to print (0: all).")
    var topdownLevelText: String?

    @Flag(name: [.customShort("g"), .customLong("group")], help: "Put all -e events into one group.")
    var groupAll = false

    @Flag(name: .customLong("all-user"), help: "Count every event in user space only (:u).")
    var allUser = false

    @Flag(name: .customLong("all-kernel"), help: "Count every event in kernel space only (:k).")
    var allKernel = false

    @Option(name: .customLong("filter"), parsing: .unconditionalSingleValue, help: "Tracepoint filter for the last tracepoint given before it (perf's syntax: 'order > 3').")
    var filters: [String] = []

    @Option(name: [.customShort("G"), .customLong("cgroup")], parsing: .unconditionalSingleValue,
            help: "Count the -e events, in order, only in these cgroups (comma list; '' for none). Needs system-wide counting.")
    var cgroups: [String] = []

    @Option(name: .customLong("for-each-cgroup"), parsing: .unconditional, help: "Count every event once per cgroup in this comma list.")
    var forEachCgroup: String?

    @Flag(name: [.customShort("n"), .customLong("null")], help: "Null run: count nothing, time the command.")
    var nullRun = false

    // MARK: target

    @OptionGroup var target: TargetOptions

    @Flag(name: [.customShort("i"), .customLong("no-inherit")], help: "Do not count children the workload forks.")
    var noInherit = false

    @Option(name: .customLong("timeout"), parsing: .unconditional, help: "perf's --duration in milliseconds: stop (and SIGTERM the command) after N ms.")
    var timeoutText: String?

    @Option(name: [.customShort("D"), .customLong("delay")], parsing: .unconditional, help: "Start counting N ms after the command starts (or after the start).")
    var delayText: String?

    @Option(name: [.customShort("r"), .customLong("repeat")], parsing: .unconditional, help: "Run the command N times; print means and ( +- SEM% ). 0: until interrupted.")
    var repeatText: String?

    @Option(name: .customLong("pre"), help: "Shell command to run before each run of the command.")
    var preCommand: String?

    @Option(name: .customLong("post"), help: "Shell command to run after each run of the command.")
    var postCommand: String?

    @Flag(name: [.customShort("S"), .customLong("sync")], help: "Call sync() before each run.")
    var syncFirst = false

    // MARK: aggregation

    @Flag(name: [.customShort("A"), .customLong("no-aggr"), .customLong("per-cpu")], help: "With -a/-C: one row per CPU instead of the sum.")
    var perCPU = false

    @Flag(name: .customLong("per-socket"), help: "One row per processor socket.")
    var perSocket = false

    @Flag(name: .customLong("per-die"), help: "One row per processor die.")
    var perDie = false

    @Flag(name: .customLong("per-cluster"), help: "One row per CPU cluster (topology/cluster_id), as perf 6.12.")
    var perCluster = false

    @Flag(name: .customLong("per-cache"), help: "One row per cache instance of the highest level; --per-cache=L2 for another level (L1-L4), as perf 6.12.")
    var perCache = false

    /// `--per-cache=Ln`, rewritten by `rewriteOptions` (ArgumentParser has no optional values).
    @Option(name: .customLong("per-cache-level"), help: .hidden)
    var perCacheLevelText: String?

    @Flag(name: .customLong("per-core"), help: "One row per physical core.")
    var perCore = false

    @Flag(name: .customLong("per-node"), help: "One row per NUMA node.")
    var perNode = false

    @Flag(name: .customLong("per-thread"), help: "One row per thread: of -p/-t, or of every thread with -a.")
    var perThread = false

    @Flag(name: .customLong("no-merge"), help: "Events that open on several PMUs (big.LITTLE clusters) get one row per PMU.")
    var noMerge = false

    @Flag(name: .customLong("scale"), inversion: .prefixedNo, help: "Scale counts by enabled/running time when multiplexed (--no-scale: as read).")
    var scale = true

    // MARK: intervals

    @Option(name: [.customShort("I"), .customLong("interval"), .customLong("interval-print")], parsing: .unconditional,
            help: "Print deltas every N milliseconds (>= 10).")
    var intervalText: String?

    @Option(name: .customLong("interval-count"), parsing: .unconditional, help: "With -I: stop after N intervals.")
    var intervalCountText: String?

    @Flag(name: .customLong("interval-clear"), help: "With -I: clear the screen before each interval.")
    var intervalClear = false

    @Flag(name: .customLong("summary"), help: "With -I: also print the whole run's counts at the end (CSV/JSON; text always does).")
    var printSummary = false

    @Flag(name: .customLong("no-csv-summary"), help: "With --summary -x: no 'summary' column in the summary lines.")
    var noCSVSummary = false

    // MARK: output

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write results to FILE (perf's '# started on' header first).")
    var outputFile: String?

    @Flag(name: .customLong("append"), help: "With -o: append to FILE.")
    var append = false

    @Option(name: .customLong("log-fd"), parsing: .unconditional, help: "Write results to this open file descriptor.")
    var logFDText: String?

    @Option(name: [.customShort("x", allowingJoined: true), .customLong("field-separator")], parsing: .unconditional,
            help: "perf stat -x layout with this separator (to standard error, as perf).")
    var fieldSeparator: String?

    @Flag(name: .customLong("csv"), help: "Same as -x, (perf's CSV layout).")
    var csv = false

    @Flag(name: [.customShort("j"), .customLong("json"), .customLong("json-output")], help: "perf stat -j layout: one JSON object per line (to standard error, as perf).")
    var json = false

    @Flag(name: [.customShort("B"), .customLong("big-num")], help: "Thousands separators in text counts (the default).")
    var bigNum = false

    @Flag(name: .customLong("no-big-num"), help: "No thousands separators.")
    var noBigNum = false

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "Print no counts, notes or warnings (errors still go to stderr).")
    var quiet = false

    @Flag(name: [.customShort("v"), .customLong("verbose")], help: "Say how each event was resolved and encoded, and why one could not be opened.")
    var verbose: Int

    // MARK: stallstat's own

    @Flag(name: .customLong("frag"), help: "With -I: take a memory snapshot every interval and correlate stalls with fragmentation (default with the default stall set and -I).")
    var frag = false

    @Option(name: .customLong("plot"), help: "With -I: draw the stall rates and fragmentation measures over time into FILE.svg.")
    var plotFile: String?

    @Flag(name: .customLong("tree"), help: "Print the stall tree after the counts (default when stall events were counted; text output).")
    var tree = false

    @Flag(name: .customLong("no-multiplex"), help: "Run the command once per group of events that fits the PMU, instead of multiplexing.")
    var noMultiplex = false

    @Option(name: .customLong("counters"), help: ArgumentHelp("Where counts come from: auto (perf_event_open; where it is refused, a launched command's rusage), perf, rusage (no privilege or PMU: CPU time, faults, context switches, max RSS, block I/O), simulated (the command under valgrind's cachegrind: exact instructions, simulated cache misses).", valueName: "SOURCE"))
    var counters: CounterSource = .auto

    @Flag(name: .customLong("show-rusage"), help: "With a launched command and perf counters: also print its rusage rows, from the same run.")
    var showRusage = false

    @Option(name: .customLong("pmu-counters"), parsing: .unconditional, help: "Programmable counters the PMU has (default: libpfm4's figure for the detected PMU, else 6).")
    var pmuCountersText: String?

    @Option(name: .customLong("cpu-model"), help: "Use this core's EventTables instead of the detected one (e.g. cortex-a520, zen4).")
    var cpuModel: String?

    @Option(name: .customLong("event-tables"), help: "Load EventTables from DIR (default: $STALLSTAT_EVENT_TABLES, next to the binary, or embedded).")
    var eventTables: String?

    // MARK: perf options stallstat refuses, each with its reason (README: option table)

    @Flag(name: [.customShort("T"), .customLong("transaction")], help: .hidden) var transaction = false
    @Flag(name: .customLong("smi-cost"), help: .hidden) var smiCost = false
    @Flag(name: .customLong("iostat"), help: .hidden) var iostat = false
    @Option(name: .customLong("control"), help: .hidden) var control: String?
    @Option(name: .customLong("cputype"), help: .hidden) var cputype: String?
    @Flag(name: .customLong("hybrid-merge"), help: "On an Intel hybrid part, one row per event summed over cpu_core and cpu_atom (default: a row per core PMU, as perf).")
    var hybridMerge = false
    @Flag(name: .customLong("percore-show-thread"), help: .hidden) var percoreShowThread = false
    @Flag(name: .customLong("table"), help: .hidden) var table = false
    @Flag(name: [.customShort("b"), .customLong("bpf-counters")], help: .hidden) var bpfCounters = false

    @Argument(parsing: .postTerminator, help: "Command to run (counting starts at its exec).")
    var command: [String] = []

    // MARK: validated values

    static let maxMilliseconds = 315_360_000_000   // 10 years

    /// Each numeric option's name and range, stated once for parsing and validation.
    enum Ranges {
        static let interval = IntegerOption(name: "-I/--interval", range: 10...Stat.maxMilliseconds, meaning: " ms")
        static let intervalCount = IntegerOption(name: "--interval-count", range: 1...Int(Int32.max))
        static let repeatCount = IntegerOption(name: "-r/--repeat", range: 0...1_000_000, meaning: " (0: until interrupted)")
        static let delay = IntegerOption(name: "-D/--delay", range: 0...Stat.maxMilliseconds, meaning: " ms")
        static let pmuCounters = IntegerOption(name: "--pmu-counters", range: 1...64)
        static let topdownLevel = IntegerOption(name: "--td-level", range: 0...8)
        static let logFD = IntegerOption(name: "--log-fd", range: 0...Int(Int32.max))
        static let timeout = IntegerOption(name: "--timeout", range: 10...Stat.maxMilliseconds, meaning: " ms")
    }

    var interval: Int? { Ranges.interval.value(intervalText) }
    var intervalCount: Int? { Ranges.intervalCount.value(intervalCountText) }
    /// 0: repeat until interrupted (perf's "forever").
    var repeatCount: Int { Ranges.repeatCount.value(repeatText) ?? 1 }
    var delay: Int? { Ranges.delay.value(delayText) }
    var pmuCounters: Int? { Ranges.pmuCounters.value(pmuCountersText) }
    var topdownLevel: Int { Ranges.topdownLevel.value(topdownLevelText) ?? 1 }
    var logFD: Int32? { Ranges.logFD.value(logFDText).map { Int32($0) } }
    /// --duration in seconds, or --timeout in ms.
    var durationSeconds: Double? {
        if timeoutText != nil { return Ranges.timeout.value(timeoutText).map { Double($0) / 1000 } }
        return target.durationSeconds
    }

    mutating func validate() throws {
        // Each numeric option's own range (the message names the option and the range).
        if delayText?.trimmingWhitespace() == "-1" {
            throw ValidationError("-D -1 starts with counters disabled for --control to enable; stallstat has no --control: give the delay in ms")
        }
        for (spec, text) in [(Ranges.interval, intervalText), (Ranges.intervalCount, intervalCountText), (Ranges.repeatCount, repeatText),
                             (Ranges.delay, delayText), (Ranges.pmuCounters, pmuCountersText), (Ranges.topdownLevel, topdownLevelText),
                             (Ranges.timeout, timeoutText), (Ranges.logFD, logFDText)] {
            try spec.check(text)
        }
        if let fd = logFD, fcntl(fd, F_GETFD) < 0 { throw ValidationError("--log-fd \(fd) is not an open file descriptor") }

        if let refusal = refusedOption { throw ValidationError(refusal) }
        if showRusage && (workload.isEmpty || target.isSystemWide(workload: workload) || target.pids != nil || target.tids != nil || counters == .rusage || counters == .simulated) {
            throw ValidationError("--show-rusage prints a launched command's rusage next to its perf counters: it needs a command (… -- ./cmd) and perf counters")
        }
        if counters == .rusage || counters == .simulated {
            let perfOnly: [(Bool, String)] = [(intervalText != nil, "-I"), (perCPU || perPlace, "-A/--per-*"),
                                              (perThread, "--per-thread"), (!cgroups.isEmpty || forEachCgroup != nil, "-G"), (topdown, "--topdown"),
                                              (!metrics.isEmpty, "-M"), (detailed > 0, "-d"), (groupAll, "-g"), (noMultiplex, "--no-multiplex"),
                                              (delayText != nil, "-D"), (nullRun, "-n"), (frag || plotFile != nil, "--frag/--plot")]
            if let (_, option) = perfOnly.first(where: { $0.0 }) {
                throw ValidationError("\(option) needs perf_event_open counters; --counters=\(counters.rawValue) counts the command's totals at its exit")
            }
        }
        if events.contains(where: { $0.trimmingWhitespace().isEmpty }) { throw ValidationError("-e needs an event name (got an empty one)") }
        if metrics.contains(where: { $0.trimmingWhitespace().isEmpty }) { throw ValidationError("-M needs a metric or metric group name") }
        if timeoutText != nil && target.durationText != nil { throw ValidationError("choose one of --timeout (ms) and --duration (s)") }
        if repeatCount != 1 && workload.isEmpty { throw ValidationError("-r/--repeat needs a command to run") }
        if intervalCount != nil && interval == nil { throw ValidationError("--interval-count needs -I") }
        if intervalClear && interval == nil { throw ValidationError("--interval-clear needs -I") }
        if json && (fieldSeparator != nil || csv) { throw ValidationError("choose one of -j/--json and -x/--csv") }
        if let f = fieldSeparator, f.isEmpty { throw ValidationError("-x needs a separator") }
        if outputFile != nil && logFDText != nil { throw ValidationError("choose one of -o and --log-fd") }
        if append && outputFile == nil { throw ValidationError("--append needs -o FILE") }
        if bigNum && noBigNum { throw ValidationError("choose one of -B/--big-num and --no-big-num") }
        if allUser && allKernel { throw ValidationError("choose one of --all-user and --all-kernel") }
        if nullRun && (!events.isEmpty || !metrics.isEmpty || topdown || detailed > 0) { throw ValidationError("-n/--null counts nothing: it cannot take events, metrics or -d") }
        if metricOnly && metrics.isEmpty && !topdown { throw ValidationError("--metric-only needs -M or --topdown") }
        if topdownLevelText != nil && !topdown { throw ValidationError("--td-level goes with --topdown") }

        let modes = [perCPU, perSocket, perDie, perCluster, perCache, perCore, perNode, perThread].filter { $0 }.count
        if modes > 1 { throw ValidationError("choose one of -A, --per-socket, --per-die, --per-cluster, --per-cache, --per-core, --per-node and --per-thread") }
        if let text = perCacheLevelText, case .failure(let e) = CPUCache.parseLevel(text) { throw ValidationError(e.message) }
        if perCacheLevelText != nil && !perCache { throw ValidationError("--per-cache-level goes with --per-cache (perf's spelling: --per-cache=L2)") }
        let systemWide = target.isSystemWide(workload: workload)
        if (perCPU || perPlace) && !systemWide {
            throw ValidationError("-A and --per-socket/die/cluster/cache/core/node need system-wide counting (-a or -C)")
        }
        if perThread && target.pids == nil && target.tids == nil && !(systemWide && target.cpuList == nil) {
            throw ValidationError("--per-thread needs -p, -t or -a (perf: only available when monitoring via -p -t -a)")
        }
        if (!cgroups.isEmpty || forEachCgroup != nil) && !systemWide {
            throw ValidationError("-G and --for-each-cgroup count cgroups on whole CPUs: add -a (or -C)")
        }
        if !cgroups.isEmpty && forEachCgroup != nil { throw ValidationError("choose one of -G and --for-each-cgroup") }
        if noMultiplex && workload.isEmpty { throw ValidationError("--no-multiplex re-runs the workload once per group: it needs a command") }
        if noMultiplex && interval != nil { throw ValidationError("--no-multiplex and -I cannot be combined") }
        if (frag || plotFile != nil) && interval == nil { throw ValidationError("--frag and --plot work per interval: add -I MS") }
    }

    /// perf options stallstat does not implement, each with the reason.
    var refusedOption: String? {
        if transaction { return "-T/--transaction counts Intel TSX events (cpu/tx-start/, cpu/el-start/, cpu/cycles-t/); stallstat does not build that set: give them with -e where the PMU has them" }
        if smiCost { return "--smi-cost is not supported: it changes the machine (writes /sys/devices/cpu/freeze_on_smi); count msr/smi/ with -e instead" }
        if iostat { return "--iostat is not supported: it measures Intel uncore I/O stacks, not pipeline stalls" }
        if control != nil { return "--control is not supported: use -D/--delay to start counting later, or -I to see counts over time" }
        if cputype != nil { return "--cputype is not supported: on hybrid parts give the PMU in the event name (cpu_core/cycles/, cpu_atom/cycles/)" }
        if percoreShowThread { return "--percore-show-thread is not supported: use --per-core" }
        if table { return "--table is not supported: -r prints the mean and its ( +- SEM% ); -x/-j with -I give every run's numbers" }
        if bpfCounters { return "-b/--bpf-counters is not supported: stallstat opens counters with perf_event_open only" }
        return nil
    }

    enum OutputFormat { case text, csv(String), json }
    var format: OutputFormat {
        if json { return .json }
        if let f = fieldSeparator { return .csv(f) }
        if csv { return .csv(",") }
        return .text
    }

    /// One of the --per-* modes that group CPUs by where they sit.
    var perPlace: Bool { perSocket || perDie || perCluster || perCache || perCore || perNode }

    /// `--per-cache=Ln`'s level (nil: the highest).
    var perCacheLevel: Int? { perCacheLevelText.flatMap { try? CPUCache.parseLevel($0).get() } }

    /// perf's optional-value option `--per-cache[=Ln]`, as ArgumentParser can take it:
    /// `--per-cache=L2` becomes `--per-cache --per-cache-level L2`.
    static func rewriteOptions(_ options: [String]) -> [String] {
        options.flatMap { o -> [String] in
            guard o.hasPrefix("--per-cache=") else { return [o] }
            return ["--per-cache", "--per-cache-level", String(o.dropFirst("--per-cache=".count))]
        }
    }

    var aggregationKind: AggregateKey.Kind? {
        if perSocket { return .socket }
        if perDie { return .die }
        if perCluster { return .cluster }
        if perCache { return .cache }
        if perCore { return .core }
        if perNode { return .node }
        return nil
    }

    // MARK: run

    /// Phases: resolve the events (StatEventSelection), plan where to count (makePlan),
    /// count with -r's repeats (StatRunner through repeatRuns), write the results
    /// (writeResults), exit as perf would.
    func run() throws {
        MachineFacts.blockStopSignals()
        let source = try CounterSourceChoice.choose(counters, launchesCommand: !workload.isEmpty && !target.isSystemWide(workload: workload)
                                                        && target.pids == nil && target.tids == nil,
                                                    notes: { Notes(quiet: quiet).write($0) })
        if source != .perf { return try runAccounting(source) }
        let pmus = SysfsPMUs()
        let resolver = EventResolver(pmus: pmus, tablesDirectory: eventTables, cpuModel: cpuModel)
        try refuseForeignModel(resolver)
        let selection = try StatEventSelection.build(self, resolver: resolver, pmus: pmus)
        var resolved = selection.events, groups = selection.groups
        let correlate = interval != nil && (frag || plotFile != nil || (events.isEmpty && metrics.isEmpty && !topdown && !nullRun))
        if correlate { addFragmentationEvents(&resolved, &groups, resolver: resolver) }
        if verbose > 0 { describe(resolved) }

        let (plan, runGroups) = try makePlan(events: resolved, groups: groups)
        let runner = StatRunner(plan: plan, hasHardwarePMU: pmus.hasHardwarePMU, paranoid: MachineFacts.perfEventParanoid())

        let sink = try StatOutputSink(format: format, path: outputFile, append: append, logFD: logFD, quiet: quiet)
        let notes = Notes(quiet: quiet)
        for line in ArmPMUNotes.unimplemented(resolved, pmus: pmus) { notes.write(line) }
        let output = makeOutput(events: resolved)
        let intervalPrinter = IntervalPrinter(output: output, sink: sink, clearsScreen: intervalClear)
        var snapshotter: FragmentationSnapshotter? = nil
        if correlate {
            let attachedPID = target.pids.flatMap { $0.split(separator: ",").first.flatMap { Int32($0.trimmingWhitespace()) } }
            let reader = MemorySnapshotReader(detailed: false)
            let s = FragmentationSnapshotter(reader: reader, baseline: try? reader.read(),
                                             tracksHugePages: !workload.isEmpty || attachedPID != nil,
                                             workloadPID: { [runner] in runner.childPID ?? attachedPID })
            intervalPrinter.observers.append(s)
            snapshotter = s
        }

        var reportedFailures = false
        let outcomes = try repeatRuns(notes: notes, interruptedBy: \.interruptedBy) { completedRuns -> StatOutcome? in
            var outcome: StatOutcome
            do {
                if runGroups.count > 1 {
                    outcome = try runOncePerGroup(plan: plan, runGroups: runGroups, hasHardwarePMU: pmus.hasHardwarePMU)
                } else {
                    outcome = try runner.run { window in intervalPrinter.print(window) }
                }
            } catch let e as StatRunError {
                // A later run that fails ends the repeats; the runs made so far are shown.
                if completedRuns == 0 { throw CLIError(message: "\(e)", exitCode: ExitCodes.of(e)) }
                StandardError.write("stallstat: \(e)")
                return nil
            }
            if !reportedFailures { reportFailures(outcome.failures, notes: notes); reportedFailures = true }
            if showRusage, let usage = outcome.commandUsage {
                // The kernel's accounting of the very run the counters measured, side by side.
                outcome.summary.results += RusageMetric.defaultSet.map { $0.result(usage, elapsedNs: outcome.elapsedSeconds * 1e9) }
            }
            return outcome
        }
        guard let last = outcomes.last else { throw ExitCode(ExitCodes.nothingCounted) }
        let (summary, runsShown) = summarize(outcomes.map(\.summary), lastInterruptedBy: last.interruptedBy, elapsedSeconds: last.elapsedSeconds, notes: notes)
        if last.targetsExited { notes.write("the attached process(es) exited; counting stopped") }
        // perf's fallback without the privilege to count the kernel side: said, not silent.
        let narrowed = Set(summary.results.map(\.name)).subtracting(resolved.map(\.name)).filter { $0.hasSuffix(":u") || $0.hasSuffix("/u") }
        if !narrowed.isEmpty {
            let level = MachineFacts.perfEventParanoid().map { "kernel.perf_event_paranoid is \($0)" } ?? "the kernel refused kernel-side counting"
            notes.write("\(level): \(narrowed.sorted().joined(separator: ", ")) count user space only, as perf falls back (the kernel side needs paranoid ≤ 1, CAP_PERFMON or root)")
        }
        warnAboutMultiplexing(summary, notes: notes)

        writeResults(summary, last: last, runsShown: runsShown, selection: selection, resolver: resolver, pmus: pmus,
                     output: output, sink: sink, notes: notes, correlation: snapshotter?.correlation)
        if runGroups.count > 1 { notes.write("--no-multiplex: measured in \(runGroups.count) runs of the command, each group of events counted alone") }
        if let failure = sink.finish() {
            throw CLIError(message: "\(failure)", exitCode: ExitCodes.outputError)
        }

        // Exit 3 only when perf events were asked for and none could be opened: an event
        // that opened but never ran (a sleeping -p target) is <not counted>, as in perf.
        let perfEventsAsked = resolved.contains { $0.procCounter == nil }
        if !nullRun && !resolved.isEmpty && (perfEventsAsked ? !last.perfCountersOpened : !summary.results.contains { $0.status == .counted }) {
            throw CLIError(message: "no event was counted", exitCode: ExitCodes.nothingCounted)
        }
        try exitAsTheCommand(interruptedBy: last.interruptedBy, exitCode: last.commandExitCode, notes: notes)
    }

    /// Phase 2: where and how to count (scope, aggregation, kernel groups; with
    /// --no-multiplex, the runs each group set gets).
    func makePlan(events resolved: [ResolvedEvent], groups: [[Int]]) throws -> (StatPlan, runGroups: [[[Int]]]) {
        var scope = try target.scope(workload: workload)
        var aggregation: Aggregation = perCPU ? .perCPU : .global
        if let kind = aggregationKind, case .systemWide(let cpus) = scope {
            aggregation = .perPlace(kind, places: CPUPlaces.read(cpus: cpus, caches: kind == .cache, cacheLevel: perCacheLevel))
        }
        if perThread {
            let tids: [Int32]
            if case .threads(let t) = scope { tids = t } else { tids = ThreadList.allThreads() }
            scope = .threads(tids)
            aggregation = .perTarget(tids.map { AggregateKey.thread(comm: ThreadList.comm(of: $0), tid: $0) })
        }

        let kernelGroups = CounterGrouping.kernelGroups(events: resolved, requested: groups)
        var runGroups = [kernelGroups]
        if noMultiplex {
            runGroups = RunPartitioner.runs(groups: kernelGroups, hardwareCount: { g in g.filter { resolved[$0].needsHardwarePMU }.count },
                                            budget: counterBudget)
        }
        var plan = StatPlan(events: resolved, groups: kernelGroups, scope: scope, command: workload, aggregation: aggregation,
                            durationSeconds: durationSeconds, intervalMilliseconds: interval, inherit: !noInherit)
        plan.intervalCount = intervalCount
        plan.delayMilliseconds = delay
        plan.scaleForMultiplexing = scale
        plan.recordsCommandUsage = showRusage
        return (plan, runGroups)
    }

    /// Phase 4: the whole run's counts, -M metrics, the stall tree and --frag's
    /// correlation and plot, after the counting.
    func writeResults(_ summary: StatWindow, last: StatOutcome, runsShown: Int, selection: StatEventSelection, resolver: EventResolver,
                      pmus: SysfsPMUs, output: StatOutput, sink: StatOutputSink, notes: Notes, correlation: FragmentationCorrelation?) {
        let metricRows = selection.metrics.isEmpty ? [] : selectedMetricRows(summary, selection: selection, resolver: resolver, pmus: pmus)
        if nullRun {
            if case .text = format { sink.write("\n" + cFormat("Total test time: %f seconds.", last.elapsedSeconds) + "\n") }
        } else if metricOnly {
            sink.write(MetricOnlyWriter(format: format).render(metricRows))
        } else if interval == nil || printSummary || output.summarizesAfterIntervals {
            sink.write(output.summary(summary, totalSeconds: last.elapsedSeconds, repeats: runsShown))
        }
        if !metricRows.isEmpty && !metricOnly { sink.write(MetricOnlyWriter(format: format).section(metricRows)) }

        let wantsTree = tree || topdown || (events.isEmpty && metrics.isEmpty && pmus.hasHardwarePMU)
            || summary.results.contains(where: { $0.needsHardwarePMU && $0.status == .counted })
        if case .text = format, wantsTree, !nullRun, !metricOnly {
            sink.write(stallTree(summary, selection: selection, resolver: resolver, pmus: pmus, maxDepth: topdown && topdownLevel > 0 ? topdownLevel - 1 : nil))
        } else if tree {
            notes.write("--tree is printed with the text output; save the -j output and run `stallstat analyze` on it")
        }
        if let c = correlation {
            if case .text = format { sink.write(c.text()) } else { notes.write(c.text(), prefix: false) }
            if let plotFile {
                do {
                    try SystemFiles.writeText(c.plot(title: "stallstat stat -I \(interval!) " + (workload.isEmpty ? "-a" : workload.joined(separator: " "))), to: plotFile)
                    notes.write("wrote \(plotFile) (\(c.timestamps.count) intervals, \(c.stallSeries.count + c.fragmentationSeries.count) panels)")
                } catch {
                    StandardError.write("stallstat: cannot write \(plotFile): \(error)")
                }
            }
        }
    }

    /// --pre/--post: `sh -c CMD`; a failure ends the run with the hook's status, as perf.
    func runShellHook(_ text: String?, option: String) throws {
        guard let text else { return }
        let child: PausedChild
        do { child = try PausedChild(arguments: ["/bin/sh", "-c", text]) ; try child.release() } catch {
            throw CLIError(message: "\(option): \(error)", exitCode: 127)
        }
        child.waitBlocking()
        if let code = child.exitCode, code != 0 {
            throw CLIError(message: "\(option) command '\(text)' exited with status \(code)", exitCode: code)
        }
    }

    /// -v: how each event was resolved, on stderr.
    func describe(_ events: [ResolvedEvent]) {
        for e in events {
            var line = "stallstat: \(e.name): \(e.source.label)"
            if let a = e.attr {
                line += cFormat(" type=%u config=0x%llx", a.type, a.config)
                if a.config1 != 0 { line += cFormat(" config1=0x%llx", a.config1) }
                if a.config2 != 0 { line += cFormat(" config2=0x%llx", a.config2) }
                if a.excludeUser { line += " exclude_user" }
                if a.excludeKernel { line += " exclude_kernel" }
                if a.excludeHypervisor { line += " exclude_hv" }
            }
            if let c = e.cgroup { line += " cgroup=\(c)" }
            if let f = e.tracepointFilter { line += " filter='\(f)'" }
            StandardError.write(line)
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
        if !skipped.isEmpty && !quiet { StandardError.write("stallstat: --frag: not available here, left out: \(skipped.joined(separator: ", "))") }
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
                let mine = Set(groups.flatMap { $0 })
                for i in merged!.summary.results.indices {
                    guard let event = merged!.summary.results[i].eventIndex, mine.contains(event) else { continue }
                    if let f = failures.first(where: { $0.event == plan.events[event].name }) {
                        merged!.summary.results[i].status = .notSupported(reason: f.message)
                    }
                }
                merged!.failures += failures
                continue
            }
            let mine = Set(groups.flatMap { $0 })
            guard var m = merged else { merged = outcome; continue }
            // A row is its event's by the event's position, not by a name two events may
            // share or a fallback may change (`cycles:u`).
            for (i, r) in outcome.summary.results.enumerated() where i < m.summary.results.count {
                if let event = r.eventIndex, mine.contains(event) { m.summary.results[i] = r }
            }
            m.elapsedSeconds += outcome.elapsedSeconds
            m.failures += outcome.failures
            m.perfCountersOpened = m.perfCountersOpened || outcome.perfCountersOpened
            if outcome.interruptedBy != nil { m.interruptedBy = outcome.interruptedBy; merged = m; StandardError.write("stallstat: interrupted in run \(k + 1) of \(runGroups.count)"); break }
            if (outcome.commandExitCode ?? 0) != 0 { m.commandExitCode = outcome.commandExitCode }
            merged = m
        }
        return merged!
    }

    /// The kernel metrics' #constants for this run, per core model: the machine's topology
    /// from sysfs (`smt_on`, `num_cpus_online`, ..., read once here), the core PMU's slots,
    /// the core's MIDR.
    func kernelMetricConstants(resolver: EventResolver, pmus: SysfsPMUs) -> (CPUModel) -> [String: Double] {
        let machine = CPUPlaces.metricConstants(cpus: resolver.topology.identities.keys.sorted(), systemWide: target.allCPUs || target.cpuList != nil)
        return { model in
            var constants = machine
            if let slots = pmus.corePMUs.compactMap(\.slots).first ?? model.slots { constants["slots"] = Double(slots) }
            if let midr = firstMIDR(resolver, model), midr < 1 << 53 { constants["midr"] = Double(midr) }
            return constants
        }
    }

    /// The MIDR of the first CPU of that model (revision-gated formulas), if Arm.
    func firstMIDR(_ resolver: EventResolver, _ model: CPUModel) -> UInt64? {
        let models = (try? resolver.cpuModels()) ?? [:]
        return resolver.topology.midrs.keys.sorted().first { models[$0]?.name == model.name }.flatMap { resolver.topology.midrs[$0] }
    }

    /// The stall tree for what was counted, after the counts (text output).
    func stallTree(_ summary: StatWindow, selection: StatEventSelection, resolver: EventResolver, pmus: SysfsPMUs, maxDepth: Int? = nil) -> String {
        let counted = summary.results.filter { $0.status == .counted && $0.cpu == nil && $0.aggregate == nil }
            .map { NamedCount(name: $0.name, value: $0.value, percentRunning: $0.percentRunning, kind: $0.kind) }
        let coreTypes = resolver.coreTypes()
        guard let model = coreTypes.first?.model else {
            let why = pmus.hasHardwarePMU ? "EventTables has no entry for this CPU (give --cpu-model)" : "this machine exposes no hardware PMU, so no cycle or stall counts exist"
            return "\nStall tree: not available: \(why).\n"
        }
        let renderer = StallTreeRenderer(color: outputFile == nil && isatty(1) != 0)
        // Only the kernel's top-down trees read these (sysfs and the summary's rows).
        let kernelTrees = !selection.topdownTrees.isEmpty
        let constantsFor = kernelTrees ? kernelMetricConstants(resolver: resolver, pmus: pmus) : { _ in [:] }
        let countedByEvent = kernelTrees ? countedByEventIndex(summary) : [:]
        func report(_ model: CPUModel, _ counts: [NamedCount], pmu: SysfsPMU?) -> StallReport {
            // A core with no tree of stallstat's: the kernel's top-down metrics, arranged.
            guard let (td, keyPrefix) = selection.topdownTrees[model.name] else {
                let slots = pmu?.slots ?? pmus.corePMUs.compactMap(\.slots).first
                return StallTreeBuilder(catalog: resolver.tables.catalog(for: model), slots: slots, midr: firstMIDR(resolver, model)).build(counts)
            }
            let constants = constantsFor(model)
            let duration = summary.elapsedNs / 1e9
            // A threshold reads its parents' metrics too: every tree group's counts.
            let everyCount = kernelMetricCounts(td.metricsToCount.map { keyPrefix + $0.name }, counted: countedByEvent, selection: selection)
            return td.report(cpu: model.name, value: { m in
                let counts = kernelMetricCounts([keyPrefix + m.name], counted: countedByEvent, selection: selection)
                return td.set.evaluate(m, counts: counts, durationSeconds: duration, constants: constants, hasEvent: { counts[$0] != nil })
            }, threshold: { td.thresholdHolds($0, counts: everyCount, durationSeconds: duration, constants: constants) })
        }
        func tree(_ model: CPUModel, _ counts: [NamedCount], pmu: SysfsPMU?) -> String {
            var r = report(model, counts, pmu: pmu)
            if let maxDepth { r.nodes.removeAll { $0.depth > maxDepth } }
            return renderer.text(r)
        }
        // One tree per core type when the counts are per core PMU (hybrid rows, --no-merge).
        let typePMUs = coreTypes.compactMap { t in t.cpus.first.flatMap { resolver.topology.corePMU[$0] } }
        if cpuModel == nil, coreTypes.count > 1, typePMUs.count == coreTypes.count,
           let perPMU = CorePMURows.split(counted, pmus: typePMUs.map(\.name)) {
            return zip(coreTypes, typePMUs).map { t, pmu in
                "\nCore type \(pmu.name) (\(t.model.name), CPUs \(CPUList.format(t.cpus))):" + tree(t.model, perPMU[pmu.name] ?? [], pmu: pmu)
            }.joined()
        }
        var text = "\n" + tree(model, counted, pmu: nil)
        if coreTypes.count > 1 {
            text += "(The counts are merged over core types; the tree reads them as \(model.name)'s. --no-merge gives one tree per core type.)\n"
        }
        return text
    }

    /// -M: each selected metric's value over the summary (a name the tree could not
    /// compute says why).
    func selectedMetricRows(_ summary: StatWindow, selection: StatEventSelection, resolver: EventResolver, pmus: SysfsPMUs) -> [MetricRow] {
        guard let catalog = selection.catalog else { return [] }
        let counted = summary.results.filter { $0.status == .counted && $0.cpu == nil && $0.aggregate == nil }
            .map { NamedCount(name: $0.name, value: $0.value, percentRunning: $0.percentRunning, kind: $0.kind) }
        let slots = pmus.corePMUs.compactMap(\.slots).first
        let report = StallTreeBuilder(catalog: catalog, slots: slots, midr: firstMIDR(resolver, catalog.model)).build(counted)
        let kernelValues = kernelMetricValues(summary, selection: selection, resolver: resolver, pmus: pmus)
        return selection.metrics.map { m in
            if m.isKernelMetric { return kernelValues[m.name] ?? MetricRow(name: m.name, value: nil, unit: "", missing: "not evaluated") }
            if let node = report.node(m.name) {
                return MetricRow(name: m.name, value: 100 * (node.shareOfParent ?? node.shareOfRoot), unit: "%", missing: nil)
            }
            if let info = report.info(m.name) { return MetricRow(name: m.name, value: info.value, unit: info.unit, missing: nil) }
            let why = report.missing.first { $0.name == m.name }?.reason ?? "its events were not counted"
            return MetricRow(name: m.name, value: nil, unit: m.scaleUnit ?? "", missing: why)
        }
    }

    /// The kernel's metrics over the summary: each event request's counted value (summed
    /// over the events it became), the run's duration, the machine's #constants.
    func kernelMetricValues(_ summary: StatWindow, selection: StatEventSelection, resolver: EventResolver, pmus: SysfsPMUs) -> [String: MetricRow] {
        var result: [String: MetricRow] = [:]
        let constantsFor = kernelMetricConstants(resolver: resolver, pmus: pmus)
        let countedByEvent = countedByEventIndex(summary)
        for m in selection.metrics where m.isKernelMetric {
            guard let set = selection.kernelMetricSets[m.name] else { continue }
            let constants = constantsFor(set.catalog.model)
            let unsupported = set.inputs(of: m, constants: constants).unsupported
            let counts = kernelMetricCounts([m.name], counted: countedByEvent, selection: selection)
            switch set.evaluate(m, counts: counts, durationSeconds: summary.elapsedNs / 1e9, constants: constants, hasEvent: { counts[$0] != nil }) {
            case .value(let v):
                let (value, unit) = m.scaled(v)
                result[m.name] = MetricRow(name: m.name, value: value, unit: unit, missing: nil)
            case .missing(let why):
                let reason = unsupported.first.map { "it reads \($0.name): \($0.why)" } ?? why
                result[m.name] = MetricRow(name: m.name, value: nil, unit: "", missing: reason)
            }
        }
        return result
    }

    /// Each selected event's counted total (the summary's rows that are not per CPU or per
    /// place), by event index: what the kernel metrics read.
    func countedByEventIndex(_ summary: StatWindow) -> [Int: Double] {
        var byEvent: [Int: Double] = [:]
        for r in summary.results where r.status == .counted && r.cpu == nil && r.aggregate == nil {
            if let i = r.eventIndex { byEvent[i, default: 0] += r.value }
        }
        return byEvent
    }

    /// The counts kernel metrics are evaluated from: each event request of the metrics the
    /// selection planned under `keys` (the first key's group first), its value summed over the
    /// events (per-PMU rows) it became.
    func kernelMetricCounts(_ keys: [String], counted: [Int: Double], selection: StatEventSelection) -> [String: Double] {
        var counts: [String: Double] = [:]
        for k in keys {
            for (request, indexes) in selection.kernelMetricEvents[k] ?? [:] where counts[request] == nil {
                let values = indexes.compactMap { counted[$0] }
                if !values.isEmpty { counts[request] = values.reduce(0, +) }
            }
        }
        return counts
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
            case .x86(let v, _, _, _): vendor = v
            case .unknown: vendor = nil
            }
            if let vendor, vendor != model.vendor {
                throw ValidationError("--cpu-model \(model.name) is a \(model.vendor.rawValue) core but this CPU is \(id); counting would program the wrong events. Use `stallstat encode --cpu \(model.name)` to see encodings offline.")
            }
        }
    }

    /// One stderr line for everything the missing PMU took away, one per other failure.
    func reportFailures(_ failures: [OpenFailure], notes: Notes) {
        let noPMU = failures.filter { $0.cause == .noHardwarePMU }
        if !noPMU.isEmpty { notes.write(OpenFailure.noHardwarePMUMessage(events: noPMU.map(\.event))) }
        var groupsSaid = Set<[String]>()
        for f in noPMU { if let g = f.group, g.count > 1, groupsSaid.insert(g).inserted {
            notes.write("none of the group {\(g.joined(separator: ","))} was counted: a group is counted all at once or not at all (as perf).")
        } }
        for f in failures where f.cause != .noHardwarePMU { notes.write(f.message) }
    }

    func warnAboutMultiplexing(_ window: StatWindow, notes: Notes) {
        let muxed = window.results.filter(\.isMultiplexed)
        guard !muxed.isEmpty else { return }
        let list = muxed.map { "\($0.name) (\(cFormat("%.2f", $0.percentRunning))%)" }.joined(separator: ", ")
        notes.write("warning: more events were asked for than the PMU has counters, so these were multiplexed (counted part of the time, scaled by enabled/running): \(list). Count fewer events, or put the ones a ratio needs in one {group}.")
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

/// Notes and warnings for stderr, silenced by -q/--quiet.
struct Notes {
    var quiet: Bool
    func write(_ text: String, prefix: Bool = true) {
        if !quiet { StandardError.write(prefix ? "stallstat: " + text : text) }
    }
}

/// Arm common events the machine's PMU does not implement (absent from its PMCEID, so
/// from its sysfs events/): the kernel opens them anyway and they read 0, which looks
/// like "no stalls" unless said.
enum ArmPMUNotes {
    static func unimplemented(_ events: [ResolvedEvent], pmus: SysfsPMUs) -> [String] {
        var lines: [String] = []
        for e in events {
            guard let attr = e.attr, attr.type != PerfType.hardware, attr.type != PerfType.hardwareCache else { continue }
            let pmu = pmus.pmus.first { $0.type == attr.type && $0.armAdvertisement != nil }
                ?? (attr.type == PerfType.raw ? pmus.corePMUs.first { $0.armAdvertisement != nil } : nil)
            guard let pmu, let advertisement = pmu.armAdvertisement else { continue }
            let code = attr.config & 0xFFFF
            if advertisement.status(code) == .notImplemented {
                lines.append("\(e.name) (event 0x\(String(code, radix: 16))) is not implemented by \(pmu.name): the core's PMCEID (the PMU's events/) does not list it, so it counts 0 whatever happens.")
            }
        }
        return lines
    }
}

