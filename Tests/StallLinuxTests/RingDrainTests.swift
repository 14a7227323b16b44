import CPerfEvent
import Foundation
import StallCore
@testable import StallLinux
import XCTest

/// The record drain on rings of kernels whose page size is not 4096 (arm64's 16 and
/// 64 KiB kernels): a ring in memory laid out as the kernel lays it out
/// (perf_event_mmap_page, then data_pages × page size of data), filled with whole
/// records, wrapping at its end, drained as the recorder drains it.
final class RingDrainTests: XCTestCase {
    /// perf_event_mmap_page's data_head and data_tail (include/uapi/linux/perf_event.h).
    static let dataHeadOffset = 1024, dataTailOffset = 1032

    /// A ring of `dataPages` pages of `pageSize` bytes holding `records` records of
    /// `recordSize` bytes each, starting at `tail`.
    func withFakeRing(pageSize: Int, dataPages: Int, tail: UInt64, records: Int, recordSize: Int,
                      _ body: (inout cpe_ring) -> Void) {
        let dataSize = pageSize * dataPages
        let base = UnsafeMutableRawPointer.allocate(byteCount: pageSize + dataSize, alignment: 4096)
        defer { base.deallocate() }
        base.initializeMemory(as: UInt8.self, repeating: 0, count: pageSize + dataSize)
        let data = base + pageSize
        var position = tail
        for n in 0..<records {
            // A record header (type 9, misc 0, size), then its index in every payload byte.
            var bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: n), count: recordSize)
            withUnsafeBytes(of: UInt32(9).littleEndian) { for (i, b) in $0.enumerated() { bytes[i] = b } }
            bytes[4] = 0; bytes[5] = 0
            withUnsafeBytes(of: UInt16(recordSize).littleEndian) { for (i, b) in $0.enumerated() { bytes[6 + i] = b } }
            for b in bytes {
                data.storeBytes(of: b, toByteOffset: Int(position % UInt64(dataSize)), as: UInt8.self)
                position += 1
            }
        }
        base.storeBytes(of: position, toByteOffset: RingDrainTests.dataHeadOffset, as: UInt64.self)
        base.storeBytes(of: tail, toByteOffset: RingDrainTests.dataTailOffset, as: UInt64.self)
        var ring = cpe_ring(base: base, mapped_len: pageSize + dataSize, data_size: dataSize, data_offset: pageSize)
        body(&ring)
    }

    func testADrainTakesAFullRingAsWholeRecordsWhateverThePageSize() {
        for pageSize in [4096, 16384, 65536] {
            let dataPages = 4, recordSize = 1000
            let records = pageSize * dataPages / recordSize   // as full as whole records make it
            // From the start of the data area, and across its end.
            for tail in [UInt64(0), UInt64(pageSize * dataPages - 3 * recordSize / 2)] {
                withFakeRing(pageSize: pageSize, dataPages: dataPages, tail: tail, records: records, recordSize: recordSize) { ring in
                    let drain = RingDrain(ringDataSizes: [ring.data_size])
                    XCTAssertGreaterThanOrEqual(drain.bufferBytes, pageSize * dataPages, "page size \(pageSize): the buffer holds the whole ring")
                    let bytes = drain.drain(&ring)
                    XCTAssertEqual(bytes.count, records * recordSize, "page size \(pageSize), tail \(tail): every byte in one drain")
                    var seen: [Int] = []
                    RingDrain.forEachRecord(in: bytes) { o, type, size in
                        XCTAssertEqual(type, 9)
                        XCTAssertEqual(size, recordSize, "page size \(pageSize): a whole record")
                        seen.append(Int(bytes[o + 8]))
                        // Every payload byte is the record's own (none cut, none from another).
                        XCTAssertTrue(bytes[(o + 8)..<(o + size)].allSatisfy { $0 == bytes[o + 8] })
                    }
                    XCTAssertEqual(seen, (0..<records).map { Int(UInt8(truncatingIfNeeded: $0)) }, "page size \(pageSize): in order, none split")
                    // The ring is empty afterwards: the tail reached the head.
                    XCTAssertEqual(ring.base.load(fromByteOffset: RingDrainTests.dataTailOffset, as: UInt64.self),
                                   ring.base.load(fromByteOffset: RingDrainTests.dataHeadOffset, as: UInt64.self))
                    XCTAssertEqual(drain.drain(&ring).count, 0)
                }
            }
        }
    }

    /// The drain buffer is the largest ring's, for rings of several sizes.
    func testTheBufferIsTheLargestRing() {
        XCTAssertEqual(RingDrain(ringDataSizes: [16384 * 4, 65536 * 8, 4096]).bufferBytes, 65536 * 8)
        XCTAssertEqual(RingDrain(ringDataSizes: []).bufferBytes, 1)
    }

    /// A record claiming more bytes than are left, or fewer than a header, ends the walk.
    func testRecordWalkStopsAtAnImpossibleSize() {
        var bytes = [UInt8](repeating: 0, count: 24)
        bytes[0] = 9; bytes[6] = 16           // a 16-byte record
        bytes[16] = 9; bytes[22] = 200        // then one claiming 200 of the 8 left
        var sizes: [Int] = []
        bytes.withUnsafeBytes { RingDrain.forEachRecord(in: $0) { _, _, size in sizes.append(size) } }
        XCTAssertEqual(sizes, [16])
        bytes[6] = 4                           // a record shorter than its header
        sizes = []
        bytes.withUnsafeBytes { RingDrain.forEachRecord(in: $0) { _, _, size in sizes.append(size) } }
        XCTAssertEqual(sizes, [])
    }
}
