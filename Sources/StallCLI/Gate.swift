import ArgumentParser
import StallCore
import StallLinux

struct Gate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A CI performance regression gate: run a command N times, compare its counts with a baseline.",
        discussion: """
        stallstat gate compare --junit gate.xml -- ./bench-main --vs ./bench-branch
        stallstat gate record --baseline base.json -- ./bench
        stallstat gate check  --baseline base.json --junit gate.xml --markdown gate.md -- ./bench
        compare runs both commands in alternating pairs on the same machine at the same time, so
        it is immune to a machine that changed between a baseline and its check.
        Exit status of check and compare: 0 pass, 1 regression, 2 usage or measurement error,
        3 inconclusive, 128+N stopped by signal N.
        """,
        subcommands: [Compare.self, Record.self, Check.self])

    /// Options every subcommand takes.
    struct Measurement: ParsableArguments {
        @Option(name: .customLong("runs"), help: "Measured runs (default 10, or the config's).")
        var runs: Int?

        @Option(name: .customLong("warmup"), help: "Unmeasured runs first (default 2, or the config's).")
        var warmup: Int?

        @Option(name: [.customShort("e"), .customLong("metrics")], parsing: .singleValue, help: "Metrics (events) to gate; repeatable or comma-separated.")
        var metrics: [String] = []

        @Option(name: .customLong("config"), help: "Gate settings (default: ./stallstat-gate.toml or ./stallstat-gate.json when present).")
        var config: String?

        @Option(name: .customLong("counters"), help: ArgumentHelp("Where counts come from: auto (perf_event_open, or rusage where it is refused), perf, rusage, simulated (valgrind's cachegrind).", valueName: "SOURCE"))
        var counters: CounterSource = .auto

        @Argument(parsing: .postTerminator, help: "The command to measure (options come first; the command starts after -- or at the first word that is not an option).")
        var command: [String] = []

        var workload: [String] { command }

        func loadConfig() throws -> GateConfig {
            let path = config ?? ["stallstat-gate.toml", "stallstat-gate.json"].first { SystemFiles.exists($0) }
            guard let path else { return GateConfig() }
            do { return try GateConfigFile.parse(try SystemFiles.readText(path), file: path) } catch let e as GateError {
                throw CLIError(message: "\(e)", exitCode: 2)
            } catch {
                throw CLIError(message: "cannot read \(path): \(error)", exitCode: 2)
            }
        }

        func metricNames(_ config: GateConfig, source: CounterSource, hasPMU: Bool, paired: Bool) -> [String] {
            let given = metrics.flatMap { $0.split(separator: ",").map { String($0).trimmingWhitespace() } }
            if !given.isEmpty { return given }
            if let m = config.metrics, !m.isEmpty { return m }
            var own: [String]
            switch source {
            case .simulated: return ["instructions", "L1-dcache-misses", "LL-misses", "estimated-cycles"]
            case .rusage: own = ["task-clock", "page-faults", "max-rss"]
            case .perf, .auto: own = (hasPMU ? ["instructions", "cycles"] : []) + ["task-clock", "page-faults"]
            }
            // compare gates the program's own work and time: context switches and the
            // system-wide signals, usually 0, would only make its verdict inconclusive.
            if !paired { own += ["context-switches", "pressure:memory-some", "vmstat:compact_stall", "vmstat:allocstall"] }
            return own
        }

        func runCounts(_ config: GateConfig) throws -> (runs: Int, warmup: Int) {
            let runCount = runs ?? config.runs ?? 10
            guard runCount >= 3 else { throw ValidationError("--runs must be at least 3") }
            return (runCount, warmup ?? config.warmup ?? 2)
        }

        /// The meter for these options: its source chosen (auto: perf_event_open unless
        /// it is refused here), its metrics resolved once.
        func meter(config: GateConfig, sourceHint: CounterSource? = nil, paired: Bool = false) throws -> GateMeter {
            let pmus = SysfsPMUs()
            let requested = counters == .auto ? (sourceHint ?? .auto) : counters
            let source = try CounterSourceChoice.choose(requested, launchesCommand: true, notes: { StandardError.write("stallstat: gate: " + $0) })
            return try GateMeter(source: source, names: metricNames(config, source: source, hasPMU: pmus.hasHardwarePMU, paired: paired), pmus: pmus)
        }

        /// Runs the command warmup + runs times and collects every metric.
        func measure(config: GateConfig, sourceHint: CounterSource? = nil) throws -> (samples: [MetricSamples], machine: MachineDescription) {
            guard !workload.isEmpty else { throw ValidationError("gate needs a command to measure: ... -- ./bench args") }
            let meter = try meter(config: config, sourceHint: sourceHint)
            let (runCount, warmupCount) = try runCounts(config)
            StandardError.write("stallstat: gate: \(warmupCount) + \(runCount) runs, counted by \(meter.source.description)")
            // Ctrl-C is taken by the counting loop while the runs go on; the statistics after them stop at once.
            MachineFacts.blockStopSignals()
            defer { MachineFacts.unblockStopSignals() }
            let pressure = PressureMeter()
            var samples: [MetricSamples] = []
            for k in 0..<(warmupCount + runCount) {
                // The machine's pressure is measured over the measured runs, from the first.
                if k == warmupCount { pressure.start() }
                let values = try meter.measureOnce(workload, run: k + 1)
                guard k >= warmupCount else { continue }
                if samples.isEmpty { samples = values.map { MetricSamples(name: $0.name, unit: $0.unit, samples: [], coveragePercent: []) } }
                for (i, v) in values.enumerated() {
                    samples[i].samples.append(v.value)
                    samples[i].coveragePercent.append(v.coverage)
                }
            }
            var machine = MachineFacts.describe(pmus: meter.pmus)
            machine.pressure = pressure.shares()
            return (samples, machine)
        }
    }

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Measure the command and save a baseline.")
        @Option(name: .customLong("baseline"), help: "The baseline JSON file to write.")
        var baseline: String

        @OptionGroup var m: Measurement

        func run() throws {
            let config = try m.loadConfig()
            let (samples, machine) = try m.measure(config: config)
            let baseline = GateBaseline(stallstatVersion: stallstatVersion, createdSeconds: MachineFacts.wallClockSeconds(), command: m.workload,
                                        machine: machine, runs: samples.first?.samples.count ?? 0, warmup: m.warmup ?? config.warmup ?? 2, metrics: samples)
            do { try SystemFiles.writeText(baseline.json(), to: self.baseline) } catch {
                throw CLIError(message: "cannot write \(self.baseline): \(error)", exitCode: 2)
            }
            StandardError.write("stallstat: gate: baseline of \(baseline.runs) runs, \(samples.count) metrics written to \(self.baseline)")
        }
    }

    /// How check and compare decide and where they write the verdict.
    struct Verdict: ParsableArguments {
        @Option(name: .customLong("threshold"), parsing: .singleValue, help: "METRIC=PERCENT, e.g. task-clock=5 (repeatable).")
        var thresholds: [String] = []

        @Option(name: .customLong("alpha"), help: "Significance level (default 0.01).")
        var alpha: Double?

        @Option(name: .customLong("min-coverage"), help: "Least share of time a counter must have run, 0-1 (default 0.99).")
        var minCoverage: Double?

        @Flag(name: .customLong("json"), help: "Print the results as JSON.")
        var json = false

        @Option(name: .customLong("junit"), help: "Write JUnit XML (one testcase per metric) to FILE.")
        var junitFile: String?

        @Option(name: .customLong("markdown"), help: "Write a Markdown summary (for a pull-request comment) to FILE.")
        var markdownFile: String?

        @Option(name: .customLong("bmf"), help: "Write Bencher Metric Format JSON to FILE.")
        var bmfFile: String?

        func validate() throws {
            if let a = alpha, !(a > 0 && a < 1) { throw ValidationError("--alpha must be between 0 and 1, got \(a)") }
            if let c = minCoverage, !(c > 0 && c <= 1) { throw ValidationError("--min-coverage must be in (0, 1], got \(c)") }
            _ = try overrides()
        }

        func overrides() throws -> [String: Double] {
            var o: [String: Double] = [:]
            for t in thresholds {
                let kv = t.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, let v = Double(kv[1].trimmingWhitespace().filter { $0 != "%" }), v >= 0, v.isFinite else {
                    throw ValidationError("--threshold takes METRIC=PERCENT, got '\(t)'")
                }
                o[String(kv[0])] = v / 100
            }
            return o
        }

        func alpha(_ config: GateConfig) -> Double { alpha ?? config.alpha ?? 0.01 }
        func minimumCoverage(_ config: GateConfig) -> Double { minCoverage ?? config.minimumCoverage ?? 0.99 }

        func threshold(_ metric: String, _ config: GateConfig, paired: Bool = false) throws -> Double {
            let o = try overrides(), base = CounterSource.baseName(metric)
            return o[metric] ?? o[base] ?? config.thresholds[metric] ?? config.thresholds[base] ?? GateConfig.defaultThreshold(for: metric, paired: paired)
        }

        /// Prints and writes the results, then exits as documented.
        func finish(_ results: [GateResult], command: [String]) throws {
            StandardOutput.write(json ? GateReport.json(results) : GateReport.table(results))
            let outputs: [(String?, String)] = [(junitFile, GateReport.junit(results)), (markdownFile, GateReport.markdown(results, command: command)),
                                                (bmfFile, GateReport.bmf(results, benchmark: command.joined(separator: " ")))]
            for (file, text) in outputs {
                guard let file else { continue }
                do { try SystemFiles.writeText(text, to: file) } catch {
                    throw CLIError(message: "cannot write \(file): \(error)", exitCode: 2)
                }
            }
            switch GateReport.overall(results) {
            case .regression: throw ExitCode(1)
            case .inconclusive: throw ExitCode(3)
            case .pass, .improvement: return
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Measure the command again and compare with the baseline (exit 0 pass, 1 regression, 2 error, 3 inconclusive).")
        @Option(name: .customLong("baseline"), help: "The baseline JSON file.")
        var baseline: String

        @OptionGroup var m: Measurement
        @OptionGroup var verdict: Verdict

        @Flag(name: .customLong("allow-different-machine"), help: "Compare with a baseline from another CPU model or with other metrics.")
        var allowDifferentMachine = false

        @Flag(name: .customLong("allow-different-command"), help: "Compare with a baseline that measured another command line.")
        var allowDifferentCommand = false

        func run() throws {
            let config = try m.loadConfig()
            let stored: GateBaseline
            do { stored = try GateBaseline.decode(try SystemFiles.readText(baseline), file: baseline) } catch let e as GateError {
                throw CLIError(message: "gate: \(e)", exitCode: 2)
            } catch {
                throw CLIError(message: "gate: cannot read the baseline \(baseline): \(error)", exitCode: 2)
            }
            var mm = m
            if mm.metrics.isEmpty && config.metrics == nil { mm.metrics = [stored.metrics.map(\.name).joined(separator: ",")] }
            // The baseline's own source, so an unprivileged check of an rusage baseline counts the same way.
            let names = stored.metrics.map(\.name)
            let hint: CounterSource? = names.allSatisfy { $0.hasSuffix(CounterSource.rusage.suffix) } ? .rusage
                : names.allSatisfy { $0.hasSuffix(CounterSource.simulated.suffix) } ? .simulated : nil
            let (samples, machine) = try mm.measure(config: config, sourceHint: hint)
            var problems: [String] = []
            if machine.cpu != stored.machine.cpu || machine.cpuModelName != stored.machine.cpuModelName {
                problems.append("the baseline was recorded on \(stored.machine.cpuModelName) (\(stored.machine.cpu)), this machine is \(machine.cpuModelName) (\(machine.cpu)): counts from different CPUs do not compare")
            }
            if Set(samples.map(\.name)) != Set(stored.metrics.map(\.name)) {
                problems.append("the baseline has metrics \(stored.metrics.map(\.name).joined(separator: ",")) but this run measured \(samples.map(\.name).joined(separator: ","))")
            }
            if !problems.isEmpty && !allowDifferentMachine {
                for p in problems { StandardError.write("stallstat: gate: refused: \(p). Record a new baseline here, or pass --allow-different-machine.") }
                throw ExitCode(2)
            }
            if stored.command != m.workload {
                let what = "the baseline measured '\(stored.command.joined(separator: " "))', this run '\(m.workload.joined(separator: " "))'"
                guard allowDifferentCommand else {
                    throw CLIError(message: "gate: refused: \(what): the counts of different commands do not compare. Record a new baseline, or pass --allow-different-command.", exitCode: 2)
                }
                StandardError.write("stallstat: gate: note: \(what) (--allow-different-command)")
            }
            // A stored baseline cannot tell code from machine: say when they may differ.
            let drift = BaselineDrift.warnings(baseline: stored.machine, created: stored.createdSeconds, now: machine, at: MachineFacts.wallClockSeconds())
            for w in drift { StandardError.write("stallstat: gate: warning: \(w)") }
            if !drift.isEmpty {
                StandardError.write("stallstat: gate: a stored baseline compares machine states as well as code; `stallstat gate compare -- OLD --vs NEW` runs both in the same state")
            }
            let stateChanged = BaselineDrift.stateChanged(baseline: stored.machine, now: machine)
            let a = verdict.alpha(config), coverage = verdict.minimumCoverage(config)
            var results: [GateResult] = []
            for s in samples {
                guard let base = stored.metrics.first(where: { $0.name == s.name }) else { continue }
                var r = GateDecision.decide(metric: s.name, unit: s.unit, baseline: base.samples, new: s.samples, threshold: try verdict.threshold(s.name, config),
                                            alpha: a, coveragePercent: s.coveragePercent + base.coveragePercent, minimumCoverage: coverage)
                if stateChanged && BaselineDrift.isTimeLike(s.name) && r.verdict != .pass {
                    r.reason = "\(r.verdict.rawValue) (\(r.reason)), but the machine's load changed since the baseline, so this measures the machine too; use gate compare"
                    r.verdict = .inconclusive
                }
                results.append(r)
            }
            try verdict.finish(results, command: m.workload)
        }
    }

    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run two commands in alternating pairs and compare them (exit 0 pass, 1 regression, 2 error, 3 inconclusive).",
            discussion: """
            stallstat gate compare [options] -- OLD_CMD [args] --vs NEW_CMD [args]
            Each pair runs OLD and NEW once, in an order drawn at random per pair, after the same
            warm-up; the verdict is a Wilcoxon signed-rank test on the pairs' ratios NEW/OLD with a
            bootstrap interval of their median. --runs is the number of pairs.
            """)

        @OptionGroup var m: Measurement
        @OptionGroup var verdict: Verdict

        @Option(name: .customLong("seed"), help: "Seed of the per-pair order (default: from the clock; printed, so a run can be repeated).")
        var seed: UInt64?

        func commands() throws -> (old: [String], new: [String]) {
            let all = m.workload
            guard let vs = all.firstIndex(of: "--vs") else { throw ValidationError("gate compare needs two commands: -- OLD_CMD [args] --vs NEW_CMD [args]") }
            let old = Array(all[..<vs]), new = Array(all[(vs + 1)...])
            guard !old.isEmpty, !new.isEmpty else { throw ValidationError("gate compare needs a command on each side of --vs") }
            return (old, new)
        }

        // The two commands are checked in run(): validation sees only the command's first
        // word (the rest is set after parsing, as for stat and record).

        func run() throws {
            let (old, new) = try commands()
            let config = try m.loadConfig()
            let meter = try m.meter(config: config, paired: true)
            let (pairs, warmupCount) = try m.runCounts(config)
            let orderSeed = seed ?? UInt64(MachineFacts.wallClockSeconds() * 1e6)
            var rng = GateStatistics.SplitMix64(seed: orderSeed)
            StandardError.write("stallstat: gate: \(warmupCount) + \(pairs) pairs, counted by \(meter.source.description), order seed \(orderSeed)")
            MachineFacts.blockStopSignals()
            defer { MachineFacts.unblockStopSignals() }
            var oldRuns: [[GateMeter.Value]] = [], newRuns: [[GateMeter.Value]] = []
            var run = 0
            for k in 0..<(warmupCount + pairs) {
                let oldFirst = rng.next() & 1 == 0
                var pair: [(Bool, [GateMeter.Value])] = []
                for isOld in oldFirst ? [true, false] : [false, true] {
                    run += 1
                    pair.append((isOld, try meter.measureOnce(isOld ? old : new, run: run)))
                }
                guard k >= warmupCount else { continue }
                for (isOld, values) in pair { if isOld { oldRuns.append(values) } else { newRuns.append(values) } }
            }
            let a = verdict.alpha(config), coverage = verdict.minimumCoverage(config)
            var results: [GateResult] = []
            for (i, first) in (oldRuns.first ?? []).enumerated() {
                let o = oldRuns.map { $0[i].value }, n = newRuns.map { $0[i].value }
                results.append(PairedGateDecision.decide(metric: first.name, unit: first.unit, old: o, new: n, threshold: try verdict.threshold(first.name, config, paired: true),
                                                         alpha: a, coveragePercent: oldRuns.map { $0[i].coverage } + newRuns.map { $0[i].coverage },
                                                         minimumCoverage: coverage))
            }
            try verdict.finish(results, command: new)
        }
    }
}

/// One way of counting a command, set up once and run many times (gate record, check and
/// compare): perf_event_open counters, or the command's rusage, or valgrind's simulation.
struct GateMeter {
    struct Value {
        var name: String
        var unit: String
        var value: Double
        var coverage: Double
    }

    let source: CounterSource
    let pmus: SysfsPMUs
    private let events: [ResolvedEvent]
    private let groups: [[Int]]
    private let paranoid: Int?
    private let accounting: AccountingSelection?

    init(source: CounterSource, names: [String], pmus: SysfsPMUs) throws {
        self.source = source
        self.pmus = pmus
        let resolver = EventResolver(pmus: pmus)
        if source == .rusage || source == .simulated {
            let selection = AccountingSelection(source: source, eventNames: names, resolver: resolver)
            for case .unsupported(let name) in selection.rows {
                throw CLIError(message: "gate: \(name) cannot be measured with --counters=\(source.rawValue) (it counts \(selection.offered), pressure:* and vmstat:*)", exitCode: 2)
            }
            accounting = selection
            events = []
            groups = []
            paranoid = nil
        } else {
            var resolved: [ResolvedEvent] = []
            for n in names {
                do { resolved.append(try resolver.resolve(n)) } catch {
                    // A metric the gate cannot measure is bad gate data: exit 2, as documented.
                    throw CLIError(message: "gate: \(error)", exitCode: 2)
                }
            }
            events = resolved
            // Each metric in a group of its own (one that cannot be scheduled does not hold back the others).
            groups = CounterGrouping.kernelGroups(events: resolved, requested: resolved.indices.map { [$0] })
            paranoid = MachineFacts.perfEventParanoid()
            accounting = nil
        }
    }

    /// One run of the command: every metric's value and the share of time its counter ran.
    /// A failed, interrupted or failing command ends the gate with the documented status.
    func measureOnce(_ command: [String], run: Int) throws -> [Value] {
        let window: StatWindow, interrupted: Int32?, exitCode: Int32?
        do {
            if let accounting {
                let o = try AccountingRunner(source: source, command: command, signalEvents: accounting.signalEvents).run()
                (window, interrupted, exitCode) = (accounting.window(o), o.interruptedBy, o.commandExitCode)
            } else {
                let plan = StatPlan(events: events, groups: groups, scope: .command, command: command, perCPU: false,
                                    durationSeconds: nil, intervalMilliseconds: nil)
                let o = try StatRunner(plan: plan, hasHardwarePMU: pmus.hasHardwarePMU, paranoid: paranoid).run { _ in }
                (window, interrupted, exitCode) = (o.summary, o.interruptedBy, o.commandExitCode)
            }
        } catch {
            throw CLIError(message: "gate: run \(run) failed: \(error)", exitCode: 2)
        }
        try GateMeter.check(interruptedBy: interrupted, exitCode: exitCode, run: run)
        return try window.results.map { try value($0) }
    }

    private func value(_ r: CounterResult) throws -> Value {
        switch r.status {
        case .counted: return Value(name: r.name, unit: r.unit, value: r.printedValue, coverage: r.percentRunning)
        case .notCounted: return Value(name: r.name, unit: r.unit, value: 0, coverage: 100)
        case .notSupported(let reason):
            throw CLIError(message: "gate: \(r.name) cannot be measured here: \(reason)", exitCode: 2)
        }
    }

    static func check(interruptedBy sig: Int32?, exitCode code: Int32?, run: Int) throws {
        if let sig {
            // 128 + signal, as a shell reports a stopped job: CI sees a cancellation, not a failed gate.
            throw CLIError(message: "gate: interrupted by signal \(sig) in run \(run); nothing was decided", exitCode: 128 + sig)
        }
        if let code, code != 0 {
            throw CLIError(message: "gate: the command exited with status \(code) in run \(run); a failing benchmark cannot be gated", exitCode: 2)
        }
    }
}

/// PSI "some" of CPU, memory and I/O over the measured runs: the share of the time some
/// task waited for each, i.e. how busy the machine was besides the benchmark.
final class PressureMeter {
    private let kinds = ["cpu", "memory", "io"].map { KernelSignalKind.pressure(resource: $0, full: false) }
    private var startTotals: [KernelSignalKind: UInt64] = [:]
    private var startNs: UInt64 = 0

    func start() {
        startTotals = KernelSignalReader(kinds: kinds).read()
        startNs = MachineFacts.monotonicNanoseconds()
    }

    func shares() -> [String: Double] {
        let now = KernelSignalReader(kinds: kinds).read()
        let elapsedUs = Double(MachineFacts.monotonicNanoseconds() &- startNs) / 1000
        guard startNs > 0, elapsedUs > 0 else { return [:] }
        var out: [String: Double] = [:]
        for k in kinds {
            guard case .pressure(let resource, _) = k, let a = startTotals[k], let b = now[k], b >= a else { continue }
            out[resource] = min(1, Double(b - a) / elapsedUs)
        }
        return out
    }
}
