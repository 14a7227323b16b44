import XCTest
@testable import StallCore

/// Reference p-values from scipy 1.17: scipy.stats.mannwhitneyu(a, b, method="asymptotic").
final class GateStatisticsTests: XCTestCase {
    func testMannWhitneyEqualsScipy() {
        let a = [10.1, 10.3, 9.9, 10.0, 10.2, 10.4, 9.8, 10.1, 10.0, 10.2]
        let b = [10.6, 10.9, 10.5, 10.8, 10.7, 10.4, 10.9, 11.0, 10.6, 10.8]
        let r1 = GateStatistics.mannWhitneyU(a, b)
        XCTAssertEqual(r1.u, 0.5)
        XCTAssertEqual(r1.p, 0.0002041395111874819, accuracy: 1e-12)
        let c: [Double] = [1000, 1000, 1001, 1000, 1002, 1000, 1001, 1000], d: [Double] = [1010, 1011, 1010, 1010, 1012, 1010, 1011, 1010]
        XCTAssertEqual(GateStatistics.mannWhitneyU(c, d).p, 0.0006370814132569573, accuracy: 1e-12)
        let e: [Double] = [5, 5, 5, 6, 6, 7], f: [Double] = [5, 6, 6, 6, 7, 7, 8]
        let r3 = GateStatistics.mannWhitneyU(e, f)
        XCTAssertEqual(r3.u, 11.5)
        XCTAssertEqual(r3.p, 0.17691187319448665, accuracy: 1e-12)
        XCTAssertEqual(GateStatistics.mannWhitneyU([3, 3, 3], [3, 3, 3]).p, 1, "all equal: no evidence")
    }

    func testBootstrapIntervalIsDeterministicAndCoversTheShift() throws {
        let a = (0..<10).map { 100 + Double($0 % 5) * 0.5 }
        let b = a.map { $0 * 1.10 }
        let ci = try XCTUnwrap(GateStatistics.bootstrapRatioOfMedians(baseline: a, new: b))
        XCTAssertLessThanOrEqual(ci.low, 1.10)
        XCTAssertGreaterThanOrEqual(ci.high, 1.10)
        XCTAssertGreaterThan(ci.low, 1.05)
        let again = try XCTUnwrap(GateStatistics.bootstrapRatioOfMedians(baseline: a, new: b))
        XCTAssertEqual(ci.low, again.low)
        XCTAssertEqual(ci.high, again.high)
    }

    func testNoiseFloor() {
        let flat = [Double](repeating: 4149, count: 10)
        XCTAssertEqual(GateStatistics.minimumDetectableChange(baseline: flat, new: flat), 0)
        let noisy: [Double] = [2, 3, 2, 5, 1, 4, 2, 3, 6, 2]
        XCTAssertGreaterThan(GateStatistics.minimumDetectableChange(baseline: noisy, new: noisy.reversed()), 0.2)
        XCTAssertEqual(GateStatistics.minimumDetectableChange(baseline: [0, 0, 0], new: [0, 1, 0]), .infinity)
    }

    func testDecisionRules() {
        let base: [Double] = (0..<10).map { 100 + Double($0 % 3) * 0.2 }
        // 10% slower, threshold 5%: regression
        let slow = GateDecision.decide(metric: "task-clock", unit: "msec", baseline: base, new: base.map { $0 * 1.1 }, threshold: 0.05,
                                       alpha: 0.01, coveragePercent: [100], minimumCoverage: 0.99)
        XCTAssertEqual(slow.verdict, .regression)
        XCTAssertTrue(slow.reason.hasPrefix("rose +10.00%"), slow.reason)
        // 2% slower and significant, threshold 5%: passes, saying so
        let small = GateDecision.decide(metric: "task-clock", unit: "msec", baseline: base, new: base.map { $0 * 1.02 }, threshold: 0.05,
                                        alpha: 0.01, coveragePercent: [100], minimumCoverage: 0.99)
        XCTAssertEqual(small.verdict, .pass)
        XCTAssertTrue(small.reason.contains("within the 5% threshold"), small.reason)
        // multiplexed below the required coverage: inconclusive, whatever the numbers
        let muxed = GateDecision.decide(metric: "cycles", unit: "", baseline: base, new: base.map { $0 * 1.5 }, threshold: 0.05,
                                        alpha: 0.01, coveragePercent: [100, 62.5], minimumCoverage: 0.99)
        XCTAssertEqual(muxed.verdict, .inconclusive)
        XCTAssertTrue(muxed.reason.contains("62.5%"), muxed.reason)
        // noise above the threshold: inconclusive rather than a pass
        let noisy: [Double] = [2, 3, 2, 5, 1, 4, 2, 3, 6, 2]
        let n = GateDecision.decide(metric: "context-switches", unit: "", baseline: noisy, new: noisy.reversed(), threshold: 0.05,
                                    alpha: 0.01, coveragePercent: [100], minimumCoverage: 0.99)
        XCTAssertEqual(n.verdict, .inconclusive)
        XCTAssertTrue(n.reason.hasPrefix("too noisy to gate 5%"), n.reason)
        // faster: an improvement, not a failure
        let fast = GateDecision.decide(metric: "task-clock", unit: "msec", baseline: base, new: base.map { $0 * 0.8 }, threshold: 0.05,
                                       alpha: 0.01, coveragePercent: [100], minimumCoverage: 0.99)
        XCTAssertEqual(fast.verdict, .improvement)
        // too few runs to ever reach alpha: inconclusive, even for a large change
        let few = GateDecision.decide(metric: "page-faults", unit: "", baseline: [100, 100, 101, 100, 100], new: [112, 112, 113, 112, 112],
                                      threshold: 0.005, alpha: 0.01, coveragePercent: [100], minimumCoverage: 0.99)
        XCTAssertEqual(few.verdict, .inconclusive)
        XCTAssertTrue(few.reason.contains("cannot reach significance"), few.reason)
        XCTAssertEqual(GateReport.overall([slow, n]), .regression)
        XCTAssertEqual(GateReport.overall([small, n]), .inconclusive)
        XCTAssertEqual(GateReport.overall([small, fast]), .pass)
    }
}

final class GateFileTests: XCTestCase {
    func baseline() -> GateBaseline {
        GateBaseline(stallstatVersion: "0.1.0", createdSeconds: 1_700_000_000, command: ["./bench", "--fast"],
                     machine: MachineDescription(cpu: "amd family 0x1a model 0x2", cpuModelName: "AMD EPYC", kernel: "6.18", cpus: 2, hasPMU: false),
                     runs: 3, warmup: 2, metrics: [MetricSamples(name: "task-clock", unit: "msec", samples: [1.5, 1.25, 1.0 / 3], coveragePercent: [100, 100, 99.5])])
    }

    func testBaselineRoundTripsExactly() throws {
        let b = baseline()
        XCTAssertEqual(try GateBaseline.decode(b.json(), file: "b.json"), b)
    }

    func testCorruptBaselinesAreErrorsNeverPasses() {
        let good = baseline().json()
        let cases: [(String, String)] = [
            (String(good.prefix(good.count / 2)), "is not a readable baseline"),
            ("{\"format\": \"something-else\"}", "is not a stallstat gate baseline"),
            (good.replacingOccurrences(of: "\"format_version\": 1", with: "\"format_version\": 9"), "format version 9"),
            (good.replacingOccurrences(of: "[1.5, 1.25, 0.33333333333333331]", with: "[1.5]"), "at least 2 finite samples"),
            (good.replacingOccurrences(of: "\"metrics\": [", with: "\"metricz\": ["), "missing machine, metrics"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try GateBaseline.decode(text, file: "b.json")) {
                XCTAssertTrue("\($0)".contains(message), "expected '\(message)' in '\($0)'")
            }
        }
    }

    func testConfigInJSON() throws {
        let j = try GateConfig.parseJSON("{\"runs\": 12, \"metrics\": [\"task-clock\"], \"thresholds\": {\"task-clock\": 4}}", file: "g.json")
        XCTAssertEqual(j.runs, 12)
        XCTAssertEqual(j.metrics, ["task-clock"])
        XCTAssertEqual(j.thresholds["task-clock"], 0.04)
        // A misspelt key changes nothing silently: it is an error, as in the TOML form.
        XCTAssertThrowsError(try GateConfig.parseJSON("{\"treshold\": {}}", file: "g.json")) { XCTAssertTrue("\($0)".contains("g.json line 1: unknown key 'treshold'"), "\($0)") }
        XCTAssertThrowsError(try GateConfig.parseJSON("{\"metrics\": \"task-clock\"}", file: "g.json")) { XCTAssertTrue("\($0)".contains("array of strings"), "\($0)") }
        XCTAssertThrowsError(try GateConfig.parseJSON("{\"thresholds\": {\"task-clock\": \"5%\"}}", file: "g.json")) { XCTAssertTrue("\($0)".contains("must be a number"), "\($0)") }
        XCTAssertThrowsError(try GateConfig.parseJSON("[1]", file: "g.json"))
    }

    func testJUnitMarkdownAndBMF() throws {
        let base: [Double] = (0..<10).map { 100 + Double($0 % 3) }
        let r1 = GateDecision.decide(metric: "task-clock", unit: "msec", baseline: base, new: base.map { $0 * 1.2 }, threshold: 0.05, alpha: 0.01, coveragePercent: [100], minimumCoverage: 0.99)
        let flat = [Double](repeating: 4149, count: 10)
        let r2 = GateDecision.decide(metric: "page-faults", unit: "", baseline: flat, new: flat, threshold: 0.005, alpha: 0.01, coveragePercent: [100], minimumCoverage: 0.99)
        let junit = GateReport.junit([r1, r2])
        XCTAssertTrue(junit.contains("<testsuite name=\"stallstat gate\" tests=\"2\" failures=\"1\" skipped=\"0\" errors=\"0\">"), junit)
        XCTAssertTrue(junit.contains("<testcase classname=\"stallstat.gate\" name=\"task-clock\"><failure message=\"rose +20"), junit)
        let md = GateReport.markdown([r1, r2], command: ["./bench"])
        XCTAssertTrue(md.hasPrefix("### stallstat gate: ❌ regression"), md)
        XCTAssertTrue(md.contains("| page-faults |"), md)
        let bmf = try JSONReader.parse(GateReport.bmf([r1, r2], benchmark: "./bench"))
        XCTAssertEqual(bmf["./bench"]?["task-clock"]?["value"]?.numberValue ?? 0, GateStatistics.median(base.map { $0 * 1.2 }), accuracy: 1e-6)
        XCTAssertNotNil(bmf["./bench"]?["page-faults"]?["lower_value"])
        let json = try JSONReader.parse(GateReport.json([r1, r2]))
        XCTAssertEqual(json["verdict"]?.stringValue, "regression")
    }
}

/// Hostile numbers in baselines and configs are errors naming the field, never a trap.
final class GateFileNumberTests: XCTestCase {
    func testRunsAndWarmupMustBeWholeNumbersInRange() {
        for bad in ["1e30", "1e300", "3.9", "-1"] {
            XCTAssertThrowsError(try GateConfig.parseJSON("{\"runs\": \(bad)}", file: "c.json"), bad) { XCTAssertTrue("\($0)".contains("runs must be a whole number"), "\($0)") }
            XCTAssertThrowsError(try GateConfig.parseJSON("{\"warmup\": \(bad)}", file: "c.json"), bad)
        }
        for bad in ["1e999", "1e300", "2.5", "-3"] {
            XCTAssertThrowsError(try GateConfig.parseJSON("{\"runs\": \(bad)}", file: "c.json"), bad)
            let baseline = """
            {"format": "stallstat-gate-baseline", "format_version": 1, "runs": \(bad), "command": ["x"],
             "machine": {"cpu": "x"}, "metrics": [{"name": "task-clock", "samples": [1, 2, 3]}]}
            """
            XCTAssertThrowsError(try GateBaseline.decode(baseline, file: "b.json"), bad) { XCTAssertTrue("\($0)".contains("runs must be a whole number"), "\($0)") }
        }
        XCTAssertEqual(try GateConfig.parseJSON("{\"runs\": 12}", file: "c.json").runs, 12)
    }
}

/// The gate's cost is bounded whatever the baseline's size.
final class GateCostTests: XCTestCase {
    func testResamplingCostDoesNotGrowWithTheBaseline() {
        var seed: UInt64 = 7
        func noise() -> Double { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Double(seed >> 40) / Double(1 << 24) }
        func timed(_ n: Int) -> (seconds: Double, low: Double) {
            let baseline = (0..<n).map { _ in 100 + noise() }, slower = (0..<n).map { _ in 110 + noise() }
            let start = Date()
            let ci = GateStatistics.bootstrapRatioOfMedians(baseline: baseline, new: slower, resamples: 50)
            _ = GateStatistics.minimumDetectableChange(baseline: baseline, new: slower, resamples: 50)
            return (Date().timeIntervalSince(start), ci?.low ?? 0)
        }
        let small = timed(GateStatistics.maxResampledSize), large = timed(100 * GateStatistics.maxResampledSize)
        XCTAssertLessThan(large.seconds, 5 * small.seconds + timeBound(0.5), "100× the samples, about the same cost: \(small.seconds) s vs \(large.seconds) s")
        XCTAssertEqual(large.low, 1.1, accuracy: 0.01, "the quantiles keep the distribution")
        XCTAssertEqual(GateStatistics.quantileSubsample([3, 1, 2]), [3, 1, 2], "small samples are used as they are")
    }
}

/// Samples that carry no ratio get no verdict.
final class GateDegenerateSampleTests: XCTestCase {
    func decide(_ base: [Double], _ new: [Double]) -> GateResult {
        GateDecision.decide(metric: "major-faults", unit: "", baseline: base, new: new, threshold: 0.05, alpha: 0.01,
                            coveragePercent: [100], minimumCoverage: 0.99)
    }

    func testZeroNegativeAndZeroBaselineAreInconclusive() {
        let zeros = Array(repeating: 0.0, count: 10)
        XCTAssertEqual(decide(zeros, zeros).verdict, .inconclusive, "counted nothing either time: not a PASS")
        XCTAssertEqual(decide(zeros, Array(repeating: 5.0, count: 10)).verdict, .inconclusive, "no ratio to a zero baseline, not REGRESSION +inf")
        let negative = (0..<10).map { -Double($0) - 100 }
        XCTAssertEqual(decide(Array(repeating: 100.0, count: 10), negative).verdict, .inconclusive, "negative samples are not counts, not an IMPROVEMENT")
        let baseline = """
        {"format": "stallstat-gate-baseline", "format_version": 1, "runs": 3, "command": ["x"],
         "machine": {"cpu": "x"}, "metrics": [{"name": "task-clock", "samples": [1, -2, 3]}]}
        """
        XCTAssertThrowsError(try GateBaseline.decode(baseline, file: "b.json")) { XCTAssertTrue("\($0)".contains("negative sample"), "\($0)") }
    }
}
