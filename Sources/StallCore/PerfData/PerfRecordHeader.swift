/// The 8 bytes every perf record starts with (`struct perf_event_header`): its type, misc
/// flags (the sample's privilege level in the low 3 bits) and size, the header included.
/// One type for the file reader, the ring drain and the record writer.
public struct PerfRecordHeader: Equatable, Sendable {
    public static let size = 8
    public var type: UInt32
    public var misc: UInt16
    /// The whole record's bytes, this header included.
    public var size: UInt16

    public init(type: UInt32, misc: UInt16, size: UInt16) { self.type = type; self.misc = misc; self.size = size }

    /// PERF_RECORD_MISC_KERNEL in the cpumode bits.
    public var isKernel: Bool { misc & 0x7 == 1 }

    public func encode() -> [UInt8] {
        var w = ByteWriter()
        w.u32(type); w.u16(misc); w.u16(size)
        return w.bytes
    }

    /// The header at `offset` when its 8 bytes lie before `end` (bounds-checked reads).
    public static func read(_ r: ByteReader, at offset: Int, end: Int) -> PerfRecordHeader? {
        guard offset <= end - size, let type = try? r.u32(offset), let misc = try? r.u16(offset + 4), let s = try? r.u16(offset + 6) else { return nil }
        return PerfRecordHeader(type: type, misc: misc, size: s)
    }

    /// The header at `offset` of raw memory (a ring's drained bytes) when it fits.
    public static func read(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> PerfRecordHeader? {
        guard offset >= 0, offset <= bytes.count - size else { return nil }
        return PerfRecordHeader(type: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self),
                                misc: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self),
                                size: bytes.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self))
    }
}
