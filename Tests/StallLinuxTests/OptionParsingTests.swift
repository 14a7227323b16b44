import Foundation
import XCTest

/// The command line as users of perf and simpleperf type it.
final class OptionParsingTests: XCTestCase {
    func testNoSubcommandMeansStat() {
        let r = Harness.stallstat(["-a", "--duration", "0.2", "-x,", "-e", "task-clock"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.machine.contains(",msec,task-clock,"), r.machine)
    }

    func testJoinedSeparatorRepeatedEventsAndGroups() {
        let r = Harness.stallstat(["stat", "-x;", "-e", "task-clock", "-e", "{page-faults,minor-faults}", "--", "/bin/true"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let events = r.machine.split(separator: "\n").map { $0.split(separator: ";", omittingEmptySubsequences: false)[2] }
        XCTAssertEqual(events, ["task-clock", "page-faults", "minor-faults"])
    }

    func testCommandArgumentsAfterDoubleDashAreTheWorkloads() {
        let r = Harness.stallstat(["stat", "-x,", "-e", "task-clock", "--", "/bin/sh", "-c", "exit 0", "-e", "ignored"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testInvalidCombinationsAreUsageErrors() {
        let cases: [([String], String)] = [
            (["stat", "-r", "2", "-a", "--duration", "1"], "needs a command"),
            (["stat", "-I", "5", "--", "/bin/true"], "-I/--interval takes a whole number from 10"),
            (["stat", "-j", "-x,", "--", "/bin/true"], "choose one of -j/--json and -x/--csv"),
            (["stat", "-p", "1", "-a"], "cannot be combined with -a or -C"),
            (["stat", "-e", "{a,b", "--", "/bin/true"], "unbalanced"),
            (["stat", "-C", "3-1", "--duration", "0.1"], "cannot read CPU list"),
            (["stat", "--per-cpu", "--", "/bin/true"], "need system-wide counting (-a or -C)"),
            (["stat", "-p", "12x"], "positive ids"),
        ]
        for (args, message) in cases {
            let r = Harness.stallstat(args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }

    func testRepeatPrintsMeanAndVarianceLikePerf() {
        let r = Harness.stallstat(["stat", "-r", "3", "-x,", "-e", "page-faults", "--", Harness.workloads + "/touch_pages", "4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let fields = r.machine.split(separator: "\n")[0].split(separator: ",", omittingEmptySubsequences: false)
        XCTAssertEqual(fields[2], "page-faults")
        XCTAssertTrue(fields[3].hasSuffix("%"), "variance column: \(r.machine)")
        XCTAssertGreaterThan(Double(fields[0]) ?? 0, 1024, "4 MiB = 1024 pages")
    }

    func testOutputFileGetsTheResults() throws {
        let path = NSTemporaryDirectory() + "stallstat-o-\(getpid()).csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = Harness.stallstat(["stat", "-x,", "-o", path, "-e", "task-clock", "--", "/bin/true"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(try String(contentsOfFile: path, encoding: .utf8).contains(",msec,task-clock,"))
    }

    func testListMarksWhatThisMachineCanOpen() {
        let r = Harness.stallstat(["list", "sw"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("page-faults, faults") && r.stdout.contains("[supported]"), r.stdout)
        let hw = Harness.stallstat(["list", "hw"])
        XCTAssertTrue(hw.stdout.contains("cpu-cycles, cycles"), hw.stdout)
    }
}
