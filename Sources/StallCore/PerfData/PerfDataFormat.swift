/// perf.data, as tools/perf/Documentation/perf.data-file-format.txt and
/// include/uapi/linux/perf_event.h describe it.
public enum PerfData {
    /// "PERFILE2" read as a little-endian u64.
    public static let magic: UInt64 = 0x32454C4946524550
    public static let headerSize = 104

    public enum RecordType: UInt32 {
        case mmap = 1, lost = 2, comm = 3, exit = 4, throttle = 5, unthrottle = 6, fork = 7, read = 8, sample = 9, mmap2 = 10
        case aux = 11, itraceStart = 12, lostSamples = 13, switchEvent = 14, switchCPUWide = 15, namespaces = 16, ksymbol = 17, bpfEvent = 18
        case cgroup = 19, textPoke = 20, auxOutputHardwareID = 21
        case headerAttr = 64, headerEventType = 65, tracingData = 66, buildID = 67, finishedRound = 68, idIndex = 69
        case auxtraceInfo = 70, auxtrace = 71, auxtraceError = 72, threadMap = 73, cpuMap = 74, statConfig = 75, stat = 76, statRound = 77
        case eventUpdate = 78, timeConv = 79, headerFeature = 80, compressed = 81, finishedInit = 82, compressed2 = 83
    }

    /// Feature bits (enum HEADER_* in tools/perf/util/header.h).
    public enum Feature: Int, CaseIterable, Sendable {
        case tracingData = 1, buildID = 2, hostname = 3, osRelease = 4, version = 5, arch = 6, nrCPUs = 7, cpuDesc = 8, cpuID = 9
        case totalMemory = 10, cmdline = 11, eventDesc = 12, cpuTopology = 13, numaTopology = 14, branchStack = 15, pmuMappings = 16
        case groupDesc = 17, auxtrace = 18, stat = 19, cache = 20, sampleTime = 21, memTopology = 22, clockID = 23, dirFormat = 24
        case bpfProgInfo = 25, bpfBTF = 26, compressed = 27, cpuPMUCaps = 28, clockData = 29, hybridTopology = 30, pmuCaps = 31
    }

    /// perf_event_attr.sample_type bits.
    public enum Sample {
        public static let ip: UInt64 = 1 << 0, tid: UInt64 = 1 << 1, time: UInt64 = 1 << 2, addr: UInt64 = 1 << 3
        public static let read: UInt64 = 1 << 4, callchain: UInt64 = 1 << 5, id: UInt64 = 1 << 6, cpu: UInt64 = 1 << 7
        public static let period: UInt64 = 1 << 8, streamID: UInt64 = 1 << 9, raw: UInt64 = 1 << 10, branchStack: UInt64 = 1 << 11
        public static let regsUser: UInt64 = 1 << 12, stackUser: UInt64 = 1 << 13, weight: UInt64 = 1 << 14, dataSrc: UInt64 = 1 << 15
        public static let identifier: UInt64 = 1 << 16, transaction: UInt64 = 1 << 17, regsIntr: UInt64 = 1 << 18, physAddr: UInt64 = 1 << 19
        public static let aux: UInt64 = 1 << 20, cgroup: UInt64 = 1 << 21, dataPageSize: UInt64 = 1 << 22, codePageSize: UInt64 = 1 << 23
        public static let weightStruct: UInt64 = 1 << 24
    }

    /// perf_event_attr's flag bits, as the kernel lays its bitfields out in the u64 after
    /// read_format (include/uapi/linux/perf_event.h): what a perf.data attr holds, and the
    /// numbering of the C layer's CPE_* constants.
    public enum AttrFlag {
        public static let disabled: UInt64 = 1 << 0, inherit: UInt64 = 1 << 1, pinned: UInt64 = 1 << 2, exclusive: UInt64 = 1 << 3
        public static let excludeUser: UInt64 = 1 << 4, excludeKernel: UInt64 = 1 << 5, excludeHV: UInt64 = 1 << 6, excludeIdle: UInt64 = 1 << 7
        public static let mmap: UInt64 = 1 << 8, comm: UInt64 = 1 << 9, freq: UInt64 = 1 << 10, inheritStat: UInt64 = 1 << 11
        public static let enableOnExec: UInt64 = 1 << 12, task: UInt64 = 1 << 13, watermark: UInt64 = 1 << 14
        /// precise_ip is two bits (15-16), not a flag.
        public static let mmapData: UInt64 = 1 << 17, sampleIDAll: UInt64 = 1 << 18, excludeHost: UInt64 = 1 << 19
        public static let excludeGuest: UInt64 = 1 << 20, excludeCallchainKernel: UInt64 = 1 << 21, excludeCallchainUser: UInt64 = 1 << 22
        public static let mmap2: UInt64 = 1 << 23, commExec: UInt64 = 1 << 24
    }

    /// Callchain context markers (PERF_CONTEXT_*): not addresses.
    public static let contextMarkerFloor: UInt64 = 0xFFFF_FFFF_FFFF_F000
    public static let contextKernel: UInt64 = 0xFFFF_FFFF_FFFF_FF80   // (u64)-128
    /// PERF_RECORD_MISC_MMAP_DATA in an mmap record's misc: not executable.
    public static let miscMmapData: UInt16 = 0x2000
    public static let contextUser: UInt64 = 0xFFFF_FFFF_FFFF_FE00     // (u64)-512
}

/// Little-endian byte building.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { for i in 0..<2 { bytes.append(UInt8((v >> (8 * UInt16(i))) & 0xff)) } }
    public mutating func u32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8((v >> (8 * UInt32(i))) & 0xff)) } }
    public mutating func u64(_ v: UInt64) { for i in 0..<8 { bytes.append(UInt8((v >> (8 * UInt64(i))) & 0xff)) } }
    public mutating func append(_ b: [UInt8]) { bytes += b }
    public mutating func pad(to alignment: Int) { while bytes.count % alignment != 0 { bytes.append(0) } }
    /// perf_header_string: u32 len (padded, NUL included), then the string.
    public mutating func headerString(_ s: String) {
        var b = Array(s.utf8) + [0]
        while b.count % 8 != 0 { b.append(0) }
        u32(UInt32(b.count))
        bytes += b
    }
}

/// Bytes to read from: an array, or memory someone else owns (a mapped file) for the
/// lifetime of the reader.
public final class ByteStorage: @unchecked Sendable {
    public let pointer: UnsafeRawBufferPointer
    private let release: (() -> Void)?
    public init(_ bytes: [UInt8]) {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 8)
        bytes.withUnsafeBytes { if let base = $0.baseAddress { copy.baseAddress!.copyMemory(from: base, byteCount: bytes.count) } }
        pointer = UnsafeRawBufferPointer(start: copy.baseAddress, count: bytes.count)
        release = { copy.deallocate() }
        discardBefore = nil
    }
    /// For mapped files: gives back the pages before an offset (the reader is past them).
    private let discardBefore: ((Int) -> Void)?
    public init(pointer: UnsafeRawBufferPointer, release: @escaping () -> Void, discardBefore: ((Int) -> Void)? = nil) {
        self.pointer = pointer
        self.release = release
        self.discardBefore = discardBefore
    }
    public func discard(before offset: Int) { discardBefore?(offset) }
    deinit { release?() }
    public var count: Int { pointer.count }
    public subscript(i: Int) -> UInt8 { pointer[i] }
    public subscript(r: Range<Int>) -> UnsafeRawBufferPointer.SubSequence { pointer[r] }
    /// The bytes of a range already checked against the storage (a FieldCursor's), without a copy.
    public func withRawBytes<T>(_ r: Range<Int>, _ body: (UnsafeRawBufferPointer) -> T) -> T { body(UnsafeRawBufferPointer(rebasing: pointer[r])) }
}

/// Little-endian reads of untrusted bytes that never trap.
///
/// Overflow-safe by construction: offsets and lengths that come from the file are
/// UInt64s, and they become Ints only through `range(offset:size:)` or a `FieldCursor`,
/// which compare them with the bytes there are in UInt64 first. Code that reads a file
/// format goes through these and does no arithmetic of its own on a value it read.
public struct ByteReader {
    public let bytes: ByteStorage
    public init(_ bytes: [UInt8]) { self.bytes = ByteStorage(bytes) }
    public init(_ storage: ByteStorage) { self.bytes = storage }

    /// A read that did not fit: at `offset`, `needed` bytes (as the file claimed them).
    public struct OutOfBounds: Error, Equatable { public var offset: Int; public var needed: UInt64 }

    @inline(__always) func check(_ o: Int, _ n: Int) throws {
        if o < 0 || n < 0 || o > bytes.count - n { throw OutOfBounds(offset: o, needed: UInt64(max(n, 0))) }
    }
    // Bounds are checked first; the loads themselves are unaligned little-endian reads.
    public func u8(_ o: Int) throws -> UInt8 { try check(o, 1); return bytes[o] }
    public func u16(_ o: Int) throws -> UInt16 {
        try check(o, 2)
        return UInt16(littleEndian: bytes.pointer.loadUnaligned(fromByteOffset: o, as: UInt16.self))
    }
    public func u32(_ o: Int) throws -> UInt32 {
        try check(o, 4)
        return UInt32(littleEndian: bytes.pointer.loadUnaligned(fromByteOffset: o, as: UInt32.self))
    }
    public func u64(_ o: Int) throws -> UInt64 {
        try check(o, 8)
        return UInt64(littleEndian: bytes.pointer.loadUnaligned(fromByteOffset: o, as: UInt64.self))
    }

    /// The bytes a file's (offset, size) pair names, or nil when they are not all there.
    public func range(offset: UInt64, size: UInt64) -> Range<Int>? {
        let count = UInt64(bytes.count)
        guard offset <= count, size <= count - offset else { return nil }
        return Int(offset)..<Int(offset + size)
    }

    /// A NUL-terminated string inside [o, end).
    public func cString(_ o: Int, end: Int) throws -> String {
        guard end >= o else { throw OutOfBounds(offset: o, needed: 0) }
        try check(o, end - o)
        var e = o
        while e < end, bytes[e] != 0 { e += 1 }
        return String(decoding: bytes[o..<e], as: UTF8.self)
    }

    public func cursor(_ range: Range<Int>) throws -> FieldCursor {
        try check(range.lowerBound, range.count)
        return FieldCursor(reader: self, position: range.lowerBound, end: range.upperBound)
    }
}

/// Reads consecutive fields of one record or section, never past its end. Counts and
/// lengths read from the file are checked against what remains before they are used.
public struct FieldCursor {
    public let reader: ByteReader
    public private(set) var position: Int
    public let end: Int

    public var remaining: Int { end - position }

    @inline(__always) mutating func take(_ n: Int) throws -> Int {
        guard n >= 0, n <= end - position else { throw ByteReader.OutOfBounds(offset: position, needed: UInt64(max(n, 0))) }
        defer { position += n }
        return position
    }
    public mutating func u16() throws -> UInt16 { try reader.u16(try take(2)) }
    public mutating func u32() throws -> UInt32 { try reader.u32(try take(4)) }
    public mutating func u64() throws -> UInt64 { try reader.u64(try take(8)) }
    public mutating func skip(_ n: Int) throws { _ = try take(n) }

    /// `count` items of `size` bytes (a count the file gave): their byte range, consumed.
    public mutating func items(_ count: UInt64, of size: Int) throws -> Range<Int> {
        let (bytes, overflow) = count.multipliedReportingOverflow(by: UInt64(size))
        guard !overflow, bytes <= UInt64(remaining) else {
            throw ByteReader.OutOfBounds(offset: position, needed: overflow ? .max : bytes)
        }
        let start = try take(Int(bytes))
        return start..<position
    }
    /// A count the file gave, as an Int, when that many `size`-byte items fit in what remains.
    public mutating func count(_ value: UInt64, of size: Int) throws -> Int {
        let r = try items(value, of: size)
        return r.count / max(size, 1)
    }

    /// perf_header_string: u32 length (NUL and padding included), then the bytes.
    public mutating func headerString() throws -> String {
        let r = try items(UInt64(try u32()), of: 1)
        return try reader.cString(r.lowerBound, end: r.upperBound)
    }
    /// The rest as a NUL-terminated string.
    public mutating func restAsCString() throws -> String {
        defer { position = end }
        return try reader.cString(position, end: end)
    }
}

/// The fields of a perf_event_attr stallstat reads back (offsets from perf_event.h).
public struct PerfFileAttr: Equatable, Sendable {
    public var type: UInt32
    public var config: UInt64
    public var samplePeriodOrFrequency: UInt64
    public var sampleType: UInt64
    public var readFormat: UInt64
    public var flags: UInt64
    public var config1: UInt64
    public var branchSampleType: UInt64
    public var sampleRegsUser: UInt64
    public var sampleRegsIntr: UInt64
    public var ids: [UInt64]
    public var name: String

    public var frequencyMode: Bool { flags & PerfData.AttrFlag.freq != 0 }
    public var sampleIDAll: Bool { flags & PerfData.AttrFlag.sampleIDAll != 0 }

    /// The attr in `range` (its size as the file gives it: 64 bytes for the oldest ABI,
    /// fields beyond the size read as 0, as the kernel does).
    public static func parse(_ r: ByteReader, in range: Range<Int>) throws -> PerfFileAttr {
        guard range.count >= 48 else { throw ByteReader.OutOfBounds(offset: range.lowerBound, needed: 48) }
        let o = range.lowerBound, size = range.count
        return PerfFileAttr(type: try r.u32(o), config: try r.u64(o + 8), samplePeriodOrFrequency: try r.u64(o + 16),
                            sampleType: try r.u64(o + 24), readFormat: try r.u64(o + 32), flags: try r.u64(o + 40),
                            config1: size >= 64 ? try r.u64(o + 56) : 0, branchSampleType: size >= 80 ? try r.u64(o + 72) : 0,
                            sampleRegsUser: size >= 88 ? try r.u64(o + 80) : 0, sampleRegsIntr: size >= 104 ? try r.u64(o + 96) : 0,
                            ids: [], name: "")
    }

    /// The name perf gives an attr with no EVENT_DESC.
    public var defaultName: String {
        switch (type, config) {
        case (0, 0): return "cycles"
        case (0, 1): return "instructions"
        case (1, 0): return "cpu-clock"
        case (1, 1): return "task-clock"
        case (1, 2): return "page-faults"
        default: return type == 4 ? "r" + String(config, radix: 16) : "event type \(type) config 0x\(String(config, radix: 16))"
        }
    }
}
