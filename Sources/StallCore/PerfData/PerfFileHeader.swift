/// perf.data's file header (perf's `struct perf_file_header`, util/header.h), one type for
/// both directions: the recorder encodes it, the reader decodes it.
///
///     0  magic "PERFILE2"           8  header size (104; 16 in pipe mode)
///    16  attr entry size           24  attrs section {offset, size}
///    40  data section {offset, size}  56  event_types section (unused since perf 3.x)
///    72  feature bitmap (256 bits)
public struct PerfFileHeader: Equatable, Sendable {
    /// An {offset, size} pair (perf's `struct perf_file_section`).
    public struct Section: Equatable, Sendable {
        public var offset: UInt64
        public var size: UInt64
        public init(offset: UInt64, size: UInt64) { self.offset = offset; self.size = size }
    }

    public static let size = PerfData.headerSize
    /// A pipe-mode file's header: magic and size only; attrs and features are records.
    public static let pipeSize = 16

    /// Bytes per attrs entry: a perf_event_attr and its ids section.
    public var attrEntrySize: UInt64
    public var attrs: Section
    public var data: Section
    public var eventTypes = Section(offset: 0, size: 0)
    /// The feature bits (HEADER_*), four 64-bit words.
    public var featureBits: [UInt64] = [0, 0, 0, 0]

    public init(attrEntrySize: UInt64, attrs: Section, data: Section, features: [PerfData.Feature] = []) {
        self.attrEntrySize = attrEntrySize
        self.attrs = attrs
        self.data = data
        for f in features { featureBits[f.rawValue / 64] |= 1 << UInt64(f.rawValue % 64) }
    }

    public func hasFeature(bit: Int) -> Bool {
        bit >= 0 && bit < 256 && featureBits[bit / 64] & (1 << UInt64(bit % 64)) != 0
    }

    /// The feature bits set, in bit order (the order of the feature table's entries).
    public var featureBitsSet: [Int] { (0..<256).filter { hasFeature(bit: $0) } }

    public func encode() -> [UInt8] {
        var w = ByteWriter()
        w.u64(PerfData.magic)
        w.u64(UInt64(PerfFileHeader.size))
        w.u64(attrEntrySize)
        for s in [attrs, data, eventTypes] { w.u64(s.offset); w.u64(s.size) }
        for word in featureBits { w.u64(word) }
        return w.bytes
    }

    /// What the first bytes of a file say it is.
    public enum Kind: Equatable { case file(PerfFileHeader), pipe }

    /// Reads the header at the start of `r`: a whole header, or `.pipe` for a pipe-mode
    /// file. Every field is read through the bounds-checked reader.
    public static func decode(_ r: ByteReader) throws -> Kind {
        let count = r.bytes.count
        guard count >= 16, let magic = try? r.u64(0) else { throw PerfDataReader.Failure(message: "not a perf.data file: \(count) bytes, too short for a header") }
        if magic == PerfData.magic.byteSwapped { throw PerfDataReader.Failure(message: "big-endian perf.data files are not supported") }
        guard magic == PerfData.magic else { throw PerfDataReader.Failure(message: "not a perf.data file (no PERFILE2 magic at offset 0)") }
        let headerSize = try r.u64(8)
        if headerSize == UInt64(pipeSize) { return .pipe }
        guard headerSize >= UInt64(size), count >= size else {
            throw PerfDataReader.Failure(message: "perf.data header is \(headerSize) bytes, expected \(size) (truncated at offset \(count)?)")
        }
        var h = PerfFileHeader(attrEntrySize: try r.u64(16), attrs: Section(offset: try r.u64(24), size: try r.u64(32)),
                               data: Section(offset: try r.u64(40), size: try r.u64(48)))
        h.eventTypes = Section(offset: try r.u64(56), size: try r.u64(64))
        h.featureBits = try (0..<4).map { try r.u64(72 + 8 * $0) }
        return .file(h)
    }
}
