import XCTest
@testable import StallCore

func fragmentationFixture(_ name: String) throws -> String {
    let dir = "/" + #filePath.split(separator: "/").dropLast().joined(separator: "/") + "/Fixtures/"
    return try String(contentsOfFile: dir + name, encoding: .utf8)
}

final class FragmentationIndexTests: XCTestCase {
    /// Pairs of /proc/buddyinfo and debugfs extfrag files read at one moment on the
    /// development machine (buddyinfo read before and after, and equal).
    func testIndicesEqualTheKernelsOnCapturedPairs() throws {
        for state in ["idle", "fragmented"] {
            let zones = try BuddyInfo.parse(fragmentationFixture("buddyinfo-\(state).txt"))
            let unusable = try ExtfragFile.parse(fragmentationFixture("unusable_index-\(state).txt"), file: "unusable_index")
            let extfrag = try ExtfragFile.parse(fragmentationFixture("extfrag_index-\(state).txt"), file: "extfrag_index")
            XCTAssertEqual(zones.count, 3)
            for z in zones {
                let ix = FragmentationIndex(zone: z)
                let orders = z.freeBlocks.indices
                XCTAssertEqual(orders.map { ix.unusableIndexMilli(order: $0) }, unusable[z.key], "\(state) \(z.key) unusable")
                XCTAssertEqual(orders.map { ix.fragmentationIndexMilli(order: $0) }, extfrag[z.key], "\(state) \(z.key) extfrag")
            }
        }
    }

    /// Hand-computed from mm/vmstat.c: 100 free order-0 pages, nothing larger.
    func testFragmentationIndexWhenNoBlockIsLargeEnough() {
        let ix = FragmentationIndex(zone: ZoneFreeLists(node: 0, zone: "Normal", freeBlocks: [100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
        // 1000 − ⌊(1000 + ⌊100·1000/512⌋) / 100⌋ = 1000 − ⌊1195/100⌋ = 989 (Gorman's real form: 0.98805)
        XCTAssertEqual(ix.fragmentationIndexMilli(order: 9), 989)
        XCTAssertEqual(ix.fragmentationIndexMilli(order: 0), -1000, "an order-0 allocation succeeds")
        // order 1: 1000 − ⌊(1000 + 50000) / 100⌋ = 490 (towards 0: short of memory, not fragmented)
        XCTAssertEqual(ix.fragmentationIndexMilli(order: 1), 490)
        XCTAssertEqual(ix.unusableIndexMilli(order: 1), 1000)
        XCTAssertEqual(ix.unusableIndexMilli(order: 0), 0)
        XCTAssertEqual(FragmentationIndex.format(milli: 989), "0.989")
        XCTAssertEqual(FragmentationIndex.format(milli: -1000), "-1.000")
        XCTAssertEqual(FragmentationIndex.format(milli: 5), "0.005")
    }

    func testEmptyZoneAndTHPCounts() {
        let empty = FragmentationIndex(zone: ZoneFreeLists(node: 0, zone: "Movable", freeBlocks: [0, 0, 0]))
        XCTAssertEqual(empty.unusableIndexMilli(order: 1), 1000)
        XCTAssertEqual(empty.fragmentationIndexMilli(order: 1), 0)
        XCTAssertNil(empty.largestFreeOrder)
        // 2 order-10 blocks = 4 order-9 blocks, plus 3 order-9 blocks
        let z = FragmentationIndex(zone: ZoneFreeLists(node: 0, zone: "Normal", freeBlocks: [5, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2]))
        XCTAssertEqual(z.hugePageAllocationsPossible, 7)
        XCTAssertEqual(z.freeBlocksAtOrAbove(order: 9), 5)
        XCTAssertEqual(z.largestFreeOrder, 10)
        XCTAssertEqual(z.freePages, 5 + 3 * 512 + 2 * 1024)
    }
}

final class ProcParserTests: XCTestCase {
    func testBuddyinfoRejectsTruncatedReorderedAndGarbageInput() throws {
        let good = try fragmentationFixture("buddyinfo-idle.txt")
        XCTAssertEqual(try BuddyInfo.parse(good).map(\.zone), ["DMA", "DMA32", "Normal"])
        // reordered lines still parse (each line names its zone)
        let reordered = good.split(separator: "\n").reversed().joined(separator: "\n")
        XCTAssertEqual(try BuddyInfo.parse(reordered).map(\.zone), ["Normal", "DMA32", "DMA"])
        // truncated in the middle of a line
        let truncated = String(good.prefix(good.count - 20))
        XCTAssertThrowsError(try BuddyInfo.parse(truncated)) {
            XCTAssertTrue("\($0)".contains("line 3"), "\($0)")
        }
        XCTAssertThrowsError(try BuddyInfo.parse("Node 0, zone Normal 1 2 x\n")) { XCTAssertTrue("\($0)".contains("'x' is not a count")) }
        XCTAssertThrowsError(try BuddyInfo.parse("garbage\n")) { XCTAssertTrue("\($0)".contains("line 1")) }
        XCTAssertThrowsError(try BuddyInfo.parse(""))
        XCTAssertThrowsError(try BuddyInfo.parse("\u{0}\u{1}binary"))
    }

    func testPagetypeinfoAndZoneinfo() throws {
        let pt = try PageTypeInfo.parse(fragmentationFixture("pagetypeinfo.txt"))
        XCTAssertEqual(pt.pageblockOrder, 9)
        XCTAssertEqual(pt.pagesPerBlock, 512)
        XCTAssertEqual(pt.freeByType["node0/Normal"]?["Movable"]?.count, 11)
        XCTAssertNotNil(pt.pageblocksByType["node0/DMA32"]?["Movable"])
        // migrate-type free lists add up to buddyinfo's (captured minutes apart: check shape only)
        XCTAssertEqual(Set(pt.freeByType["node0/Normal"]!.keys), ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate"])
        XCTAssertThrowsError(try PageTypeInfo.parse("Page block order: 9\n"))
        XCTAssertThrowsError(try PageTypeInfo.parse("Page block order: x\n")) { XCTAssertTrue("\($0)".contains("line 1")) }

        let zones = try ZoneInfo.parse(fragmentationFixture("zoneinfo.txt"))
        let normal = try XCTUnwrap(zones.first { $0.zone == "Normal" })
        XCTAssertGreaterThan(normal.managed, 0)
        XCTAssertLessThan(normal.min, normal.low)
        XCTAssertLessThan(normal.low, normal.high)
        let text = try fragmentationFixture("zoneinfo.txt")
        XCTAssertThrowsError(try ZoneInfo.parse(String(text.prefix(200)))) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
    }

    func testSmapsRollup() throws {
        let s = try SmapsRollup.parse("Rss:  4200 kB\nAnonymous:  4096 kB\nAnonHugePages:  2048 kB\n")
        XCTAssertEqual(s.hugePageShareOfAnonymous, 0.5)
        XCTAssertThrowsError(try SmapsRollup.parse("Rss: 1 kB\n"))
    }

    func testSnapshotJSONRoundTripAndDiff() throws {
        let zones = try BuddyInfo.parse(fragmentationFixture("buddyinfo-idle.txt"))
        let a = MemorySnapshot(timestampSeconds: 100, zones: zones, vmstat: ["compact_stall": 3, "thp_fault_alloc": 10])
        let frag = try BuddyInfo.parse(fragmentationFixture("buddyinfo-fragmented.txt"))
        let b = MemorySnapshot(timestampSeconds: 130, zones: frag, vmstat: ["compact_stall": 5, "thp_fault_alloc": 10])
        let back = try MemorySnapshot.decode(a.json())
        XCTAssertEqual(back.zones, a.zones)
        XCTAssertEqual(back.vmstat, a.vmstat)
        let d = FragmentationReport.diff(a, b)
        XCTAssertTrue(d.contains("Between the snapshots: 30.0 s"), d)
        XCTAssertTrue(d.contains("compact_stall +2"), d)
        XCTAssertFalse(d.contains("thp_fault_alloc"), "unchanged counters are left out")
        XCTAssertThrowsError(try MemorySnapshot.decode("{\"zones\": 1}"))
        XCTAssertThrowsError(try MemorySnapshot.decode("not json"))
    }

    /// A 16 KiB-page arm64 kernel (linux-image-arm64-16k): free lists count 16 KiB pages
    /// and a PMD huge page is 32 MiB (order 11).
    func testPageSizesOtherThan4KiB() throws {
        let zones = [ZoneFreeLists(node: 0, zone: "Normal", freeBlocks: [64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])]
        let s = MemorySnapshot(timestampSeconds: 1, hugePageOrder: 11, pageBytes: 16384, zones: zones)
        // 64 + 2048 pages of 16 KiB = 33 MiB
        XCTAssertTrue(FragmentationReport(color: false).text(s).contains("2,112 free pages (33.0 MiB)"), FragmentationReport(color: false).text(s))
        XCTAssertTrue(FragmentationReport(color: false).text(s).contains("order-11 (THP-sized) blocks free: 1"))
        let back = try MemorySnapshot.decode(s.json())
        XCTAssertEqual(back.pageBytes, 16384)
        XCTAssertEqual(back.hugePageOrder, 11)
        // Older snapshots carry no page size: they came from 4 KiB kernels.
        let old = s.json().replacingOccurrences(of: "\"page_size\": 16384,", with: "")
        XCTAssertEqual(try MemorySnapshot.decode(old).pageBytes, 4096)
        for bad in ["0", "4095", "12288", "18446744073709551615", "-16384", "\"x\""] {
            XCTAssertThrowsError(try MemorySnapshot.decode(s.json().replacingOccurrences(of: "\"page_size\": 16384", with: "\"page_size\": \(bad)")), bad)
        }
        XCTAssertEqual(FragmentationIndex.pmdOrder(pageBytes: 4096, pmdBytes: 2 << 20), 9)
        XCTAssertEqual(FragmentationIndex.pmdOrder(pageBytes: 4096, pmdBytes: nil), 9)
        XCTAssertEqual(FragmentationIndex.pmdOrder(pageBytes: 16384, pmdBytes: nil), 11)
        XCTAssertEqual(FragmentationIndex.pmdOrder(pageBytes: 16384, pmdBytes: 32 << 20), 11)
        XCTAssertEqual(FragmentationIndex.pmdOrder(pageBytes: 65536, pmdBytes: nil), 13)
        XCTAssertEqual(FragmentationIndex.pmdOrder(pageBytes: 65536, pmdBytes: 512 << 20), 13)
        XCTAssertEqual(FragmentationIndex.pmdOrder(pageBytes: 4096, pmdBytes: Int.max), 9, "an absurd size falls back")
    }
}
