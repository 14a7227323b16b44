import Foundation
import XCTest
@testable import StallLinux
import StallCore

/// Every target mode bounded by a command, side by side with perf counting the same
/// target at the same time (both tools run concurrently while a fault generator runs).
final class StatTargetModeTests: XCTestCase {
    /// A process faulting at a steady rate (16 MiB mapped, touched and unmapped in a loop).
    final class FaultGenerator {
        let process = Process()
        init(cpu: Int? = nil) throws {
            let generator = Harness.workloads + "/cpu_faults"
            if let cpu {
                process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
                process.arguments = ["-c", String(cpu), generator, "100000000"]
            } else {
                process.executableURL = URL(fileURLWithPath: generator)
                process.arguments = ["100000000"]
            }
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            usleep(200_000)   // past its start-up
        }
        var pid: Int32 { process.processIdentifier }
        func stop() { process.terminate(); process.waitUntilExit() }
    }

    /// Runs perf and stallstat with the same arguments at the same time.
    func sideBySide(_ args: [String]) -> (perf: Harness.Result, ours: Harness.Result) {
        var results: [Harness.Result?] = [nil, nil]
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 2) { k in
            let r = k == 0 ? Harness.perf(["stat", "-x,"] + args) : Harness.stallstat(["stat", "-x,"] + args)
            lock.lock(); results[k] = r; lock.unlock()
        }
        return (results[0]!, results[1]!)
    }

    func assertClose(_ ours: Double?, _ perf: Double?, within fraction: Double, _ what: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        guard let ours, let perf else { return XCTFail("\(what): missing count (ours \(String(describing: ours)), perf \(String(describing: perf)))", file: file, line: line) }
        XCTAssertGreaterThan(perf, 1000, "\(what): the generator should fault thousands of times", file: file, line: line)
        XCTAssertEqual(ours, perf, accuracy: fraction * perf, "\(what): stallstat \(ours) vs perf \(perf)", file: file, line: line)
    }

    func testSystemWideWhileACommandRunsCountsLikePerf() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        let generator = try FaultGenerator()
        defer { generator.stop() }
        let (perf, ours) = sideBySide(["-a", "-e", "page-faults", "--", "/bin/sleep", "0.5"])
        XCTAssertEqual(ours.status, 0, ours.stderr)
        // 20%: started together, the two windows are not the same 0.5 s (the debug build
        // starts later) and the generator's rate moves by ±10% over time. Side by side,
        // stallstat counted 4-16% more than perf in 13 runs here, with this build and the
        // one before this session alike; one after the other, neither is ahead.
        assertClose(Harness.csvCounts(ours.machine)["page-faults"], Harness.csvCounts(perf.stderr)["page-faults"], within: 0.20, "-a -- sleep 0.5")
    }

    func testCPUListWhileACommandRunsCountsLikePerf() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        let generator = try FaultGenerator(cpu: 0)
        defer { generator.stop() }
        let (perf, ours) = sideBySide(["-C", "0", "-e", "page-faults", "--", "/bin/sleep", "0.5"])
        XCTAssertEqual(ours.status, 0, ours.stderr)
        assertClose(Harness.csvCounts(ours.machine)["page-faults"], Harness.csvCounts(perf.stderr)["page-faults"], within: 0.15, "-C 0 -- sleep 0.5")
    }

    func testPerCPURowsWhileACommandRunsCountLikePerf() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        let generator = try FaultGenerator(cpu: 0)
        defer { generator.stop() }
        let (perf, ours) = sideBySide(["-a", "-A", "-e", "page-faults", "--", "/bin/sleep", "0.5"])
        XCTAssertEqual(ours.status, 0, ours.stderr)
        func cpu0(_ text: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix("CPU0,") }.flatMap { Double($0.split(separator: ",")[1]) }
        }
        assertClose(cpu0(ours.machine), cpu0(perf.stderr), within: 0.15, "-a -A CPU0")
    }

    func testAttachedProcessWhileACommandRunsCountsLikePerf() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        let generator = try FaultGenerator()
        defer { generator.stop() }
        let (perf, ours) = sideBySide(["-p", String(generator.pid), "-e", "page-faults", "--", "/bin/sleep", "0.5"])
        XCTAssertEqual(ours.status, 0, ours.stderr)
        assertClose(Harness.csvCounts(ours.machine)["page-faults"], Harness.csvCounts(perf.stderr)["page-faults"], within: 0.15, "-p PID -- sleep 0.5")
    }

    func testPerSocketDieCoreNodeLabelsAndCountsMatchPerf() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        for mode in ["--per-socket", "--per-die", "--per-core", "--per-node"] {
            let (perf, ours) = sideBySide(["-a", mode, "-e", "task-clock", "--", "/bin/sleep", "0.3"])
            XCTAssertEqual(ours.status, 0, "\(mode): \(ours.stderr)")
            let perfRows = perf.stderr.split(separator: "\n").filter { $0.contains("task-clock") }
            let ourRows = ours.machine.split(separator: "\n").filter { $0.contains("task-clock") }
            XCTAssertEqual(ourRows.count, perfRows.count, "\(mode): \(ours.machine) vs \(perf.stderr)")
            for (a, b) in zip(ourRows, perfRows) {
                let fa = a.split(separator: ",", omittingEmptySubsequences: false), fb = b.split(separator: ",", omittingEmptySubsequences: false)
                XCTAssertEqual(fa[0], fb[0], "\(mode): label")
                XCTAssertEqual(fa[1], fb[1], "\(mode): CPUs aggregated")
                XCTAssertEqual(fa.count, fb.count, "\(mode): columns")
                // task-clock of whole CPUs over the same 0.3 s: within 10%.
                XCTAssertEqual(Double(fa[2]) ?? 0, Double(fb[2]) ?? -1, accuracy: 0.1 * (Double(fb[2]) ?? 0), "\(mode): \(a) vs \(b)")
            }
        }
    }

    /// perf 6.12's --per-cluster and --per-cache (perf 6.1 has neither): one row per
    /// cluster or cache instance, labelled and counted as sysfs says (read here directly:
    /// topology/cluster_id; cache/indexK/level and shared_cpu_list, the id being the lowest
    /// CPU sharing the cache, perf's rule), and the rows add up to the whole machine's
    /// task-clock.
    func testPerClusterAndPerCacheRowsFollowSysfs() throws {
        let cpus = try CPUList.parse(try String(contentsOfFile: "/sys/devices/system/cpu/online", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
        func read(_ path: String) -> String? { (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) }
        func topo(_ cpu: Int, _ file: String) -> Int { max(0, read("/sys/devices/system/cpu/cpu\(cpu)/topology/\(file)").flatMap { Int($0) } ?? 0) }
        func caches(_ cpu: Int) -> [(level: Int, id: Int)] {
            (0..<16).compactMap { k in
                let dir = "/sys/devices/system/cpu/cpu\(cpu)/cache/index\(k)/"
                guard let level = read(dir + "level").flatMap({ Int($0) }), let shared = read(dir + "shared_cpu_list") else { return nil }
                return (level, (try? CPUList.parse(shared))?.min() ?? cpu)
            }
        }
        func expected(_ label: (Int) -> String?) -> [String: Int] {
            var rows: [String: Int] = [:]
            for cpu in cpus { if let l = label(cpu) { rows[l, default: 0] += 1 } }
            return rows
        }
        let prefix = { (cpu: Int) in "S\(topo(cpu, "physical_package_id"))-D\(topo(cpu, "die_id"))" }
        var modes: [(String, [String: Int])] = [("--per-cluster", expected { "\(prefix($0))-CLS\(topo($0, "cluster_id"))" })]
        modes.append(("--per-cache", expected { cpu in
            var best: (level: Int, id: Int)? = nil
            for c in caches(cpu) where c.level > (best?.level ?? Int.min) { best = c }
            return best.map { "\(prefix(cpu))-L\($0.level)-ID\($0.id)" }
        }))
        for level in [1, 2] {
            modes.append(("--per-cache=L\(level)", expected { cpu in caches(cpu).first { $0.level == level }.map { "\(prefix(cpu))-L\(level)-ID\($0.id)" } }))
        }
        let whole = Harness.stallstat(["stat", "-x,", "-a", "-e", "task-clock", "--", "/bin/sleep", "0.3"])
        let total = Harness.csvCounts(whole.stderr)["task-clock"] ?? 0
        for (mode, rows) in modes {
            try XCTSkipIf(rows.isEmpty, "\(mode): this kernel lists no such topology")
            let r = Harness.stallstat(["stat", "-x,", "-a", mode, "-e", "task-clock", "--", "/bin/sleep", "0.3"])
            XCTAssertEqual(r.status, 0, "\(mode): \(r.stderr)")
            var ours: [String: Int] = [:]
            var sum = 0.0
            for line in r.stderr.split(separator: "\n") where line.contains("task-clock") {
                let f = line.split(separator: ",", omittingEmptySubsequences: false)
                ours[String(f[0])] = Int(f[1])
                sum += Double(f[2]) ?? 0
            }
            XCTAssertEqual(ours, rows, "\(mode): labels and CPUs per row as sysfs says")
            // Every CPU's whole 0.3 s, counted once: the rows add up to the machine's task-clock.
            XCTAssertEqual(sum, total, accuracy: 0.15 * total, "\(mode): rows add up to -a's total")
        }
    }

    func testPerThreadRowsNameEachThreadAsPerf() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        let generator = try FaultGenerator()
        defer { generator.stop() }
        let (perf, ours) = sideBySide(["--per-thread", "-p", String(generator.pid), "-e", "page-faults", "--", "/bin/sleep", "0.4"])
        XCTAssertEqual(ours.status, 0, ours.stderr)
        let label = "cpu_faults-\(generator.pid)"
        func count(_ text: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(label + ",") }.flatMap { Double($0.split(separator: ",")[1]) }
        }
        assertClose(count(ours.machine), count(perf.stderr), within: 0.15, "--per-thread -p")
    }

    func testCtrlCWhileTheCommandKeepsRunningReadsCountsAtTheSignal() throws {
        // The command ignores SIGINT and spins for 3 s; Ctrl-C reaches stallstat after 1 s.
        let script = NSTemporaryDirectory() + "stallstat-spin-\(getpid()).sh"
        defer { try? FileManager.default.removeItem(atPath: script) }
        try "trap '' INT\nend=$((SECONDS+3)); while [ $SECONDS -lt $end ]; do :; done\n".write(toFile: script, atomically: true, encoding: .utf8)
        let start = Date()
        let r = Harness.run([Harness.stallstat, "stat", "-x,", "-e", "task-clock", "--", "/bin/bash", script]) { p in
            usleep(1_000_000)
            kill(p.processIdentifier, SIGINT)
        }
        XCTAssertEqual(r.status, 128 + SIGINT, r.stderr)
        let fields = try XCTUnwrap(r.machine.split(separator: "\n").first { $0.contains("task-clock") }).split(separator: ",", omittingEmptySubsequences: false)
        let ms = try XCTUnwrap(Double(fields[0]))
        let utilized = try XCTUnwrap(Double(fields[5]))
        XCTAssertLessThan(utilized, 1.15, "one single-threaded command cannot use more than one CPU: \(r.machine)")
        XCTAssertEqual(ms, 1000, accuracy: 250, "counted until the signal, not until the command exited: \(r.machine)")
        XCTAssertLessThan(Date().timeIntervalSince(start), timeBound(4.5), "the command that ignores SIGINT is sent SIGTERM")
    }

    func testModifiedClockKeepsItsUnitAndTheOthersRates() throws {
        let r = Harness.stallstat(["stat", "-x,", "-e", "task-clock:u,page-faults", "--", Harness.workloads + "/touch_pages", "4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.machine.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let clock = try XCTUnwrap(rows.first { $0.count > 2 && $0[2] == "task-clock:u" })
        XCTAssertEqual(clock[1], "msec", "task-clock:u is printed in msec as perf: \(r.machine)")
        XCTAssertEqual(clock.last, "CPUs utilized")
        let faults = try XCTUnwrap(rows.first { $0.count > 2 && $0[2] == "page-faults" })
        XCTAssertTrue(faults.last?.hasSuffix("/sec") ?? false, "page-faults keeps its rate over the clock: \(r.machine)")
        if Harness.perfAvailable {
            let perf = Harness.perf(["stat", "-x,", "-e", "task-clock:u,page-faults", "--", Harness.workloads + "/touch_pages", "4"])
            let perfClock = perf.stderr.split(separator: "\n").first { $0.contains("task-clock:u") }?.split(separator: ",", omittingEmptySubsequences: false)
            XCTAssertEqual(perfClock?[1], "msec")
        }
        let text = Harness.stallstat(["stat", "-e", "task-clock:k", "--", "/bin/true"])
        XCTAssertTrue(text.stdout.contains("(ms)") && text.stdout.contains("cpus used"), text.stdout)
        XCTAssertFalse(text.stdout.contains("M/sec"), text.stdout)
    }

    func testMoreSoftwareEventsThanOneKernelGroupHoldsAreAllCounted() throws {
        XCTAssertEqual(CounterGrouping.maxGroupSize, 1022, "(16 KiB - 8 - 24) / 16")
        let events = Array(repeating: "page-faults", count: 1100).joined(separator: ",")
        let r = Harness.stallstat(["stat", "-x,", "-e", events, "--", "/bin/true"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.machine.split(separator: "\n")
        XCTAssertEqual(rows.count, 1100)
        XCTAssertFalse(r.machine.contains("<not supported>"), "no event refused with E2BIG")
        XCTAssertEqual(Set(rows.map { $0.split(separator: ",")[0] }).count, 1, "every copy counts the same faults: \(Set(rows.map { $0.split(separator: ",")[0] }))")
    }

    func testKernelGroupsSplitAtTheLimitAndByCgroup() {
        var events = (0..<5).map { _ in ResolvedEvent(name: "page-faults", attr: EventAttr(type: PerfType.software, config: 2), source: .generic) }
        events[4].cgroup = "a"
        let groups = CounterGrouping.kernelGroups(events: events, requested: events.indices.map { [$0] }, maxGroupSize: 2)
        XCTAssertEqual(groups, [[0, 1], [2, 3], [4]])
    }

    /// Samples in a recording, from stallstat's own summary line ("N samples").
    func samples(_ r: Harness.Result) -> Int? {
        guard let line = r.stderr.split(separator: "\n").first(where: { $0.contains("samples,") }),
              let words = line.split(separator: ":").last?.split(separator: " "), let n = words.first else { return nil }
        return Int(n)
    }

    func testRecordSystemWideAndCPUListBoundedByACommandSample() throws {
        let dir = NSTemporaryDirectory() + "stallstat-rec-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for target in [["-a"], ["-C", "0"]] {
            let r = Harness.stallstat(["record"] + target + ["-o", dir + "/s.data", "--", "/bin/sleep", "0.3"])
            XCTAssertEqual(r.status, 0, r.stderr)
            // cpu-clock at 4000 Hz on idle CPUs still ticks: ~1,200 samples per CPU in 0.3 s
            // (the bug was 0). A loaded host has given 476 with one throttle: the bound is
            // what says "it samples", not a rate.
            XCTAssertGreaterThan(samples(r) ?? 0, 200, "\(target): \(r.stderr)")
            if Harness.perfAvailable {
                let perf = Harness.perf(["report", "-i", dir + "/s.data", "--stdio", "--sort", "comm"])
                XCTAssertEqual(perf.status, 0, perf.stderr)
                XCTAssertTrue(perf.stdout.contains("%"), "perf reads the samples: \(perf.stdout.prefix(400))")
            }
        }
    }

    func testRecordInterruptedEndsACommandThatIgnoresSIGINT() throws {
        let path = NSTemporaryDirectory() + "stallstat-rec-int-\(getpid()).data"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let start = Date()
        let r = Harness.run([Harness.stallstat, "record", "-o", path, "--", "/bin/bash", "-c", "trap '' INT; sleep 60"]) { p in
            usleep(800_000)
            kill(p.processIdentifier, SIGINT)
        }
        XCTAssertEqual(r.status, 128 + SIGINT, r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(start), timeBound(4), "perf SIGTERMs its workload and exits in about 2 s")
    }
}
