import XCTest
import StallCore
@testable import StallCLI

/// stallstat-gate.toml read by TOMLKit (toml++): full TOML, one set of rules with JSON.
final class GateConfigFileTests: XCTestCase {
    func testTOMLConfig() throws {
        let toml = """
        # stallstat-gate.toml
        runs = 15
        warmup = 3
        alpha = 0.005
        metrics = [
          "task-clock",   # TOML arrays may span lines and carry comments
          'page-faults',
        ]
        [thresholds]
        task-clock = 3      # percent
        "page-faults" = 0.5
        "pressure:memory-some" = 50
        """
        let c = try GateConfigFile.parse(toml, file: "stallstat-gate.toml")
        XCTAssertEqual(c.runs, 15)
        XCTAssertEqual(c.warmup, 3)
        XCTAssertEqual(c.alpha, 0.005)
        XCTAssertEqual(c.metrics, ["task-clock", "page-faults"])
        XCTAssertEqual(c.thresholds["task-clock"], 0.03)
        XCTAssertEqual(c.thresholds["page-faults"], 0.005)
        XCTAssertEqual(c.thresholds["pressure:memory-some"], 0.5)
        // Inline tables and dotted keys are TOML too (the hand-written subset refused both).
        let inline = try GateConfigFile.parse("thresholds = { task-clock = 4 }\n", file: "g.toml")
        XCTAssertEqual(inline.thresholds["task-clock"], 0.04)
        XCTAssertEqual(try GateConfigFile.parse("thresholds.\"task-clock\" = 2\n", file: "g.toml").thresholds["task-clock"], 0.02)
        // The example shipped for CI users parses.
        let example = try String(contentsOfFile: #filePath.components(separatedBy: "/Tests/")[0] + "/Examples/ci/stallstat-gate.toml", encoding: .utf8)
        XCTAssertEqual(try GateConfigFile.parse(example, file: "stallstat-gate.toml").runs, 10)
    }

    func testBadTOMLIsAnErrorNamingWhere() {
        func message(_ text: String) -> String {
            do { _ = try GateConfigFile.parse(text, file: "g.toml"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("runs = x").contains("g.toml line 1"), message("runs = x"))
        XCTAssertTrue(message("runs = 3\nruns = 4\n").contains("g.toml line 2"), message("runs = 3\nruns = 4\n"))
        XCTAssertTrue(message("colour = 3").contains("unknown key 'colour'"), message("colour = 3"))
        XCTAssertTrue(message("runs = 2").contains("at least 3"), message("runs = 2"))
        XCTAssertTrue(message("[other]\n").contains("unknown key 'other'"), message("[other]\n"))
        XCTAssertTrue(message("runs = 1979-05-27\n").contains("date or time"), message("runs = 1979-05-27\n"))
        XCTAssertTrue(message("metrics = [1, 2]\n").contains("array of strings"), message("metrics = [1, 2]\n"))
        for bad in ["nan", "inf", "-inf", "1e30", "1e300", "3.9", "-1", "9223372036854775807"] {
            XCTAssertTrue(message("runs = \(bad)\n").contains("runs must be a whole number"), "\(bad): \(message("runs = \(bad)\n"))")
            XCTAssertTrue(message("warmup = \(bad)\n").contains("warmup must be a whole number"), bad)
        }
        XCTAssertEqual(try GateConfigFile.parse("runs = 12\n", file: "c.toml").runs, 12)
    }
}
