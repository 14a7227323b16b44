import Foundation
import XCTest

/// `stallstat stat` against `perf stat` on the same workload, on this kernel.
final class StatAgainstPerfTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
    }

    func touch(_ mib: Int, spinMs: Int = 0) -> [String] {
        [Harness.workloads + "/touch_pages", String(mib), String(spinMs)]
    }

    func testPageFaultsAndMinorFaultsWithinOnePercentOfPerf() {
        let events = "page-faults,minor-faults"
        let perf = Harness.csvCounts(Harness.perf(["stat", "-x,", "-e", events, "--"] + touch(64)).stderr)
        let mine = Harness.stallstat(["stat", "-x,", "-e", events, "--"] + touch(64))
        XCTAssertEqual(mine.status, 0, mine.stderr)
        let ours = Harness.csvCounts(mine.machine)
        for event in ["page-faults", "minor-faults"] {
            let p = try! XCTUnwrap(perf[event]), s = try! XCTUnwrap(ours[event], "no \(event) in \(mine.stdout)")
            XCTAssertGreaterThan(p, 16384, "64 MiB is 16384 pages")
            XCTAssertEqual(s, p, accuracy: p * 0.01, "\(event): stallstat \(s) vs perf \(p)")
        }
    }

    func testTracepointCountWithinFivePercentOfPerf() {
        let event = "kmem:mm_page_alloc"
        var perfValues: [Double] = [], ourValues: [Double] = []
        for _ in 0..<3 {
            perfValues.append(Harness.csvCounts(Harness.perf(["stat", "-x,", "-e", event, "--"] + touch(32)).stderr)[event] ?? -1)
            ourValues.append(Harness.csvCounts(Harness.stallstat(["stat", "-x,", "-e", event, "--"] + touch(32)).machine)[event] ?? -1)
        }
        let p = Harness.median(perfValues), s = Harness.median(ourValues)
        XCTAssertGreaterThan(p, 8000, "32 MiB of 4 KiB pages allocates at least 8192 pages")
        XCTAssertEqual(s, p, accuracy: p * 0.05, "stallstat \(ourValues) vs perf \(perfValues)")
    }

    func testTaskClockWithinFivePercentOfPerf() {
        var perfValues: [Double] = [], ourValues: [Double] = []
        for _ in 0..<3 {
            perfValues.append(Harness.csvCounts(Harness.perf(["stat", "-x,", "-e", "task-clock", "--"] + touch(1, spinMs: 300)).stderr)["task-clock"] ?? -1)
            ourValues.append(Harness.csvCounts(Harness.stallstat(["stat", "-x,", "-e", "task-clock", "--"] + touch(1, spinMs: 300)).machine)["task-clock"] ?? -1)
        }
        let p = Harness.median(perfValues), s = Harness.median(ourValues)
        // perf saw the spin (CPU time of a 300 ms wall-clock spin; less when other work shares the 2 CPUs).
        XCTAssertGreaterThan(p, 100)
        // Under the arm64 lab's TCG both tools' task-clock moves by ±10% run to run (one boot:
        // medians 354 and 374 ms): 10% there, 5% on hardware.
        let tolerance = timeBound(1) > 1 ? 0.10 : 0.05
        XCTAssertEqual(s, p, accuracy: p * tolerance, "msec: stallstat \(ourValues) vs perf \(perfValues)")
    }

    /// Keys, their order and the columns must be perf's, for the same events,
    /// including unsupported ones, per-CPU rows, intervals and repeats.
    func testJSONKeysAndCSVColumnsMatchPerf() {
        let cases: [[String]] = [
            ["-e", "task-clock,page-faults,cycles", "--", Harness.workloads + "/touch_pages", "4"],
            ["-a", "-A", "-e", "task-clock,page-faults", "--", "/bin/sleep", "0.1"],
            ["-I", "100", "-e", "task-clock,page-faults", "--", "/bin/sleep", "0.25"],
            ["-r", "3", "-e", "task-clock,page-faults", "--", "/bin/true"],
        ]
        func keys(_ line: Substring) -> [String] {
            let obj = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            // Order as printed: find each key's position in the line.
            return obj.keys.sorted { line.range(of: "\"\($0)\"")!.lowerBound < line.range(of: "\"\($1)\"")!.lowerBound }
        }
        for args in cases {
            let perfJSON = Harness.perf(["stat", "-j"] + args).stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
            let ours = Harness.stallstat(["stat", "-j"] + args)
            let ourJSON = ours.machine.split(separator: "\n")
            XCTAssertTrue(ourJSON.allSatisfy { $0.hasPrefix("{") }, "only JSON lines on the JSON stream: \(ours.machine)")
            // With -I the number of intervals follows the workload's wall time, which a slow
            // start (the arm64 lab's emulated guest) stretches: whole intervals may differ.
            let intervals = args.contains("-I")
            if intervals {
                XCTAssertEqual(ourJSON.count % 2, 0, "\(args): two events per interval")
                XCTAssertLessThanOrEqual(abs(ourJSON.count - perfJSON.count), 2, "\(args): \(ours.stdout) vs \(perfJSON)")
            } else {
                XCTAssertEqual(ourJSON.count, perfJSON.count, "\(args): \(ours.stdout) vs \(perfJSON)")
            }
            for (a, b) in zip(ourJSON, perfJSON) { XCTAssertEqual(keys(a), keys(b), "\(args)") }

            let perfCSV = Harness.perf(["stat", "-x,"] + args).stderr.split(separator: "\n").filter { !$0.isEmpty }
            let ourCSV = Harness.stallstat(["stat", "-x,"] + args).machine.split(separator: "\n")
            if intervals { XCTAssertLessThanOrEqual(abs(ourCSV.count - perfCSV.count), 2, "\(args)") } else { XCTAssertEqual(ourCSV.count, perfCSV.count, "\(args)") }
            for (a, b) in zip(ourCSV, perfCSV) {
                let fa = a.split(separator: ",", omittingEmptySubsequences: false)
                let fb = b.split(separator: ",", omittingEmptySubsequences: false)
                XCTAssertEqual(fa.count, fb.count, "\(a) vs \(b)")
                // unit and event columns agree; the count column has the same kind of value
                let shift = (a.first == " " ? 1 : 0) + (fa.contains { $0.hasPrefix("CPU") && Int($0.dropFirst(3)) != nil } ? 1 : 0)
                XCTAssertEqual(fa[shift + 1], fb[shift + 1], "\(a) vs \(b)")
                // perf 6.12 annotates an event with its PMU in -A rows ("task-clock [software]");
                // perf 6.1, this machine's oracle, and stallstat do not.
                let perfEvent = fb[shift + 2].replacingOccurrences(of: #" \[[a-z_0-9]+\]$"#, with: "", options: .regularExpression)
                XCTAssertEqual(String(fa[shift + 2]), perfEvent, "\(a) vs \(b)")
            }
        }
    }
}
