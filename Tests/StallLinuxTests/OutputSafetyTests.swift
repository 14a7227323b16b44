import Foundation
import XCTest

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
    }

    func testDevicesAreWrittenInPlace() {
        XCTAssertEqual(Harness.stallstat(["record", "-o", "/dev/null", "--", "/bin/true"]).status, 0)
        XCTAssertEqual(Harness.stallstat(["stat", "-o", "/dev/null", "-e", "task-clock", "--", "/bin/true"]).status, 0)
        var st = stat()
        XCTAssertEqual(stat("/dev/null", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFCHR, "/dev/null is still the device")
    }
}
