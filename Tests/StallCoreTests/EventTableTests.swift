import XCTest
@testable import StallCore

/// The tables against the sources they were written from (../shared/reference/pmu-events.md
/// cites each: S1 kernel common-and-microarch.json, S2 kernel per-core JSON, S5 Arm
/// telemetry data, S6 simpleperf event_table.json, S8 libpfm4, S9/S11 kernel x86 JSON).
final class EventTableTests: XCTestCase {
    static let tables = EventTableSet(files: EmbeddedEventTables.files, origin: "embedded")
    var tables: EventTableSet { Self.tables }

    func testEmbeddedTablesLoadWithoutDiagnostics() {
        XCTAssertEqual(tables.diagnostics, [])
        XCTAssertEqual(tables.cpus.count, 25)
    }

    // Thirty-plus Arm event numbers pinned by hand.
    func testArmCommonCodesEqualTheCitedSources() {
        let pinned: [(String, UInt64, String)] = [
            ("L1I_TLB_REFILL", 0x02, "S1,S5,S6,S8"), ("L1D_TLB_REFILL", 0x05, "S1,S5,S6,S8"), ("INST_RETIRED", 0x08, "S1,S5,S6,S8"),
            ("BR_MIS_PRED", 0x10, "S1,S5,S6"), ("CPU_CYCLES", 0x11, "S1,S5,S6,S8"), ("INST_SPEC", 0x1B, "S1,S5,S6"),
            ("BR_MIS_PRED_RETIRED", 0x22, "S1,S5,S6"), ("STALL_FRONTEND", 0x23, "S1,S5,S6,S8"), ("STALL_BACKEND", 0x24, "S1,S5,S6,S8"),
            ("L1D_TLB", 0x25, "S1,S5,S6"), ("L1I_TLB", 0x26, "S1,S5,S6"), ("L2D_TLB_REFILL", 0x2D, "S1,S5,S6,S8"),
            ("L2I_TLB_REFILL", 0x2E, "S1,S6"), ("L2D_TLB", 0x2F, "S1,S5,S6"), ("DTLB_WALK", 0x34, "S1,S5,S6,S8"),
            ("ITLB_WALK", 0x35, "S1,S5,S6,S8"), ("OP_RETIRED", 0x3A, "S1,S5,S6,S8"), ("OP_SPEC", 0x3B, "S1,S5,S6,S8"),
            ("STALL", 0x3C, "S1,S5,S6,S8"), ("STALL_SLOT_BACKEND", 0x3D, "S1,S5,S6,S8"), ("STALL_SLOT_FRONTEND", 0x3E, "S1,S5,S6,S8"),
            ("STALL_SLOT", 0x3F, "S1,S5,S6,S8"), ("CNT_CYCLES", 0x4004, "S1,S6"), ("STALL_BACKEND_MEM", 0x4005, "S1,S5,S6,S8"),
            ("DTLB_WALK_PERCYC", 0x8128, "S4,S5,S6,S8"), ("ITLB_WALK_PERCYC", 0x8129, "S4,S5,S6,S8"),
            ("DTLB_WALK_LARGE", 0x8138, "S4,S5,S6"), ("DTLB_WALK_SMALL", 0x813A, "S4,S5,S6"),
            ("STALL_FRONTEND_MEMBOUND", 0x8158, "S2,S4,S5,S6,S8"), ("STALL_FRONTEND_L1I", 0x8159, "S2,S4,S5,S6,S8"),
            ("STALL_FRONTEND_MEM", 0x815B, "S2,S4,S5,S6,S8"), ("STALL_FRONTEND_TLB", 0x815C, "S2,S4,S5,S6,S8"),
            ("STALL_FRONTEND_CPUBOUND", 0x8160, "S2,S4,S5,S6,S8"), ("STALL_FRONTEND_FLOW", 0x8161, "S2,S4,S5,S6,S8"),
            ("STALL_FRONTEND_FLUSH", 0x8162, "S2,S4,S5,S6,S8"), ("STALL_BACKEND_MEMBOUND", 0x8164, "S2,S4,S5,S6,S8"),
            ("STALL_BACKEND_L1D", 0x8165, "S2,S4,S5,S6,S8"), ("STALL_BACKEND_L2D", 0x8166, "S2,S3,S4,S6,S8"),
            ("STALL_BACKEND_TLB", 0x8167, "S2,S4,S5,S6,S8"), ("STALL_BACKEND_ST", 0x8168, "S2,S4,S5,S6,S8"),
            ("STALL_BACKEND_CPUBOUND", 0x816A, "S2,S4,S5,S6,S8"), ("STALL_BACKEND_BUSY", 0x816B, "S2,S4,S5,S6,S8"),
            ("STALL_BACKEND_ILOCK", 0x816C, "S2,S3,S4,S5,S6,S8"), ("STALL_BACKEND_RENAME", 0x816D, "S2,S4,S5,S6,S8"),
            ("DTLB_WALK_BLOCK", 0x8188, "S2,S4,S5,S6"), ("DTLB_WALK_PAGE", 0x818A, "S2,S4,S5,S6"),
        ]
        XCTAssertGreaterThanOrEqual(pinned.count, 30)
        for (name, code, source) in pinned {
            XCTAssertEqual(tables.armCommon[name]?.armCode, code, "\(name) per \(source)")
        }
        XCTAssertNil(tables.armCommon.values.first { $0.armCode == 0x8169 }, "0x8169 is unused in every source")
    }

    // §1.5: the same number means different things on different cores.
    func testImplementationDefinedCodesPerCore() throws {
        func impdef(_ core: String, _ code: UInt64) -> String? {
            tables.coreEvents[core]?.first { $0.isImplementationDefined && $0.armCode == code }?.name
        }
        XCTAssertEqual(impdef("cortex-a55", 0xE5), "STALL_BACKEND_ILOCK_AGU")
        XCTAssertEqual(impdef("cortex-a510", 0xE5), "STALL_BACKEND_ILOCK_ADDR")
        XCTAssertEqual(impdef("cortex-a55", 0xE6), "STALL_BACKEND_ILOCK_FPU")
        XCTAssertEqual(impdef("cortex-a520", 0xE6), "STALL_BACKEND_ILOCK_VPU")
        XCTAssertEqual(impdef("cortex-a510", 0xED), "STALL_BACKEND_VPU_HAZARD")
        XCTAssertEqual(impdef("cortex-a520", 0xED), "STALL_BACKEND_BUSY_VPU_HAZARD")
        XCTAssertEqual(impdef("cortex-a55", 0xE7), "STALL_BACKEND_LD")
        XCTAssertNil(impdef("cortex-a520", 0xE7), "A520 has no STALL_BACKEND_LD")
        XCTAssertNil(impdef("cortex-a55", 0xED))
        XCTAssertEqual(impdef("cortex-a520", 0xD7), "L1D_TLB_REFILL_ETS")
        XCTAssertNil(tables.coreEvents["cortex-a720"]?.first { $0.isImplementationDefined }, "A720 has no IMPDEF events in S6")
    }

    // §1.4 matrices (mobile from S6, server from S5; V3 follows the kernel S3).
    func testPerCoreSupportMatchesTheReference() throws {
        func has(_ core: String, _ name: String) -> Bool { tables.coreEvents[core]?.contains { $0.name == name } ?? false }
        for core in ["cortex-a55", "cortex-a76", "neoverse-n1"] {
            XCTAssertFalse(has(core, "STALL_BACKEND_MEM"), "\(core): no STALL_BACKEND_MEM")
            XCTAssertFalse(has(core, "STALL"), "\(core): no STALL")
            XCTAssertTrue(has(core, "STALL_BACKEND"))
        }
        for core in ["cortex-a78", "cortex-a510", "cortex-a710", "cortex-x1", "cortex-x2", "cortex-x3", "neoverse-n2", "neoverse-v1", "neoverse-v2"] {
            XCTAssertTrue(has(core, "STALL_BACKEND_MEM") && has(core, "STALL_SLOT"), core)
            XCTAssertFalse(has(core, "STALL_BACKEND_MEMBOUND"), "\(core) has none of the 0x81xx family")
        }
        XCTAssertFalse(has("cortex-a725", "OP_SPEC"), "A725 lacks OP_SPEC")
        XCTAssertTrue(has("cortex-a520", "STALL_BACKEND_ILOCK"))
        XCTAssertFalse(has("cortex-a520", "STALL_BACKEND_CPUBOUND"), "A520 has no CPUBOUND")
        XCTAssertFalse(has("cortex-a520", "STALL_BACKEND_RENAME"))
        XCTAssertFalse(has("cortex-a720", "STALL_FRONTEND_FLOW"), "A720 lacks FLOW")
        XCTAssertTrue(has("cortex-a720", "STALL_BACKEND_RENAME"))
        XCTAssertTrue(has("cortex-x4", "STALL_FRONTEND_FLOW") && has("cortex-x4", "STALL_BACKEND_CPUBOUND"))
        XCTAssertTrue(has("cortex-a715", "STALL_FRONTEND_FLUSH") && !has("cortex-a715", "STALL_FRONTEND_MEMBOUND"))
        XCTAssertTrue(has("neoverse-n3", "STALL_FRONTEND_FLOW"))
        XCTAssertFalse(has("neoverse-n3", "STALL_BACKEND_ILOCK"))
        XCTAssertTrue(has("neoverse-v3", "STALL_BACKEND_L2D") && has("neoverse-v3", "STALL_BACKEND_ILOCK"))
        for core in ["cortex-a520", "cortex-a715", "cortex-a720", "cortex-a725", "cortex-x4"] {
            XCTAssertTrue(has(core, "DTLB_WALK_PERCYC"), core)
        }
        XCTAssertFalse(has("cortex-x3", "DTLB_WALK_PERCYC"))
    }

    func testMIDRPartsAndSlots() throws {
        let parts: [(String, UInt32)] = [("cortex-a55", 0xD05), ("cortex-a520", 0xD80), ("cortex-a720", 0xD81), ("cortex-x4", 0xD82),
                                         ("neoverse-n1", 0xD0C), ("neoverse-v2", 0xD4F), ("neoverse-v3", 0xD84), ("neoverse-n3", 0xD8E)]
        for (core, part) in parts { XCTAssertEqual(tables.model(armImplementer: 0x41, part: part)?.name, core) }
        XCTAssertEqual(tables.model(armImplementer: 0x41, part: 0xD4B)?.name, "cortex-a78", "A78C maps to the A78 tables (S2)")
        XCTAssertEqual(tables.model(named: "neoverse-v2")?.slots, 8)
        XCTAssertEqual(tables.model(named: "neoverse-v3")?.slots, 10)
        XCTAssertNil(tables.model(named: "cortex-a520")?.slots, "unpublished: read caps/slots at run time")
        XCTAssertEqual(tables.model(x86Vendor: .amd, family: 0x19, model: 0x61)?.name, "zen4")
        XCTAssertEqual(tables.model(x86Vendor: .amd, family: 0x19, model: 0x21)?.name, "zen3")
        XCTAssertEqual(tables.model(x86Vendor: .intel, family: 6, model: 0x8F)?.name, "sapphirerapids")
        XCTAssertNil(tables.model(x86Vendor: .amd, family: 0x1A, model: 0x02), "Zen 5 has no table")
    }

    func testSimpleperfNamingRule() throws {
        let a55 = tables.catalog(for: tables.model(named: "cortex-a55")!)
        let a520 = tables.catalog(for: tables.model(named: "cortex-a520")!)
        XCTAssertEqual(a520.lookup("raw-stall-backend-mem"), .found(tables.armCommon["STALL_BACKEND_MEM"]!))
        guard case .found(let ld) = a55.lookup("raw-cortex-a55-stall-backend-ld") else { return XCTFail() }
        XCTAssertEqual(ld.armCode, 0xE7)
        guard case .notImplemented(let missing) = a55.lookup("raw-stall-backend-mem") else { return XCTFail() }
        XCTAssertEqual(missing.armCode, 0x4005)
        XCTAssertEqual(a520.lookup("raw-no-such-event"), .unknown)
    }

    /// Every name of every event leads back to that event, on every core.
    func testNamesRoundTrip() {
        for model in tables.cpus {
            let catalog = tables.catalog(for: model)
            for event in catalog.events {
                for name in catalog.names(of: event) where !name.isEmpty {
                    guard case .found(let back) = catalog.lookup(name) else { return XCTFail("\(model.name): \(name) does not resolve") }
                    // A portable name may be shared by two events of one core only if they are the same event.
                    if !event.portable.contains(name) { XCTAssertEqual(back, event, "\(model.name): \(name)") }
                }
            }
        }
    }

    func testPortableNamesMapToEachCoresOwnEvent() {
        func portable(_ core: String, _ name: String) -> String? {
            if case .found(let e) = tables.catalog(for: tables.model(named: core)!).lookup(name) { return e.name }
            return nil
        }
        XCTAssertEqual(portable("neoverse-v2", "dtlb-walk"), "DTLB_WALK")
        XCTAssertEqual(portable("sapphirerapids", "dtlb-walk"), "DTLB_LOAD_MISSES.WALK_COMPLETED")
        XCTAssertEqual(portable("zen4", "dtlb-walk"), "ls_l1_d_tlb_miss.all_l2_miss")
        XCTAssertEqual(portable("skylake", "dtlb-walk-cycles"), "DTLB_LOAD_MISSES.WALK_ACTIVE")
        XCTAssertEqual(portable("cortex-a520", "dtlb-walk-cycles"), "DTLB_WALK_PERCYC")
        XCTAssertNil(portable("zen4", "dtlb-walk-cycles"), "Zen has no walk-cycle event")
        XCTAssertEqual(portable("sapphirerapids", "stall-backend-memory"), "MEMORY_ACTIVITY.STALLS_L1D_MISS")
        XCTAssertEqual(portable("icelake", "stall-backend-memory"), "CYCLE_ACTIVITY.STALLS_MEM_ANY")
        XCTAssertEqual(portable("cortex-a78", "stall-backend-memory"), "STALL_BACKEND_MEM")
    }

    /// x86 entries: the kernel's EventCode/UMask/CounterMask composition (S9, S11) gives
    /// the raw configs pmu-events.md lists.
    func testX86KernelCodesComposeToThePublishedConfigs() {
        func config(_ core: String, _ name: String) -> UInt64? {
            tables.coreEvents[core]?.first { $0.name == name }?.kernelConfig
        }
        XCTAssertEqual(config("skylake", "DTLB_LOAD_MISSES.WALK_ACTIVE"), 0x1001008)
        XCTAssertEqual(config("sapphirerapids", "DTLB_LOAD_MISSES.WALK_ACTIVE"), 0x1001012)
        XCTAssertEqual(config("skylake", "DTLB_STORE_MISSES.WALK_ACTIVE"), 0x1001049)
        XCTAssertEqual(config("sapphirerapids", "ITLB_MISSES.WALK_ACTIVE"), 0x1001011)
        XCTAssertEqual(config("skylake", "CYCLE_ACTIVITY.STALLS_MEM_ANY"), 0x140014A3)
        XCTAssertEqual(config("sapphirerapids", "MEMORY_ACTIVITY.STALLS_L3_MISS"), 0x9000947)
        XCTAssertEqual(config("zen4", "de_no_dispatch_per_slot.no_ops_from_frontend"), 0x1000001A0)
        XCTAssertEqual(config("zen4", "ls_l1_d_tlb_miss.all_l2_miss"), 0xF045)
        XCTAssertEqual(config("zen4", "ex_no_retire.load_not_complete"), 0xA2D6)
        let walker = tables.coreEvents["zen3"]!.first { $0.name == "ls_tablewalker.dside" }!
        XCTAssertEqual(walker.encoding, .x86Raw(0x346), "absent from libpfm4: raw code")
        XCTAssertNotNil(walker.source)
    }

    func testMalformedTablesAreReportedWithFileLineAndFieldAndHideNothingElse() {
        var files = EmbeddedEventTables.files.filter { $0.path != "arm/cortex-a520/events.json" && $0.path != "x86/zen4/events.json" }
        files.append(("arm/cortex-a520/events.json", "[\n  {\"ArchStdEvent\": \"STALL\"},\n  {\"EventCode\": \"0xZZ\", \"EventName\": \"BAD\"},\n  {\"ArchStdEvent\": \"NOPE\"}\n]"))
        files.append(("x86/zen4/events.json", "[\n {\"EventName\": \"x\",\n"))   // truncated
        let set = EventTableSet(files: files)
        XCTAssertTrue(set.diagnostics.contains(TableDiagnostic(file: "arm/cortex-a520/events.json", line: 3, field: "EventCode", message: "BAD: '0xZZ' is not a number")), "\(set.diagnostics)")
        XCTAssertTrue(set.diagnostics.contains(TableDiagnostic(file: "arm/cortex-a520/events.json", line: 4, field: "ArchStdEvent", message: "'NOPE' is not in arm/common.json")), "\(set.diagnostics)")
        XCTAssertTrue(set.diagnostics.contains { $0.file == "x86/zen4/events.json" && $0.line == 3 }, "\(set.diagnostics)")
        // The good entry of the damaged file and the other tables are still there.
        XCTAssertEqual(set.coreEvents["cortex-a520"]?.map(\.name), ["STALL"])
        XCTAssertEqual(set.coreEvents["neoverse-v2"]?.count, tables.coreEvents["neoverse-v2"]?.count)
        XCTAssertEqual(set.diagnostics.map(\.description).first { $0.contains("0xZZ") },
                       "arm/cortex-a520/events.json:3: field EventCode: BAD: '0xZZ' is not a number")
    }

    func testAKernelPerCoreFileDropsIn() {
        // Shape of tools/perf/pmu-events/arch/arm64/arm/cortex-a510/pipeline.json
        let kernelFile = """
        [
            { "ArchStdEvent": "STALL_FRONTEND" },
            { "PublicDescription": "Counts cycles when the instruction queue is empty and an L1 instruction TLB miss is in progress",
              "EventCode": "0xE2", "EventName": "STALL_FRONTEND_TLB",
              "BriefDescription": "No operation issued due to the frontend, instruction TLB miss" }
        ]
        """
        var files = EmbeddedEventTables.files
        files.append(("arm/cortex-a510/pipeline.json", kernelFile))
        let set = EventTableSet(files: files)
        XCTAssertEqual(set.diagnostics, [])
        let names = set.coreEvents["cortex-a510"]!.map(\.name)
        XCTAssertEqual(names.filter { $0 == "STALL_FRONTEND_TLB" }.count, 2, "both files' entries are loaded")
    }

    func testCpuinfoParsing() {
        let arm = "processor\t: 0\nBogoMIPS\t: 38.40\nCPU implementer\t: 0x41\nCPU part\t: 0xd05\n\nprocessor\t: 4\nCPU implementer\t: 0x41\nCPU part\t: 0xd0b\n"
        XCTAssertEqual(CPUInfoParser.parse(arm), [0: .arm(implementer: 0x41, part: 0xD05), 4: .arm(implementer: 0x41, part: 0xD0B)])
        let x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 97\n\n"
        XCTAssertEqual(CPUInfoParser.parse(x86), [0: .x86(vendor: .amd, family: 25, model: 97)])
        XCTAssertEqual(CPUIdentity.fromMIDR(0x410FD800), .arm(implementer: 0x41, part: 0xD80))
    }

    func testJSONReaderErrorsCarryLines() {
        XCTAssertThrowsError(try JSONReader.parse("[\n1,\n2,\n]")) { XCTAssertEqual(($0 as? JSONSyntaxError)?.line, 4) }
        XCTAssertThrowsError(try JSONReader.parse("{\"a\": \"b")) { XCTAssertEqual(($0 as? JSONSyntaxError)?.message, "unterminated string") }
        XCTAssertEqual(try JSONReader.parse("{\"a\": [1, true, null, \"x\\\"y\"]}")["a"]?.arrayValue?.count, 4)
    }
}
