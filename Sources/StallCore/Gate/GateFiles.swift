/// The machine a baseline was measured on: a baseline from another CPU is refused.
public struct MachineDescription: Equatable, Sendable {
    public var cpu: String
    public var cpuModelName: String
    public var kernel: String
    public var cpus: Int
    public var hasPMU: Bool
    /// Which machine and which boot (/etc/machine-id, /proc/sys/kernel/random/boot_id):
    /// a baseline from another one compares machine states as much as code.
    public var machineID: String = ""
    public var bootID: String = ""
    /// The share of the measured time some task waited for CPU, memory or I/O (PSI
    /// "some", system-wide), 0-1, by resource; empty where the kernel has no PSI. What the machine was
    /// doing besides the benchmark.
    public var pressure: [String: Double] = [:]
    public init(cpu: String, cpuModelName: String, kernel: String, cpus: Int, hasPMU: Bool) {
        self.cpu = cpu
        self.cpuModelName = cpuModelName
        self.kernel = kernel
        self.cpus = cpus
        self.hasPMU = hasPMU
    }
}

/// Why a stored baseline may not compare with a check made now: another machine, another
/// boot, another day, or a machine doing other work. Pure: both descriptions are given.
public enum BaselineDrift {
    /// A change in PSI "some" share larger than this (absolute, 0-1) is a changed machine.
    public static let pressureChange = 0.05
    public static let maximumAgeSeconds = 24 * 3600.0

    public static func warnings(baseline: MachineDescription, created: Double, now: MachineDescription, at time: Double) -> [String] {
        var w: [String] = []
        if !baseline.machineID.isEmpty && !now.machineID.isEmpty && baseline.machineID != now.machineID {
            w.append("the baseline was recorded on another machine (machine-id \(baseline.machineID.prefix(8))…, this is \(now.machineID.prefix(8))…)")
        } else if !baseline.bootID.isEmpty && !now.bootID.isEmpty && baseline.bootID != now.bootID {
            w.append("the baseline was recorded in another boot of this machine")
        }
        if created > 0 && time - created > maximumAgeSeconds {
            w.append(cFormat("the baseline is %.1f days old", (time - created) / 86400))
        }
        for c in pressureChanges(baseline: baseline, now: now) {
            w.append("the machine is doing other work: \(c.resource) pressure (some task waiting) was "
                     + cFormat("%.1f%% of the time at the baseline and is %.1f%% now", 100 * c.then, 100 * c.now))
        }
        return w
    }

    /// True when the state itself moved (pressure), not only the provenance: time-like
    /// metrics then measure the machine as much as the code.
    public static func stateChanged(baseline: MachineDescription, now: MachineDescription) -> Bool {
        !pressureChanges(baseline: baseline, now: now).isEmpty
    }

    /// The resources whose pressure share moved by more than `pressureChange`.
    static func pressureChanges(baseline: MachineDescription, now: MachineDescription) -> [(resource: String, then: Double, now: Double)] {
        ["cpu", "memory", "io"].compactMap { r in
            guard let a = baseline.pressure[r], let b = now.pressure[r], abs(b - a) > pressureChange else { return nil }
            return (r, a, b)
        }
    }

    /// Metrics whose value depends on what else runs (CPU time and its relatives), as
    /// opposed to counts of the program's own work (instructions, page faults).
    public static func isTimeLike(_ metric: String) -> Bool {
        let base = CounterSource.baseName(metric)
        return ["task-clock", "cpu-clock", "cycles", "user-time", "system-time", "context-switches", "cs",
                "involuntary-context-switches", "cpu-migrations", "duration_time"].contains(base) || base.hasPrefix("pressure:")
    }
}

public struct MetricSamples: Equatable, Sendable {
    public var name: String
    public var unit: String
    public var samples: [Double]
    /// Share of the time the counter ran, per run (100 unless multiplexed).
    public var coveragePercent: [Double]
    public init(name: String, unit: String, samples: [Double], coveragePercent: [Double]) {
        self.name = name
        self.unit = unit
        self.samples = samples
        self.coveragePercent = coveragePercent
    }
}

public struct GateError: Error, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// `stallstat gate record` writes this; `gate check` reads it.
public struct GateBaseline: Equatable, Sendable {
    public static let formatVersion = 1
    public var stallstatVersion: String
    public var createdSeconds: Double
    public var command: [String]
    public var machine: MachineDescription
    public var runs: Int
    public var warmup: Int
    public var metrics: [MetricSamples]

    public init(stallstatVersion: String, createdSeconds: Double, command: [String], machine: MachineDescription,
                runs: Int, warmup: Int, metrics: [MetricSamples]) {
        self.stallstatVersion = stallstatVersion
        self.createdSeconds = createdSeconds
        self.command = command
        self.machine = machine
        self.runs = runs
        self.warmup = warmup
        self.metrics = metrics
    }

    public func json() -> String {
        func nums(_ xs: [Double]) -> String { "[" + xs.map { cFormat("%.17g", $0) }.joined(separator: ", ") + "]" }
        var s = "{\n"
        s += "  \"format\": \"stallstat-gate-baseline\",\n  \"format_version\": \(GateBaseline.formatVersion),\n"
        s += "  \"stallstat_version\": \"\(jsonEscape(stallstatVersion))\",\n"
        s += "  \"created\": " + cFormat("%.3f", createdSeconds) + ",\n"
        s += "  \"command\": [" + command.map { "\"\(jsonEscape($0))\"" }.joined(separator: ", ") + "],\n"
        s += "  \"machine\": {\"cpu\": \"\(jsonEscape(machine.cpu))\", \"cpu_model_name\": \"\(jsonEscape(machine.cpuModelName))\", "
            + "\"kernel\": \"\(jsonEscape(machine.kernel))\", \"cpus\": \(machine.cpus), \"has_pmu\": \(machine.hasPMU), "
            + "\"machine_id\": \"\(jsonEscape(machine.machineID))\", \"boot_id\": \"\(jsonEscape(machine.bootID))\", "
            + "\"pressure_some\": {" + machine.pressure.sorted { $0.key < $1.key }.map { "\"\($0.key)\": " + cFormat("%.6f", $0.value) }.joined(separator: ", ") + "}},\n"
        s += "  \"runs\": \(runs),\n  \"warmup\": \(warmup),\n"
        s += "  \"metrics\": [\n" + metrics.map { m in
            "    {\"name\": \"\(jsonEscape(m.name))\", \"unit\": \"\(jsonEscape(m.unit))\", \"samples\": \(nums(m.samples)), \"coverage_percent\": \(nums(m.coveragePercent))}"
        }.joined(separator: ",\n") + "\n  ]\n}\n"
        return s
    }

    /// Reads a baseline; anything malformed is an error naming what, never a silent pass.
    public static func decode(_ text: String, file: String) throws -> GateBaseline {
        let root: JSONValue
        do { root = try JSONReader.parse(text) } catch { throw GateError("\(file) is not a readable baseline: \(error)") }
        guard root["format"]?.stringValue == "stallstat-gate-baseline" else {
            throw GateError("\(file) is not a stallstat gate baseline (no \"format\": \"stallstat-gate-baseline\")")
        }
        guard let v = root["format_version"]?.numberValue, v == Double(formatVersion) else {
            throw GateError("\(file): baseline format version \(root["format_version"]?.numberValue.map { "\($0)" } ?? "?") is not \(formatVersion); record it again")
        }
        guard let m = root["machine"], let cpu = m["cpu"]?.stringValue, let metricsJSON = root["metrics"]?.arrayValue,
              let runs = root["runs"]?.numberValue, let command = root["command"]?.arrayValue else {
            throw GateError("\(file): baseline is missing machine, metrics, runs or command")
        }
        var metrics: [MetricSamples] = []
        for item in metricsJSON {
            guard let name = item["name"]?.stringValue, let samples = item["samples"]?.arrayValue else {
                throw GateError("\(file) line \(item.line): a metric needs a name and samples")
            }
            let values = samples.compactMap(\.numberValue)
            guard values.count == samples.count, values.count >= 2, values.allSatisfy(\.isFinite) else {
                throw GateError("\(file) line \(item.line): metric \(name) needs at least 2 finite samples")
            }
            guard values.allSatisfy({ $0 >= 0 }) else {
                throw GateError("\(file) line \(item.line): metric \(name) has a negative sample: counts and times are never negative")
            }
            let coverage = (item["coverage_percent"]?.arrayValue ?? []).compactMap(\.numberValue)
            metrics.append(MetricSamples(name: name, unit: item["unit"]?.stringValue ?? "", samples: values,
                                         coveragePercent: coverage.count == values.count ? coverage : values.map { _ in 100 }))
        }
        if metrics.isEmpty { throw GateError("\(file): the baseline has no metrics") }
        var machine = MachineDescription(cpu: cpu, cpuModelName: m["cpu_model_name"]?.stringValue ?? "", kernel: m["kernel"]?.stringValue ?? "",
                                         cpus: try wholeNumber(m["cpus"]?.numberValue ?? 0, "machine.cpus", 0...1_048_576, file: file),
                                         hasPMU: m["has_pmu"] == .bool(true, line: 0))
        machine.machineID = m["machine_id"]?.stringValue ?? ""
        machine.bootID = m["boot_id"]?.stringValue ?? ""
        if case .object(let shares, _)? = m["pressure_some"] {
            for s in shares {
                guard let v = s.value.numberValue, v >= 0, v <= 1 else { throw GateError("\(file) line \(s.value.line): pressure_some.\(s.key) must be a share from 0 to 1") }
                machine.pressure[s.key] = v
            }
        }
        return GateBaseline(stallstatVersion: root["stallstat_version"]?.stringValue ?? "?", createdSeconds: root["created"]?.numberValue ?? 0,
                            command: command.compactMap(\.stringValue), machine: machine,
                            runs: try wholeNumber(runs, "runs", GateConfig.runRange, file: file),
                            warmup: try wholeNumber(root["warmup"]?.numberValue ?? 0, "warmup", GateConfig.warmupRange, file: file), metrics: metrics)
    }
}

/// Settings from `stallstat-gate.toml` (or `.json`) checked into the user's repository.
public struct GateConfig: Equatable, Sendable {
    public var runs: Int?
    public var warmup: Int?
    public var alpha: Double?
    public var minimumCoverage: Double?
    public var metrics: [String]?
    /// What runs and warm-up counts may be: a gate of more runs than this is a typo.
    public static let runRange = 1...100_000
    public static let warmupRange = 0...100_000
    /// Relative thresholds (0.05 = 5%).
    public var thresholds: [String: Double] = [:]

    public init() {}

    /// The thresholds used when neither the config nor an option names one.
    public static let defaultThresholds: [String: Double] = [
        "instructions": 0.005, "cycles": 0.03, "task-clock": 0.05, "page-faults": 0.005, "minor-faults": 0.005,
        "major-faults": 0.05, "context-switches": 0.20, "cpu-migrations": 0.50,
        "user-time": 0.05, "system-time": 0.10, "voluntary-context-switches": 0.20, "involuntary-context-switches": 0.50,
        "max-rss": 0.02, "block-input": 0.10, "block-output": 0.10,
    ]
    /// Time-like metrics in `gate compare`: both commands ran in the same machine state,
    /// pair by pair, so what a stored baseline must allow for drift (5%) is not needed;
    /// what is left is run-to-run noise, which the noise floor checks (a noisier machine
    /// gets "inconclusive", not a false alarm).
    public static let pairedTimeThresholds: [String: Double] = ["task-clock": 0.01, "cycles": 0.01, "user-time": 0.01, "system-time": 0.02]

    public static func defaultThreshold(for metric: String, paired: Bool = false) -> Double {
        // Simulated counts repeat exactly: any change past 0.05% is the program's.
        if metric.hasSuffix(CounterSource.simulated.suffix) { return 0.0005 }
        let metric = CounterSource.baseName(metric)
        if paired, let t = pairedTimeThresholds[metric] { return t }
        if let t = defaultThresholds[metric] { return t }
        if metric.hasPrefix("pressure:") || metric.hasPrefix("vmstat:") { return 0.50 }
        return 0.05
    }

    /// The keys a config may have; anything else is a typo that would silently change
    /// nothing, so it is an error.
    public static let knownKeys = ["runs", "warmup", "alpha", "min_coverage", "metrics", "thresholds"]

    /// Reads a JSON config (`stallstat-gate.json`). TOML files are parsed by TOMLKit in the
    /// command line and handed to `init(document:file:)` as the same tree.
    public static func parseJSON(_ text: String, file: String) throws -> GateConfig {
        let root: JSONValue
        do { root = try JSONReader.parse(text) } catch { throw GateError("\(file): \(error)") }
        return try GateConfig(document: root, file: file)
    }

    /// A config from a parsed document (JSON, or TOML turned into the same tree): every key
    /// known, every value of the right type and range, or an error naming it.
    public init(document root: JSONValue, file: String) throws {
        guard case .object(let members, _) = root else { throw GateError("\(file): a gate config is a table of settings") }
        func at(_ v: JSONValue) -> String { v.line > 0 ? "\(file) line \(v.line)" : file }
        func number(_ key: String, _ v: JSONValue) throws -> Double {
            guard let d = v.numberValue else { throw GateError("\(at(v)): \(key) must be a number") }
            return d
        }
        for m in members {
            let v = m.value
            switch m.key {
            case "runs": runs = try wholeNumber(try number("runs", v), "runs", GateConfig.runRange, file: at(v))
            case "warmup": warmup = try wholeNumber(try number("warmup", v), "warmup", GateConfig.warmupRange, file: at(v))
            case "alpha": alpha = try number("alpha", v)
            case "min_coverage": minimumCoverage = try number("min_coverage", v)
            case "metrics":
                guard let items = v.arrayValue else { throw GateError("\(at(v)): metrics must be an array of strings") }
                metrics = try items.map {
                    guard let s = $0.stringValue, !s.isEmpty else { throw GateError("\(at($0)): metrics must be an array of strings") }
                    return s
                }
            case "thresholds":
                guard case .object(let limits, _) = v else { throw GateError("\(at(v)): thresholds must be a table of metric = percent") }
                for t in limits {
                    guard let pct = t.value.numberValue else { throw GateError("\(at(t.value)): threshold for \(t.key) must be a number (percent)") }
                    thresholds[t.key] = pct / 100
                }
            default:
                throw GateError("\(at(v)): unknown key '\(m.key)' (\(GateConfig.knownKeys.joined(separator: ", ")))")
            }
        }
        self = try validated(file: file)
    }

    func validated(file: String) throws -> GateConfig {
        if let r = runs, r < 3 { throw GateError("\(file): runs must be at least 3") }
        if let w = warmup, w < 0 { throw GateError("\(file): warmup cannot be negative") }
        if let a = alpha, !(a > 0 && a < 1) { throw GateError("\(file): alpha must be between 0 and 1") }
        if let m = minimumCoverage, !(m > 0 && m <= 1) { throw GateError("\(file): min_coverage must be in (0, 1]") }
        for (k, v) in thresholds where !(v >= 0) { throw GateError("\(file): threshold for \(k) must be a non-negative percent") }
        return self
    }
}

/// The gate's outputs: a table for people, JSON, JUnit XML, Markdown, Bencher's BMF.
public enum GateReport {
    static func pct(_ x: Double) -> String { x.isFinite ? cFormat("%+.2f%%", 100 * x) : "+inf" }
    static func value(_ v: Double) -> String { abs(v) >= 1000 ? groupThousands(v) : cFormat("%.3f", v) }

    public static func table(_ results: [GateResult]) -> String {
        var out = padRight("metric", 26) + padLeft("baseline", 16) + padLeft("new", 16) + padLeft("change", 10)
            + padLeft("95% CI", 20) + padLeft("p", 9) + padLeft("threshold", 11) + padLeft("detectable", 12) + "  verdict\n"
        for r in results {
            let ci = r.ratioInterval.map { pct($0.low - 1) + ".." + pct($0.high - 1) } ?? "n/a"
            out += padRight(r.metric, 26) + padLeft(value(r.baselineMedian), 16) + padLeft(value(r.newMedian), 16) + padLeft(pct(r.change), 10)
                + padLeft(ci, 20) + padLeft(cFormat("%.3g", r.pValue), 9) + padLeft(cFormat("%g%%", 100 * r.threshold), 11)
                + padLeft(r.minimumDetectableChange.isFinite ? cFormat("%.2f%%", 100 * r.minimumDetectableChange) : "inf", 12)
                + "  " + r.verdict.rawValue.uppercased() + "\n"
        }
        out += "\n" + results.map { "  \($0.metric): \($0.reason)" }.joined(separator: "\n") + "\n"
        return out
    }

    public static func overall(_ results: [GateResult]) -> GateResult.Verdict {
        if results.contains(where: { $0.verdict == .regression }) { return .regression }
        if results.contains(where: { $0.verdict == .inconclusive }) { return .inconclusive }
        return .pass
    }

    public static func json(_ results: [GateResult]) -> String {
        func d(_ x: Double) -> String { x.isFinite ? cFormat("%.9g", x) : "null" }
        let items = results.map { r in
            "{\"metric\": \"\(jsonEscape(r.metric))\", \"unit\": \"\(jsonEscape(r.unit))\", \"verdict\": \"\(r.verdict.rawValue)\", "
                + "\"baseline_median\": \(d(r.baselineMedian)), \"new_median\": \(d(r.newMedian)), \"change\": \(d(r.change)), "
                + "\"ratio_ci\": " + (r.ratioInterval.map { "[\(d($0.low)), \(d($0.high))]" } ?? "null") + ", "
                + "\"p_value\": \(d(r.pValue)), \"threshold\": \(d(r.threshold)), \"minimum_detectable_change\": \(d(r.minimumDetectableChange)), "
                + "\"lowest_coverage_percent\": \(d(r.lowestCoveragePercent)), \"reason\": \"\(jsonEscape(r.reason))\"}"
        }
        return "{\"verdict\": \"\(overall(results).rawValue)\", \"metrics\": [\n  " + items.joined(separator: ",\n  ") + "\n]}\n"
    }

    static func xml(_ s: String) -> String { SVGPlot.xmlEscape(s) }

    /// One testcase per gated metric; regressions fail, inconclusive ones are skipped.
    public static func junit(_ results: [GateResult], suite: String = "stallstat gate") -> String {
        let failures = results.filter { $0.verdict == .regression }.count
        let skipped = results.filter { $0.verdict == .inconclusive }.count
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuite name=\"\(xml(suite))\" tests=\"\(results.count)\" failures=\"\(failures)\" skipped=\"\(skipped)\" errors=\"0\">\n"
        for r in results {
            out += "  <testcase classname=\"stallstat.gate\" name=\"\(xml(r.metric))\">"
            switch r.verdict {
            case .regression: out += "<failure message=\"\(xml(r.reason))\">\(xml(table([r])))</failure>"
            case .inconclusive: out += "<skipped message=\"\(xml(r.reason))\"/>"
            case .pass, .improvement: out += "<system-out>\(xml(r.reason))</system-out>"
            }
            out += "</testcase>\n"
        }
        return out + "</testsuite>\n"
    }

    public static func markdown(_ results: [GateResult], command: [String]) -> String {
        let icon: [GateResult.Verdict: String] = [.pass: "✅ pass", .improvement: "🟢 improvement", .regression: "❌ regression", .inconclusive: "⚠️ inconclusive"]
        var out = "### stallstat gate: \(icon[overall(results)]!)\n\n`\(command.joined(separator: " "))`\n\n"
        out += "| metric | baseline | new | change | 95% CI of ratio | p | threshold | smallest detectable | verdict |\n|---|---|---|---|---|---|---|---|---|\n"
        for r in results {
            let ci = r.ratioInterval.map { pct($0.low - 1) + " .. " + pct($0.high - 1) } ?? "n/a"
            out += "| \(r.metric) | \(value(r.baselineMedian)) | \(value(r.newMedian)) | \(pct(r.change)) | \(ci) | " + cFormat("%.3g", r.pValue)
                + " | " + cFormat("%g%%", 100 * r.threshold) + " | " + (r.minimumDetectableChange.isFinite ? cFormat("%.2f%%", 100 * r.minimumDetectableChange) : "∞")
                + " | \(icon[r.verdict]!) |\n"
        }
        return out + "\n" + results.filter { $0.verdict != .pass }.map { "- **\($0.metric)**: \($0.reason)" }.joined(separator: "\n") + "\n"
    }

    /// Bencher Metric Format: {benchmark: {measure: {value, lower_value, upper_value}}}.
    public static func bmf(_ results: [GateResult], benchmark: String) -> String {
        let measures = results.map { r -> String in
            let sorted = r.newSamples.sorted()
            return "\"\(jsonEscape(r.metric))\": {\"value\": " + cFormat("%.9g", r.newMedian) + ", \"lower_value\": " + cFormat("%.9g", sorted.first ?? 0)
                + ", \"upper_value\": " + cFormat("%.9g", sorted.last ?? 0) + "}"
        }
        return "{\"\(jsonEscape(benchmark))\": {" + measures.joined(separator: ", ") + "}}\n"
    }
}

/// A count read from a baseline or config: a whole number in range, or an error naming it
/// (never `Int(Double)`, which traps on nan, inf and 1e300, and silently turns 3.9 into 3).
func wholeNumber(_ v: Double, _ what: String, _ range: ClosedRange<Int>, file: String) throws -> Int {
    guard v.isFinite, v == v.rounded(), v >= Double(range.lowerBound), v <= Double(range.upperBound) else {
        throw GateError("\(file): \(what) must be a whole number from \(range.lowerBound) to \(range.upperBound), got \(v)")
    }
    return Int(v)
}
