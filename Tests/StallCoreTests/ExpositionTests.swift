import XCTest
@testable import StallCore

final class ExpositionTests: XCTestCase {
    /// The Accept headers Prometheus and common clients send, and what client_golang's
    /// expfmt.NegotiateIncludingOpenMetrics answers them (hand-checked against its code:
    /// sorted by q, OpenMetrics 1.0.0/0.0.1/none, text 0.0.4/none, else text).
    func testNegotiationFollowsClientGolang() {
        let cases: [(String?, ExpositionFormat)] = [
            (nil, .text),
            ("", .text),
            ("*/*", .text),
            ("text/plain", .text),
            ("text/plain;version=0.0.4", .text),
            ("application/openmetrics-text", .openMetrics(version: "1.0.0")),
            ("application/openmetrics-text; version=0.0.1", .openMetrics(version: "0.0.1")),
            // Prometheus 2.42's scrape header.
            ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
             .openMetrics(version: "1.0.0")),
            // q decides, not order.
            ("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0", .openMetrics(version: "1.0.0")),
            ("application/openmetrics-text;version=1.0.0;q=0.2,text/plain;version=0.0.4;q=0.5", .text),
            // Unknown versions are skipped, protobuf is not offered.
            ("application/openmetrics-text;version=9.9.9,text/plain;version=0.0.4;q=0.1", .text),
            ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", .text),
            ("application/openmetrics-text;q=0", .text),
            ("APPLICATION/OPENMETRICS-TEXT; VERSION=\"1.0.0\"", .openMetrics(version: "1.0.0")),
        ]
        for (accept, expected) in cases {
            XCTAssertEqual(ExpositionFormat.negotiate(accept: accept), expected, "Accept: \(accept ?? "(none)")")
        }
    }

    func testBothFormatsRenderTheSameFamiliesByTheirRules() {
        let families = [
            MetricFamily(name: "x_events", help: "a \\ b\nc \"q\"", kind: .counter, samples: [MetricSample([("event", "a\"b\\c\nd")], 12)]),
            MetricFamily(name: "x_share_ratio", help: "share", kind: .gauge, unit: "ratio", samples: [MetricSample([], 0.25)]),
            MetricFamily(name: "x_build", help: "v", kind: .info, samples: [MetricSample([("version", "1")], 1)]),
            MetricFamily(name: "x_empty", help: "never shown", kind: .gauge, samples: []),
        ]
        XCTAssertEqual(PrometheusExposition.render(families, format: .text), """
            # HELP x_events_total a \\\\ b\\nc "q"
            # TYPE x_events_total counter
            x_events_total{event="a\\"b\\\\c\\nd"} 12
            # HELP x_share_ratio share
            # TYPE x_share_ratio gauge
            x_share_ratio 0.25
            # HELP x_build_info v
            # TYPE x_build_info gauge
            x_build_info{version="1"} 1

            """)
        XCTAssertEqual(PrometheusExposition.render(families, format: .openMetrics(version: "1.0.0")), """
            # TYPE x_events counter
            # HELP x_events a \\\\ b\\nc \\"q\\"
            x_events_total{event="a\\"b\\\\c\\nd"} 12
            # TYPE x_share_ratio gauge
            # UNIT x_share_ratio ratio
            # HELP x_share_ratio share
            x_share_ratio 0.25
            # TYPE x_build info
            # HELP x_build v
            x_build_info{version="1"} 1
            # EOF

            """)
    }

    /// "\r\n" is one Character in Swift: its line feed must still be escaped (found by the
    /// exposition fuzz target; a raw line feed would end the sample line early).
    func testCarriageReturnLineFeedInsideAValueIsEscaped() {
        let f = MetricFamily(name: "x", help: "a\r\nb", kind: .gauge, samples: [MetricSample([("l", "p\r\nq")], 1)])
        for format in [ExpositionFormat.text, .openMetrics(version: "1.0.0")] {
            let out = PrometheusExposition.render([f], format: format)
            XCTAssertTrue(out.contains("l=\"p\r\\nq\""), out)
            XCTAssertTrue(out.contains("a\r\\nb"), out)
            XCTAssertEqual(Array(out.utf8).filter { $0 == 0x0A }.count, format == .text ? 3 : 4, out)
        }
    }

    func testNumbersReadBackExactly() {
        let values: [Double] = [0, 1, 12345678901234, 9_007_199_254_740_991, 9_007_199_254_740_992, 1e300, 0.1, 1.0 / 3, -2.5, 5e-324]
        for v in values {
            XCTAssertEqual(Double(PrometheusExposition.number(v)), v, "\(v) printed as \(PrometheusExposition.number(v))")
        }
        XCTAssertEqual(PrometheusExposition.number(.nan), "NaN")
        XCTAssertEqual(PrometheusExposition.number(.infinity), "+Inf")
        XCTAssertEqual(PrometheusExposition.number(-.infinity), "-Inf")
        XCTAssertEqual(PrometheusExposition.number(4096), "4096")
    }

    private func window(_ rows: [(String, Int?, Double, Double)]) -> StatWindow {
        StatWindow(timestampSeconds: 1, elapsedNs: 1e9, results: rows.map { name, cpu, value, running in
            CounterResult(name: name, status: .counted, value: value, timeEnabledNs: 1e9, timeRunningNs: running * 1e9, cpu: cpu)
        })
    }

    private func samples(_ families: [MetricFamily], _ name: String) -> [MetricSample] {
        families.first { $0.name == name }?.samples ?? []
    }

    func testCountersAccumulateWindowsAndNeverGoBack() {
        var m = ExporterMetrics(events: [.init(name: "page-faults", pmu: "software"), .init(name: "task-clock", pmu: "software"),
                                         .init(name: "r11", pmu: "armv8_pmuv3_0")],
                                perCPU: false, pmuAvailable: true, intervalSeconds: 1, version: "t")
        m.add(window: window([("page-faults", nil, 100, 1), ("task-clock", nil, 2e9, 1), ("r11", nil, 5e8, 0.5)]), unixSeconds: 10)
        m.add(window: window([("page-faults", nil, 50, 1), ("task-clock", nil, 1e9, 1), ("r11", nil, .nan, 0.5)]), unixSeconds: 11)
        // A row that did not count adds nothing.
        m.add(window: StatWindow(timestampSeconds: 3, elapsedNs: 1e9, results: [CounterResult(name: "page-faults", status: .notCounted)]), unixSeconds: 12)
        let f = m.families()
        XCTAssertEqual(samples(f, "stallstat_page_faults").map(\.value), [150])
        XCTAssertEqual(samples(f, "stallstat_task_clock_seconds").map(\.value), [3])
        XCTAssertEqual(samples(f, "stallstat_pmu_events"), [MetricSample([("pmu", "armv8_pmuv3_0"), ("event", "r11")], 5e8)])
        XCTAssertEqual(samples(f, "stallstat_windows").map(\.value), [3])
        XCTAssertEqual(samples(f, "stallstat_pmu_available").map(\.value), [1])
        // Family names are unique and every sample name is a valid metric name.
        let names = f.map(\.name)
        XCTAssertEqual(names.count, Set(names).count)
        for fam in f {
            XCTAssertNotNil(fam.sampleName.range(of: "^[a-zA-Z_:][a-zA-Z0-9_:]*$", options: .regularExpression), fam.sampleName)
            if let unit = fam.unit { XCTAssertTrue(fam.name.hasSuffix("_" + unit), "\(fam.name) must end with its unit \(unit) (OpenMetrics)") }
        }
    }

    func testPerCPUSeriesAreLabelledAndSeparate() {
        var m = ExporterMetrics(events: [.init(name: "page-faults", pmu: "software")], perCPU: true, pmuAvailable: false, intervalSeconds: 1, version: "t")
        m.add(window: window([("page-faults", 0, 7, 1), ("page-faults", 1, 3, 1)]), unixSeconds: 1)
        m.add(window: window([("page-faults", 1, 2, 1)]), unixSeconds: 2)
        XCTAssertEqual(samples(m.families(), "stallstat_page_faults"), [MetricSample([("cpu", "0")], 7), MetricSample([("cpu", "1")], 5)])
    }

    /// The stall-tree gauges on a real capture (../shared/samples/simpleperf-stat-stall-a.txt,
    /// Cortex-A520) fed as one window split over two CPUs, as serve --per-cpu reads it:
    /// shares of all cycles recomputed by hand from the file's counts.
    func testStallTreeGaugesFromPerCPUWindow() throws {
        let tables = EventTableSet(files: EmbeddedEventTables.files)
        let imported = try CountImporter.parse(String(contentsOfFile: samplesPath("simpleperf-stat-stall-a.txt"), encoding: .utf8))
        let model = try XCTUnwrap(tables.model(named: "cortex-a520"))
        // Each count split 30/70 over CPUs 0 and 1; the second CPU's counter ran 80% of the window.
        let rows = imported.totals.flatMap { c in
            [CounterResult(name: c.name, status: .counted, value: c.value * 0.3, timeEnabledNs: 1e9, timeRunningNs: 1e9, cpu: 0),
             CounterResult(name: c.name, status: .counted, value: c.value * 0.7, timeEnabledNs: 1e9, timeRunningNs: 0.8e9, cpu: 1)]
        }
        let input = ExporterMetrics.treeInput(StatWindow(timestampSeconds: 1, elapsedNs: 1e9, results: rows))
        XCTAssertEqual(input.first { $0.name == "raw-stall-frontend" }?.percentRunning, 80)
        var m = ExporterMetrics(events: [], perCPU: true, pmuAvailable: true, intervalSeconds: 1, version: "t")
        m.stallTree = StallTreeBuilder(catalog: tables.catalog(for: model)).build(input)
        let shares = samples(m.families(), "stallstat_stall_share_ratio")
        func share(_ node: String) -> Double? { shares.first { $0.labels.first?.value == node }?.value }
        // 18,523,652,445 / 25,118,448,822 cycles stalled; 11,356,444,789 of them frontend, 7,167,739,361 backend.
        XCTAssertEqual(try XCTUnwrap(share("stalls")), 18_523_652_445 / 25_118_448_822, accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(share("frontend")), 11_356_444_789 / 25_118_448_822, accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(share("backend")), 7_167_739_361 / 25_118_448_822, accuracy: 1e-6)
        XCTAssertEqual(shares.first { $0.labels.first?.value == "frontend" }?.labels.map(\.name), ["node", "parent", "level"])
        XCTAssertEqual(shares.first { $0.labels.first?.value == "frontend" }?.labels[1].value, "stalls")
        let ipc = samples(m.families(), "stallstat_stall_metric").first { $0.labels.first?.value == "ipc" }
        XCTAssertEqual(try XCTUnwrap(ipc?.value), 18_300_407_346 / 25_118_448_822, accuracy: 1e-6)
    }

    /// The memory gauges carry the numbers `frag --json` prints for the same snapshot.
    func testMemoryGaugesAreTheSnapshotsIndices() throws {
        let buddy = """
            Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3
            Node 0, zone   Normal   1781   6048   2044   1568    386    129     43     17      5    287   4441
            """
        var s = MemorySnapshot(timestampSeconds: 0, zones: try BuddyInfo.parse(buddy))
        s.pressure["memory"] = try PressureStall.parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=243037\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=228196\n")
        s.vmstat = ["compact_stall": 4, "nr_free_pages": 1]
        let f = ExporterMetrics.memoryFamilies(s)
        let json = try JSONSerialization.jsonObject(with: Data(s.json().utf8)) as! [String: Any]
        let zones = json["zones"] as! [[String: Any]]
        for z in zones {
            let labels = [("node", "\(z["node"]!)"), ("zone", z["zone"] as! String)]
            for (order, u) in (z["unusable_index"] as! [Double]).enumerated() {
                let sample = samples(f, "stallstat_memory_unusable_index_ratio").first { $0.labels.map(\.value) == labels.map(\.1) + ["\(order)"] }
                XCTAssertEqual(sample?.value ?? -9, u, accuracy: 0.0005, "\(labels) order \(order)")
            }
            for (order, u) in (z["fragmentation_index"] as! [Double]).enumerated() {
                let sample = samples(f, "stallstat_memory_fragmentation_index").first { $0.labels.map(\.value) == labels.map(\.1) + ["\(order)"] }
                XCTAssertEqual(sample?.value ?? -9, u, accuracy: 0.0005)
            }
            let free = samples(f, "stallstat_memory_free_bytes").first { $0.labels.map(\.value) == labels.map(\.1) }
            XCTAssertEqual(free?.value, Double(z["free_pages"] as! Int) * 4096)
        }
        XCTAssertEqual(samples(f, "stallstat_pressure_stalled_seconds"),
                       [MetricSample([("resource", "memory"), ("kind", "some")], 0.243037), MetricSample([("resource", "memory"), ("kind", "full")], 0.228196)])
        XCTAssertEqual(samples(f, "stallstat_vmstat_compact_stall").map(\.value), [4])
        XCTAssertTrue(samples(f, "stallstat_vmstat_nr_free_pages").isEmpty, "a gauge among vmstat's counters is not exported as a counter")
    }
}
