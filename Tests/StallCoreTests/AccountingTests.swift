import XCTest
@testable import StallCore

/// Counting without perf_event_open (rusage, cachegrind) and the paired statistics of
/// `gate compare`, against scipy's and cg_annotate's figures.
final class AccountingTests: XCTestCase {
    func testProcCountsOfThePausedChild() {
        let c = ProcessCounts.parse(schedstat: "1234567 890 3\n",
                                    stat: "4242 (a (strange) name) S 1 4242 4242 0 -1 4194560 131 0 2 0 0 0 0 0 20 0 1 0 1 1 1\n",
                                    status: "Name:\tx\nvoluntary_ctxt_switches:\t5\nnonvoluntary_ctxt_switches:\t2\n")
        XCTAssertEqual(c.runtimeNs, 1_234_567)
        XCTAssertEqual(c.minorFaults, 131)   // field 10, counted after the last ')'
        XCTAssertEqual(c.majorFaults, 2)     // field 12
        XCTAssertEqual(c.voluntarySwitches, 5)
        XCTAssertEqual(c.involuntarySwitches, 2)
        XCTAssertEqual(ProcessCounts.parse(schedstat: "", stat: "garbage", status: "voluntary_ctxt_switches: x"), ProcessCounts())
    }

    func testPreExecCountsComeOff() {
        var u = ResourceUsage()
        u.userNs = 9_000_000; u.systemNs = 2_000_000; u.minorFaults = 4067; u.voluntarySwitches = 3; u.maxRSSKiB = 16980
        var before = ProcessCounts()
        before.runtimeNs = 500_000; before.minorFaults = 17; before.voluntarySwitches = 1
        let r = u.since(before)
        XCTAssertEqual(r.userNs + r.systemNs, 10_500_000)
        XCTAssertEqual(r.userNs, 9_000_000)   // the pre-exec time is kernel time (fork, exec)
        XCTAssertEqual(r.minorFaults, 4050)
        XCTAssertEqual(r.voluntarySwitches, 2)
        XCTAssertEqual(r.maxRSSKiB, 16980)    // a high-water mark is kept
        XCTAssertEqual(RusageMetric.taskClock.result(r, elapsedNs: 1e7).printedValue, 10.5, accuracy: 1e-9)
        XCTAssertEqual(RusageMetric(eventName: "faults"), .pageFaults)
        XCTAssertEqual(RusageMetric(eventName: "page-faults (rusage)"), .pageFaults)
        XCTAssertNil(RusageMetric(eventName: "cycles"))
    }

    /// cachegrind's output of /bin/true with the fixed caches, and cg_annotate's totals of it.
    func testCachegrindSummaryAndCycleEstimate() throws {
        let text = """
        desc: I1 cache:         32768 B, 64 B, 8-way associative
        cmd: /bin/true
        events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw 
        fl=???
        fn=0x0000000000001f2b
        0 3 1 1
        summary: 127771 1091 1072 29403 1230 1018 10266 343 311
        """
        let s = try CachegrindSummary.parse(text)
        XCTAssertEqual(SimulatedMetric.instructions.value(s), 127_771)
        XCTAssertEqual(SimulatedMetric.l1DataMisses.value(s), 1230 + 343)
        XCTAssertEqual(SimulatedMetric.lastLevelMisses.value(s), 1072 + 1018 + 311)
        // L1 hits + 5 × LL hits + 35 × LL misses (iai-callgrind's estimate).
        let accesses: Double = 127_771 + 29_403 + 10_266
        let l1Miss: Double = 1091 + 1230 + 343
        let llMiss: Double = 1072 + 1018 + 311
        let l1Hits: Double = accesses - l1Miss
        let llHits: Double = l1Miss - llMiss
        let expected: Double = l1Hits + 5 * llHits + 35 * llMiss
        XCTAssertEqual(SimulatedMetric.estimatedCycles.value(s), expected)
        XCTAssertEqual((s + s)["Ir"], 255_542)
        XCTAssertThrowsError(try CachegrindSummary.parse("events: Ir\n")) { XCTAssertEqual($0 as? CachegrindSummary.ParseError, .missing("summary:")) }
        XCTAssertThrowsError(try CachegrindSummary.parse("events: Ir\nsummary: -3\n"))
        XCTAssertThrowsError(try CachegrindSummary.parse("events: Ir\nsummary: 99999999999999999999999\n"))
    }

    /// p values from scipy.stats.wilcoxon 1.17 (zero_method="wilcox").
    func testWilcoxonSignedRankAgainstScipy() {
        let ten = [0.01, 0.02, -0.005, 0.03, 0.015, 0.011, 0.022, -0.001, 0.017, 0.009]
        XCTAssertEqual(PairedStatistics.wilcoxonSignedRank(ten).p, 0.009765625, accuracy: 1e-12)   // method="exact"
        XCTAssertEqual(PairedStatistics.wilcoxonSignedRank(ten).w, 3)
        XCTAssertEqual(PairedStatistics.wilcoxonSignedRank([Double](repeating: 1, count: 10)).p, 0.001953125, accuracy: 1e-12)
        let twelve = [0.05, -0.01, 0.03, 0.07, 0.02, 0.04, -0.021, 0.06, 0.08, 0.09, 0.011, 0.012]
        XCTAssertEqual(PairedStatistics.wilcoxonSignedRank(twelve).p, 0.0068359375, accuracy: 1e-12)
        let sixty: [Double] = (0..<60).map { (i: Int) -> Double in
            let spread: Double = Double((i * 37) % 23 - 9) / 100
            return spread + 0.003 * Double(i)
        }
        XCTAssertEqual(PairedStatistics.wilcoxonSignedRank(sixty).p, 6.407492233853575e-10, accuracy: 1e-12)   // method="approx"
        XCTAssertEqual(PairedStatistics.wilcoxonSignedRank([0, 0, 0]).p, 1)
        XCTAssertEqual(PairedStatistics.smallestP(pairs: 10), 0.001953125)
    }

    func testPairedDecisions() {
        let old = (0..<12).map { 1000 + Double($0 % 4) * 10 }
        // Every pair 3% slower: a regression past 2%.
        let slower = PairedGateDecision.decide(metric: "task-clock", unit: "msec", old: old, new: old.map { $0 * 1.03 }, threshold: 0.02,
                                               alpha: 0.01, coveragePercent: [100], minimumCoverage: 0.99)
        XCTAssertEqual(slower.verdict, .regression, slower.reason)
        XCTAssertEqual(slower.change, 0.03, accuracy: 1e-9)
        let same = PairedGateDecision.decide(metric: "instructions (simulated)", unit: "", old: old, new: old, threshold: 0.0005,
                                             alpha: 0.01, coveragePercent: [100], minimumCoverage: 0.99)
        XCTAssertEqual(same.verdict, .pass)
        // Six pairs cannot reach p < 0.01 (smallest 2/64).
        let few = PairedGateDecision.decide(metric: "task-clock", unit: "msec", old: Array(old.prefix(6)), new: old.prefix(6).map { $0 * 1.5 },
                                            threshold: 0.02, alpha: 0.01, coveragePercent: [100], minimumCoverage: 0.99)
        XCTAssertEqual(few.verdict, .inconclusive)
        XCTAssertTrue(few.reason.contains("cannot reach significance"), few.reason)
        let zero = PairedGateDecision.decide(metric: "cs", unit: "", old: [0, 1, 2, 3], new: [1, 1, 2, 3], threshold: 0.2,
                                             alpha: 0.01, coveragePercent: [100], minimumCoverage: 0.99)
        XCTAssertEqual(zero.verdict, .inconclusive)
        XCTAssertEqual(GateConfig.defaultThreshold(for: "page-faults (rusage)"), GateConfig.defaultThreshold(for: "page-faults"))
        XCTAssertEqual(GateConfig.defaultThreshold(for: "instructions (simulated)"), 0.0005)
        // compare's pairs remove drift: time-like metrics gate 1% there, 5% against a stored baseline.
        XCTAssertEqual(GateConfig.defaultThreshold(for: "task-clock", paired: true), 0.01)
        XCTAssertEqual(GateConfig.defaultThreshold(for: "task-clock (rusage)", paired: true), 0.01)
        XCTAssertEqual(GateConfig.defaultThreshold(for: "task-clock"), 0.05)
        XCTAssertEqual(GateConfig.defaultThreshold(for: "page-faults", paired: true), 0.005)
        XCTAssertEqual(GateConfig.defaultThreshold(for: "instructions (simulated)", paired: true), 0.0005)
    }

    func testBaselineDriftWarnings() {
        var a = MachineDescription(cpu: "x", cpuModelName: "m", kernel: "k", cpus: 2, hasPMU: false)
        a.machineID = "aaaa1111"; a.bootID = "b1"; a.pressure = ["cpu": 0.01, "memory": 0, "io": 0.02]
        var b = a
        XCTAssertEqual(BaselineDrift.warnings(baseline: a, created: 1000, now: b, at: 2000), [])
        b.bootID = "b2"
        XCTAssertTrue(BaselineDrift.warnings(baseline: a, created: 1000, now: b, at: 2000).contains { $0.contains("another boot") })
        b.machineID = "cccc2222"
        XCTAssertTrue(BaselineDrift.warnings(baseline: a, created: 1000, now: b, at: 2000).contains { $0.contains("another machine") })
        XCTAssertTrue(BaselineDrift.warnings(baseline: a, created: 0.5, now: a, at: 3 * 86400).contains { $0.contains("days old") })
        b = a
        b.pressure["cpu"] = 0.40
        XCTAssertTrue(BaselineDrift.stateChanged(baseline: a, now: b))
        XCTAssertTrue(BaselineDrift.warnings(baseline: a, created: 1000, now: b, at: 2000).contains { $0.contains("cpu pressure") && $0.contains("40.0%") })
        XCTAssertTrue(BaselineDrift.isTimeLike("task-clock (rusage)"))
        XCTAssertFalse(BaselineDrift.isTimeLike("page-faults"))
        // The state and provenance survive the baseline file.
        let base = GateBaseline(stallstatVersion: "t", createdSeconds: 5, command: ["x"], machine: a, runs: 3, warmup: 0,
                                metrics: [MetricSamples(name: "page-faults (rusage)", unit: "", samples: [1, 2, 3], coveragePercent: [100, 100, 100])])
        let decoded = try? GateBaseline.decode(base.json(), file: "b.json")
        XCTAssertEqual(decoded?.machine.pressure["cpu"] ?? -1, 0.01, accuracy: 1e-9)
        XCTAssertEqual(decoded?.machine.bootID, "b1")
        XCTAssertEqual(decoded?.metrics.first?.name, "page-faults (rusage)")
    }
}
