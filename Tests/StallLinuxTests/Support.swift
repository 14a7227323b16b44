import Foundation
import XCTest

/// Runs commands and finds the built binary and workloads.
enum Harness {
    static let packageRoot: String = {
        "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
    }()

    /// The binary under test; STALLSTAT_BIN runs the same tests against another build
    /// (how the new tests were checked to fail on the previous release).
    static var stallstat: String { ProcessInfo.processInfo.environment["STALLSTAT_BIN"] ?? packageRoot + "/.build/debug/stallstat" }

    static let workloads: String = {
        let r = run(["/bin/bash", packageRoot + "/Examples/workloads/build.sh", packageRoot + "/.build/workloads"])
        precondition(r.status == 0, "building the workloads failed: \(r.stderr)")
        return packageRoot + "/.build/workloads"
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    @discardableResult
    static func run(_ argv: [String], after: ((Process) -> Void)? = nil) -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try! p.run()
        after?(p)
        // Read both pipes before waiting so a full pipe cannot block the child.
        final class Box: @unchecked Sendable { var data = Data() }
        let outBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let outData = outBox.data
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    static func perf(_ args: [String]) -> Result { run(["/usr/bin/perf"] + args) }
    static func stallstat(_ args: [String]) -> Result { run([stallstat] + args) }

    /// Parses `-x,` lines into event → value (the count column), skipping unsupported.
    static func csvCounts(_ text: String) -> [String: Double] {
        var counts: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 3, let v = Double(f[0]) else { continue }
            counts[f[2]] = v
        }
        return counts
    }

    static var perfAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/perf") }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

extension Harness.Result {
    /// What `stat -x`/`-j` printed: on standard error, where perf prints it, without
    /// stallstat's own notes ("stallstat: ..." and their indented continuation lines).
    var machine: String {
        stderr.split(separator: "\n").filter { line in
            let continuation = line.hasPrefix("  ") && !(line.drop { $0 == " " }.first?.isNumber ?? false)
            return !line.hasPrefix("stallstat: ") && !continuation && !line.isEmpty
        }
            .map { $0 + "\n" }.joined()
    }
}

/// Report rows compared with perf report's, for every test that reads a profile.
extension XCTestCase {
    /// Rows of a report (`--stdio` text, perf's or ours): the columns before the keys are
    /// percentages, the rest of the line is the key (C++ names contain spaces).
    func rows(_ text: String, percentColumns: Int) -> [String: [Double]] {
        var out: [String: [Double]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && line.contains("%") {
            var rest = Substring(line)
            var values: [Double] = []
            for _ in 0..<percentColumns {
                rest = rest.drop { $0 == " " }
                guard let end = rest.firstIndex(of: "%"), let v = Double(rest[..<end]) else { break }
                values.append(v)
                rest = rest[rest.index(after: end)...]
            }
            guard values.count == percentColumns else { continue }
            let key = rest.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            out[key, default: values.map { _ in 0 }] = zip(out[key] ?? values.map { _ in 0 }, values).map { $0 + $1 }
        }
        return out
    }

    /// Every row of 1% or more equal to perf report's within 0.1 points, both ways.
    func assertRowsMatch(perf: String, ours: String, columns: Int, _ what: String) {
        let p = rows(perf, percentColumns: columns), s = rows(ours, percentColumns: columns)
        XCTAssertFalse(p.isEmpty, "\(what): perf printed no rows")
        for (key, values) in p where values.contains(where: { $0 >= 1 }) {
            guard let mine = s[key] else { XCTFail("\(what): perf's row '\(key)' \(values) is missing:\n\(ours)"); continue }
            for (a, b) in zip(values, mine) { XCTAssertEqual(a, b, accuracy: 0.1, "\(what): \(key)") }
        }
        for (key, values) in s where values.contains(where: { $0 >= 1 }) && p[key] == nil {
            XCTFail("\(what): our row '\(key)' \(values) is not in perf's report:\n\(perf)")
        }
    }
}

/// A wall-time bound, scaled by STALLSTAT_TEST_TIME_SCALE where the suite runs slower
/// than on hardware (the arm64 lab runs it under QEMU's TCG: 30).
func timeBound(_ seconds: Double) -> Double {
    seconds * max(1, Double(ProcessInfo.processInfo.environment["STALLSTAT_TEST_TIME_SCALE"] ?? "") ?? 1)
}

/// A pause before signalling a process that must have started (installed its handlers)
/// by then, scaled like timeBound: a debug build under TCG starts ~30x slower.
func scaledMicroseconds(_ microseconds: UInt32) -> UInt32 {
    UInt32(min(timeBound(Double(microseconds) / 1e6) * 1e6, Double(UInt32.max)))
}
