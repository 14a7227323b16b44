/// One sample, kept compact: a file can hold millions.
public struct ProfileSample: Sendable {
    public var attr: Int32
    public var pid: Int32
    public var tid: Int32
    public var cpu: Int32
    /// PERF_SAMPLE_TIME (0 without it): the thread's name is the one it had then.
    public var time: UInt64
    public var ip: UInt64
    public var period: UInt64
    public var addr: UInt64
    public var dataPageSize: UInt64
    public var codePageSize: UInt64
    public var isKernel: Bool
    /// Range in PerfDataContents.callchainIPs (callers after the sampled frame).
    public var chainStart: Int32
    public var chainCount: Int32
    /// How many samples this one stands for (read with `merge`: identical samples are one).
    public var count: Int = 1
}

public struct MemoryMapping: Equatable, Sendable {
    public var pid: Int32
    public var start: UInt64
    public var end: UInt64
    public var pgoff: UInt64
    public var filename: String
    /// PERF_RECORD_MISC_MMAP_DATA: a data mapping (record -d, --call-graph dwarf), not code.
    public var isData = false
    /// When it was mapped (the record's sample_id_all time; 0 when the file has none, or
    /// for mappings synthesized at the start): samples before it are not in it.
    public var time: UInt64 = 0
    public init(pid: Int32, start: UInt64, end: UInt64, pgoff: UInt64, filename: String, isData: Bool = false, time: UInt64 = 0) {
        self.pid = pid; self.start = start; self.end = end; self.pgoff = pgoff; self.filename = filename; self.isData = isData; self.time = time
    }

    /// Whether a sample taken at `time` can be in this mapping (a time of 0 is unknown: yes).
    public func existed(at sampleTime: UInt64) -> Bool { MemoryMapping.existed(mappedAt: time, at: sampleTime) }

    /// The rule every lookup of mappings by time uses: a mapping made at `mappedAt` holds a
    /// sample taken at `sampleTime` from then on; either time 0 (not recorded, or a
    /// mapping synthesized at the start) holds always.
    public static func existed(mappedAt: UInt64, at sampleTime: UInt64) -> Bool {
        mappedAt == 0 || sampleTime == 0 || mappedAt <= sampleTime
    }
}

public struct PerfDataContents: Sendable {
    public init() {}
    public var attrs: [PerfFileAttr] = []
    /// The samples, or with `merge` the distinct ones (each with its count).
    public var samples: [ProfileSample] = []
    /// How many samples the file holds (merged ones counted each).
    public var sampleCount: Int { samples.reduce(0) { $0 &+ $1.count } }
    public var callchainIPs: [UInt64] = []
    /// In file order, so a later mapping of the same range replaces an earlier one.
    public var mappings: [MemoryMapping] = []
    public var comms: [Int32: String] = [:]
    /// child pid → parent pid (the child inherits the parent's mappings).
    public var forks: [Int32: Int32] = [:]
    /// COMM and FORK records per thread, in file order, for ThreadNames.
    public var threadEvents: [ThreadNames.Event] = []
    public var lostEvents: UInt64 = 0
    public var lostSamples: UInt64 = 0
    public var hostname: String?
    /// HEADER_ARCH: the recording machine's `uname -m` (x86_64, aarch64).
    public var arch: String?
    public var osRelease: String?
    public var perfVersion: String?
    public var cmdline: [String] = []
    /// BUILD_ID: the build id of each object as it was when recorded.
    public var buildIDs: [BuildIDEntry] = []
    public var recordCounts: [UInt32: Int] = [:]
    /// Where the data stopped being readable, and why; everything before it was read.
    public var damage: (offset: Int, message: String)?
    public var notes: [String] = []
    /// --call-graph dwarf files: how many user stacks were unwound (its note is said by report).
    public var userStacks = UserStackStatistics()
    /// arm64 frame-pointer samples whose leaf function's caller was taken from the link
    /// register (LeafFrameCaller.swift).
    public var leafCallersInserted = 0
}

/// Turns PERF_RECORD_COMPRESSED payloads into the records they hold (`perf record -z`:
/// zstd, one stream across the file). StallLinux provides it; the reader stays pure.
public protocol RecordDecompressor: AnyObject {
    func decompress(_ payload: UnsafeRawBufferPointer) throws -> [UInt8]
}

public enum PerfDataReader {
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The largest perf_event_attr read (the kernel's is 136 bytes today; a larger size
    /// is a newer ABI whose extra fields are skipped).
    static let maxAttrSize: UInt64 = 1 << 16

    /// Reads a perf.data file. Throws only when the header itself cannot be used; damage
    /// in the data section stops the reading there and is reported in `damage`.
    public static func read(_ bytes: [UInt8], progress: ((Double) -> Void)? = nil, decompressor: RecordDecompressor? = nil,
                            unwinder: UserStackUnwinder? = nil) throws -> PerfDataContents {
        try read(ByteStorage(bytes), progress: progress, decompressor: decompressor, unwinder: unwinder)
    }

    /// `callchains: false` reads call chains without keeping them (a flat report needs
    /// none: on a `-g` file they are most of the memory).
    /// `merge`: samples a report cannot tell apart are one sample with a count (and equal
    /// call chains are stored once): report's memory is the distinct samples, not the file.
    public static func read(_ bytes: ByteStorage, progress: ((Double) -> Void)? = nil, decompressor: RecordDecompressor? = nil,
                            callchains: Bool = true, unwinder: UserStackUnwinder? = nil, merge: Bool = false) throws -> PerfDataContents {
        let r = ByteReader(bytes)
        guard case .file(let header) = try PerfFileHeader.decode(r) else {
            return readPipe(r, progress: progress, decompressor: decompressor, unwinder: callchains ? unwinder : nil, merge: merge)
        }
        // Phases, in the order of perf's own reader (util/header.c, session.c): the header
        // (above), the attribute section, where the data is, the features after it, the records.
        var c = PerfDataContents()
        c.attrs = try readAttrs(r, header: header, notes: &c.notes)
        if (c.attrs.contains { $0.sampleType & PerfData.Sample.aux != 0 }) { c.notes.append("AUX samples are skipped") }
        let section = try dataSection(r, header: header, notes: &c.notes)
        let data = section.range
        if section.featuresFollow { readFeatures(r, header: header, tableAt: data.upperBound, into: &c) }
        var state = RecordState(attrs: c.attrs, decompressor: decompressor, unwinder: callchains ? unwinder : nil)
        state.keepCallchains = callchains
        if merge, let names = threadNames(r, data, attrs: c.attrs, pipe: false) { state.merger = SampleMerger(names: names) }
        if let unwinder = state.unwinder, c.attrs.contains(where: { $0.sampleType & PerfData.Sample.stackUser != 0 }),
           let side = sideBand(r, data, attrs: c.attrs, pipe: false) {
            unwinder.preload(mappings: side.mappings, forks: side.forks, buildIDs: c.buildIDs)
        }
        readRecords(r, data, state: &state, into: &c, pipe: false, progress: progress)
        if let claim = section.claimedPastEnd, c.damage == nil { c.damage = (bytes.count, claim) }
        finish(&c)
        return c
    }

    /// The attribute section: one perf_event_attr and its ids' (offset, size) per event.
    /// Throws when the section does not fit the file or holds no event.
    static func readAttrs(_ r: ByteReader, header: PerfFileHeader, notes: inout [String]) throws -> [PerfFileAttr] {
        let attrSize = header.attrEntrySize
        let attrsOffset = header.attrs.offset, attrsSize = header.attrs.size
        guard attrSize >= 64 + 16, attrSize <= maxAttrSize + 16, attrsSize % attrSize == 0,
              let attrsRange = r.range(offset: attrsOffset, size: attrsSize) else {
            throw Failure(message: "attribute section (offset \(attrsOffset), \(attrsSize) bytes of \(attrSize)-byte entries) does not fit the file of \(r.bytes.count) bytes")
        }
        var attrs: [PerfFileAttr] = []
        let entry = Int(attrSize)   // <= 65552 (checked above)
        for start in stride(from: attrsRange.lowerBound, to: attrsRange.upperBound, by: entry) {
            var a = try PerfFileAttr.parse(r, in: start..<(start + entry - 16))
            let idsOffset = try r.u64(start + entry - 16), idsSize = try r.u64(start + entry - 8)
            if let ids = r.range(offset: idsOffset, size: idsSize - idsSize % 8) {
                a.ids = stride(from: ids.lowerBound, to: ids.upperBound, by: 8).compactMap { try? r.u64($0) }
            } else {
                notes.append("the ids of event \(attrs.count) (offset \(idsOffset), \(idsSize) bytes) are outside the file: its samples cannot be told apart")
            }
            a.name = a.defaultName
            attrs.append(a)
        }
        guard !attrs.isEmpty else { throw Failure(message: "perf.data has no event attributes") }
        return attrs
    }

    /// Where the records are: the header's data section, or from its start to the end of
    /// the file when the size is 0 (a recording that was not finished) or runs past the
    /// end (a truncated file: `claimedPastEnd` says so). The features follow the data only
    /// when the section is whole.
    static func dataSection(_ r: ByteReader, header: PerfFileHeader, notes: inout [String]) throws
        -> (range: Range<Int>, featuresFollow: Bool, claimedPastEnd: String?) {
        let dataOffset = header.data.offset, dataSize = header.data.size
        guard let dataStart = r.range(offset: dataOffset, size: 0)?.lowerBound else {
            throw Failure(message: "the data section starts at offset \(dataOffset), past the end of the file (\(r.bytes.count) bytes)")
        }
        if dataSize == 0 {
            notes.append("the header's data size is 0 (the recording was not finished): reading to the end of the file")
            return (dataStart..<r.bytes.count, false, nil)
        }
        if let whole = r.range(offset: dataOffset, size: dataSize) { return (whole, true, nil) }
        return (dataStart..<r.bytes.count, false,
                "the header claims \(dataSize) bytes of data from offset \(dataOffset), but the file ends here (truncated)")
    }

    /// perf record -o - (pipe mode): a 16-byte header, then records only; the attrs,
    /// features and trace data are records of their own (PERF_RECORD_HEADER_*).
    static func readPipe(_ r: ByteReader, progress: ((Double) -> Void)?, decompressor: RecordDecompressor?, unwinder: UserStackUnwinder?,
                         merge: Bool = false) -> PerfDataContents {
        var c = PerfDataContents()
        var state = RecordState(attrs: [], decompressor: decompressor, unwinder: unwinder)
        if merge, let names = threadNames(r, 16..<r.bytes.count, attrs: [], pipe: true) { state.merger = SampleMerger(names: names) }
        readRecords(r, 16..<r.bytes.count, state: &state, into: &c, pipe: true, progress: progress)
        if c.attrs.isEmpty && c.damage == nil { c.damage = (16, "a pipe-mode perf.data without any event attribute record") }
        finish(&c)
        return c
    }

    /// What the record loop needs to attribute samples: which attr an id belongs to.
    /// What parsing a sample needs of its attr, without the attr's arrays and strings
    /// (copying those per sample was a tenth of the time: retain and release).
    struct SampleLayout {
        var sampleType: UInt64, readFormat: UInt64, sampleRegsUser: UInt64, sampleRegsIntr: UInt64
        var branchHWIndex: Bool, defaultPeriod: UInt64
        init(_ a: PerfFileAttr) {
            sampleType = a.sampleType; readFormat = a.readFormat; sampleRegsUser = a.sampleRegsUser; sampleRegsIntr = a.sampleRegsIntr
            branchHWIndex = a.branchSampleType & (1 << 17) != 0   // PERF_SAMPLE_BRANCH_HW_INDEX
            defaultPeriod = a.frequencyMode ? 1 : max(1, a.samplePeriodOrFrequency)
        }
    }

    struct RecordState {
        private(set) var attrByID: [UInt64: Int32] = [:]
        /// The same, scanned when short (a file has an id per event and CPU: hashing each
        /// sample's id cost more than comparing a few).
        private var idList: [(id: UInt64, attr: Int32)] = []
        var layouts: [SampleLayout] = []
        /// Records by type, for the common types without a dictionary update per record.
        var typeCounts = [Int](repeating: 0, count: 128)
        mutating func addIDs(_ ids: [UInt64], attr: Int32) {
            for id in ids { attrByID[id] = attr }
            idList = attrByID.count <= 32 ? attrByID.map { ($0.key, $0.value) } : []
        }
        func attr(ofID id: UInt64) -> Int32? {
            if !idList.isEmpty { for e in idList where e.id == id { return e.attr }; return nil }
            return attrByID[id]
        }
        var decompressor: RecordDecompressor?
        /// PERF_SAMPLE_READ: each counter's value at its previous sample.
        var lastReadValue: [UInt64: UInt64] = [:]
        var keepCallchains = true
        /// Unwinds --call-graph dwarf samples while they are read (nil: they are not).
        var unwinder: UserStackUnwinder?
        /// Merges samples a report cannot tell apart (nil: every sample is kept).
        var merger: SampleMerger?
        /// The start of a record the previous decompressed chunk ended inside, and where
        /// that chunk's COMPRESSED record is in the file.
        var pendingDecompressed: [UInt8] = []
        var pendingDecompressedAt = 0
        init(attrs: [PerfFileAttr], decompressor: RecordDecompressor? = nil, unwinder: UserStackUnwinder? = nil) {
            self.decompressor = decompressor
            self.unwinder = unwinder
            for (i, a) in attrs.enumerated() { addIDs(a.ids, attr: Int32(i)) }
            layouts = attrs.map(SampleLayout.init)
        }
    }

    /// `partialTail`: the data is one decompressed chunk, whose last record may continue in
    /// the next chunk (perf's compressor cuts its input anywhere): its start is returned
    /// instead of being damage.
    @discardableResult
    static func readRecords(_ r: ByteReader, _ data: Range<Int>, state: inout RecordState, into c: inout PerfDataContents,
                            pipe: Bool, progress: ((Double) -> Void)?, partialTail: Bool = false) -> Int? {
        var tail: Int? = nil
        // Typical samples are 40-100 bytes: reserve once instead of regrowing (and copying) the arrays.
        if state.merger == nil {
            c.samples.reserveCapacity(data.count / 96)
            if c.attrs.first.map({ $0.sampleType & PerfData.Sample.callchain != 0 }) ?? false { c.callchainIPs.reserveCapacity(data.count / 24) }
        }
        var o = data.lowerBound
        var nextProgress = o + (1 << 24), nextDiscard = o + (1 << 21)
        while o < data.upperBound {
            guard let header = PerfRecordHeader.read(r, at: o, end: data.upperBound) else {
                if partialTail { tail = o; break }
                c.damage = (o, "a record header is cut off at the end of the data (truncated file)")
                break
            }
            let type = header.type, misc = header.misc, size = Int(header.size)
            if size < 8 { c.damage = (o, "record of type \(type) claims \(size) bytes (corrupt)"); break }
            if size > data.upperBound - o {
                if partialTail { tail = o; break }
                c.damage = (o, "record of type \(type) claims \(size) bytes, past the end of the data (truncated file)")
                break
            }
            if type < 128 { state.typeCounts[Int(type)] += 1 } else { c.recordCounts[type, default: 0] += 1 }
            var next = o + size
            do {
                var f = try r.cursor((o + 8)..<(o + size))
                switch PerfData.RecordType(rawValue: type) {
                case .sample:
                    guard !state.layouts.isEmpty else { c.damage = (o, "a sample before any event attribute (corrupt)"); break }
                    let first = state.layouts[0]
                    var attrIndex: Int32 = 0
                    if state.layouts.count > 1 {
                        var probe = f
                        let id: UInt64?
                        if first.sampleType & PerfData.Sample.identifier != 0 { id = try probe.u64() } else { id = try sampleID(&probe, sampleType: first.sampleType) }
                        attrIndex = id.flatMap { state.attr(ofID: $0) } ?? -1
                        if attrIndex < 0 { c.damage = (o, "a sample names an event id no attribute has (corrupt)"); break }
                    }
                    try parseSample(&f, layout: state.layouts[Int(attrIndex)], attrIndex: attrIndex, kernel: header.isKernel, state: &state, into: &c)
                case .mmap:
                    let pid = Int32(bitPattern: try f.u32()); _ = try f.u32()
                    let start = try f.u64(), len = try f.u64(), pgoff = try f.u64()
                    c.mappings.append(MemoryMapping(pid: pid, start: start, end: start &+ len, pgoff: pgoff, filename: try f.restAsCString(),
                                                    isData: misc & PerfData.miscMmapData != 0,
                                                    time: trailerTime(r, recordEnd: o + size, attrs: c.attrs)))
                case .mmap2:
                    let pid = Int32(bitPattern: try f.u32()); _ = try f.u32()
                    let start = try f.u64(), len = try f.u64(), pgoff = try f.u64()
                    try f.skip(32)   // maj, min, ino, ino_generation (or build id), prot, flags
                    c.mappings.append(MemoryMapping(pid: pid, start: start, end: start &+ len, pgoff: pgoff, filename: try f.restAsCString(),
                                                    isData: misc & PerfData.miscMmapData != 0,
                                                    time: trailerTime(r, recordEnd: o + size, attrs: c.attrs)))
                case .comm:
                    let pid = Int32(bitPattern: try f.u32()), tid = Int32(bitPattern: try f.u32())
                    // The name, then (sample_id_all) the trailer: the string ends at its NUL.
                    let name = try f.restAsCString()
                    if pid == tid { c.comms[pid] = name }
                    c.threadEvents.append(.comm(tid: tid, time: trailerTime(r, recordEnd: o + size, attrs: c.attrs), name: name))
                case .fork:
                    let pid = Int32(bitPattern: try f.u32()), ppid = Int32(bitPattern: try f.u32())
                    let tid = Int32(bitPattern: try f.u32()), ptid = Int32(bitPattern: try f.u32())
                    let time = try f.u64()
                    if pid != ppid { c.forks[pid] = ppid }
                    c.threadEvents.append(.fork(tid: tid, parentTID: ptid, time: time))
                case .lost:
                    _ = try f.u64()
                    c.lostEvents &+= try f.u64()
                case .lostSamples:
                    c.lostSamples &+= try f.u64()
                case .compressed, .compressed2:
                    guard let decompressor = state.decompressor else {
                        c.damage = (o, "compressed records (perf record -z) need zstd: `perf inject -i IN -o OUT` writes them uncompressed")
                        break
                    }
                    // COMPRESSED2 says how many of its bytes are data (the rest aligns the record).
                    var payload = f.position..<f.end
                    if type == PerfData.RecordType.compressed2.rawValue { payload = try f.items(try f.u64(), of: 1) }
                    // A record cut at the end of the previous chunk continues in this one (perf
                    // carries the remainder over the same way: decomp_last_rem).
                    let records = state.pendingDecompressed + (try decompressor.decompress(UnsafeRawBufferPointer(rebasing: r.bytes.pointer[payload])))
                    let inner = ByteStorage(records)
                    let cut = readRecords(ByteReader(inner), 0..<inner.count, state: &state, into: &c, pipe: pipe, progress: nil, partialTail: true)
                    state.pendingDecompressed = cut.map { Array(records[$0...]) } ?? []
                    state.pendingDecompressedAt = o
                    if state.pendingDecompressed.count > 1 << 16 {   // a record is at most 64 KiB
                        c.damage = (o, "a compressed record's data ends in \(state.pendingDecompressed.count) bytes that are no whole record (corrupt)")
                    }
                    if let d = c.damage, d.offset != o { c.damage = (o, "in the records compressed at this offset, at \(d.offset) of \(inner.count) decompressed bytes: \(d.message)") }
                case .headerAttr where pipe:
                    // perf_event_attr (its own size field says how long), then the ids to the end.
                    var probe = f
                    _ = try probe.u32()
                    let declared = try probe.u32()
                    let attrBytes = try f.items(UInt64(declared == 0 ? 64 : declared), of: 1)
                    var a = try PerfFileAttr.parse(r, in: attrBytes)
                    while f.remaining >= 8 { a.ids.append(try f.u64()) }
                    a.name = a.defaultName
                    state.addIDs(a.ids, attr: Int32(c.attrs.count))
                    state.layouts.append(SampleLayout(a))
                    c.attrs.append(a)
                case .headerFeature where pipe:
                    let bit = try f.u64()
                    if bit < 256, let feature = PerfData.Feature(rawValue: Int(bit)) { PerfFeatureSection.decode(feature, r, f.position..<f.end, into: &c) }
                case .tracingData where pipe:
                    // The trace data follows the record, padded to 8 bytes.
                    let traceSize = UInt64(try f.u32())
                    let padded = (traceSize + 7) / 8 * 8
                    guard padded <= UInt64(data.upperBound - next) else {
                        c.damage = (o, "the trace data (\(traceSize) bytes) runs past the end of the data (truncated file)")
                        break
                    }
                    next += Int(padded)
                case .auxtrace:
                    // Its payload (u64 size first) follows the record.
                    let payload = try f.u64()
                    guard payload <= UInt64(data.upperBound - next) else {
                        c.damage = (o, "AUX trace data (\(payload) bytes) runs past the end of the data (truncated file)")
                        break
                    }
                    next += Int(payload)
                case .buildID where pipe:
                    c.buildIDs += BuildIDEntry.parse(r, o..<(o + size))
                case .eventUpdate where pipe:
                    // PERF_EVENT_UPDATE__NAME (1): the event's name.
                    let kind = try f.u64(), id = try f.u64()
                    if kind == 1, let i = state.attr(ofID: id) { c.attrs[Int(i)].name = try f.restAsCString() }
                default:
                    break
                }
            } catch let e as ByteReader.OutOfBounds {
                c.damage = (o, "record of type \(type) is shorter than its fields (a read of \(e.needed) bytes at offset \(e.offset))")
            } catch {
                c.damage = (o, "record of type \(type): \(error)")
            }
            if c.damage != nil { break }
            o = next
            if o >= nextDiscard {
                // What is read is not read again: a mapped file's pages can go (memory).
                r.bytes.discard(before: o)
                nextDiscard = o + (1 << 21)
            }
            if o >= nextProgress {
                progress?(Double(o - data.lowerBound) / Double(max(1, data.count)))
                nextProgress = o + (1 << 24)
            }
        }
        // The last compressed chunk ended inside a record: the file ends there.
        if !partialTail, !state.pendingDecompressed.isEmpty, c.damage == nil {
            c.damage = (state.pendingDecompressedAt, "the compressed records end inside a record (\(state.pendingDecompressed.count) bytes of it; truncated file)")
            state.pendingDecompressed = []
        }
        // Counted in an array while reading (no dictionary update per record).
        for (type, n) in state.typeCounts.enumerated() where n > 0 { c.recordCounts[UInt32(type), default: 0] += n }
        state.typeCounts = [Int](repeating: 0, count: 128)
        return tail
    }

    /// The first pass of a `--call-graph dwarf` file: every mapping and fork of the
    /// recording, so the unwinder knows a mapping whose record comes after a sample in the
    /// file (records of different CPUs interleave within a round: an exec's MMAP2 can follow
    /// the new program's first samples). nil for compressed records (not decompressed twice).
    static func sideBand(_ r: ByteReader, _ data: Range<Int>, attrs: [PerfFileAttr], pipe: Bool) -> (mappings: [MemoryMapping], forks: [Int32: Int32])? {
        headerPass(r, data, attrs: attrs, pipe: pipe, reading: [.mmap, .mmap2, .fork]).map { ($0.mappings, $0.forks) }
    }

    /// The first pass when samples are merged: every thread's names over the recording
    /// (COMM and FORK records; samples skipped). nil for compressed records, which are
    /// then read without merging rather than decompressed twice.
    static func threadNames(_ r: ByteReader, _ data: Range<Int>, attrs: [PerfFileAttr], pipe: Bool) -> ThreadNames? {
        headerPass(r, data, attrs: attrs, pipe: pipe, reading: [.comm, .fork]).map { ThreadNames($0.threadEvents) }
    }

    /// A pass over the records that looks only at their headers and reads the few records
    /// of the kinds asked for (and, in a pipe, the attrs their trailers are read with).
    /// nil for compressed records.
    static func headerPass(_ r: ByteReader, _ data: Range<Int>, attrs: [PerfFileAttr], pipe: Bool,
                           reading kinds: Set<PerfData.RecordType>) -> PerfDataContents? {
        var c = PerfDataContents()
        c.attrs = attrs
        var state = RecordState(attrs: attrs)
        var o = data.lowerBound, nextDiscard = o + (1 << 21)
        while let header = PerfRecordHeader.read(r, at: o, end: data.upperBound), header.size >= 8, Int(header.size) <= data.upperBound - o {
            let size = Int(header.size)
            if let kind = PerfData.RecordType(rawValue: header.type) {
                if kind == .compressed || kind == .compressed2 { return nil }
                if kinds.contains(kind) || kind == .headerAttr {
                    readRecords(r, o..<(o + size), state: &state, into: &c, pipe: pipe, progress: nil)
                }
            }
            o += size
            // What is read is not read again: a mapped file's pages can go (memory).
            if o >= nextDiscard { r.bytes.discard(before: o); nextDiscard = o + (1 << 21) }
        }
        return c
    }

    /// Records of another file that continue `c`: `perf record --threads` writes one
    /// `data.N` per thread, records only, beside the header file. Damage names the file.
    public static func appendRecords(from bytes: ByteStorage, named name: String, into c: inout PerfDataContents,
                                     decompressor: RecordDecompressor? = nil, unwinder: UserStackUnwinder? = nil) {
        var state = RecordState(attrs: c.attrs, decompressor: decompressor, unwinder: unwinder)
        readRecords(ByteReader(bytes), 0..<bytes.count, state: &state, into: &c, pipe: false, progress: nil)
        if let d = c.damage { c.damage = (d.offset, "in \(name): \(d.message)") }
    }


    /// What both layouts (file and pipe) do once the attrs and records are read.
    static func finish(_ c: inout PerfDataContents) {
        dropUnusedDummy(&c)
    }

    /// perf adds a "dummy" event (software, config 9) for side-band records; it never samples.
    static func dropUnusedDummy(_ c: inout PerfDataContents) {
        let dummy = c.attrs.indices.filter { c.attrs[$0].type == 1 && c.attrs[$0].config == 9 }
        guard !dummy.isEmpty, !c.samples.contains(where: { dummy.contains(Int($0.attr)) }) else { return }
        let keep = c.attrs.indices.filter { !dummy.contains($0) }
        var remap = [Int32](repeating: -1, count: c.attrs.count)
        for (new, old) in keep.enumerated() { remap[old] = Int32(new) }
        c.attrs = keep.map { c.attrs[$0] }
        for i in c.samples.indices { c.samples[i].attr = remap[Int(c.samples[i].attr)] }
    }

    /// The time in a non-sample record's sample_id_all trailer ({tid}, {time}, {id},
    /// {stream_id}, {cpu}, {identifier} as the first attr's sample_type has them), or 0.
    static func trailerTime(_ r: ByteReader, recordEnd: Int, attrs: [PerfFileAttr]) -> UInt64 {
        guard let a = attrs.first, a.sampleIDAll, a.sampleType & PerfData.Sample.time != 0 else { return 0 }
        let t = a.sampleType
        let words = [PerfData.Sample.tid, PerfData.Sample.time, PerfData.Sample.id, PerfData.Sample.streamID, PerfData.Sample.cpu, PerfData.Sample.identifier]
            .filter { t & $0 != 0 }.count
        let offset = recordEnd - 8 * words + (t & PerfData.Sample.tid != 0 ? 8 : 0)
        return (try? r.u64(offset)) ?? 0
    }

    /// PERF_SAMPLE_ID's value, walking the fields before it.
    static func sampleID(_ f: inout FieldCursor, sampleType t: UInt64) throws -> UInt64? {
        guard t & PerfData.Sample.id != 0 else { return nil }
        for bit in [PerfData.Sample.identifier, PerfData.Sample.ip, PerfData.Sample.tid, PerfData.Sample.time, PerfData.Sample.addr] where t & bit != 0 {
            try f.skip(8)
        }
        return try f.u64()
    }

    /// --call-graph dwarf: the unwound user frames follow the kernel's chain (replacing
    /// any user frames the kernel gave), the sampled frame itself not repeated.
    static func unwindUserStack(_ s: inout ProfileSample, registers: Range<Int>, stack: Range<Int>, mask: UInt64, reader: ByteReader,
                                replacingFrom userChainStart: Int?, state: inout RecordState, into c: inout PerfDataContents) {
        c.userStacks.stacks += 1
        guard let unwinder = state.unwinder else { c.userStacks.notUnwound = true; return }
        let values = userRegisterValues(registers, mask: mask, reader: reader)
        let result = reader.bytes.withRawBytes(stack) { bytes in
            unwinder.unwind(UserStackSample(pid: s.pid, tid: s.tid, arch: c.arch, registers: values, stack: bytes, time: s.time), contents: c)
        }
        var frames = result.frames[...]
        // The first frame is the user pc: for a user sample, the sampled frame itself.
        if !s.isKernel, frames.first == s.ip { frames = frames.dropFirst() }
        if result.frames.count >= 2 {
            c.userStacks.unwound += 1
        } else {
            c.userStacks.stopReasons[result.stopped ?? "no caller found", default: 0] += 1
        }
        if frames.isEmpty { return }
        if let cut = userChainStart, cut >= Int(s.chainStart) {
            s.chainCount -= Int32(truncatingIfNeeded: c.callchainIPs.count - cut)
            c.callchainIPs.removeSubrange(cut...)
        }
        guard c.callchainIPs.count <= Int(Int32.max) - frames.count else { return }
        c.callchainIPs.append(contentsOf: frames)
        s.chainCount += Int32(frames.count)
    }

    static func parseSample(_ f: inout FieldCursor, layout attr: SampleLayout, attrIndex: Int32, kernel: Bool, state: inout RecordState,
                            into c: inout PerfDataContents) throws {
        let t = attr.sampleType
        var userChainStart: Int? = nil   // where PERF_CONTEXT_USER's frames begin in callchainIPs
        var leafCallerSlot: (pc: UInt64, at: Int)? = nil   // the user pc, and where its caller would go
        var s = ProfileSample(attr: attrIndex, pid: -1, tid: -1, cpu: -1, time: 0, ip: 0, period: attr.defaultPeriod,
                              addr: 0, dataPageSize: 0, codePageSize: 0, isKernel: kernel, chainStart: Int32(truncatingIfNeeded: c.callchainIPs.count), chainCount: 0)
        if t & PerfData.Sample.identifier != 0 { try f.skip(8) }
        if t & PerfData.Sample.ip != 0 { s.ip = try f.u64() }
        if t & PerfData.Sample.tid != 0 {
            s.pid = Int32(bitPattern: try f.u32())
            s.tid = Int32(bitPattern: try f.u32())
        }
        if t & PerfData.Sample.time != 0 { s.time = try f.u64() }
        if t & PerfData.Sample.addr != 0 { s.addr = try f.u64() }
        if t & PerfData.Sample.id != 0 { try f.skip(8) }
        if t & PerfData.Sample.streamID != 0 { try f.skip(8) }
        if t & PerfData.Sample.cpu != 0 { s.cpu = Int32(bitPattern: try f.u32()); try f.skip(4) }
        if t & PerfData.Sample.period != 0 { s.period = try f.u64() }
        var readValues: [(value: UInt64, id: UInt64)] = []
        if t & PerfData.Sample.read != 0 {
            // The values' layout follows read_format (perf_event.h: struct read_format).
            let rf = attr.readFormat
            let times = (rf & ReadFormat.totalTimeEnabled != 0 ? 8 : 0) + (rf & ReadFormat.totalTimeRunning != 0 ? 8 : 0)
            let perValue = 8 * (1 + (rf & ReadFormat.id != 0 ? 1 : 0) + (rf & ReadFormat.lost != 0 ? 1 : 0))
            if rf & ReadFormat.group != 0 {
                let nr = try f.u64()
                try f.skip(times)
                let values = try f.items(nr, of: perValue)
                if rf & ReadFormat.id != 0 {
                    for v in stride(from: values.lowerBound, to: values.upperBound, by: perValue) {
                        readValues.append((try f.reader.u64(v), try f.reader.u64(v + 8)))
                    }
                }
            } else {
                let value = try f.u64()
                try f.skip(times)
                if rf & ReadFormat.id != 0 { readValues.append((value, try f.u64())) } else { try f.skip(perValue - 8) }
            }
        }
        if t & PerfData.Sample.callchain != 0 && !state.keepCallchains {
            _ = try f.items(try f.u64(), of: 8)
        } else if t & PerfData.Sample.callchain != 0 {
            let frames = try f.items(try f.u64(), of: 8)
            // Samples keep 32-bit positions into the shared call chain array (memory: a file holds millions).
            guard c.callchainIPs.count <= Int(Int32.max) - frames.count / 8 else { throw Failure(message: "more than 2^31 call chain entries") }
            var skippedSelf = false
            var awaitingUserPC = false
            for p in stride(from: frames.lowerBound, to: frames.upperBound, by: 8) {
                let ip = try f.reader.u64(p)
                if ip >= PerfData.contextMarkerFloor {
                    if ip == PerfData.contextUser, userChainStart == nil { userChainStart = c.callchainIPs.count; awaitingUserPC = true }
                    continue
                }
                // The first real frame is the sampled IP itself.
                if !skippedSelf && ip == s.ip {
                    skippedSelf = true
                } else {
                    skippedSelf = true
                    c.callchainIPs.append(ip)
                    s.chainCount += 1
                }
                if awaitingUserPC { leafCallerSlot = (pc: ip, at: c.callchainIPs.count); awaitingUserPC = false }
            }
        }
        if t & PerfData.Sample.raw != 0 { try f.skip(Int(try f.u32())) }
        if t & PerfData.Sample.branchStack != 0 {
            let nr = try f.u64()
            if attr.branchHWIndex { try f.skip(8) }
            _ = try f.items(nr, of: 24)
        }
        var userRegisters: Range<Int>? = nil
        if t & PerfData.Sample.regsUser != 0, try f.u64() != 0 {   // abi: 0 = none (a kernel thread)
            userRegisters = try f.items(UInt64(attr.sampleRegsUser.nonzeroBitCount), of: 8)
        }
        var userStack: Range<Int>? = nil
        if t & PerfData.Sample.stackUser != 0 {
            let size = try f.u64()
            let copy = try f.items(size, of: 1)
            if size > 0 {
                let used = try f.u64()   // dyn_size: how much of the copy is the stack
                userStack = copy.lowerBound..<(copy.lowerBound + Int(min(used, size)))   // size fit, so min(used, size) does
            }
        }
        if t & (PerfData.Sample.weight | PerfData.Sample.weightStruct) != 0 { try f.skip(8) }
        if t & PerfData.Sample.dataSrc != 0 { try f.skip(8) }
        if t & PerfData.Sample.transaction != 0 { try f.skip(8) }
        if t & PerfData.Sample.regsIntr != 0 { if try f.u64() != 0 { try f.skip(8 * attr.sampleRegsIntr.nonzeroBitCount) } }
        if t & PerfData.Sample.physAddr != 0 { try f.skip(8) }
        if t & PerfData.Sample.cgroup != 0 { try f.skip(8) }
        if t & PerfData.Sample.dataPageSize != 0 { s.dataPageSize = try f.u64() }
        if t & PerfData.Sample.codePageSize != 0 { s.codePageSize = try f.u64() }
        if s.ip >= 0xFFFF_8000_0000_0000 { s.isKernel = true }
        if t & PerfData.Sample.stackUser != 0, state.keepCallchains, let registers = userRegisters, let stack = userStack {
            unwindUserStack(&s, registers: registers, stack: stack, mask: attr.sampleRegsUser, reader: f.reader,
                            replacingFrom: userChainStart, state: &state, into: &c)
        } else if state.keepCallchains, let registers = userRegisters, let slot = leafCallerSlot {
            insertLeafFrameCaller(&s, pc: slot.pc, at: slot.at, registers: registers, mask: attr.sampleRegsUser, reader: f.reader, state: &state, into: &c)
        }
        if state.merger != nil { state.merger!.shareChain(&s, &c.callchainIPs) }
        guard !readValues.isEmpty else { append(s, &state, &c); return }
        // PERF_SAMPLE_READ (leader sampling, {a,b}:S): as perf delivers it, each counter's
        // increase since its previous sample is a sample of that counter at this IP; no
        // increase, no sample.
        for (value, id) in readValues {
            guard let member = state.attr(ofID: id) else { continue }
            let delta = value &- (state.lastReadValue[id] ?? 0)
            state.lastReadValue[id] = value
            guard delta != 0 else { continue }
            var m = s
            m.attr = member
            m.period = delta
            append(m, &state, &c)
        }
    }

    @inline(__always) static func append(_ s: ProfileSample, _ state: inout RecordState, _ c: inout PerfDataContents) {
        if state.merger != nil { state.merger!.add(s, to: &c.samples) } else { c.samples.append(s) }
    }

    /// The feature sections: a table of (offset, size) pairs right after the data, one
    /// per bit set in the header's feature bitmap, in bit order.
    static func readFeatures(_ r: ByteReader, header: PerfFileHeader, tableAt tableOffset: Int, into c: inout PerfDataContents) {
        for (k, bit) in header.featureBitsSet.enumerated() {
            guard let entry = r.range(offset: UInt64(tableOffset) + 16 * UInt64(k), size: 16) else {
                c.notes.append("the feature table is cut off (truncated file)")
                return
            }
            let off = (try? r.u64(entry.lowerBound)) ?? 0, size = (try? r.u64(entry.lowerBound + 8)) ?? 0
            guard let feature = PerfData.Feature(rawValue: bit) else { continue }
            guard size > 0, let section = r.range(offset: off, size: size) else {
                if size > 0 { c.notes.append("the \(feature) header section (offset \(off), \(size) bytes) is outside the file; skipped") }
                continue
            }
            PerfFeatureSection.decode(feature, r, section, into: &c)
        }
    }
}
