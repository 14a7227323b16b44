import Foundation
import XCTest

/// The README's table of perf stat options, row by row through the binary: what it says
/// stallstat does with each option is what the binary does.
final class StatOptionTableTests: XCTestCase {
    struct Row {
        var option: String
        var status: String
        var arguments: [String]
        var exits: Set<Int32>
    }

    /// Rows between the OPTIONS:stat markers: `| option | status | `example` | exit |`.
    func rows() throws -> [Row] {
        let readme = try String(contentsOfFile: Harness.packageRoot + "/README.md", encoding: .utf8)
        let start = try XCTUnwrap(readme.range(of: "<!-- OPTIONS:stat -->"))
        let end = try XCTUnwrap(readme.range(of: "<!-- /OPTIONS:stat -->"))
        var rows: [Row] = []
        for line in readme[start.upperBound..<end.lowerBound].split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.replacingOccurrences(of: "\\|", with: "\u{1}").split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 4, cells[2].hasPrefix("`"), cells[2].hasSuffix("`") else { continue }
            let exits = Set(cells[3].replacingOccurrences(of: "\u{1}", with: "|").split(separator: "|").compactMap { Int32($0) })
            rows.append(Row(option: cells[0], status: cells[1], arguments: shellWords(String(cells[2].dropFirst().dropLast())), exits: exits))
        }
        return rows
    }

    /// `msr/tsc/` where the msr PMU exists (nil: keep the example), else the first event
    /// alias of another PMU in sysfs (`armv8_pmuv3_0/cpu_cycles/`).
    static func pmuAlias() -> String? {
        let devices = "/sys/bus/event_source/devices"
        if FileManager.default.fileExists(atPath: devices + "/msr/events/tsc") { return nil }
        let pmus = ((try? FileManager.default.contentsOfDirectory(atPath: devices)) ?? []).sorted()
        for pmu in pmus {
            let events = ((try? FileManager.default.contentsOfDirectory(atPath: "\(devices)/\(pmu)/events")) ?? []).sorted()
            if let event = events.first(where: { !$0.contains(".") }) { return "\(pmu)/\(event)/" }
        }
        return nil
    }

    /// Splits an example as a shell would (single quotes only).
    func shellWords(_ text: String) -> [String] {
        var words: [String] = [], word = "", quoted = false, any = false
        for ch in text {
            if ch == "'" { quoted.toggle(); any = true; continue }
            if ch == " " && !quoted { if any || !word.isEmpty { words.append(word) }; word = ""; any = false; continue }
            word.append(ch)
        }
        if any || !word.isEmpty { words.append(word) }
        return words
    }

    func testEveryPerfStatOptionRowHoldsThroughTheBinary() throws {
        let table = try rows()
        XCTAssertGreaterThanOrEqual(table.count, 45, "one row per perf stat option")
        // Every option perf 6.1's `perf stat -h` lists has a row.
        if Harness.perfAvailable {
            let help = Harness.perf(["stat", "-h"]).stderr + Harness.perf(["stat", "-h"]).stdout
            let listed = Set(help.split(separator: "\n").compactMap { line -> String? in
                let t = line.trimmingCharacters(in: .whitespaces)
                guard t.hasPrefix("-") else { return nil }
                let name = t.split(separator: " ").first { $0.hasPrefix("--") }.map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: ",")) }
                return name?.split(separator: "[").first.map(String.init)
            })
            let documented = table.map(\.option).joined(separator: " ")
            for option in listed where !["--bpf-counters", "--bpf-attr-map", "--bpf-prog"].contains(option) {
                XCTAssertTrue(documented.contains("`\(option)`"), "perf's \(option) has no row in the README table")
            }
        }
        // A model of another vendor is refused (it would program the wrong events): the
        // examples' zen4 becomes a model of this machine's vendor with an `ipc` metric.
        let sameVendor = ["intel": "sapphirerapids", "arm": "neoverse-n1"][Harness.cpuVendor]
        // The examples' PMU alias `msr/tsc/` is x86's: elsewhere (the arm64 lab) an alias
        // of a PMU this machine has stands in for it.
        let alias = StatOptionTableTests.pmuAlias()
        for row in table {
            var arguments = row.arguments
            if let sameVendor { arguments = arguments.map { $0 == "zen4" ? sameVendor : $0 } }
            if let alias { arguments = arguments.map { $0.replacingOccurrences(of: "msr/tsc/", with: alias) } }
            let r = Harness.stallstat(["stat"] + arguments)
            XCTAssertTrue(row.exits.contains(r.status), "\(row.option): `stat \(arguments.joined(separator: " "))` exited \(r.status), the table says \(row.exits): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("cannot run '-"), "\(row.option): an option was run as the command")
            if row.status.hasPrefix("refused") {
                XCTAssertTrue(r.stderr.contains("not supported") || r.stderr.contains("refused") || r.stderr.contains("counts Intel TSX"),
                              "\(row.option): a refusal says why: \(r.stderr)")
            }
        }
    }
}

/// Where `stat` output goes, and `analyze` on inputs that never end or say nothing.
final class OutputStreamAndAnalyzeStopTests: XCTestCase {
    func testMachineLayoutsGoToStandardErrorAndOutputFilesGetPerfsHeader() throws {
        let csv = Harness.stallstat(["stat", "-x,", "-e", "task-clock", "--", "/bin/true"])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        XCTAssertEqual(csv.stdout, "", "-x output is on stderr, as perf's")
        XCTAssertTrue(csv.stderr.contains(",msec,task-clock,"), csv.stderr)
        let json = Harness.stallstat(["stat", "-j", "-e", "task-clock", "--", "/bin/true"])
        XCTAssertEqual(json.stdout, "")
        XCTAssertTrue(json.stderr.contains("\"event\" : \"task-clock\""), json.stderr)
        let text = Harness.stallstat(["stat", "-e", "task-clock", "--", "/bin/true"])
        XCTAssertTrue(text.stdout.contains("task-clock"), "text stays on stdout")

        let path = NSTemporaryDirectory() + "stallstat-header-\(getpid()).csv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertEqual(Harness.stallstat(["stat", "-x,", "-o", path, "-e", "task-clock", "--", "/bin/true"]).status, 0)
        XCTAssertEqual(Harness.stallstat(["stat", "-x,", "-o", path, "--append", "-e", "task-clock", "--", "/bin/true"]).status, 0)
        let written = try String(contentsOfFile: path, encoding: .utf8)
        let lines = written.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2 else { return XCTFail("no header in \(written)") }
        XCTAssertTrue(lines[0].hasPrefix("# started on "), written)
        XCTAssertEqual(lines[1], "", "perf's header: ctime's own newline, then a blank line")
        XCTAssertEqual(written.components(separatedBy: "# started on").count - 1, 2, "--append keeps the first run")
        if Harness.perfAvailable {
            let perfPath = path + ".perf"
            defer { try? FileManager.default.removeItem(atPath: perfPath) }
            _ = Harness.perf(["stat", "-x,", "-o", perfPath, "-e", "task-clock", "--", "/bin/true"])
            let perfLines = try String(contentsOfFile: perfPath, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            guard perfLines.count >= 2 else { return XCTFail("perf wrote no header") }
            XCTAssertTrue(perfLines[0].hasPrefix("# started on ") && perfLines[1].isEmpty, "perf writes the same header")
        }
        let full = Harness.stallstat(["stat", "-x,", "-o", "/dev/full", "-e", "task-clock", "--", "/bin/true"])
        XCTAssertEqual(full.status, 1, "a write failure is an error: \(full.stderr)")
        XCTAssertTrue(full.stderr.contains("No space left on device"), full.stderr)
    }

    func testAnalyzeStopsAtCtrlCAndRefusesEndlessOrEmptyInput() throws {
        let fifo = NSTemporaryDirectory() + "stallstat-fifo-\(getpid())"
        defer { unlink(fifo) }
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        // A writer that never closes: analyze would wait forever; Ctrl-C must end it.
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", "exec sleep 30 > \(fifo)"]
        try writer.run()
        defer { writer.terminate() }
        let start = Date()
        let r = Harness.run([Harness.stallstat, "analyze", fifo]) { p in
            usleep(scaledMicroseconds(500_000))
            kill(p.processIdentifier, SIGINT)
        }
        XCTAssertNotEqual(r.status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), timeBound(5), "analyze stops at SIGINT")

        let zero = Harness.stallstat(["analyze", "/dev/zero"])
        XCTAssertEqual(zero.status, 2, zero.stderr)
        XCTAssertTrue(zero.stderr.contains("more than 256 MiB"), zero.stderr)

        let junk = NSTemporaryDirectory() + "stallstat-junk-\(getpid()).csv"
        defer { try? FileManager.default.removeItem(atPath: junk) }
        try "a,b\nc,d\n".write(toFile: junk, atomically: true, encoding: .utf8)
        let empty = Harness.stallstat(["analyze", junk])
        XCTAssertEqual(empty.status, 2, "nothing readable is not a success: \(empty.stdout) \(empty.stderr)")
        XCTAssertTrue(empty.stderr.contains("no count could be read"), empty.stderr)
    }
}
