import ArgumentParser
import StallCore
import StallLinux

struct Gate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A CI performance regression gate: run a command N times, compare its counts with a baseline.",
        discussion: """
        stallstat gate record --baseline base.json -- ./bench
        stallstat gate check  --baseline base.json --junit gate.xml --markdown gate.md -- ./bench
        Exit status of check: 0 pass, 1 regression, 2 usage or measurement error, 3 inconclusive, 128+N stopped by signal N.
        """,
        subcommands: [Record.self, Check.self])

    /// Options both subcommands take.
    struct Measurement: ParsableArguments {
        @Option(name: .customLong("baseline"), help: "The baseline JSON file.")
        var baseline: String

        @Option(name: .customLong("runs"), help: "Measured runs (default 10, or the config's).")
        var runs: Int?

        @Option(name: .customLong("warmup"), help: "Unmeasured runs first (default 2, or the config's).")
        var warmup: Int?

        @Option(name: [.customShort("e"), .customLong("metrics")], parsing: .singleValue, help: "Metrics (events) to gate; repeatable or comma-separated.")
        var metrics: [String] = []

        @Option(name: .customLong("config"), help: "Gate settings (default: ./stallstat-gate.toml or ./stallstat-gate.json when present).")
        var config: String?

        @Argument(parsing: .captureForPassthrough, help: "The command to measure.")
        var command: [String] = []

        var workload: [String] { command.first == "--" ? Array(command.dropFirst()) : command }

        func loadConfig() throws -> GateConfig {
            let path = config ?? ["stallstat-gate.toml", "stallstat-gate.json"].first { SystemFiles.exists($0) }
            guard let path else { return GateConfig() }
            do { return try GateConfigFile.parse(try SystemFiles.readText(path), file: path) } catch let e as GateError {
                StandardError.write("stallstat: \(e)")
                throw ExitCode(2)
            } catch {
                StandardError.write("stallstat: cannot read \(path): \(error)")
                throw ExitCode(2)
            }
        }

        func metricNames(_ config: GateConfig, hasPMU: Bool) -> [String] {
            let given = metrics.flatMap { $0.split(separator: ",").map { String($0).trimmingWhitespace() } }
            if !given.isEmpty { return given }
            if let m = config.metrics, !m.isEmpty { return m }
            var m = hasPMU ? ["instructions", "cycles"] : []
            m += ["task-clock", "page-faults", "context-switches", "pressure:memory-some", "vmstat:compact_stall", "vmstat:allocstall"]
            return m
        }

        /// Runs the command warmup + runs times and collects every metric.
        func measure(config: GateConfig) throws -> (samples: [MetricSamples], machine: MachineDescription) {
            guard !workload.isEmpty else { throw ValidationError("gate needs a command to measure: ... -- ./bench args") }
            let pmus = SysfsPMUs()
            let resolver = EventResolver(pmus: pmus)
            let names = metricNames(config, hasPMU: pmus.hasHardwarePMU)
            var events: [ResolvedEvent] = []
            for n in names {
                do { events.append(try resolver.resolve(n)) } catch {
                    // A metric the gate cannot measure is bad gate data: exit 2, as documented.
                    throw CLIError(message: "gate: \(error)", exitCode: 2)
                }
            }
            let groups = CounterGrouping.kernelGroups(events: events, requested: events.indices.map { [$0] })
            let plan = StatPlan(events: events, groups: groups, scope: .command, command: workload, perCPU: false,
                                durationSeconds: nil, intervalMilliseconds: nil)
            let runner = StatRunner(plan: plan, hasHardwarePMU: pmus.hasHardwarePMU, paranoid: MachineFacts.perfEventParanoid())
            let runCount = runs ?? config.runs ?? 10
            let warmupCount = warmup ?? config.warmup ?? 2
            guard runCount >= 3 else { throw ValidationError("--runs must be at least 3") }
            var samples = events.map { MetricSamples(name: $0.name, unit: $0.unit, samples: [], coveragePercent: []) }
            // Ctrl-C is taken by the counting loop while the runs go on; the statistics after them stop at once.
            MachineFacts.blockStopSignals()
            defer { MachineFacts.unblockStopSignals() }
            for k in 0..<(warmupCount + runCount) {
                let outcome: StatOutcome
                do { outcome = try runner.run { _ in } } catch {
                    StandardError.write("stallstat: gate: run \(k + 1) failed: \(error)")
                    throw ExitCode(2)
                }
                if let sig = outcome.interruptedBy {
                    // 128 + signal, as a shell reports a stopped job: CI sees a cancellation, not a failed gate.
                    StandardError.write("stallstat: gate: interrupted by signal \(sig) in run \(k + 1); nothing was decided")
                    throw ExitCode(128 + sig)
                }
                if let code = outcome.commandExitCode, code != 0 {
                    StandardError.write("stallstat: gate: the command exited with status \(code) in run \(k + 1); a failing benchmark cannot be gated")
                    throw ExitCode(2)
                }
                guard k >= warmupCount else { continue }
                for (i, r) in outcome.summary.results.enumerated() {
                    switch r.status {
                    case .counted:
                        samples[i].samples.append(r.printedValue)
                        samples[i].coveragePercent.append(r.percentRunning)
                    case .notCounted:
                        samples[i].samples.append(0)
                        samples[i].coveragePercent.append(100)
                    case .notSupported(let reason):
                        StandardError.write("stallstat: gate: \(r.name) cannot be measured here: \(reason)")
                        throw ExitCode(2)
                    }
                }
            }
            return (samples, MachineFacts.describe(pmus: pmus))
        }
    }

    struct Record: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Measure the command and save a baseline.")
        @OptionGroup var m: Measurement

        func run() throws {
            let config = try m.loadConfig()
            let (samples, machine) = try m.measure(config: config)
            let baseline = GateBaseline(stallstatVersion: stallstatVersion, createdSeconds: MachineFacts.wallClockSeconds(), command: m.workload,
                                        machine: machine, runs: samples.first?.samples.count ?? 0, warmup: m.warmup ?? config.warmup ?? 2, metrics: samples)
            do { try SystemFiles.writeText(baseline.json(), to: m.baseline) } catch {
                StandardError.write("stallstat: cannot write \(m.baseline): \(error)")
                throw ExitCode(2)
            }
            StandardError.write("stallstat: gate: baseline of \(baseline.runs) runs, \(samples.count) metrics written to \(m.baseline)")
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Measure the command again and compare with the baseline (exit 0 pass, 1 regression, 2 error, 3 inconclusive).")
        @OptionGroup var m: Measurement

        @Option(name: .customLong("threshold"), parsing: .singleValue, help: "METRIC=PERCENT, e.g. task-clock=5 (repeatable).")
        var thresholds: [String] = []

        @Option(name: .customLong("alpha"), help: "Significance level of the Mann-Whitney test (default 0.01).")
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

        @Flag(name: .customLong("allow-different-machine"), help: "Compare with a baseline from another CPU model or with other metrics.")
        var allowDifferentMachine = false

        @Flag(name: .customLong("allow-different-command"), help: "Compare with a baseline that measured another command line.")
        var allowDifferentCommand = false

        func run() throws {
            let config = try m.loadConfig()
            let baseline: GateBaseline
            do { baseline = try GateBaseline.decode(try SystemFiles.readText(m.baseline), file: m.baseline) } catch let e as GateError {
                StandardError.write("stallstat: gate: \(e)")
                throw ExitCode(2)
            } catch {
                StandardError.write("stallstat: gate: cannot read the baseline \(m.baseline): \(error)")
                throw ExitCode(2)
            }
            var overrides: [String: Double] = [:]
            for t in thresholds {
                let kv = t.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, let v = Double(kv[1].trimmingWhitespace().filter { $0 != "%" }), v >= 0 else {
                    throw ValidationError("--threshold takes METRIC=PERCENT, got '\(t)'")
                }
                overrides[String(kv[0])] = v / 100
            }
            var mm = m
            if mm.metrics.isEmpty && config.metrics == nil { mm.metrics = [baseline.metrics.map(\.name).joined(separator: ",")] }
            let (samples, machine) = try mm.measure(config: config)
            var problems: [String] = []
            if machine.cpu != baseline.machine.cpu || machine.cpuModelName != baseline.machine.cpuModelName {
                problems.append("the baseline was recorded on \(baseline.machine.cpuModelName) (\(baseline.machine.cpu)), this machine is \(machine.cpuModelName) (\(machine.cpu)): counts from different CPUs do not compare")
            }
            if Set(samples.map(\.name)) != Set(baseline.metrics.map(\.name)) {
                problems.append("the baseline has metrics \(baseline.metrics.map(\.name).joined(separator: ",")) but this run measured \(samples.map(\.name).joined(separator: ","))")
            }
            if !problems.isEmpty && !allowDifferentMachine {
                for p in problems { StandardError.write("stallstat: gate: refused: \(p). Record a new baseline here, or pass --allow-different-machine.") }
                throw ExitCode(2)
            }
            if baseline.command != m.workload {
                let what = "the baseline measured '\(baseline.command.joined(separator: " "))', this run '\(m.workload.joined(separator: " "))'"
                guard allowDifferentCommand else {
                    StandardError.write("stallstat: gate: refused: \(what): the counts of different commands do not compare. Record a new baseline, or pass --allow-different-command.")
                    throw ExitCode(2)
                }
                StandardError.write("stallstat: gate: note: \(what) (--allow-different-command)")
            }
            let a = alpha ?? config.alpha ?? 0.01
            let coverage = minCoverage ?? config.minimumCoverage ?? 0.99
            var results: [GateResult] = []
            for s in samples {
                guard let base = baseline.metrics.first(where: { $0.name == s.name }) else { continue }
                let threshold = overrides[s.name] ?? config.thresholds[s.name] ?? GateConfig.defaultThreshold(for: s.name)
                results.append(GateDecision.decide(metric: s.name, unit: s.unit, baseline: base.samples, new: s.samples, threshold: threshold,
                                                   alpha: a, coveragePercent: s.coveragePercent + base.coveragePercent, minimumCoverage: coverage))
            }
            StandardOutput.write(json ? GateReport.json(results) : GateReport.table(results))
            let outputs: [(String?, String)] = [(junitFile, GateReport.junit(results)), (markdownFile, GateReport.markdown(results, command: m.workload)),
                                                (bmfFile, GateReport.bmf(results, benchmark: m.workload.joined(separator: " ")))]
            for (file, text) in outputs {
                guard let file else { continue }
                do { try SystemFiles.writeText(text, to: file) } catch {
                    StandardError.write("stallstat: cannot write \(file): \(error)")
                    throw ExitCode(2)
                }
            }
            switch GateReport.overall(results) {
            case .regression: throw ExitCode(1)
            case .inconclusive: throw ExitCode(3)
            case .pass, .improvement: return
            }
        }
    }
}
