import CPerfEvent
import StallCore

/// Empties perf ring buffers into one buffer as large as the largest ring, so a drain
/// always takes whole records: the kernel only publishes whole records (data_head moves
/// past a record once it is complete), and a buffer smaller than the ring would cut the
/// last one, leaving its rest for the next drain with a FINISHED_ROUND written between.
/// A ring is data_pages × the kernel's page size: 4, 16 or 64 KiB pages on arm64
/// kernels, so the size comes from the mapped ring, never from a constant page size.
final class RingDrain {
    let bufferBytes: Int
    private let buffer: UnsafeMutableRawPointer

    /// `ringDataSizes`: each mapped ring's data_size.
    init(ringDataSizes: [Int]) {
        bufferBytes = max(1, ringDataSizes.max() ?? 0)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferBytes, alignment: 8)
    }

    deinit { buffer.deallocate() }

    /// The records waiting in `ring` (freed in the ring as they are copied); valid until
    /// the next drain.
    func drain(_ ring: inout cpe_ring) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: buffer, count: cpe_ring_drain(&ring, buffer, bufferBytes))
    }

    /// Each record header in `bytes`: (offset, type, size), stopping at a record that
    /// claims fewer than 8 bytes or more than what is left.
    static func forEachRecord(in bytes: UnsafeRawBufferPointer, _ body: (_ offset: Int, _ type: UInt32, _ size: Int) -> Void) {
        var o = 0
        while let header = PerfRecordHeader.read(bytes, at: o) {
            let size = Int(header.size)
            if size < PerfRecordHeader.size || size > bytes.count - o { break }
            body(o, header.type, size)
            o += size
        }
    }
}
