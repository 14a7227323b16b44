import XCTest
@testable import StallCore

final class ArmEventAdvertisementTests: XCTestCase {
    func testAliasFilesAndCommonRanges() {
        let a = ArmEventAdvertisement(aliases: [("cpu_cycles", "event=0x0011"), ("inst_retired", "event=8"),
                                                ("stall_backend_mem", "event=0x4005"), ("odd", "config=0x99"), ("bad", "event=zz")])
        XCTAssertEqual(a.listed, [0x11, 0x8, 0x4005])
        XCTAssertEqual(a.status(0x11), .implemented)
        XCTAssertEqual(a.status(0x3F), .notImplemented)
        XCTAssertEqual(a.status(0x40), .implementationDefined, "0x40 is the first implementation-defined code")
        XCTAssertEqual(a.status(0x3FFF), .implementationDefined)
        XCTAssertEqual(a.status(0x4005), .implemented)
        XCTAssertEqual(a.status(0x403F), .notImplemented)
        XCTAssertEqual(a.status(0x4040), .implementationDefined)
        XCTAssertEqual(a.mark(0x11, pmu: "armv8_pmuv3"), "[implemented]")
        XCTAssertTrue(a.mark(0x3C, pmu: "armv8_pmuv3").hasPrefix("[not implemented by armv8_pmuv3"))
    }
}
