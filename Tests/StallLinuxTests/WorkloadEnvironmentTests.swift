import XCTest

/// The workload must run in the environment the user gave stallstat: one more variable
/// moves every string on its stack and changes its instruction count (the arm64 lab saw
/// `--no-multiplex` runs count 291 more user instructions: libpfm4's
/// LIBPFM_ENCODE_INACTIVE had leaked into the child).
final class WorkloadEnvironmentTests: XCTestCase {
    func testStatAndRecordPassTheEnvironmentUnchanged() throws {
        let direct = Set(Harness.run(["/usr/bin/env"]).stdout.split(separator: "\n").map(String.init))
        XCTAssertFalse(direct.isEmpty)
        let out = NSTemporaryDirectory() + "stallstat-env-\(getpid()).data"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let runs: [[String]] = [
            ["stat", "-o", "/dev/null", "-e", "task-clock", "--", "/usr/bin/env"],
            // libpfm4 is initialized for the name, and --no-multiplex runs once per group.
            ["stat", "-o", "/dev/null", "--no-multiplex", "-e", "task-clock,page-faults,perf::PERF_COUNT_SW_CPU_CLOCK", "--", "/usr/bin/env"],
            ["record", "-e", "page-faults", "-o", out, "--", "/usr/bin/env"],
        ]
        for args in runs {
            let r = Harness.stallstat(args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            let seen = Set(r.stdout.split(separator: "\n").map(String.init))
            XCTAssertEqual(seen.subtracting(direct), [], "\(args) added to the workload's environment")
            XCTAssertEqual(direct.subtracting(seen), [], "\(args) removed from the workload's environment")
        }
    }
}
