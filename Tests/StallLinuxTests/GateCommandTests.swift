import Foundation
import XCTest

final class GateCommandTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "stallstat-gate-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func work(_ mib: String, _ ms: String) -> [String] { [Harness.workloads + "/touch_pages", mib, ms] }

    func testRecordThenCheckRegressionWritesEveryReport() throws {
        let base = dir + "/base.json"
        let rec = Harness.stallstat(["gate", "record", "--baseline", base, "--runs", "6", "--warmup", "1", "-e", "page-faults", "--"] + work("8", "0"))
        XCTAssertEqual(rec.status, 0, rec.stderr)
        let same = Harness.stallstat(["gate", "check", "--baseline", base, "--runs", "6", "--warmup", "1", "-e", "page-faults", "--threshold", "page-faults=1", "--"] + work("8", "0"))
        XCTAssertEqual(same.status, 0, same.stdout + same.stderr)
        let junit = dir + "/g.xml", md = dir + "/g.md", bmf = dir + "/g.bmf"
        // 9 MiB instead of 8 stands for a slower build of the same benchmark.
        let worse = Harness.stallstat(["gate", "check", "--baseline", base, "--allow-different-command", "--runs", "6", "--warmup", "1", "-e", "page-faults",
                                       "--junit", junit, "--markdown", md, "--bmf", bmf, "--"] + work("9", "0"))
        XCTAssertEqual(worse.status, 1, worse.stdout + worse.stderr)
        XCTAssertTrue(worse.stdout.contains("REGRESSION"), worse.stdout)
        XCTAssertTrue(try String(contentsOfFile: junit, encoding: .utf8).contains("failures=\"1\""))
        XCTAssertTrue(try String(contentsOfFile: md, encoding: .utf8).contains("❌ regression"))
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bmf))))
    }

    func testMismatchedAndCorruptBaselinesAreRefused() throws {
        let base = dir + "/base.json"
        XCTAssertEqual(Harness.stallstat(["gate", "record", "--baseline", base, "--runs", "3", "--warmup", "0", "-e", "page-faults", "--"] + work("2", "0")).status, 0)
        var text = try String(contentsOfFile: base, encoding: .utf8)
        let other = dir + "/other.json"
        text = text.replacingOccurrences(of: "\"cpu\": \"", with: "\"cpu\": \"Arm implementer 0x41 part 0xd80, was ")
        try text.write(toFile: other, atomically: true, encoding: .utf8)
        let refused = Harness.stallstat(["gate", "check", "--baseline", other, "--runs", "3", "--warmup", "0", "-e", "page-faults", "--"] + work("2", "0"))
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("refused") && refused.stderr.contains("--allow-different-machine"), refused.stderr)
        let allowed = Harness.stallstat(["gate", "check", "--baseline", other, "--allow-different-machine", "--runs", "3", "--warmup", "0", "-e", "page-faults", "--threshold", "page-faults=5", "--"] + work("2", "0"))
        XCTAssertNotEqual(allowed.status, 2, allowed.stderr)

        let metrics = Harness.stallstat(["gate", "check", "--baseline", base, "--runs", "3", "--warmup", "0", "-e", "page-faults,task-clock", "--"] + work("2", "0"))
        XCTAssertEqual(metrics.status, 2)
        XCTAssertTrue(metrics.stderr.contains("the baseline has metrics page-faults"), metrics.stderr)

        let corrupt = dir + "/corrupt.json"
        try String(text.prefix(40)).write(toFile: corrupt, atomically: true, encoding: .utf8)
        let bad = Harness.stallstat(["gate", "check", "--baseline", corrupt, "--"] + work("2", "0"))
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("corrupt.json"), bad.stderr)
        let missing = Harness.stallstat(["gate", "check", "--baseline", dir + "/none.json", "--"] + work("2", "0"))
        XCTAssertEqual(missing.status, 2)
    }

    func testFailingCommandIsAMeasurementError() {
        let r = Harness.stallstat(["gate", "record", "--baseline", dir + "/b.json", "--runs", "3", "-e", "task-clock", "--", "/bin/sh", "-c", "exit 4"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("exited with status 4"), r.stderr)
    }

    func testMannWhitneyAgainstScipyLive() throws {
        try XCTSkipUnless(Harness.run(["/usr/bin/env", "python3", "-c", "import scipy"]).status == 0, "python3 with scipy is not installed")
        for _ in 0..<5 {
            let a = (0..<Int.random(in: 5...15)).map { _ in Double(Int.random(in: 90...110)) }
            let b = (0..<Int.random(in: 5...15)).map { _ in Double(Int.random(in: 95...115)) }
            let r = Harness.run(["/usr/bin/env", "python3", "-c", "from scipy import stats; print(repr(float(stats.mannwhitneyu(\(a), \(b), method='asymptotic').pvalue)))"])
            let p = try XCTUnwrap(Double(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), r.stdout + r.stderr)
            XCTAssertEqual(GateStatisticsProbe.p(a, b), p, accuracy: 1e-12)
        }
    }
}

import StallCore
enum GateStatisticsProbe { static func p(_ a: [Double], _ b: [Double]) -> Double { GateStatistics.mannWhitneyU(a, b).p } }

/// Bad gate data is exit 2 with a message, never a verdict.
final class GateBadDataTests: XCTestCase {
    func testAnotherCommandsBaselineAndUnknownMetricsAreRefused() throws {
        let dir = NSTemporaryDirectory() + "stallstat-gate-bad-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = dir + "/base.json"
        XCTAssertEqual(Harness.stallstat(["gate", "record", "--baseline", base, "--runs", "3", "--warmup", "0", "-e", "page-faults", "--",
                                          Harness.workloads + "/touch_pages", "2", "0"]).status, 0)
        let other = Harness.stallstat(["gate", "check", "--baseline", base, "--runs", "3", "--warmup", "0", "-e", "page-faults", "--",
                                       Harness.workloads + "/touch_pages", "3", "0"])
        XCTAssertEqual(other.status, 2, other.stdout + other.stderr)
        XCTAssertTrue(other.stderr.contains("--allow-different-command"), other.stderr)
        XCTAssertFalse(other.stdout.contains("REGRESSION") || other.stdout.contains("PASS"), "no verdict: \(other.stdout)")
        let unknown = Harness.stallstat(["gate", "record", "--baseline", dir + "/u.json", "--runs", "3", "-e", "no-such-metric", "--", "/bin/true"])
        XCTAssertEqual(unknown.status, 2, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("no-such-metric"), unknown.stderr)
    }
}
