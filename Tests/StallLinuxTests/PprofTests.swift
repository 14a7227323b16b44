import Foundation
import XCTest

/// `report --pprof` read back by go tool pprof (Debian's golang-go): its per-function flat
/// and cumulative shares equal `report --sort symbol` (and `--children`) within 0.1
/// points, and its stacks (-traces) are report --folded's, sample for sample. For
/// perf's files and stallstat's, C and C++ (demangled names must survive pprof).
final class PprofTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/go") else {
            throw XCTSkip("go not installed (Debian package golang-go; .ci/run installs it)")
        }
        dir = NSTemporaryDirectory() + "stallstat-pprof-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func pprof(_ args: [String]) -> String {
        let r = Harness.run(["/usr/bin/go", "tool", "pprof"] + args)
        XCTAssertEqual(r.status, 0, "go tool pprof \(args): \(r.stderr)")
        return r.stdout
    }

    /// -top rows: name → (flat%, cum%).
    func topShares(_ profile: String, sampleIndex: String) -> [String: (flat: Double, cum: Double)] {
        var rows: [String: (Double, Double)] = [:]
        for line in pprof(["-top", "-nodefraction=0", "-edgefraction=0", "-nodecount=1000000", "-sample_index=\(sampleIndex)", profile]).split(separator: "\n") {
            // "  498.50ms 49.74% 49.74%   547.75ms 54.65%  name with spaces"
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[1].hasSuffix("%"), fields[4].hasSuffix("%"),
                  let flat = Double(fields[1].dropLast()), let cum = Double(fields[4].dropLast()) else { continue }
            rows[String(fields[5]).trimmingCharacters(in: .whitespaces)] = (flat, cum)
        }
        return rows
    }

    /// report's rows by symbol name (two static functions of one name are summed, as
    /// pprof keys functions by name): self% and, with --children, children%.
    func reportShares(_ data: String, children: Bool) -> [String: Double] {
        let r = Harness.stallstat(["report", "-i", data, "--sort", "symbol"] + (children ? ["--children"] : []))
        XCTAssertEqual(r.status, 0, r.stderr)
        var rows: [String: Double] = [:]
        for line in r.stdout.split(separator: "\n") where !line.hasPrefix("#") {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard let pct = t.split(separator: " ").first, pct.hasSuffix("%"), let v = Double(pct.dropLast()),
                  let bracket = t.range(of: "] ") else { continue }
            rows[String(t[bracket.upperBound...]).trimmingCharacters(in: .whitespaces), default: 0] += v
        }
        return rows
    }

    /// -traces, summed by stack of names: "comm;root;...;leaf" → samples.
    func traces(_ profile: String) -> [String: Int] {
        var stacks: [String: Int] = [:]
        for block in pprof(["-traces", "-sample_index=samples", profile]).components(separatedBy: "-----------+") {
            var comm = "", frames: [String] = [], count = 0
            for line in block.split(separator: "\n") {
                let t = line.trimmingCharacters(in: .whitespaces)
                if t.hasPrefix("comm:") { comm = t.dropFirst(5).trimmingCharacters(in: .whitespaces); continue }
                if t.hasPrefix("pid:") || t.hasPrefix("tid:") || t.hasPrefix("-") || t.isEmpty { continue }
                let parts = t.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
                if frames.isEmpty, parts.count == 2, let n = Int(parts[0]) {
                    count = n
                    frames.append(String(parts[1]).trimmingCharacters(in: .whitespaces))
                } else if !frames.isEmpty {
                    frames.append(t)
                }
            }
            guard count > 0 else { continue }
            // A frame without a function is "<unknown>", or its object's name in brackets
            // when it has a mapping (pprof's label); folded says [unknown] for both.
            frames = frames.map { $0.hasPrefix("[") && $0.hasSuffix("]") ? "<unknown>" : $0 }
            stacks[([comm] + frames.reversed()).joined(separator: ";"), default: 0] += count
        }
        return stacks
    }

    func folded(_ data: String) -> [String: Int] {
        let r = Harness.stallstat(["report", "-i", data, "--folded"])
        XCTAssertEqual(r.status, 0, r.stderr)
        var stacks: [String: Int] = [:]
        for line in r.stdout.split(separator: "\n") {
            guard let space = line.lastIndex(of: " "), let n = Int(line[line.index(after: space)...]) else { continue }
            let frames = line[..<space].split(separator: ";").map { f -> String in
                let name = f.hasSuffix("_[k]") ? String(f.dropLast(4)) : String(f)
                return name == "[unknown]" ? "<unknown>" : name
            }
            stacks[frames.joined(separator: ";"), default: 0] += n
        }
        return stacks
    }

    func check(_ data: String, _ what: String) {
        let out = dir + "/" + (data as NSString).lastPathComponent + ".pb.gz"
        let r = Harness.stallstat(["report", "-i", data, "--pprof", out])
        XCTAssertEqual(r.status, 0, "\(what): \(r.stderr)")
        let header = pprof(["-raw", out]).prefix(2000)
        XCTAssertTrue(header.contains("Samples:") || header.contains("PeriodType"), "\(what): pprof reads the file: \(header)")
        let event = Harness.stallstat(["report", "-i", data, "--json"]).stdout
        let eventName = (try? JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any])
            .flatMap { ($0["events"] as? [[String: Any]])?.first?["name"] as? String } ?? "cpu-clock"

        let top = topShares(out, sampleIndex: eventName)
        let selfRows = reportShares(data, children: false)
        let childRows = reportShares(data, children: true)
        var compared = 0
        for (name, share) in selfRows where !name.hasPrefix("0x") && name != "[unknown]" {
            guard let p = top[name] else {
                XCTAssertLessThan(share, 0.1, "\(what): \(name) (\(share)%) is missing from pprof -top")
                continue
            }
            XCTAssertEqual(p.flat, share, accuracy: 0.1, "\(what): flat share of \(name)")
            compared += 1
        }
        XCTAssertGreaterThanOrEqual(compared, 2, "\(what): rows compared")
        for (name, share) in childRows where !name.hasPrefix("0x") && name != "[unknown]" && share >= 0.5 {
            if let p = top[name] { XCTAssertEqual(p.cum, share, accuracy: 0.1, "\(what): cumulative share of \(name)") }
            else { XCTFail("\(what): \(name) (children \(share)%) is missing from pprof -top") }
        }
        let ours = folded(data), theirs = traces(out)
        XCTAssertEqual(theirs.values.reduce(0, +), ours.values.reduce(0, +), "\(what): samples")
        let differing = Set(ours.keys).union(theirs.keys).filter { ours[$0] != theirs[$0] }
        XCTAssertTrue(differing.isEmpty, "\(what): stacks that differ (folded vs pprof -traces): \(differing.prefix(5).map { "\($0): \(ours[$0] ?? 0) vs \(theirs[$0] ?? 0)" })")
    }

    func testStallstatAndPerfRecordingsReadBackInPprof() throws {
        for workload in ["deep_stacks", "cxx_shapes"] {
            let ours = dir + "/\(workload).stallstat.data", perfs = dir + "/\(workload).perf.data"
            let r = Harness.stallstat(["record", "-g", "-F", "2000", "-o", ours, "--", Harness.workloads + "/" + workload])
            XCTAssertEqual(r.status, 0, r.stderr)
            check(ours, "stallstat record -g \(workload)")
            guard Harness.perfAvailable else { continue }
            let p = Harness.perf(["record", "-q", "-g", "-F", "2000", "-o", perfs, "--", Harness.workloads + "/" + workload])
            XCTAssertEqual(p.status, 0, p.stderr)
            check(perfs, "perf record -g \(workload)")
        }
    }

    /// The profile's metadata: sample types with units, the main binary's mapping first
    /// with its build id, kernel frames in a [kernel.kallsyms] mapping.
    func testSampleTypesMappingsAndBuildIDs() throws {
        let data = dir + "/k.data"
        let r = Harness.stallstat(["record", "-g", "-e", "cpu-clock,page-faults", "-F", "1000", "-o", data, "--", Harness.workloads + "/touch_pages", "8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = dir + "/k.pb.gz"
        XCTAssertEqual(Harness.stallstat(["report", "-i", data, "--pprof", out]).status, 0)
        let raw = pprof(["-raw", out])
        XCTAssertTrue(raw.contains("Samples:\nsamples/count cpu-clock/nanoseconds[dflt] page-faults/count"), raw.prefix(600).description)
        let buildID = Harness.run(["/usr/bin/readelf", "-n", Harness.workloads + "/touch_pages"]).stdout
            .components(separatedBy: "Build ID: ").dropFirst().first?.prefix(40) ?? "none"
        // pprof's -raw "Mappings" section: "1: 0x…/0x…/0x… /path build-id [FN]".
        let mappings = raw.components(separatedBy: "Mappings\n").last ?? ""
        let first = mappings.split(separator: "\n").first ?? ""
        XCTAssertTrue(first.hasPrefix("1: ") && first.contains(Harness.workloads + "/touch_pages") && first.contains(buildID),
                      "mapping 1 is the main binary with its build id: \(first)")
        XCTAssertTrue(mappings.contains("[kernel.kallsyms]"), "page faults' kernel frames: \(mappings.prefix(800))")
        let top = topShares(out, sampleIndex: "page-faults")
        XCTAssertFalse(top.isEmpty, "page-faults is a sample type pprof can show")
    }

    func testDamagedInputAndUnwritableOutputFailCleanly() throws {
        let bad = dir + "/bad.data"
        try Data(repeating: 0x41, count: 300).write(to: URL(fileURLWithPath: bad))
        let out = dir + "/x.pb.gz"
        let r = Harness.stallstat(["report", "-i", bad, "--pprof", out])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no profile from a file that is not perf.data")
        let data = dir + "/ok.data"
        XCTAssertEqual(Harness.stallstat(["record", "-o", data, "--", "/bin/true"]).status, 0)
        let w = Harness.stallstat(["report", "-i", data, "--pprof", dir + "/no/such/dir/p.pb.gz"])
        XCTAssertNotEqual(w.status, 0)
        XCTAssertTrue(w.stderr.contains("cannot write"), w.stderr)
    }
}
