import Foundation
import XCTest

/// `--counters`: counting where perf_event_open is refused (rusage), exact simulated
/// counts (valgrind), and `gate compare` where a stored baseline drifts. Compared with
/// perf where both count.
final class CounterSourceTests: XCTestCase {
    var work: String { Harness.workloads + "/spin_work" }

    /// The same command counted by perf and from its rusage, alternately: the faults
    /// agree within 1.5% (perf counts from exec; rusage from the exec's own faults on),
    /// the CPU time within this machine's run-to-run noise, and the parts add up.
    func testRusageAgreesWithPerf() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        let touch = Harness.workloads + "/touch_pages"
        var ours: [String: [Double]] = [:], perfs: [String: [Double]] = [:]
        for _ in 0..<5 {
            // -j: the counts at rusage's own microsecond precision (CSV rounds ms to 2 places,
            // so its user + system could differ from its task-clock by the rounding alone).
            let s = Harness.stallstat(["stat", "--counters=rusage", "-j", "--", touch, "24"])
            XCTAssertEqual(s.status, 0, s.stderr)
            for line in (s.stderr + s.stdout).split(separator: "\n") {
                guard let row = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let event = row["event"] as? String, let value = (row["counter-value"] as? String).flatMap(Double.init) else { continue }
                ours[event, default: []].append(value)
            }
            let p = Harness.perf(["stat", "-x,", "-e", "task-clock,page-faults", "--", touch, "24"])
            for (k, v) in Harness.csvCounts(p.stderr) { perfs[k, default: []].append(v) }
        }
        let faults = Harness.median(ours["page-faults (rusage)"] ?? []), perfFaults = Harness.median(perfs["page-faults"] ?? [])
        XCTAssertGreaterThan(faults, 24 * 256, "24 MiB touched is at least 6144 faults")
        XCTAssertEqual(faults, perfFaults, accuracy: perfFaults * 0.015, "rusage \(faults) vs perf \(perfFaults)")
        let clock = Harness.median(ours["task-clock (rusage)"] ?? []), perfClock = Harness.median(perfs["task-clock"] ?? [])
        XCTAssertEqual(clock, perfClock, accuracy: perfClock * 0.35, "rusage \(clock) ms vs perf \(perfClock) ms")
        for i in 0..<(ours["task-clock (rusage)"]?.count ?? 0) {
            XCTAssertEqual(ours["task-clock (rusage)"]![i], ours["user-time (rusage)"]![i] + ours["system-time (rusage)"]![i], accuracy: 0.002)
            XCTAssertGreaterThan(ours["max-rss (rusage)"]![i], 24 * 1024, "max RSS holds the 24 MiB touched")
            XCTAssertEqual(ours["page-faults (rusage)"]![i], ours["minor-faults (rusage)"]![i] + ours["major-faults (rusage)"]![i])
        }
        // The same run, both accountings (`--show-rusage`): rusage also holds the exec
        // itself (its faults and kernel time before enable_on_exec) and the exit after
        // perf's counters close, a few faults and about a millisecond, never less than perf.
        // The faults before the exec are bimodal on the development VM: 3-4 or 45-47 over
        // 32 runs (as many with the build before this bound was raised), so at most 64.
        for _ in 0..<3 {
            let both = Harness.stallstat(["stat", "-x,", "-e", "task-clock,page-faults", "--show-rusage", "--", touch, "24"])
            XCTAssertEqual(both.status, 0, both.stderr)
            let c = Harness.csvCounts(both.stderr + both.stdout)
            let pf = c["page-faults"] ?? -1, pfr = c["page-faults (rusage)"] ?? -1, tc = c["task-clock"] ?? -1, tcr = c["task-clock (rusage)"] ?? -1
            XCTAssertTrue(pfr >= pf && pfr - pf <= 64, "same run: rusage \(pfr) vs perf \(pf) faults")
            XCTAssertTrue(tcr >= tc - 0.05 && tcr - tc <= 3 + 0.05 * tc, "same run: rusage \(tcr) ms vs perf \(tc) ms")
        }
        // What rusage cannot count is said, not faked.
        let cycles = Harness.stallstat(["stat", "--counters=rusage", "-e", "cycles,page-faults", "--", "true"])
        XCTAssertTrue(cycles.stderr.contains("<not supported>") || cycles.stdout.contains("<not supported>"), cycles.stdout + cycles.stderr)
        let wide = Harness.stallstat(["stat", "--counters=rusage", "-a", "--", "true"])
        XCTAssertNotEqual(wide.status, 0)
        XCTAssertTrue(wide.stderr.contains("need perf_event_open"), wide.stderr)
    }

    /// As an unprivileged user with kernel.perf_event_paranoid=4: stat and gate count and
    /// say where the counts came from; with perf_event_open refused outright (a seccomp
    /// filter, as Docker's default profile; EACCES as Debian's paranoid 3+), from rusage.
    func testUnprivilegedWithParanoid4() throws {
        try XCTSkipUnless(getuid() == 0, "needs root to change kernel.perf_event_paranoid and drop to nobody")
        let sysctl = "/proc/sys/kernel/perf_event_paranoid"
        let saved = try String(contentsOfFile: sysctl, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try "4".write(toFile: sysctl, atomically: false, encoding: .utf8)
        defer { try? saved.write(toFile: sysctl, atomically: false, encoding: .utf8) }
        let dir = NSTemporaryDirectory() + "stallstat-unpriv-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let asNobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        let deny = Harness.workloads + "/deny_perf_events"

        // Whether this kernel lets an unprivileged user count its own process at 4
        // (mainline: as at 2) or refuses (Debian's patch): perf says.
        let perfAsNobody = Harness.run(asNobody + ["/usr/bin/perf", "stat", "-x,", "-e", "page-faults", "--", "true"])
        let plain = Harness.run(asNobody + [Harness.stallstat, "stat", "-e", "page-faults", "--", work, "100000"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        if perfAsNobody.status == 0 {
            // perf falls back to user space only and says so (`page-faults:u`); so does stallstat.
            let perfName = perfAsNobody.stderr.contains("page-faults:u") ? "page-faults:u" : "page-faults"
            XCTAssertTrue(plain.stdout.contains(perfName) && !plain.stdout.contains("(rusage)"), plain.stdout)
        } else {
            XCTAssertTrue(plain.stdout.contains("page-faults (rusage)"), plain.stdout)
        }

        for errno in ["eperm", "eacces"] {
            let s = Harness.run(asNobody + [deny, errno, "--", Harness.stallstat, "stat", "--", work, "100000"])
            XCTAssertEqual(s.status, 0, s.stderr)
            XCTAssertTrue(s.stderr.contains("perf_event_open is refused here"), s.stderr)
            XCTAssertTrue(s.stdout.contains("task-clock (rusage)") && s.stdout.contains("page-faults (rusage)"), s.stdout)
        }
        let base = dir + "/base.json"
        let rec = Harness.run(asNobody + [deny, "--", Harness.stallstat, "gate", "record", "--baseline", base, "--runs", "5", "--warmup", "1",
                                          "-e", "page-faults,task-clock", "--", work, "100000"])
        XCTAssertEqual(rec.status, 0, rec.stderr)
        let json = try String(contentsOfFile: base, encoding: .utf8)
        XCTAssertTrue(json.contains("\"page-faults (rusage)\""), json)
        let check = Harness.run(asNobody + [deny, "--", Harness.stallstat, "gate", "check", "--baseline", base, "--runs", "5", "--warmup", "1",
                                            "--", work, "100000"])
        // It measured and decided (the verdict on a handful of faults is not the point: 2 would be a failure to measure).
        XCTAssertTrue([0, 1, 3].contains(check.status), "exit \(check.status): \(check.stdout) \(check.stderr)")
        XCTAssertTrue(check.stderr.contains("counted by the kernel's accounting of the command (rusage)"), check.stderr)
        XCTAssertTrue(check.stdout.contains("page-faults (rusage)"), check.stdout)
        // And compare works there too.
        let cmp = Harness.run(asNobody + [deny, "--", Harness.stallstat, "gate", "compare", "--runs", "8", "--warmup", "1", "-e", "page-faults",
                                          "--", work, "100000", "--vs", work, "100000"])
        XCTAssertTrue([0, 1, 3].contains(cmp.status), "exit \(cmp.status): \(cmp.stdout) \(cmp.stderr)")
        XCTAssertTrue(cmp.stdout.contains("page-faults (rusage)"), cmp.stdout)
    }

    /// valgrind's counts repeat exactly, and 0.1% more work is a regression every time.
    func testSimulatedCountsAreExactAndCatchOneInAThousand() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/valgrind"), "valgrind is not installed (Debian: valgrind)")
        let a = Harness.stallstat(["stat", "--counters=simulated", "-x,", "-e", "instructions,LL-misses", "--", work, "200000"])
        let b = Harness.stallstat(["stat", "--counters=simulated", "-x,", "-e", "instructions,LL-misses", "--", work, "200000"])
        XCTAssertEqual(a.status, 0, a.stderr)
        let ca = Harness.csvCounts(a.stderr + a.stdout), cb = Harness.csvCounts(b.stderr + b.stdout)
        XCTAssertGreaterThan(ca["instructions (simulated)"] ?? 0, 200_000 * 4)
        XCTAssertEqual(ca["instructions (simulated)"], cb["instructions (simulated)"])
        XCTAssertEqual(ca["LL-misses (simulated)"], cb["LL-misses (simulated)"])
        let cmp = Harness.stallstat(["gate", "compare", "--counters=simulated", "--runs", "8", "--warmup", "0", "-e", "instructions", "--json",
                                     "--", work, "200000", "--vs", work, "200200"])
        XCTAssertEqual(cmp.status, 1, cmp.stdout + cmp.stderr)
        XCTAssertTrue(cmp.stdout.contains("\"verdict\": \"regression\""), cmp.stdout)
        let same = Harness.stallstat(["gate", "compare", "--counters=simulated", "--runs", "8", "--warmup", "0", "-e", "instructions",
                                      "--", work, "200000", "--vs", work, "200000"])
        XCTAssertEqual(same.status, 0, same.stdout + same.stderr)
        XCTAssertTrue(same.stdout.contains("identical in every pair"), same.stdout)
    }

    /// The drift of the issue: a baseline recorded on a quiet machine, then the machine
    /// made busy. check warns (and does not call a time regression); compare, running both
    /// commands in the same state, passes the same command and catches a doubled one.
    func testStoredBaselineDriftIsSaidWhereCompareDecides() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: "/proc/pressure/cpu"), "the kernel has no PSI (pressure stall information)")
        let dir = NSTemporaryDirectory() + "stallstat-drift-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = dir + "/base.json"
        let n = "20000000"
        let rec = Harness.stallstat(["gate", "record", "--baseline", base, "--runs", "10", "--warmup", "2", "-e", "task-clock", "--", work, n])
        XCTAssertEqual(rec.status, 0, rec.stderr)
        // Two busy loops per CPU: the machine's state, not the program, changes.
        let cpus = ProcessInfo.processInfo.activeProcessorCount
        let hogs = (0..<(2 * cpus)).map { _ -> Process in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: work)
            p.arguments = ["100000000000"]
            try? p.run()
            return p
        }
        defer { for h in hogs { h.terminate(); h.waitUntilExit() } }
        Thread.sleep(forTimeInterval: 1)
        let check = Harness.stallstat(["gate", "check", "--baseline", base, "--runs", "10", "--warmup", "2", "--", work, n])
        XCTAssertNotEqual(check.status, 1, "a changed machine is not a regression of the code: \(check.stdout) \(check.stderr)")
        XCTAssertTrue(check.stderr.contains("the machine is doing other work: cpu pressure"), check.stderr)
        XCTAssertTrue(check.stderr.contains("gate compare"), check.stderr)
        let same = Harness.stallstat(["gate", "compare", "--runs", "12", "--warmup", "2", "-e", "task-clock", "--threshold", "task-clock=10",
                                      "--", work, n, "--vs", work, n])
        XCTAssertNotEqual(same.status, 1, "the same command twice: \(same.stdout)")
        XCTAssertTrue([0, 3].contains(same.status), same.stdout + same.stderr)
        let doubled = Harness.stallstat(["gate", "compare", "--runs", "12", "--warmup", "2", "-e", "task-clock", "--threshold", "task-clock=10",
                                         "--", work, n, "--vs", work, "40000000"])
        XCTAssertEqual(doubled.status, 1, "twice the work under the same load: \(doubled.stdout) \(doubled.stderr)")
    }
}
