import Foundation
import XCTest
@testable import StallLinux
import StallCore

/// Every target mode bounded by a command, side by side with perf counting the same
/// target at the same time: both tools' windows hold the same fixed work (`windows`).
final class StatTargetModeTests: XCTestCase {
    /// Both tools count one fixed piece of work, whole, at the same time (`windows`).
    func sideBySide(_ args: [String], around work: () throws -> Void) throws -> (perf: Harness.Result, ours: Harness.Result) {
        let r = try windows([["/usr/bin/perf", "stat", "-x,"] + args, [Harness.stallstat, "stat", "-x,"] + args], around: work)
        return (r[0], r[1])
    }

    /// Runs each counting command (its arguments up to `--`) bounded by `cat FIFO` (a FIFO
    /// of its own), which holds its window open; once every command runs (opening a FIFO
    /// for writing succeeds only once its reader has it open, so every tool is counting),
    /// `work` runs to its end, then closing the FIFOs ends every window. However slowly a
    /// tool starts (a debug build under QEMU's TCG starts ~30x slower than perf), each
    /// window holds all of the work and, besides it, only what else the machine did
    /// meanwhile.
    func windows(_ commands: [[String]], around work: () throws -> Void) throws -> [Harness.Result] {
        let dir = NSTemporaryDirectory() + "stallstat-window-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifos = commands.indices.map { dir + "/\($0)" }
        for f in fifos { XCTAssertEqual(mkfifo(f, 0o600), 0) }
        /// Each command's result, written by its own thread.
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var values: [Harness.Result?]
            init(_ n: Int) { values = Array(repeating: nil, count: n) }
            func set(_ k: Int, _ r: Harness.Result) { lock.lock(); values[k] = r; lock.unlock() }
            var all: [Harness.Result?] { lock.lock(); defer { lock.unlock() }; return values }
        }
        let results = Results(commands.count), done = DispatchGroup()
        for (k, command) in commands.enumerated() {
            done.enter()
            DispatchQueue.global().async {
                results.set(k, Harness.run(command + ["--", "/bin/cat", fifos[k]]))
                done.leave()
            }
        }
        // Each FIFO's writer end, once its reader (the tool's command) has opened it.
        var writers: [Int32] = []
        let deadline = Date().addingTimeInterval(timeBound(20))
        for f in fifos {
            var fd: Int32 = -1
            while fd < 0 && Date() < deadline {
                fd = open(f, O_WRONLY | O_NONBLOCK)   // ENXIO until a reader has it open
                if fd < 0 { usleep(10_000) }
            }
            writers.append(fd)
        }
        let started = writers.allSatisfy { $0 >= 0 }
        if started { try work() }
        for fd in writers where fd >= 0 { close(fd) }
        XCTAssertEqual(done.wait(timeout: .now() + timeBound(20)), .success, "every tool ends when its command does")
        let ended = results.all
        if !started { XCTFail("a tool's command never started: \(ended.map { $0?.stderr ?? "still running" })") }
        return ended.map { $0 ?? Harness.Result(status: -1, stdout: "", stderr: "did not end") }
    }

    /// 20 rounds of 16 MiB touched page by page: 20 x 4096 faults, whatever the speed.
    static let faultRounds = 20

    /// Runs the fault generator to its end (pinned to `cpu`), `rounds` x 4096 faults.
    func faultWork(cpu: Int? = nil, rounds: Int = StatTargetModeTests.faultRounds) throws {
        let p = Process()
        let generator = Harness.workloads + "/cpu_faults"
        if let cpu {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
            p.arguments = ["-c", String(cpu), generator, String(rounds)]
        } else {
            p.executableURL = URL(fileURLWithPath: generator)
            p.arguments = [String(rounds)]
        }
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
    }

    /// Both counts hold the whole work (at least `work` faults) and are within 5% of each
    /// other (the rest is what else ran: the idle tools, their `cat`s, the system).
    func assertBothHoldTheWork(_ ours: Double?, _ perf: Double?, work: Double = Double(StatTargetModeTests.faultRounds * 4096), _ what: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        guard let ours, let perf else { return XCTFail("\(what): missing count (ours \(String(describing: ours)), perf \(String(describing: perf)))", file: file, line: line) }
        XCTAssertGreaterThanOrEqual(perf, work, "\(what): perf's window holds the whole work", file: file, line: line)
        XCTAssertGreaterThanOrEqual(ours, work, "\(what): stallstat's window holds the whole work", file: file, line: line)
        XCTAssertEqual(ours, perf, accuracy: 0.05 * perf, "\(what): stallstat \(ours) vs perf \(perf)", file: file, line: line)
    }

    static func onlineCPUs() throws -> [Int] {
        try CPUList.parse(try String(contentsOfFile: "/sys/devices/system/cpu/online", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The same faults on every online CPU, one after the other (per-CPU rows each get theirs).
    func faultWorkOnEveryCPU(rounds: Int) throws {
        for cpu in try Self.onlineCPUs() { try faultWork(cpu: cpu, rounds: rounds) }
    }

    func testSystemWideWhileACommandRunsCountsLikePerf() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        let (perf, ours) = try sideBySide(["-a", "-e", "page-faults"]) { try faultWork() }
        XCTAssertEqual(ours.status, 0, ours.stderr)
        assertBothHoldTheWork(Harness.csvCounts(ours.machine)["page-faults"], Harness.csvCounts(perf.stderr)["page-faults"], "-a")
    }

    func testCPUListWhileACommandRunsCountsLikePerf() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        let (perf, ours) = try sideBySide(["-C", "0", "-e", "page-faults"]) { try faultWork(cpu: 0) }
        XCTAssertEqual(ours.status, 0, ours.stderr)
        assertBothHoldTheWork(Harness.csvCounts(ours.machine)["page-faults"], Harness.csvCounts(perf.stderr)["page-faults"], "-C 0")
    }

    func testPerCPURowsWhileACommandRunsCountLikePerf() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        let (perf, ours) = try sideBySide(["-a", "-A", "-e", "page-faults"]) { try faultWork(cpu: 0) }
        XCTAssertEqual(ours.status, 0, ours.stderr)
        func cpu0(_ text: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix("CPU0,") }.flatMap { Double($0.split(separator: ",")[1]) }
        }
        assertBothHoldTheWork(cpu0(ours.machine), cpu0(perf.stderr), "-a -A CPU0")
    }

    func testAttachedProcessWhileACommandRunsCountsLikePerf() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        let (target, gate) = try gatedFaultTarget()
        defer { if target.isRunning { target.terminate() }; unlink(gate) }
        let (perf, ours) = try sideBySide(["-p", String(target.processIdentifier), "-e", "page-faults"]) { release(target, gate) }
        XCTAssertEqual(ours.status, 0, ours.stderr)
        assertBothHoldTheWork(Harness.csvCounts(ours.machine)["page-faults"], Harness.csvCounts(perf.stderr)["page-faults"], "-p PID")
    }

    func testPerSocketDieCoreNodeLabelsAndCountsMatchPerf() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        let rounds = 5
        for mode in ["--per-socket", "--per-die", "--per-core", "--per-node"] {
            // Each CPU faults rounds x 4096 times inside both windows: a row of N CPUs
            // holds at least N times that, in both tools.
            let (perf, ours) = try sideBySide(["-a", mode, "-e", "page-faults"]) { try faultWorkOnEveryCPU(rounds: rounds) }
            XCTAssertEqual(ours.status, 0, "\(mode): \(ours.stderr)")
            let perfRows = perf.stderr.split(separator: "\n").filter { $0.contains("page-faults") }
            let ourRows = ours.machine.split(separator: "\n").filter { $0.contains("page-faults") }
            XCTAssertEqual(ourRows.count, perfRows.count, "\(mode): \(ours.machine) vs \(perf.stderr)")
            for (a, b) in zip(ourRows, perfRows) {
                let fa = a.split(separator: ",", omittingEmptySubsequences: false), fb = b.split(separator: ",", omittingEmptySubsequences: false)
                XCTAssertEqual(fa[0], fb[0], "\(mode): label")
                XCTAssertEqual(fa[1], fb[1], "\(mode): CPUs aggregated")
                XCTAssertEqual(fa.count, fb.count, "\(mode): columns")
                let cpus = Double(fb[1]) ?? 0
                assertBothHoldTheWork(Double(fa[2]), Double(fb[2]), work: cpus * Double(rounds * 4096), "\(mode) \(fb[0])")
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
        let rounds = 5, perCPU = Double(rounds * 4096)
        for (mode, rows) in modes {
            try XCTSkipIf(rows.isEmpty, "\(mode): this kernel lists no such topology")
            // The rows and the whole machine's count side by side, around the same faults
            // on every CPU.
            let r = try windows([[Harness.stallstat, "stat", "-x,", "-a", mode, "-e", "page-faults"],
                                 [Harness.stallstat, "stat", "-x,", "-a", "-e", "page-faults"]]) { try faultWorkOnEveryCPU(rounds: rounds) }
            XCTAssertEqual(r[0].status, 0, "\(mode): \(r[0].stderr)")
            var ours: [String: Int] = [:]
            var sum = 0.0
            for line in r[0].stderr.split(separator: "\n") where line.contains("page-faults") {
                let f = line.split(separator: ",", omittingEmptySubsequences: false)
                ours[String(f[0])] = Int(f[1])
                let count = Double(f[2]) ?? 0
                XCTAssertGreaterThanOrEqual(count, Double(Int(f[1]) ?? 0) * perCPU, "\(mode): \(f[0]) holds its CPUs' faults")
                sum += count
            }
            XCTAssertEqual(ours, rows, "\(mode): labels and CPUs per row as sysfs says")
            // Every CPU counted once: the rows add up to the whole machine's count.
            let total = Harness.csvCounts(r[1].stderr)["page-faults"] ?? 0
            XCTAssertEqual(sum, total, accuracy: 0.05 * total, "\(mode): rows add up to -a's total")
        }
    }

    func testPerThreadRowsNameEachThreadAsPerf() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        let (target, gate) = try gatedFaultTarget()
        defer { if target.isRunning { target.terminate() }; unlink(gate) }
        let (perf, ours) = try sideBySide(["--per-thread", "-p", String(target.processIdentifier), "-e", "page-faults"]) { release(target, gate) }
        XCTAssertEqual(ours.status, 0, ours.stderr)
        // The thread's row as perf labels it (comm-tid, its name when counting began).
        let suffix = "-\(target.processIdentifier),"
        let perfRow = perf.stderr.split(separator: "\n").first { $0.contains(suffix) }
        let label = try XCTUnwrap(perfRow.map { String($0[..<$0.range(of: suffix)!.upperBound]) }, perf.stderr)
        func count(_ text: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(label) }.flatMap { Double($0.split(separator: ",")[1]) }
        }
        assertBothHoldTheWork(count(ours.machine), count(perf.stderr), "--per-thread -p (\(label))")
    }

    /// A process that waits on a FIFO of its own, then execs the fault generator: tools
    /// attach before it faults (counters stay with the task across exec).
    func gatedFaultTarget() throws -> (Process, String) {
        let gate = NSTemporaryDirectory() + "stallstat-gate-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        XCTAssertEqual(mkfifo(gate, 0o600), 0)
        let target = Process()
        target.executableURL = URL(fileURLWithPath: "/bin/sh")
        target.arguments = ["-c", "read go < \(gate); exec \(Harness.workloads)/cpu_faults \(Self.faultRounds)"]
        target.standardOutput = FileHandle.nullDevice
        try target.run()
        return (target, gate)
    }

    /// Opens the gate and waits for the generator's end.
    func release(_ target: Process, _ gate: String) {
        let fd = open(gate, O_WRONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = write(fd, "go\n", 3)
        close(fd)
        target.waitUntilExit()
    }

    func testCtrlCWhileTheCommandKeepsRunningReadsCountsAtTheSignal() throws {
        // The command ignores SIGINT and spins; Ctrl-C reaches stallstat 1 s after the spin
        // began (a marker file says when: under QEMU's TCG a debug stallstat takes seconds
        // to start it). Scaled runs spin longer, so that "until the command exited" stays
        // far from "until the signal" with the wider margin a slow machine needs.
        let scaled = timeBound(1) > 1
        let spin = scaled ? 8 : 3, margin = scaled ? 1000.0 : 250.0
        let script = NSTemporaryDirectory() + "stallstat-spin-\(getpid()).sh", marker = script + ".started"
        defer { try? FileManager.default.removeItem(atPath: script); try? FileManager.default.removeItem(atPath: marker) }
        try "trap '' INT\n: > \(marker)\nend=$((SECONDS+\(spin))); while [ $SECONDS -lt $end ]; do :; done\n".write(toFile: script, atomically: true, encoding: .utf8)
        var signalled = Date()
        let r = Harness.run([Harness.stallstat, "stat", "-x,", "-e", "task-clock", "--", "/bin/bash", script]) { p in
            let deadline = Date().addingTimeInterval(timeBound(10))
            while !FileManager.default.fileExists(atPath: marker) && Date() < deadline { usleep(10_000) }
            usleep(1_000_000)
            signalled = Date()
            kill(p.processIdentifier, SIGINT)
        }
        XCTAssertEqual(r.status, 128 + SIGINT, r.stderr)
        let fields = try XCTUnwrap(r.machine.split(separator: "\n").first { $0.contains("task-clock") }).split(separator: ",", omittingEmptySubsequences: false)
        let ms = try XCTUnwrap(Double(fields[0]))
        let utilized = try XCTUnwrap(Double(fields[5]))
        XCTAssertLessThan(utilized, 1.15, "one single-threaded command cannot use more than one CPU: \(r.machine)")
        XCTAssertEqual(ms, 1000, accuracy: margin, "counted until the signal, not until the command exited (\(spin) s): \(r.machine)")
        XCTAssertLessThan(Date().timeIntervalSince(signalled), timeBound(3.5), "the command that ignores SIGINT is sent SIGTERM")
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

    /// 1,100 events: more than one kernel group holds, and more fds than the usual soft
    /// limit of 1024 (the arm64 lab's guest has it; the development machine's is 20,000).
    /// As perf, the soft limit is raised to the hard one; the command keeps its own.
    func testMoreSoftwareEventsThanOneKernelGroupHoldsAreAllCounted() throws {
        XCTAssertEqual(CounterGrouping.maxGroupSize, 1022, "(16 KiB - 8 - 24) / 16")
        let hard = Harness.run(["/bin/sh", "-c", "ulimit -Hn"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try XCTSkipIf(hard != "unlimited" && (Int(hard) ?? 0) < 1200, "the hard limit on open files (\(hard)) is below what 1,100 counters need")
        let events = Array(repeating: "page-faults", count: 1100).joined(separator: ",")
        let r = Harness.run(["/bin/sh", "-c", "ulimit -Sn 1024 && exec \(Harness.stallstat) stat -x, -e \(events) -- /bin/sh -c 'ulimit -Sn'"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "1024", "the command keeps the limit it was started with")
        if Harness.perfAvailable {
            let perf = Harness.run(["/bin/sh", "-c", "ulimit -Sn 1024 && exec perf stat -x, -e \(events) -- /bin/true"])
            XCTAssertEqual(perf.status, 0, "perf raises the limit too: \(perf.stderr.suffix(300))")
        }
        let rows = r.machine.split(separator: "\n")
        XCTAssertEqual(rows.count, 1100, r.machine.suffix(500).description)
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
            // what says "it samples", not a rate. A kernel that lowered its sample rate
            // limit (perf_event_max_sample_rate) is taking too long per sample and throttles
            // too: the arm64 lab's TCG guest, at 1,500 Hz, gave 74 in 0.3 s on one CPU.
            // There a twentieth of what it allows still tells sampling from none.
            let allowed = (try? String(contentsOfFile: "/proc/sys/kernel/perf_event_max_sample_rate", encoding: .utf8))
                .flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 4000
            let expected = 0.3 * min(4000, allowed) / (allowed >= 4000 ? 6 : 20)
            XCTAssertGreaterThan(Double(samples(r) ?? 0), expected, "\(target), at most \(Int(allowed)) Hz: \(r.stderr)")
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
            // Once recording (a debug build under the lab's TCG takes seconds to start:
            // a SIGINT before its handler is installed kills it outright).
            usleep(scaledMicroseconds(800_000))
            kill(p.processIdentifier, SIGINT)
        }
        XCTAssertEqual(r.status, 128 + SIGINT, r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(start), timeBound(4), "perf SIGTERMs its workload and exits in about 2 s")
    }
}
