import XCTest
@testable import StallCore

/// analyze's importers on real outputs captured here with perf 6.1 (Fixtures/perf-stat-*:
/// German and French locales, -A, --per-socket, --per-core, -I) and on the malformed
/// values a file can hold. Expected values are read off the files by eye.
final class CountImportTests: XCTestCase {
    func fixture(_ name: String) throws -> String {
        let dir = "/" + #filePath.split(separator: "/").dropLast().joined(separator: "/") + "/Fixtures/"
        return try String(contentsOfFile: dir + name, encoding: .utf8)
    }

    func total(_ counts: ImportedCounts, _ name: String) -> Double? { counts.totals.first { $0.name == name }?.value }

    func testGermanLocaleTextReadsDecimalCommasAndDottedGroups() throws {
        // "45,79 msec task-clock", "16.438 page-faults" (values of this capture).
        let text = try fixture("perf-stat-text-de.txt")
        let c = try CountImporter.parse(text)
        XCTAssertEqual(c.problems, [])
        let msecLine = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("task-clock") })
        let msec = try XCTUnwrap(msecLine.split(separator: " ").first)   // e.g. "45,79"
        XCTAssertEqual(total(c, "task-clock"), Double(msec.replacingOccurrences(of: ",", with: ".")))
        let faultsLine = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("page-faults") })
        let faults = try XCTUnwrap(faultsLine.split(separator: " ").first)   // e.g. "16.438"
        XCTAssertEqual(total(c, "page-faults"), Double(faults.replacingOccurrences(of: ".", with: "")))
        XCTAssertGreaterThan(total(c, "page-faults") ?? 0, 16384, "64 MiB touched: at least 16,384 faults, not 16")
    }

    func testFrenchLocaleTextReadsNarrowSpaceGroups() throws {
        let c = try CountImporter.parse(try fixture("perf-stat-text-fr.txt"))
        XCTAssertEqual(c.problems, [])
        XCTAssertGreaterThan(total(c, "page-faults") ?? 0, 16384)
        XCTAssertLessThan(total(c, "task-clock") ?? 1e9, 10_000, "tens of ms, read with the decimal comma")
    }

    func testGermanIntervalTextKeepsDottedTimestamps() throws {
        // perf prints -I timestamps as %lu.%09lu in every locale.
        let c = try CountImporter.parse(try fixture("perf-stat-interval-text-de.txt"))
        XCTAssertEqual(c.problems, [])
        XCTAssertEqual(c.windows.count, 4)
        XCTAssertEqual(c.windows[0].timestamp ?? 0, 0.1, accuracy: 0.01)
        XCTAssertGreaterThan(total(c, "page-faults") ?? 0, 16384)
        XCTAssertEqual(total(c, "task-clock") ?? 0, 300, accuracy: 60, "four windows of ~100 ms summed, not 99,54 read as 9954")
    }

    func testPerCPUAndPerSocketTextAreSummedOverTheirRows() throws {
        let percpu = try CountImporter.parse(try fixture("perf-stat-percpu-text.txt"))
        XCTAssertEqual(percpu.problems, [])
        XCTAssertEqual(total(percpu, "task-clock") ?? 0, 202.54 + 202.55, accuracy: 0.001)
        XCTAssertEqual(total(percpu, "page-faults"), 81)
        let socket = try CountImporter.parse(try fixture("perf-stat-per-socket-text.txt"))
        XCTAssertEqual(socket.problems, [])
        XCTAssertEqual(total(socket, "task-clock") ?? 0, 408.37, accuracy: 0.001)
        XCTAssertEqual(total(socket, "page-faults"), 83)
    }

    func testIntervalTextOfPerf61() throws {
        let c = try CountImporter.parse(try fixture("perf-stat-interval-text-6.1.txt"))
        XCTAssertEqual(c.problems, [])
        XCTAssertEqual(c.windows.count, 4)
        XCTAssertEqual(total(c, "page-faults"), 16438)
    }

    func testPerCoreCSV() throws {
        let c = try CountImporter.parse(try fixture("perf-stat-per-core.csv"))
        XCTAssertEqual(c.problems, [])
        XCTAssertEqual(c.totals.map(\.name), ["task-clock", "page-faults"])
    }

    func testSimpleperfPerCoreAndPerThreadLayouts() throws {
        // simpleperf's ShowText: "# cpu  count  event_name   # count / runtime" and rows "  0  1,234  name   # ...".
        let perCore = """
        Performance counter statistics:

        # cpu          count  event_name   # count / runtime
          0    1,000,000,000  cpu-cycles   # 1.000000 GHz
          1      500,000,000  cpu-cycles   # 0.500000 GHz
          0      250,000,000  instructions # 4.000000 cycles per instruction
          1      250,000,000  instructions # 2.000000 cycles per instruction

        Total test time: 1.000100 seconds.
        """
        let c = try CountImporter.parse(perCore)
        XCTAssertEqual(c.problems, [])
        XCTAssertEqual(c.totals.map(\.name), ["cpu-cycles", "instructions"])
        XCTAssertEqual(total(c, "cpu-cycles"), 1_500_000_000)
        let perThread = """
        Performance counter statistics:

        # thread_name  pid   tid    count  event_name    # count / runtime
          binder:12 3  1234  1240   70,000  page-faults   # 70.000 K/sec
          main         1234  1234   30,000  page-faults   # 30.000 K/sec

        Total test time: 1.000100 seconds.
        """
        let t = try CountImporter.parse(perThread)
        XCTAssertEqual(t.problems, [])
        XCTAssertEqual(total(t, "page-faults"), 100_000)
    }

    func testStallstatsOwnLabelledTextAndPerfPerThreadCSV() throws {
        // stallstat stat -a --per-core / -G / --per-thread text (layout of this build).
        let perCore = """
        Performance counter statistics:

        #     core           count  event_name                    # count / runtime
        S0-D0-C0  200.276806(ms)  task-clock                    # 1.001232 cpus used
        S0-D0-C1  200.253470(ms)  task-clock                    # 1.001115 cpus used
        S0-D0-C0               3  page-faults                   # 14.978 /sec

        Total test time: 0.200029 seconds.
        """
        let c = try CountImporter.parse(perCore)
        XCTAssertEqual(c.problems, [])
        XCTAssertEqual(total(c, "task-clock") ?? 0, 400.530276, accuracy: 1e-6)
        let cgroup = "Performance counter statistics:\n\n#cgroup           count  event_name   # count / runtime\n      /  400.387156(ms)  task-clock   # 2.000190 cpus used\n      /             380  page-faults\n"
        let g = try CountImporter.parse(cgroup)
        XCTAssertEqual(g.problems, [])
        XCTAssertEqual(total(g, "page-faults"), 380)
        // perf stat -x, --per-thread -p PID (perf 6.1): the thread label first.
        let t = try CountImporter.parse("sleep-4097,1.25,msec,task-clock,1250000,100.00,0.006,CPUs utilized\nsleep-4097,71,,page-faults,1250000,100.00,56.800,K/sec\n")
        XCTAssertEqual(t.problems, [])
        XCTAssertEqual(total(t, "page-faults"), 71)
    }

    func testJSONWithCRLFAndDecimalCommaJSON() throws {
        let crlf = "{\"counter-value\" : \"45580956762.000000\", \"unit\" : \"\", \"event\" : \"cycles\", \"pcnt-running\" : 100.00}\r\n"
            + "{\"counter-value\" : \"1000.000000\", \"unit\" : \"\", \"event\" : \"instructions\", \"pcnt-running\" : 100.00}\r\n"
        let c = try CountImporter.parse(crlf)
        XCTAssertEqual(c.format, .perfJSON)
        XCTAssertEqual(total(c, "cycles"), 45_580_956_762)
        // perf -j under LC_ALL=de_DE.UTF-8 (captured here): not valid JSON, read all the same.
        let de = """
        {"counter-value" : "16,245657", "unit" : "msec", "event" : "task-clock", "event-runtime" : 16245657, "pcnt-running" : 100,00, "metric-value" : 0,932716, "metric-unit" : "CPUs utilized"}
        {"counter-value" : "4149,000000", "unit" : "", "event" : "page-faults", "event-runtime" : 16245657, "pcnt-running" : 100,00, "metric-value" : 255,391333, "metric-unit" : "K/sec"}
        """
        let d = try CountImporter.parse(de)
        XCTAssertEqual(d.problems, [])
        XCTAssertEqual(total(d, "task-clock") ?? 0, 16.245657, accuracy: 1e-9)
        XCTAssertEqual(total(d, "page-faults"), 4149)
    }

    func testDecimalCommaCSVIsRepairedOrReadWithSemicolons() throws {
        // perf -x, and -x';' under LC_ALL=de_DE.UTF-8 (captured here).
        let comma = try CountImporter.parse("27,98,msec,task-clock,27981662,100,00,0,CPUs utilized\n4149,,page-faults,27981662,100,00,148,K/sec\n")
        XCTAssertEqual(comma.problems, [])
        XCTAssertEqual(total(comma, "task-clock") ?? 0, 27.98, accuracy: 1e-9)
        XCTAssertEqual(total(comma, "page-faults"), 4149)
        let semi = try CountImporter.parse("13,64;msec;task-clock;13644164;100,00;0;CPUs utilized\n4148;;page-faults;13644164;100,00;304;K/sec\n")
        XCTAssertEqual(semi.problems, [])
        XCTAssertEqual(total(semi, "task-clock") ?? 0, 13.64, accuracy: 1e-9)
        XCTAssertEqual(total(semi, "page-faults"), 4148)
    }

    func testImpossibleCountsAreProblemsNotValues() throws {
        for bad in ["-5", "nan", "inf", "1e20", "18446744073709551616", "99999999999999999999"] {
            let csv = "\(bad),,page-faults,100,100.00,,\n7,,minor-faults,100,100.00,,\n"
            let c = try CountImporter.parse(csv)
            XCTAssertNil(total(c, "page-faults"), "\(bad) must not be read as a count")
            XCTAssertEqual(total(c, "minor-faults"), 7)
            XCTAssertEqual(c.problems.count, 1, "\(bad): \(c.problems)")
            let json = "{\"counter-value\" : \"\(bad)\", \"unit\" : \"\", \"event\" : \"page-faults\"}\n"
            let j = try CountImporter.parse(json)
            XCTAssertTrue(j.isEmpty, "\(bad) in JSON")
            XCTAssertEqual(j.problems.count, 1)
        }
        let text = " Performance counter stats for 'x':\n\n     -1,234      page-faults\n"
        XCTAssertTrue(try CountImporter.parse(text).isEmpty)
        // The largest count a 64-bit counter holds is read.
        XCTAssertEqual(total(try CountImporter.parse("18446744073709551615,,cycles,1,100.00,,\n"), "cycles"), CountRange.maximum)
    }

    func testConflictingDecimalMarksAreRefused() {
        let mixed = " Performance counter stats for 'x':\n\n     45,79 msec task-clock\n\n       0.046447767 seconds time elapsed\n"
        XCTAssertThrowsError(try CountImporter.parse(mixed)) { XCTAssertTrue("\($0)".contains("cannot tell the locale"), "\($0)") }
    }

    func testTotalsAreLinearInTheNumberOfDistinctNames() {
        let n = 100_000
        let window = ImportedCounts.Window(timestamp: nil, counts: (0..<n).map { NamedCount(name: "e\($0)", value: Double($0)) })
        let counts = ImportedCounts(format: .perfCSV, windows: [window, window], problems: [], uncounted: [])
        let start = Date()
        let totals = counts.totals
        XCTAssertEqual(totals.count, n)
        XCTAssertEqual(totals[n - 1].value, Double(2 * (n - 1)))
        XCTAssertLessThan(Date().timeIntervalSince(start), timeBound(5), "one pass, not one scan per name")
    }

    func testGenericStalledCyclesGivePerfsFrontendBackendSplit() throws {
        let text = """
         Performance counter stats for './app':

              1,234.56 msec task-clock                #    0.998 CPUs utilized
         4,938,123,456      cycles                    #    4.000 GHz
         1,580,199,506      stalled-cycles-frontend   #   32.00% frontend cycles idle
           987,654,321      stalled-cycles-backend    #   20.00% backend cycles idle
         3,950,498,765      instructions              #    0.80  insn per cycle

               1.237000000 seconds time elapsed
        """
        let c = try CountImporter.parse(text)
        let tables = EventTableSet(files: EmbeddedEventTables.files)
        for model in tables.cpus where model.vendor != .arm {
            let report = StallTreeBuilder(catalog: tables.catalog(for: model)).build(c.totals)
            let fe = try XCTUnwrap(report.node("frontend_cycles_idle"), model.name)
            XCTAssertEqual(fe.shareOfParent ?? 0, 0.32, accuracy: 0.0001, "perf printed 32.00% frontend cycles idle")
            XCTAssertEqual(report.node("backend_cycles_idle")?.shareOfParent ?? 0, 0.20, accuracy: 0.0001)
        }
    }

    func testNumberLocaleRejectsWhatPerfNeverPrints() {
        XCTAssertNil(NumberLocale.c.number("1.2.3"))
        XCTAssertNil(NumberLocale.c.number("0x10"))
        XCTAssertNil(NumberLocale.c.number("-1"))
        XCTAssertNil(NumberLocale.c.number(""))
        XCTAssertEqual(NumberLocale.c.number("1,234,567.25"), 1_234_567.25)
        XCTAssertEqual(NumberLocale.decimalComma.number("9.134,89"), 9134.89)
        XCTAssertEqual(NumberLocale.decimalComma.number("16\u{202F}437"), 16437)
    }
}

/// Mutations of real outputs (bytes flipped, lines cut, duplicated, swapped, hostile
/// tokens spliced in): the importers never trap, every count they return is one a 64-bit
/// counter can hold, and an input with nothing readable is reported as empty.
final class CountImportFuzzTests: XCTestCase {
    func testFuzzImportersOnMutatedRealOutputs() throws {
        let dir = "/" + #filePath.split(separator: "/").dropLast().joined(separator: "/") + "/Fixtures/"
        let seeds = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("perf-stat") }.sorted()
            .map { try String(contentsOfFile: dir + $0, encoding: .utf8) }
        XCTAssertGreaterThanOrEqual(seeds.count, 10)
        var state: UInt64 = UInt64(ProcessInfo.processInfo.environment["STALLSTAT_FUZZ_SEED"] ?? "") ?? 0xA11A
        func next(_ n: Int) -> Int {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            return Int((z ^ (z >> 31)) % UInt64(max(1, n)))
        }
        let tokens = ["-1", "nan", "inf", "1e400", "18446744073709551616", "<not counted>", "\r\n", "{", "}", "\"", ",", ";", "#",
                      "msec", "CPU", "S0", "9.134,89", "\u{202F}", "\u{0}", "(", "%)", "Performance counter stats", "summary", "0x1f"]
        let iterations = Int(ProcessInfo.processInfo.environment["STALLSTAT_FUZZ_ITERATIONS"] ?? "") ?? 20_000
        var read = 0
        for _ in 0..<iterations {
            var bytes = Array(seeds[next(seeds.count)].utf8)
            for _ in 0...next(4) {
                guard !bytes.isEmpty else { break }
                let at = next(bytes.count)
                switch next(5) {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: next(256))
                case 1: bytes.insert(contentsOf: Array(tokens[next(tokens.count)].utf8), at: at)
                case 2: bytes.removeSubrange(at..<min(bytes.count, at + next(40)))
                case 3: bytes += bytes[at..<min(bytes.count, at + next(200))]
                default: bytes = Array(bytes[..<at])
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            guard let counts = try? CountImporter.parse(text) else { continue }
            read += 1
            for c in counts.totals {
                XCTAssertTrue(c.value.isFinite && c.value >= 0, "\(c.name) = \(c.value) from a mutated file")
            }
            if counts.windows.isEmpty && counts.uncounted.isEmpty { XCTAssertTrue(counts.isEmpty) }
        }
        XCTAssertGreaterThan(read, iterations / 10, "most mutations still read")
    }
}
