import XCTest
@testable import StallCore

final class StallTreeTests: XCTestCase {
    static let tables = EventTableSet(files: EmbeddedEventTables.files)

    func sample() throws -> ImportedCounts {
        try CountImporter.parse(String(contentsOfFile: samplesPath("simpleperf-stat-stall-a.txt"), encoding: .utf8))
    }

    /// The figures the issue names for ../shared/samples/simpleperf-stat-stall-a.txt,
    /// each recomputed by hand from the counts in the file.
    func testSimpleperfSampleTree() throws {
        let imported = try sample()
        let guess = try XCTUnwrap(CPUGuess.guess(names: imported.totals.map(\.name), tables: Self.tables))
        XCTAssertEqual(guess.model.name, "cortex-a520")
        let r = StallTreeBuilder(catalog: Self.tables.catalog(for: guess.model)).build(imported.totals)
        func share(_ n: String) -> Double { (r.node(n)?.shareOfParent ?? -1) * 100 }
        // 18,523,652,445 / 25,118,448,822
        XCTAssertEqual(share("stalls"), 73.745, accuracy: 0.01)
        XCTAssertEqual(cFormat("%.1f", share("stalls")), "73.7")
        // 11,356,444,789 / 18,523,652,445 and 7,167,739,361 / 18,523,652,445
        XCTAssertEqual(cFormat("%.1f", share("frontend")), "61.3")
        XCTAssertEqual(cFormat("%.1f", share("backend")), "38.7")
        // 5,002,356,389 / 11,356,444,789
        XCTAssertEqual(cFormat("%.1f", share("frontend_memory_bound")), "44.0")
        // backend memory: STALL_BACKEND_MEM 1,378,331,738 / 7,167,739,361 = 19.23 %
        let memory = try XCTUnwrap(r.node("backend_memory"))
        let backend = try XCTUnwrap(r.node("backend"))
        XCTAssertEqual(cFormat("%.1f", 100 * memory.count / backend.count), "19.2")
        XCTAssertEqual(cFormat("%.1f", share("backend_memory_bound")), "19.2")
        // 18,300,407,346 / 25,118,448,822 and its inverse
        XCTAssertEqual(cFormat("%.2f", r.info("ipc")!.value), "0.73")
        XCTAssertEqual(cFormat("%.2f", r.info("cpi")!.value), "1.37")
        // counted once: the frontend node is raw-stall-frontend, not the sum of two names
        XCTAssertEqual(r.node("frontend")?.count, 11_356_444_789)
        XCTAssertEqual(r.node("backend")?.count, 7_167_739_361)
        XCTAssertTrue(r.notes.contains { $0.hasPrefix("stalled-cycles-frontend (11,356,241,264) and raw-stall-frontend (11,356,444,789) differ by 0.002%") }, "\(r.notes)")
        XCTAssertTrue(r.notes.contains { $0.hasPrefix("stalled-cycles-backend (7,168,103,841) and raw-stall-backend") }, "\(r.notes)")
        XCTAssertTrue(r.notes.contains { $0.hasPrefix("STALL (18,523,652,445) ≈ STALL_FRONTEND + STALL_BACKEND (18,524,184,150, 0.003% apart)") }, "\(r.notes)")
        XCTAssertTrue(r.notes.contains { $0.contains("STALL_SLOT / CPU_CYCLES = 3.10") })
        XCTAssertTrue(r.nodes.allSatisfy { $0.flags.isEmpty }, "nothing in the sample is inconsistent: \(r.nodes.map(\.flags))")
    }

    /// Counts per core PMU (a phone with --no-merge, an Intel hybrid part): each core type's
    /// tree reads its own PMU's rows under the events' own names, and shared software rows.
    func testEachCoreTypesTreeReadsItsOwnPMUsRows() throws {
        let rows = [NamedCount(name: "task-clock", value: 2e9),
                    NamedCount(name: "armv8_cortex_a55/CPU_CYCLES/", value: 1_000), NamedCount(name: "armv8_cortex_a55/STALL_FRONTEND/", value: 300),
                    NamedCount(name: "armv8_cortex_a55/STALL_BACKEND/", value: 100),
                    NamedCount(name: "armv8_cortex_a78/CPU_CYCLES/", value: 4_000), NamedCount(name: "armv8_cortex_a78/STALL_FRONTEND/", value: 400),
                    NamedCount(name: "armv8_cortex_a78/STALL_BACKEND/:u", value: 2_000)]
        let split = try XCTUnwrap(CorePMURows.split(rows, pmus: ["armv8_cortex_a55", "armv8_cortex_a78"]))
        XCTAssertEqual(split["armv8_cortex_a55"]?.map(\.name), ["CPU_CYCLES", "STALL_FRONTEND", "STALL_BACKEND", "task-clock"])
        XCTAssertEqual(split["armv8_cortex_a78"]?.map(\.name), ["CPU_CYCLES", "STALL_FRONTEND", "STALL_BACKEND:u", "task-clock"])
        XCTAssertNil(CorePMURows.split([NamedCount(name: "CPU_CYCLES", value: 1)], pmus: ["armv8_cortex_a55"]), "merged counts")
        let a55 = StallTreeBuilder(catalog: Self.tables.catalog(for: Self.tables.model(named: "cortex-a55")!)).build(split["armv8_cortex_a55"]!)
        XCTAssertEqual(a55.node("frontend")?.count, 300)
        let a78 = StallTreeBuilder(catalog: Self.tables.catalog(for: Self.tables.model(named: "cortex-a78")!)).build(split["armv8_cortex_a78"]!)
        XCTAssertEqual(a78.node("frontend")?.count, 400)
    }

    func testRenderedTreeShowsTheFiguresAndIsPlainWhenPiped() throws {
        let imported = try sample()
        let model = Self.tables.model(named: "cortex-a520")!
        let text = StallTreeRenderer(color: false).text(StallTreeBuilder(catalog: Self.tables.catalog(for: model)).build(imported.totals))
        XCTAssertFalse(text.contains("\u{1B}["), "no escape codes when not a terminal")
        XCTAssertTrue(text.contains("└─ stalls                               18,523,652,445      73.7%    73.7%"), text)
        XCTAssertTrue(text.contains("├─ frontend                          11,356,444,789      61.3%    45.2%"), text)
        XCTAssertTrue(text.contains("0.73 instructions per cycle"), text)
        let colored = StallTreeRenderer(color: true).text(StallTreeBuilder(catalog: Self.tables.catalog(for: model)).build(imported.totals))
        XCTAssertTrue(colored.contains("\u{1B}[31m"))
    }

    func testJSONFormParsesAndCarriesTheTree() throws {
        let imported = try sample()
        let model = Self.tables.model(named: "cortex-a520")!
        let json = StallTreeRenderer.json(StallTreeBuilder(catalog: Self.tables.catalog(for: model)).build(imported.totals), source: "s.txt")
        let parsed = try JSONReader.parse(json)
        let nodes = try XCTUnwrap(parsed["nodes"]?.arrayValue)
        let stalls = try XCTUnwrap(nodes.first { $0["name"]?.stringValue == "stalls" })
        XCTAssertEqual(stalls["parent"]?.stringValue, "cycles")
        XCTAssertEqual(stalls["share_of_parent"]?.numberValue ?? 0, 0.7374521, accuracy: 1e-6, "18,523,652,445 / 25,118,448,822")
        XCTAssertEqual(parsed["cpu"]?.stringValue, "cortex-a520")
    }

    func testWhatDoesNotAddUpIsFlagged() {
        let model = Self.tables.model(named: "cortex-a720")!
        let counts = [NamedCount(name: "CPU_CYCLES", value: 1000), NamedCount(name: "STALL", value: 600),
                      NamedCount(name: "STALL_FRONTEND", value: 700, percentRunning: 62.5),   // larger than its parent
                      NamedCount(name: "STALL_BACKEND", value: 400)]
        let r = StallTreeBuilder(catalog: Self.tables.catalog(for: model)).build(counts)
        let fe = r.node("frontend")!
        XCTAssertTrue(fe.flags.contains { $0.hasPrefix("larger than its parent stalls") }, "\(fe.flags)")
        XCTAssertTrue(fe.flags.contains("counters ran 62.50% of the time (multiplexed, scaled)"), "\(fe.flags)")
        XCTAssertTrue(r.node("stalls")!.flags.contains { $0.hasPrefix("its parts sum to 183.3% of it") }, "\(r.node("stalls")!.flags)")
        XCTAssertTrue(r.notes.contains { $0.hasPrefix("STALL_FRONTEND + STALL_BACKEND exceed STALL") })
    }

    func testCoresWithoutSTALLUseFrontendPlusBackendAndImpdefNames() {
        // Cortex-A55: no STALL, no STALL_BACKEND_MEM; its own STALL_BACKEND_LD family.
        let model = Self.tables.model(named: "cortex-a55")!
        let counts = [NamedCount(name: "cpu-cycles", value: 1000), NamedCount(name: "raw-stall-frontend", value: 200),
                      NamedCount(name: "raw-stall-backend", value: 300), NamedCount(name: "raw-cortex-a55-stall-backend-ld", value: 150),
                      NamedCount(name: "raw-cortex-a55-stall-backend-ld-tlb", value: 60), NamedCount(name: "r4", value: 5)]
        let r = StallTreeBuilder(catalog: Self.tables.catalog(for: model)).build(counts)
        XCTAssertEqual(r.node("stalls")?.count, 500, "STALL_FRONTEND + STALL_BACKEND")
        XCTAssertEqual(r.node("backend_load")?.shareOfParent, 0.5)
        XCTAssertEqual(r.node("backend_load_dtlb")?.parent, "backend_load")
        XCTAssertEqual(r.node("backend_load_dtlb")?.shareOfRoot, 0.06)
        XCTAssertEqual(CPUGuess.guess(names: counts.map(\.name), tables: Self.tables)?.model.name, "cortex-a55")
    }

    /// Seen in the arm64 lab: `r11:u` and `r11` are different events (user-only, all
    /// levels); the tree must neither call one a duplicate of the other nor mix them.
    func testPrivilegeScopesAreNotMixed() {
        let model = Self.tables.model(named: "neoverse-n1")!
        let catalog = Self.tables.catalog(for: model)
        let counts = [NamedCount(name: "r11", value: 1000), NamedCount(name: "r11:u", value: 400),
                      NamedCount(name: "r23", value: 300), NamedCount(name: "r24", value: 200),
                      NamedCount(name: "r24:u", value: 150)]
        let r = StallTreeBuilder(catalog: catalog).build(counts)
        XCTAssertFalse(r.notes.contains { $0.contains("counted once") }, "\(r.notes)")
        XCTAssertTrue(r.notes.contains { $0.hasPrefix("r11:u counts privilege level :u") }, "\(r.notes)")
        // Shares from the all-levels counts only: backend 200/1000 of cycles.
        XCTAssertEqual(try XCTUnwrap(r.node("backend")).shareOfRoot, 0.2, accuracy: 1e-12)
        // Only user-mode counts: the tree is built from them.
        let user = StallTreeBuilder(catalog: catalog).build([NamedCount(name: "cpu_cycles:u", value: 400),
                                                              NamedCount(name: "STALL_BACKEND:u", value: 100),
                                                              NamedCount(name: "r23", value: 999)])
        XCTAssertEqual(try XCTUnwrap(user.node("backend")).shareOfRoot, 0.25, accuracy: 1e-12)
        XCTAssertTrue(user.notes.contains { $0.hasPrefix("r23 counts all privilege levels") }, "\(user.notes)")
        // The same event under two names at one level is still counted once.
        let twice = StallTreeBuilder(catalog: catalog).build([NamedCount(name: "r11:u", value: 400), NamedCount(name: "cpu_cycles:u", value: 400)])
        XCTAssertTrue(twice.notes.contains { $0.contains("counted once") }, "\(twice.notes)")
        XCTAssertEqual(CanonicalCounts.privilegeScope("cycles:uk"), CanonicalCounts.privilegeScope("cycles:ku"))
    }

    func testNeoverseSlotTopdownAndTLBBranch() {
        let model = Self.tables.model(named: "neoverse-v2")!
        let counts = [NamedCount(name: "CPU_CYCLES", value: 1000), NamedCount(name: "STALL_SLOT_FRONTEND", value: 2000),
                      NamedCount(name: "STALL_SLOT_BACKEND", value: 3200), NamedCount(name: "STALL_SLOT", value: 5200),
                      NamedCount(name: "BR_MIS_PRED", value: 10), NamedCount(name: "OP_RETIRED", value: 2400),
                      NamedCount(name: "OP_SPEC", value: 2800), NamedCount(name: "INST_RETIRED", value: 2000),
                      NamedCount(name: "DTLB_WALK", value: 8)]
        let r = StallTreeBuilder(catalog: Self.tables.catalog(for: model)).build(counts)
        // V2 (pmu-events.md §2.2): 100·(2000/8000 − 10/1000) = 24; 100·(3200/8000 − 30/1000) = 37
        XCTAssertEqual(r.info("frontend_bound")!.value, 24, accuracy: 1e-9)
        XCTAssertEqual(r.info("backend_bound")!.value, 37, accuracy: 1e-9)
        // retiring 100·(2400/2800)·(1 − 5200/8000) = 30; bad spec 100·((1 − 2400/2800)·0.35 + 4·0.01) = 9
        XCTAssertEqual(r.info("retiring")!.value, 30, accuracy: 1e-9)
        XCTAssertEqual(r.info("bad_speculation")!.value, 9, accuracy: 1e-9)
        XCTAssertEqual(r.info("dtlb_walks_pki")!.value, 4, accuracy: 1e-9)
        XCTAssertEqual(r.info("dtlb_walks_pki")!.guidance != nil, true, "4 walks per 1000 instructions passes the table's threshold")
        // 8 slots, from the table
        XCTAssertEqual(r.info("empty_slot_share")!.value, 65, accuracy: 1e-9)
    }

    /// Sapphire Rapids: the PERF_METRICS pseudo-events, led by TOPDOWN.SLOTS.
    func testSapphireRapidsTopdownFromPerfMetrics() throws {
        let spr = Self.tables.model(named: "sapphirerapids")!
        let catalog = Self.tables.catalog(for: spr)
        guard case .found(let fe) = catalog.lookup("topdown-fe-bound") else { return XCTFail("no topdown-fe-bound") }
        XCTAssertEqual(fe.encoding, .x86Raw(0x8200), "event 0x00, umask 0x82 (pmu-events.md §3.1)")
        guard case .found(let slots) = catalog.lookup("slots") else { return XCTFail("no slots") }
        XCTAssertEqual(slots.encoding, .x86Raw(0x400))
        XCTAssertTrue(slots.leadsGroup)
        let r = StallTreeBuilder(catalog: catalog).build([
            NamedCount(name: "slots", value: 6000), NamedCount(name: "topdown-fe-bound", value: 1200), NamedCount(name: "topdown-fetch-lat", value: 900),
            NamedCount(name: "topdown-bad-spec", value: 600), NamedCount(name: "topdown-be-bound", value: 2400), NamedCount(name: "topdown-mem-bound", value: 1800),
            NamedCount(name: "topdown-retiring", value: 1800), NamedCount(name: "INT_MISC.UOP_DROPPING", value: 60)])
        // Intel's TMA (the kernel's spr-metrics.json): frontend and fetch latency less the
        // dropped uops, bad speculation what the other three leave.
        XCTAssertEqual(try XCTUnwrap(r.node("frontend_bound")?.shareOfParent), 0.19, accuracy: 1e-12)
        XCTAssertEqual(r.node("fetch_latency")?.count, 840)
        XCTAssertEqual(r.node("fetch_bandwidth")?.count, 300)
        XCTAssertEqual(r.node("bad_speculation")?.count, 660)
        XCTAssertEqual(r.node("memory_bound")?.shareOfParent, 0.75)
        XCTAssertEqual(r.node("core_bound")?.count, 600)
        let groups = MetricScheduler.leadersFirst(MetricScheduler.groups(tuples: MetricScheduler.treeTuples(catalog: catalog), budget: 8), catalog: catalog)
        let withSlots = try XCTUnwrap(groups.first { $0.contains("TOPDOWN.SLOTS") })
        XCTAssertEqual(withSlots.first, "TOPDOWN.SLOTS", "slots leads the PERF_METRICS group: \(groups)")
        XCTAssertTrue(withSlots.contains("PERF_METRICS.FRONTEND_BOUND") && withSlots.contains("PERF_METRICS.BACKEND_BOUND"), "\(groups)")
    }

    /// Ice Lake: the backend also gets 5 slots per machine clear (INT_MISC.CLEARS_COUNT),
    /// which bad speculation, the remainder, gives up (the kernel's icl-metrics.json).
    func testIceLakeTopdownCorrections() throws {
        let catalog = Self.tables.catalog(for: try XCTUnwrap(Self.tables.model(named: "icelake")))
        let r = StallTreeBuilder(catalog: catalog).build([
            NamedCount(name: "slots", value: 5000), NamedCount(name: "topdown-fe-bound", value: 1000),
            NamedCount(name: "topdown-bad-spec", value: 500), NamedCount(name: "topdown-be-bound", value: 2000),
            NamedCount(name: "topdown-retiring", value: 1500), NamedCount(name: "INT_MISC.UOP_DROPPING", value: 50),
            NamedCount(name: "INT_MISC.CLEARS_COUNT", value: 20)])
        XCTAssertEqual(r.node("frontend_bound")?.count, 950)
        XCTAssertEqual(r.node("backend_bound")?.count, 2100)
        XCTAssertEqual(r.node("retiring")?.count, 1500)
        XCTAssertEqual(r.node("bad_speculation")?.count, 450, "5000 - (950 + 2100 + 1500)")
    }

    func testZen4SlotTreeAndSkylakeTree() {
        let zen4 = Self.tables.model(named: "zen4")!
        let counts = [NamedCount(name: "ls_not_halted_cyc", value: 1000), NamedCount(name: "de_no_dispatch_per_slot.no_ops_from_frontend", value: 1200),
                      NamedCount(name: "de_no_dispatch_per_slot.backend_stalls", value: 3000), NamedCount(name: "ex_no_retire.load_not_complete", value: 300),
                      NamedCount(name: "ex_no_retire.not_complete", value: 400), NamedCount(name: "ex_ret_ops", value: 1500),
                      NamedCount(name: "de_src_op_disp.all", value: 1700), NamedCount(name: "cycles", value: 1000),
                      NamedCount(name: "instructions", value: 1200), NamedCount(name: "ls_l1_d_tlb_miss.all_l2_miss", value: 6)]
        let r = StallTreeBuilder(catalog: Self.tables.catalog(for: zen4)).build(counts)
        XCTAssertEqual(r.node("dispatch_slots")?.count, 6000)
        XCTAssertEqual(r.node("backend_bound")?.shareOfParent, 0.5)
        XCTAssertEqual(r.node("backend_memory")?.shareOfParent, 0.75)
        XCTAssertEqual(r.node("bad_speculation")?.count, 200)
        XCTAssertEqual(r.info("dtlb_walks_pki")!.value, 5, accuracy: 1e-9)

        let skl = Self.tables.model(named: "skylake")!
        let s = StallTreeBuilder(catalog: Self.tables.catalog(for: skl)).build([
            NamedCount(name: "cycles", value: 1000), NamedCount(name: "IDQ_UOPS_NOT_DELIVERED.CORE", value: 800),
            NamedCount(name: "UOPS_ISSUED.ANY", value: 2200), NamedCount(name: "UOPS_RETIRED.RETIRE_SLOTS", value: 2000),
            NamedCount(name: "INT_MISC.RECOVERY_CYCLES", value: 50), NamedCount(name: "CYCLE_ACTIVITY.STALLS_TOTAL", value: 400),
            NamedCount(name: "CYCLE_ACTIVITY.STALLS_MEM_ANY", value: 300), NamedCount(name: "EXE_ACTIVITY.BOUND_ON_STORES", value: 20),
            NamedCount(name: "EXE_ACTIVITY.1_PORTS_UTIL", value: 100), NamedCount(name: "EXE_ACTIVITY.2_PORTS_UTIL", value: 100),
            NamedCount(name: "DTLB_LOAD_MISSES.WALK_ACTIVE", value: 70)])
        // slots 4000; FE 800 (20%); bad spec 2200 − 2000 + 200 = 400; backend 4000 − 800 − 2400 = 800; retiring 2000
        XCTAssertEqual(s.node("frontend_bound")?.shareOfParent, 0.2)
        XCTAssertEqual(s.node("bad_speculation")?.count, 400)
        XCTAssertEqual(s.node("backend_bound")?.count, 800)
        // memory_bound = 800·320/(400 + 100 + 0.5·100 + 20) = 449.12...
        XCTAssertEqual(s.node("memory_bound")!.count, 800 * 320 / 570, accuracy: 1e-9)
        XCTAssertEqual(s.node("memory_stalls")?.parent, "execution_stalls")
        XCTAssertEqual(s.info("dtlb_load_walk_cycle_share")!.value, 7, accuracy: 1e-9)
    }
}

final class ImporterTests: XCTestCase {
    func fixture(_ name: String) throws -> String {
        let dir = "/" + #filePath.split(separator: "/").dropLast().joined(separator: "/") + "/Fixtures/"
        return try String(contentsOfFile: dir + name, encoding: .utf8)
    }

    func testSimpleperfText() throws {
        let i = try CountImporter.parse(String(contentsOfFile: samplesPath("simpleperf-stat-stall-a.txt"), encoding: .utf8))
        XCTAssertEqual(i.format, .simpleperfText)
        XCTAssertEqual(i.totals.count, 12)
        XCTAssertEqual(i.totals.first, NamedCount(name: "cpu-cycles", value: 25_118_448_822))
        XCTAssertEqual(i.totals.last, NamedCount(name: "raw-stall-slot", value: 77_979_205_840))
        XCTAssertEqual(i.problems, [])
    }

    func testPerfCSVAndJSONSamples() throws {
        let csv = try CountImporter.parse(String(contentsOfFile: samplesPath("perf-stat-sw.csv"), encoding: .utf8))
        XCTAssertEqual(csv.format, .perfCSV)
        XCTAssertEqual(csv.totals.map(\.name), ["task-clock", "page-faults", "context-switches", "cpu-migrations"])
        XCTAssertEqual(csv.totals[1].value, 337)
        XCTAssertEqual(csv.uncounted, ["cycles", "instructions"])
        let json = try CountImporter.parse(String(contentsOfFile: samplesPath("perf-stat-sw.json"), encoding: .utf8))
        XCTAssertEqual(json.format, .perfJSON)
        XCTAssertEqual(json.totals[1], NamedCount(name: "page-faults", value: 340))
        let interval = try CountImporter.parse(String(contentsOfFile: samplesPath("perf-stat-interval.csv"), encoding: .utf8))
        XCTAssertEqual(interval.windows.count, 4)
        XCTAssertEqual(interval.windows[0].timestamp, 0.500630227)
        XCTAssertEqual(interval.totals.first { $0.name == "page-faults" }?.value, 81 + 7 + 4 + 0)
    }

    // Captured on the development machine with perf 6.1.
    func testCapturedPerfTextIntervalPerCPUAndJSON() throws {
        let text = try CountImporter.parse(fixture("perf-stat-text.txt"))
        XCTAssertEqual(text.format, .perfText)
        XCTAssertEqual(text.totals.map(\.name), ["task-clock", "page-faults", "minor-faults"])
        XCTAssertEqual(text.totals[0].value, 8.16)
        XCTAssertEqual(text.totals[1].value, 4149)
        XCTAssertEqual(text.uncounted, ["cycles", "instructions"])
        XCTAssertEqual(text.problems, [])

        let it = try CountImporter.parse(fixture("perf-stat-interval-text.txt"))
        XCTAssertEqual(it.windows.count, 2)
        XCTAssertEqual(it.windows[1].timestamp, 0.327827033)
        XCTAssertEqual(it.totals.first { $0.name == "page-faults" }?.value, 16435)

        let percpu = try CountImporter.parse(fixture("perf-stat-interval-percpu.csv"))
        XCTAssertEqual(percpu.windows.count, 3)
        XCTAssertEqual(percpu.totals.first { $0.name == "page-faults" }?.value, 5 + 77 + 1 + 5)

        let json = try CountImporter.parse(fixture("perf-stat-interval.json"))
        XCTAssertEqual(json.windows.count, 2)
        XCTAssertEqual(json.totals.first { $0.name == "page-faults" }?.value, 16435)
        XCTAssertEqual(json.uncounted, ["cycles", "cycles"])

        let repeated = try CountImporter.parse(fixture("perf-stat-repeat-text.txt"))
        XCTAssertEqual(repeated.totals.map(\.value), [3.76, 2099])
    }

    func testMalformedLinesAreReportedAndTheRestIsRead() throws {
        var lines = try String(contentsOfFile: samplesPath("simpleperf-stat-stall-a.txt"), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines[5] = "  garbage-without-a-count"
        lines.insert("  12,34x  raw-stall", at: 8)
        let i = try CountImporter.parse(lines.joined(separator: "\n"))
        XCTAssertEqual(i.problems.map(\.line), [6, 9])
        XCTAssertEqual(i.totals.count, 11, "every other count is still read")
        let json = try CountImporter.parse("{\"event\": \"a\", \"counter-value\": \"1\"}\n{broken\n{\"event\": \"b\", \"counter-value\": \"x\"}\n")
        XCTAssertEqual(json.problems.map(\.line), [2, 3])
        XCTAssertEqual(json.totals, [NamedCount(name: "a", value: 1)])
        XCTAssertThrowsError(try CountImporter.parse("hello\nworld\n"))
    }

    func testStallstatsOwnJSONRoundTrips() throws {
        let window = StatWindow(timestampSeconds: nil, elapsedNs: 1e9, results: [
            CounterResult(name: "raw-stall", status: .counted, value: 600, timeEnabledNs: 1e9, timeRunningNs: 5e8),
            CounterResult(name: "cpu-cycles", status: .counted, value: 1000, timeEnabledNs: 1e9, timeRunningNs: 1e9)])
        let text = PerfJSONWriter().lines(for: window).joined(separator: "\n")
        let i = try CountImporter.parse(text)
        XCTAssertEqual(i.totals, [NamedCount(name: "raw-stall", value: 600, percentRunning: 50), NamedCount(name: "cpu-cycles", value: 1000)])
    }

    /// Neoverse V3: STALL_BACKEND_MEM counts the same as STALL_BACKEND_L2D (Arm's data: the
    /// last core cache is L2), so the tree has one branch for it, not two siblings.
    func testNeoverseV3CountsItsL2StallsOnce() throws {
        let tables = EventTableSet(files: EmbeddedEventTables.files)
        let catalog = tables.catalog(for: try XCTUnwrap(tables.model(named: "neoverse-v3")))
        let counts = [("CPU_CYCLES", 1000.0), ("STALL", 600), ("STALL_FRONTEND", 200), ("STALL_BACKEND", 400),
                      ("STALL_BACKEND_MEMBOUND", 300), ("STALL_BACKEND_L1D", 100), ("STALL_BACKEND_L2D", 150),
                      ("STALL_BACKEND_MEM", 150)].map { NamedCount(name: $0.0, value: $0.1, percentRunning: 100) }
        let r = StallTreeBuilder(catalog: catalog).build(counts)
        XCTAssertNotNil(r.node("backend_l2d"))
        XCTAssertNil(r.node("backend_memory"), "not a sibling of backend_l2d on V3")
        // Elsewhere (Neoverse V2: an L3 beyond the L2) it stays a branch.
        let n2 = StallTreeBuilder(catalog: tables.catalog(for: try XCTUnwrap(tables.model(named: "neoverse-v2")))).build(counts)
        XCTAssertNotNil(n2.node("backend_memory"))
    }
}

/// The huge-page share of data-TLB walks counts every huge size and every small one: 1 GiB
/// walks on Intel (WALK_COMPLETED_1G), coalesced 4K pages on AMD (tlb_reload_coalesced_page_miss).
final class LargePageShareTests: XCTestCase {
    func share(_ model: String, _ counts: [(String, Double)]) throws -> Double? {
        let tables = EventTableSet(files: EmbeddedEventTables.files)
        let catalog = tables.catalog(for: try XCTUnwrap(tables.model(named: model)))
        let r = StallTreeBuilder(catalog: catalog).build(counts.map { NamedCount(name: $0.0, value: $0.1, percentRunning: 100) })
        return r.info("dtlb_walk_large_share")?.value ?? r.node("dtlb_walk_large_share")?.count
    }

    func testIntelCountsOneGigabyteWalksAsLarge() throws {
        let counts = [("DTLB_LOAD_MISSES.WALK_COMPLETED_2M_4M", 10.0), ("DTLB_LOAD_MISSES.WALK_COMPLETED_1G", 10), ("DTLB_LOAD_MISSES.WALK_COMPLETED_4K", 80),
                      ("cycles", 1000), ("instructions", 1000)]
        for model in ["skylake", "sapphirerapids"] {
            XCTAssertEqual(try XCTUnwrap(try share(model, counts)), 20, accuracy: 1e-9, model)   // percent; was 100 * 10 / 90
        }
    }

    func testAMDCountsCoalescedPagesAsSmall() throws {
        let counts = [("ls_l1_d_tlb_miss.tlb_reload_2m_l2_miss", 10.0), ("ls_l1_d_tlb_miss.tlb_reload_1g_l2_miss", 0),
                      ("ls_l1_d_tlb_miss.tlb_reload_4k_l2_miss", 60), ("ls_l1_d_tlb_miss.tlb_reload_coalesced_page_miss", 30),
                      ("cycles", 1000), ("instructions", 1000)]
        for model in ["zen2", "zen3", "zen4"] {
            XCTAssertEqual(try XCTUnwrap(try share(model, counts)), 10, accuracy: 1e-9, model)   // percent; was 100 * 10 / 70
        }
    }
}
