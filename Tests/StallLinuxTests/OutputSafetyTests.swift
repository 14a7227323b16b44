import Foundation
import XCTest
import StallCore
@testable import StallLinux

/// Outputs as root in a directory anyone may write to: nothing written through a planted
/// link, nothing replaced before the replacement exists, recordings 0600 (as perf's).
final class OutputSafetyTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "stallstat-safety-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        chmod(dir, 0o1777)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func plantVictim() throws -> String {
        let victim = dir + "/victim"
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        chmod(victim, 0o600)
        return victim
    }

    func mode(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode : 0
    }

    func testRecordReplacesAPlantedLinkInsteadOfWritingThroughIt() throws {
        let victim = try plantVictim()
        let link = dir + "/perf.data"
        XCTAssertEqual(symlink(victim, link), 0)
        let r = Harness.stallstat(["record", "-o", link, "--", "/bin/true"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious\n", "the link's target is untouched")
        XCTAssertEqual(mode(link) & S_IFMT, S_IFREG, "a new regular file at the path")
        XCTAssertEqual(mode(link) & 0o777, 0o600, "recordings are 0600, as perf's")
        XCTAssertEqual(mode(link + ".old") & S_IFMT, S_IFLNK, "what was there is kept as .old (perf's perf.data.old)")
        if Harness.perfAvailable {
            XCTAssertEqual(Harness.perf(["report", "-i", link, "--stdio"]).status, 0)
        }
    }

    func testAFailedLaunchLeavesTheExistingRecordingAsItWas() throws {
        let path = dir + "/existing.data"
        XCTAssertEqual(Harness.stallstat(["record", "-o", path, "--", "/bin/true"]).status, 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let r = Harness.stallstat(["record", "-o", path, "--", "/nonexistent/program"])
        XCTAssertEqual(r.status, 127, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "nothing replaced without a recording to replace it with")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "no temporary file left behind")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".old"))
    }

    func testStatOutputNeverWritesThroughALink() throws {
        let victim = try plantVictim()
        let link = dir + "/out.csv"
        XCTAssertEqual(symlink(victim, link), 0)
        let r = Harness.stallstat(["stat", "-x,", "-o", link, "-e", "task-clock", "--", "/bin/true"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious\n")
        XCTAssertTrue(try String(contentsOfFile: link, encoding: .utf8).contains("task-clock"))

        let link2 = dir + "/append.csv"
        XCTAssertEqual(symlink(victim, link2), 0)
        let appended = Harness.stallstat(["stat", "-x,", "-o", link2, "--append", "-e", "task-clock", "--", "/bin/true"])
        XCTAssertEqual(appended.status, 1, appended.stderr)
        XCTAssertTrue(appended.stderr.contains("symbolic link"), appended.stderr)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious\n")

        let unwritable = Harness.stallstat(["stat", "-o", "/nonexistent-dir/x.txt", "-e", "task-clock", "--", "/bin/true"])
        XCTAssertEqual(unwritable.status, 1, "an output that cannot be created is an output error, not a usage error: \(unwritable.stderr)")
        XCTAssertTrue(unwritable.stderr.contains("cannot write -o /nonexistent-dir/x.txt"), unwritable.stderr)
        // record's output too (it was 3, "nothing counted", before exit codes were decided in one place).
        let record = Harness.stallstat(["record", "-o", "/nonexistent-dir/x.data", "--", "/bin/true"])
        XCTAssertEqual(record.status, 1, "record's output that cannot be created is an output error: \(record.stderr)")
        XCTAssertTrue(record.stderr.contains("/nonexistent-dir/x.data"), record.stderr)
    }

    /// Gate baselines and reports are written as -o files are: a planted link is replaced,
    /// never written through.
    func testGateFilesNeverWriteThroughALink() throws {
        let victim = try plantVictim()
        let links = ["base.json", "gate.xml", "gate.md", "gate.bmf.json"].map { dir + "/" + $0 }
        for l in links { XCTAssertEqual(symlink(victim, l), 0) }
        let rec = Harness.stallstat(["gate", "record", "--baseline", links[0], "--runs", "3", "--warmup", "0", "-e", "page-faults", "--", "/bin/true"])
        XCTAssertEqual(rec.status, 0, rec.stderr)
        let cmp = Harness.stallstat(["gate", "compare", "--runs", "3", "--warmup", "0", "-e", "page-faults", "--junit", links[1],
                                     "--markdown", links[2], "--bmf", links[3], "--", "/bin/true", "--vs", "/bin/true"])
        XCTAssertTrue([0, 3].contains(cmp.status), cmp.stderr)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious\n")
        XCTAssertTrue(try String(contentsOfFile: links[0], encoding: .utf8).contains("stallstat-gate-baseline"))
        XCTAssertTrue(try String(contentsOfFile: links[1], encoding: .utf8).contains("<testsuite"))
        for l in links { XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: l)[.type] as? FileAttributeType, .typeRegular, l) }
    }

    func testDevicesAreWrittenInPlace() {
        XCTAssertEqual(Harness.stallstat(["record", "-o", "/dev/null", "--", "/bin/true"]).status, 0)
        XCTAssertEqual(Harness.stallstat(["stat", "-o", "/dev/null", "-e", "task-clock", "--", "/bin/true"]).status, 0)
        var st = stat()
        XCTAssertEqual(stat("/dev/null", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFCHR, "/dev/null is still the device")
    }
}

/// The kallsyms cache and the files a recording names, read as root.
final class ReadSafetyTests: XCTestCase {
    func testRootNeverUsesAnotherUsersCacheDirectory() throws {
        try XCTSkipUnless(geteuid() == 0, "needs root to plant a directory owned by another user")
        let home = NSTemporaryDirectory() + "stallstat-home-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: home) }
        try FileManager.default.createDirectory(atPath: home + "/.cache/stallstat", withIntermediateDirectories: true)
        let victim = NSTemporaryDirectory() + "stallstat-victim-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: victim) }
        try "precious\n".write(toFile: victim, atomically: false, encoding: .utf8)
        chmod(victim, 0o600)
        // The user's cache directory holds a link under the very name the cache would use.
        let name = try XCTUnwrap(ProfileSymbolizer.kallsymsCacheName())
        XCTAssertEqual(symlink(victim, home + "/.cache/stallstat/" + name), 0)
        for path in [home, home + "/.cache", home + "/.cache/stallstat"] { chown(path, 65534, 65534) }
        XCTAssertNil(PrivateCache(base: home + "/.cache"), "another user's directory is no cache for root")

        let data = home + "/../stallstat-k-\(getpid()).data"
        defer { try? FileManager.default.removeItem(atPath: data) }
        XCTAssertEqual(Harness.stallstat(["record", "-a", "-o", data, "--duration", "0.1"]).status, 0)
        let r = Harness.run(["/usr/bin/env", "HOME=\(home)", "XDG_CACHE_HOME=", Harness.stallstat, "report", "-i", data])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "precious\n")
        let files = try FileManager.default.contentsOfDirectory(atPath: home + "/.cache/stallstat")
        XCTAssertEqual(files, [name], "nothing written there")
        var st = stat()
        XCTAssertEqual(lstat(home + "/.cache/stallstat/" + name, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFLNK, "the planted link is neither followed nor replaced")
    }

    func testOwnCacheIsPrivate() throws {
        let base = NSTemporaryDirectory() + "stallstat-cache-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: base) }
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let cache = try XCTUnwrap(PrivateCache(base: base))
        cache.write("entry", Array("ffffffff81000000 T _text\n".utf8))
        var st = stat()
        XCTAssertEqual(stat(cache.directory, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o700)
        XCTAssertEqual(stat(cache.directory + "/entry", &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
        XCTAssertEqual(cache.read("entry", limit: 1 << 20).map { String(decoding: $0, as: UTF8.self) }, "ffffffff81000000 T _text\n")
        chmod(cache.directory + "/entry", 0o644)
        XCTAssertNil(cache.read("entry", limit: 1 << 20), "a cache file others could read is not used")
        XCTAssertEqual(symlink("/etc/hostname", cache.directory + "/link"), 0)
        XCTAssertNil(cache.read("link", limit: 1 << 20), "links are not followed")
    }

    func testSymbolFilesMustBeRegularFiles() throws {
        let start = Date()
        XCTAssertThrowsError(try SystemFiles.readRegularFile("/dev/zero", limit: 1 << 30))
        let fifo = NSTemporaryDirectory() + "stallstat-sym-fifo-\(getpid())"
        defer { unlink(fifo) }
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try SystemFiles.readRegularFile(fifo, limit: 1 << 30), "a FIFO is refused, not waited on")
        XCTAssertThrowsError(try SystemFiles.readRegularFile("/etc", limit: 1 << 30))
        // Object files are mapped: the same refusals.
        for special in ["/dev/zero", fifo, "/etc"] { XCTAssertThrowsError(try SystemFiles.mapRegularFile(special, limit: 1 << 30), special) }
        // The DWARF unwinder opens recorded mapping names too (libdwfl would block on a FIFO
        // and read /dev/zero): it stops there instead.
        for special in [fifo, "/dev/zero"] {
            var contents = PerfDataContents()
            contents.arch = "x86_64"
            contents.mappings = [MemoryMapping(pid: 7, start: 0x400000, end: 0x500000, pgoff: 0, filename: special)]
            var registers = [UInt64](repeating: 0, count: 64)
            registers[8] = 0x401000; registers[7] = 0x7ffd0000   // IP, SP
            let stack = [UInt8](repeating: 0, count: 64)
            let result = stack.withUnsafeBytes { DwarfUnwinder().unwind(UserStackSample(pid: 7, tid: 7, arch: "x86_64", registers: registers, stack: $0), contents: contents) }
            XCTAssertLessThanOrEqual(result.frames.count, 1, special)
            XCTAssertNotNil(result.stopped, special)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), timeBound(1))
        XCTAssertEqual(try SystemFiles.readRegularFile("/etc/hostname", limit: 1 << 20), Array(try Data(contentsOf: URL(fileURLWithPath: "/etc/hostname"))))
        XCTAssertThrowsError(try SystemFiles.readRegularFile("/etc/hostname", limit: 1), "bounded")
    }
}

/// Commands that do not count take Ctrl-C like any program.
final class StopSignalTests: XCTestCase {
    func testFragTimingLoopStopsAtSIGINT() {
        let start = Date()
        let r = Harness.run([Harness.stallstat, "frag", "--time", "100000000"]) { p in
            usleep(scaledMicroseconds(500_000))
            kill(p.processIdentifier, SIGINT)
        }
        XCTAssertNotEqual(r.status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), timeBound(3), "frag --time stops at SIGINT")
    }

    /// report reading a pipe that never ends (`perf record -o - | stallstat report -i -`
    /// with the recording still running): Ctrl-C ends it at once.
    func testReportStopsAtSIGINTWhileReading() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Harness.stallstat)
        p.arguments = ["report", "-i", "-"]
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        input.fileHandleForWriting.write(Data([0x50, 0x45, 0x52, 0x46]))   // a partial header, then nothing
        usleep(scaledMicroseconds(500_000))
        let start = Date()
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        XCTAssertLessThan(Date().timeIntervalSince(start), timeBound(1), "report stops at SIGINT")
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        XCTAssertEqual(p.terminationStatus, SIGINT)
        try? input.fileHandleForWriting.close()
    }

    /// gate check whose measured command runs long: Ctrl-C stops the gate (and the
    /// command) with no verdict, instead of waiting for every run.
    func testGateCheckStopsAtSIGINT() throws {
        let dir = NSTemporaryDirectory() + "stallstat-gate-int-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = dir + "/base.json"
        let rec = Harness.stallstat(["gate", "record", "--baseline", base, "--runs", "3", "--warmup", "0", "-e", "task-clock", "--", "/bin/true"])
        XCTAssertEqual(rec.status, 0, rec.stderr)
        let start = Date()
        let r = Harness.run([Harness.stallstat, "gate", "check", "--baseline", base, "--runs", "5", "--warmup", "0", "--allow-different-command",
                             "-e", "task-clock", "--", "/bin/sleep", "30"]) { p in
            usleep(scaledMicroseconds(800_000))
            kill(p.processIdentifier, SIGINT)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), timeBound(5), "gate check stops at SIGINT: \(r.stderr)")
        XCTAssertEqual(r.status, 130, r.stderr)
        XCTAssertFalse(r.stdout.contains("PASS") || r.stdout.contains("REGRESSION"), "no verdict: \(r.stdout)")
        let sleepers = Harness.run(["/usr/bin/pgrep", "-f", "^/bin/sleep 30$"])
        XCTAssertEqual(sleepers.stdout, "", "the measured command is stopped too")
    }
}

/// A result that could not be written is an error, with one message.
final class WriteFailureTests: XCTestCase {
    func testEveryCommandReportsAFullStandardOutput() throws {
        let data = NSTemporaryDirectory() + "stallstat-full-\(getpid()).data"
        defer { try? FileManager.default.removeItem(atPath: data) }
        XCTAssertEqual(Harness.stallstat(["record", "-o", data, "--", "/bin/true"]).status, 0)
        for args in [["stat", "-e", "task-clock", "--", "/bin/true"], ["report", "-i", data],
                     ["analyze", Harness.packageRoot + "/Tests/StallCoreTests/Fixtures/perf-stat-text.txt"], ["list", "sw"]] {
            let r = Harness.run(["/bin/sh", "-c", "exec \"$0\" \"$@\" > /dev/full", Harness.stallstat] + args)
            XCTAssertEqual(r.status, 1, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr.components(separatedBy: "No space left on device").count - 1, 1, "one message: \(r.stderr)")
        }
    }
}

/// A recording that fills its filesystem says how many samples the file holds.
final class FullFilesystemTests: XCTestCase {
    func testSummaryCountsTheSamplesInTheFile() throws {
        let tmpfs = try Harness.smallTmpfs("96k", name: "small")
        defer { tmpfs.unmount() }
        let path = tmpfs.path + "/full.data"
        let r = Harness.stallstat(["record", "-a", "-o", path, "--duration", "2"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("No space left on device"), r.stderr)
        let line = try XCTUnwrap(r.stderr.split(separator: "\n").first { $0.contains(" samples,") })
        let claimed = try XCTUnwrap(Int(line.split(separator: ":").last!.split(separator: " ").first!))
        let report = Harness.stallstat(["report", "-i", path, "--json", "--percent-limit", "101"])
        let json = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
        let inFile = ((json?["events"] as? [[String: Any]])?.first?["samples"] as? Int) ?? -1
        XCTAssertEqual(claimed, inFile, "the summary counts what the file holds")
        if Harness.perfAvailable {
            let script = Harness.perf(["script", "-i", path])
            XCTAssertEqual(script.stdout.split(separator: "\n").count, inFile, "perf reads as many samples")
        }
    }
}

/// Permission problems are named as what they are.
final class PermissionDiagnosisTests: XCTestCase {
    func testUnreadableTracefsIsNotCalledUnmounted() throws {
        try XCTSkipUnless(geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root to drop to nobody")
        var st = stat()
        try XCTSkipUnless(stat("/sys/kernel/tracing", &st) == 0 && st.st_mode & 0o005 == 0, "tracefs is readable by others here")
        let r = Harness.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             Harness.stallstat, "stat", "-e", "sched:sched_switch", "--", "/bin/true"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("tracefs is mounted at /sys/kernel/tracing but this user cannot read it"), r.stderr)
        XCTAssertFalse(r.stderr.contains("is not mounted"), r.stderr)
    }

    func testEveryPerfEventRefusedIsExitThree() throws {
        let paranoid = MachineFacts.perfEventParanoid() ?? -1
        try XCTSkipUnless(paranoid >= 1 && geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs paranoid >= 1 and root to drop to nobody")
        let r = Harness.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             Harness.stallstat, "-a", "--duration", "0.2"])
        XCTAssertEqual(r.status, 3, "the default set's perf events were all refused; the /proc signals alone are no success: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("permission denied"), r.stderr)
    }
}
