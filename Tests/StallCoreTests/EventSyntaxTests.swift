import XCTest
@testable import StallCore

final class EventListParserTests: XCTestCase {
    func testCommaListGivesOneGroupPerEvent() throws {
        let groups = try EventListParser.parse("task-clock,page-faults")
        XCTAssertEqual(groups, [EventGroupRequest(members: ["task-clock"], isExplicitGroup: false),
                                EventGroupRequest(members: ["page-faults"], isExplicitGroup: false)])
    }

    func testBracesMakeOneGroupAndModifiersApplyToEveryMember() throws {
        let groups = try EventListParser.parse("{cycles,instructions}:u,page-faults")
        XCTAssertEqual(groups, [EventGroupRequest(members: ["cycles:u", "instructions:u"], isExplicitGroup: true),
                                EventGroupRequest(members: ["page-faults"], isExplicitGroup: false)])
    }

    func testCommasInsidePMUTermsBelongToTheEvent() throws {
        let groups = try EventListParser.parse("cpu/event=0x3c,umask=0x1/,r4005")
        XCTAssertEqual(groups.map(\.members), [["cpu/event=0x3c,umask=0x1/"], ["r4005"]])
    }

    func testLibpfmAndTracepointColonsAreKept() throws {
        let groups = try EventListParser.parse("amd64_fam19h_zen4::L1_DTLB_MISS:TLB_RELOAD_4K_L2_MISS,kmem:mm_page_alloc")
        XCTAssertEqual(groups.map(\.members), [["amd64_fam19h_zen4::L1_DTLB_MISS:TLB_RELOAD_4K_L2_MISS"], ["kmem:mm_page_alloc"]])
    }

    func testMalformedListsAreRejectedWithTheReason() {
        XCTAssertThrowsError(try EventListParser.parse("{a,b")) { XCTAssertEqual($0 as? EventListParser.ParseError, .unbalancedBrace("{a,b")) }
        XCTAssertThrowsError(try EventListParser.parse("a,,b")) { XCTAssertEqual($0 as? EventListParser.ParseError, .emptyName("a,,b")) }
        XCTAssertThrowsError(try EventListParser.parse("{a,{b}}")) { XCTAssertEqual($0 as? EventListParser.ParseError, .nestedGroup("{a,{b}}")) }
        XCTAssertThrowsError(try EventListParser.parse("a}")) { XCTAssertEqual($0 as? EventListParser.ParseError, .unbalancedBrace("a}")) }
    }

    func testModifiersSplitOnlyWhenTheSuffixIsModifierLetters() {
        XCTAssertEqual(EventModifiers.split("cycles:u")?.base, "cycles")
        XCTAssertEqual(EventModifiers.split("cycles:uk")?.modifiers, EventModifiers(user: true, kernel: true, hypervisor: false))
        XCTAssertNil(EventModifiers.split("kmem:mm_page_alloc"))
        XCTAssertNil(EventModifiers.split("DTLB_LOAD_MISSES:WALK_ACTIVE"))
        XCTAssertNil(EventModifiers.split("perf::page-faults"))
    }

    func testUserModifierExcludesKernelAndHypervisorAsPerfDoes() {
        var attr = EventAttr(type: PerfType.hardware, config: 0)
        EventModifiers(user: true).apply(to: &attr)
        XCTAssertEqual([attr.excludeUser, attr.excludeKernel, attr.excludeHypervisor], [false, true, true])
        var k = EventAttr(type: PerfType.hardware, config: 0)
        EventModifiers(kernel: true).apply(to: &k)
        XCTAssertEqual([k.excludeUser, k.excludeKernel, k.excludeHypervisor], [true, false, true])
    }
}

final class GenericEventTests: XCTestCase {
    // Values from include/uapi/linux/perf_event.h.
    func testHardwareAndSoftwareConfigsMatchTheKernelHeader() {
        XCTAssertEqual(GenericEvents.lookup("cycles")?.attr, EventAttr(type: 0, config: 0))
        XCTAssertEqual(GenericEvents.lookup("instructions")?.attr, EventAttr(type: 0, config: 1))
        XCTAssertEqual(GenericEvents.lookup("stalled-cycles-frontend")?.attr, EventAttr(type: 0, config: 7))
        XCTAssertEqual(GenericEvents.lookup("stalled-cycles-backend")?.attr, EventAttr(type: 0, config: 8))
        XCTAssertEqual(GenericEvents.lookup("ref-cycles")?.attr, EventAttr(type: 0, config: 9))
        XCTAssertEqual(GenericEvents.lookup("task-clock")?.attr, EventAttr(type: 1, config: 1))
        XCTAssertEqual(GenericEvents.lookup("page-faults")?.attr, EventAttr(type: 1, config: 2))
        XCTAssertEqual(GenericEvents.lookup("faults")?.attr, EventAttr(type: 1, config: 2))
        XCTAssertEqual(GenericEvents.lookup("major-faults")?.attr, EventAttr(type: 1, config: 6))
        XCTAssertEqual(GenericEvents.lookup("cgroup-switches")?.attr, EventAttr(type: 1, config: 11))
    }

    func testCacheEventsEncodeCacheOpAndResult() {
        // dTLB (3) | load (0) << 8 | miss (1) << 16
        XCTAssertEqual(GenericEvents.lookup("dTLB-load-misses")?.attr, EventAttr(type: 3, config: 0x10003))
        // iTLB (4) | load << 8 | access (0) << 16
        XCTAssertEqual(GenericEvents.lookup("iTLB-loads")?.attr, EventAttr(type: 3, config: 0x4))
        // L1-dcache (0) | store (1) << 8 | miss << 16
        XCTAssertEqual(GenericEvents.lookup("L1-dcache-store-misses")?.attr, EventAttr(type: 3, config: 0x10100))
    }

    func testClockEventsPrintInMilliseconds() {
        let e = GenericEvents.lookup("task-clock")!
        XCTAssertEqual(e.unit, "msec")
        XCTAssertEqual(e.scale, 1e-6)
        XCTAssertFalse(e.needsHardwarePMU)
        XCTAssertTrue(GenericEvents.lookup("cycles")!.needsHardwarePMU)
    }

    func testDidYouMeanFindsNearNames() {
        XCTAssertEqual(Suggestions.closest(to: "page-fault", among: GenericEvents.allNames).first, "page-faults")
        XCTAssertEqual(Suggestions.closest(to: "instrucions", among: GenericEvents.allNames).first, "instructions")
        XCTAssertEqual(Suggestions.closest(to: "zzzzzzzz", among: GenericEvents.allNames), [])
    }
}

final class RawSyntaxTests: XCTestCase {
    func testRawCodesAreHex() {
        XCTAssertEqual(RawEventSyntax.rawCode("r4005"), 0x4005)
        XCTAssertEqual(RawEventSyntax.rawCode("r1b"), 0x1b)
        XCTAssertNil(RawEventSyntax.rawCode("ref-cycles"))
        XCTAssertNil(RawEventSyntax.rawCode("r"))
    }

    func testSysfsFormatFieldsScatterBits() throws {
        // AMD core PMU: event = config:0-7,32-35. de_no_dispatch_per_slot is event 0x1A0,
        // umask 0x01 → raw config 0x1000001A0 (arch/x86/events/amd/core.c; pmu-events.md §4).
        let event = try XCTUnwrap(PMUFormatField.parse("config:0-7,32-35"))
        let umask = try XCTUnwrap(PMUFormatField.parse("config:8-15"))
        let attr = try encodePMUTerms(pmu: "cpu", type: 4, terms: [("event", 0x1A0), ("umask", 0x01)],
                                      formats: ["event": event, "umask": umask])
        XCTAssertEqual(attr.config, 0x1_0000_01A0)
        // Arm: event = config:0-15 → 0x4005 stays 0x4005.
        let arm = try XCTUnwrap(PMUFormatField.parse("config:0-15"))
        XCTAssertEqual(arm.place(0x4005), 0x4005)
        XCTAssertNil(arm.place(0x1_0000))
        // Malformed format files (found by Fuzz/run.sh: "config3:-" trapped).
        for bad in ["config3:-", "config:-5", "config:5-", "config:", "config:1-2-3", "config:7-3", "config:64", "config1:0--1"] {
            XCTAssertNil(PMUFormatField.parse(bad), bad)
        }
        XCTAssertEqual(PMUFormatField.parse("config3:0-3,8")?.bitRanges, [0...3, 8...8])
    }

    func testPMUTermsParseAndReportUnknownTerms() throws {
        let parsed = try XCTUnwrap(RawEventSyntax.pmuTerms("cpu/event=0x3c,umask=0x1,edge/"))
        XCTAssertEqual(parsed.pmu, "cpu")
        XCTAssertEqual(parsed.terms.map(\.0), ["event", "umask", "edge"])
        XCTAssertEqual(parsed.terms.map(\.1), [0x3c, 1, 1])
        XCTAssertThrowsError(try encodePMUTerms(pmu: "cpu", type: 4, terms: [("evnt", 1)],
                                                formats: ["event": PMUFormatField.parse("config:0-7")!])) {
            XCTAssertTrue("\($0)".contains("has no format term 'evnt'"))
        }
    }

    func testCPUListsUseTheKernelSyntax() throws {
        XCTAssertEqual(try CPUList.parse("0-3,5,8-9"), [0, 1, 2, 3, 5, 8, 9])
        XCTAssertEqual(try CPUList.parse("1\n"), [1])
        XCTAssertThrowsError(try CPUList.parse("3-1"))
        XCTAssertThrowsError(try CPUList.parse("a"))
        XCTAssertThrowsError(try CPUList.parse(""))
    }
}
