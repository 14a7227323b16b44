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
        for row in table {
            let r = Harness.stallstat(["stat"] + row.arguments)
            XCTAssertTrue(row.exits.contains(r.status), "\(row.option): `stat \(row.arguments.joined(separator: " "))` exited \(r.status), the table says \(row.exits): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("cannot run '-"), "\(row.option): an option was run as the command")
            if row.status.hasPrefix("refused") {
                XCTAssertTrue(r.stderr.contains("not supported") || r.stderr.contains("refused") || r.stderr.contains("counts Intel TSX"),
                              "\(row.option): a refusal says why: \(r.stderr)")
            }
        }
    }
}
