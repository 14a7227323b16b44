import Foundation
import XCTest

final class AnalyzeCommandTests: XCTestCase {
    var sample: String { Harness.packageRoot + "/../shared/samples/simpleperf-stat-stall-a.txt" }

    func testAnalyzeTheSimpleperfSample() {
        let r = Harness.stallstat(["analyze", sample])
        XCTAssertEqual(r.status, 0, r.stderr)
        for expected in ["└─ stalls", "73.7%", "61.3%", "38.7%", "44.0%", "19.2%", "0.73 instructions per cycle", "1.37 cycles per instruction",
                         "counted once", "STALL (18,523,652,445) ≈ STALL_FRONTEND + STALL_BACKEND"] {
            XCTAssertTrue(r.stdout.contains(expected), "missing '\(expected)' in\n\(r.stdout)")
        }
        XCTAssertFalse(r.stdout.contains("\u{1B}["), "plain when piped")
    }

    func testAnalyzeJSONAndAnExplicitCPU() throws {
        let r = Harness.stallstat(["analyze", "--json", "--cpu", "cortex-a720", sample])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(obj["cpu"] as? String, "cortex-a720")
        let nodes = obj["nodes"] as! [[String: Any]]
        XCTAssertEqual(nodes.first { $0["name"] as? String == "frontend" }?["parent"] as? String, "stalls")
    }

    func testAnalyzeStallstatsOwnJSONAndPerfCapturesAndBadInput() throws {
        // stallstat's own -j output of the software counters on this machine: no tree, counts listed.
        let own = Harness.stallstat(["stat", "-j", "-e", "task-clock,page-faults", "--", "/bin/true"])
        let path = NSTemporaryDirectory() + "stallstat-own-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try own.machine.write(toFile: path, atomically: true, encoding: .utf8)
        let r = Harness.stallstat(["analyze", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("page-faults"), r.stdout)

        let bad = NSTemporaryDirectory() + "stallstat-bad-\(getpid()).txt"
        defer { try? FileManager.default.removeItem(atPath: bad) }
        var text = try String(contentsOfFile: sample, encoding: .utf8)
        text = text.replacingOccurrences(of: "  18,300,407,346  instructions", with: "  18,300,4x7,346  instructions")
        try text.write(toFile: bad, atomically: true, encoding: .utf8)
        let damaged = Harness.stallstat(["analyze", bad])
        XCTAssertEqual(damaged.status, 0)
        XCTAssertTrue(damaged.stderr.contains("line 5: cannot read a count"), damaged.stderr)
        XCTAssertTrue(damaged.stdout.contains("73.7%"), "the rest is still analysed")

        let missing = Harness.stallstat(["analyze", "/no/such/file"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("/no/such/file"), missing.stderr)
    }

    func testStatTreeOnAMachineWithoutPMUSaysWhy() throws {
        let r = Harness.stallstat(["stat", "--tree", "-e", "task-clock", "--", "/bin/true"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Stall tree: not available: this machine exposes no hardware PMU") || r.stdout.contains("Stall tree ("), r.stdout)
    }

    func testNoMultiplexRunsOncePerGroupAndKeepsEveryCount() {
        let r = Harness.stallstat(["stat", "--no-multiplex", "--pmu-counters", "1", "-x,",
                                   "-e", "{cycles,instructions},{stalled-cycles-frontend},page-faults", "--", Harness.workloads + "/touch_pages", "4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("measured in 2 runs"), r.stderr)
        XCTAssertGreaterThan(Harness.csvCounts(r.machine)["page-faults"] ?? 0, 1024, r.machine)
        XCTAssertEqual(r.machine.split(separator: "\n").count, 4)
    }
}
