import XCTest
@testable import StallCore

final class KernelSignalTests: XCTestCase {
    func testPressureFileParses() throws {
        let p = try PressureStall.parse("some avg10=1.50 avg60=0.04 avg300=0.23 total=2484899\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=17\n")
        XCTAssertEqual(p.some?.totalMicroseconds, 2_484_899)
        XCTAssertEqual(p.some?.avg10, 1.5)
        XCTAssertEqual(p.full?.totalMicroseconds, 17)
    }

    func testMalformedPressureNamesTheLine() {
        XCTAssertThrowsError(try PressureStall.parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=1\nfull avg10=x\n")) {
            XCTAssertEqual($0 as? PressureStall.ParseError, .malformed(line: 2, text: "full avg10=x"))
        }
        XCTAssertThrowsError(try PressureStall.parse(""))
    }

    func testVMStatFamiliesSumAndBadLinesAreReported() {
        let (vm, bad) = VMStat.parse("allocstall_dma 1\nallocstall_normal 4\ncompact_stall 7\ngarbage\nthp_fault_fallback 2\n")
        XCTAssertEqual(vm.value("allocstall"), 5)
        XCTAssertEqual(vm.value("compact_stall"), 7)
        XCTAssertNil(vm.value("nonexistent"))
        XCTAssertEqual(bad, [4])
    }

    func testSignalNames() {
        XCTAssertEqual(KernelSignalKind(name: "pressure:memory-full"), .pressure(resource: "memory", full: true))
        XCTAssertEqual(KernelSignalKind(name: "vmstat:compact_stall"), .vmstat(counter: "compact_stall"))
        XCTAssertNil(KernelSignalKind(name: "pressure:disk-some"))
        XCTAssertNil(KernelSignalKind(name: "kmem:mm_page_alloc"))
    }

    func testPressureDeltaIsShownAsShareOfWallTime() {
        // 250 ms of memory stall in a 1 s window = 25 %.
        let r = CounterResult(name: "pressure:memory-some", unit: "us", status: .counted, value: 250_000, timeEnabledNs: 1e9, timeRunningNs: 1e9)
        let w = StatWindow(timestampSeconds: nil, elapsedNs: 1e9, results: [r])
        XCTAssertEqual(PerfShadowMetrics.metric(for: r, in: w)?.value, 25)
        XCTAssertEqual(SimpleperfComments.comment(for: r, in: w), "25.00% of wall time stalled")
    }
}

final class OpenFailureTests: XCTestCase {
    func classify(_ errno: Int32, hw: Bool = true, pmu: Bool = false, paranoid: Int? = 2, systemWide: Bool = false) -> OpenFailure {
        OpenFailure.classify(errno: errno, event: "cycles", needsHardwarePMU: hw, hasHardwarePMU: pmu,
                             paranoid: paranoid, systemWide: systemWide, pid: 42, errnoText: "text")
    }

    func testMissingPMUSaysWhyAndWhatStillWorks() {
        let f = classify(2)
        XCTAssertEqual(f.cause, .noHardwarePMU)
        XCTAssertTrue(f.message.contains("no hardware PMU"))
        XCTAssertTrue(f.message.contains("virtual machine or container"))
        XCTAssertTrue(f.message.contains("Software events, tracepoints"))
        XCTAssertEqual(classify(2, pmu: true).cause, .notSupportedByPMU)
    }

    func testPermissionErrorsNameTheSettingAndNeverNarrowSilently() {
        let f = classify(13, paranoid: 2, systemWide: true)
        XCTAssertTrue(f.message.contains("kernel.perf_event_paranoid is 2"))
        XCTAssertTrue(f.message.contains("perf_event_paranoid <= 0"))
        XCTAssertTrue(f.message.contains("CAP_PERFMON"))
        // System-wide counting needs paranoid <= 0 (or CAP_PERFMON) whatever the modifier: no ':u' advice there.
        XCTAssertFalse(f.message.contains("'cycles:u'"), f.message)
        XCTAssertTrue(classify(13, paranoid: 2, systemWide: false).message.contains("'cycles:u'"))
        XCTAssertTrue(classify(1, paranoid: 3, systemWide: false).message.contains("perf_event_paranoid <= 1"))
    }

    func testOtherErrnos() {
        XCTAssertEqual(classify(3).cause, .noSuchProcess(pid: 42))
        XCTAssertTrue(classify(3).message.contains("process 42 does not exist"))
        XCTAssertTrue(classify(24).message.contains("ulimit -n"))
        XCTAssertTrue(classify(16).message.contains("busy"))
    }
}

final class VMStatScanTests: XCTestCase {
    func testScanAgreesWithTheFullParser() {
        let text = "nr_free_pages 123456\nallocstall_dma 1\nallocstall_normal 4\ncompact_stall 7\ncompact_stall_extra 9\nthp_fault_fallback 2\nthp_fault_fallback_charge 5\n"
        let full = VMStat.parse(text).0
        let scanned = VMStat.scan(Array(text.utf8), wanted: ["compact_stall", "allocstall", "thp_fault_fallback", "nr_free_pages"])
        XCTAssertEqual(scanned.value("allocstall"), full.value("allocstall"))
        XCTAssertEqual(scanned.value("nr_free_pages"), 123456)
        // an exact counter wins over `name_*` lines, exactly like VMStat.value
        XCTAssertEqual(scanned.value("compact_stall"), full.value("compact_stall"))
        XCTAssertEqual(scanned.value("compact_stall"), 7)
        XCTAssertEqual(scanned.value("thp_fault_fallback"), 2)
        XCTAssertNil(VMStat.scan(Array("garbage\n".utf8), wanted: ["garbage"]).value("garbage"))
        // The snapshot's scan keeps each counter of a prefix under its own name, like keepVMStat.
        let kept = VMStat.scan(Array(text.utf8), prefixes: MemorySnapshot.vmstatPrefixes, names: MemorySnapshot.vmstatNames)
        XCTAssertEqual(kept, MemorySnapshot.keepVMStat(full.counters))
        XCTAssertEqual(kept["compact_stall_extra"], 9)
        XCTAssertNil(kept["garbage"])
    }
}
