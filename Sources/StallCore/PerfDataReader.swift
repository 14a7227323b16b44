/// One sample, kept compact: a file can hold millions.
public struct ProfileSample: Sendable {
    public var attr: Int32
    public var pid: Int32
    public var tid: Int32
    public var cpu: Int32
    public var ip: UInt64
    public var period: UInt64
    public var addr: UInt64
    public var dataPageSize: UInt64
    public var codePageSize: UInt64
    public var isKernel: Bool
    /// Range in PerfDataContents.callchainIPs (callers after the sampled frame).
    public var chainStart: Int32
    public var chainCount: Int32
}

public struct MemoryMapping: Equatable, Sendable {
    public var pid: Int32
    public var start: UInt64
    public var end: UInt64
    public var pgoff: UInt64
    public var filename: String
}

public struct PerfDataContents: Sendable {
    public var attrs: [PerfFileAttr] = []
    public var samples: [ProfileSample] = []
    public var callchainIPs: [UInt64] = []
    /// In file order, so a later mapping of the same range replaces an earlier one.
    public var mappings: [MemoryMapping] = []
    public var comms: [Int32: String] = [:]
    /// child pid → parent pid (the child inherits the parent's mappings).
    public var forks: [Int32: Int32] = [:]
    public var lostEvents: UInt64 = 0
    public var lostSamples: UInt64 = 0
    public var hostname: String?
    public var osRelease: String?
    public var perfVersion: String?
    public var cmdline: [String] = []
    public var recordCounts: [UInt32: Int] = [:]
    /// Where the data stopped being readable, and why; everything before it was read.
    public var damage: (offset: Int, message: String)?
    public var notes: [String] = []
}

public enum PerfDataReader {
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Reads a perf.data file. Throws only when the header itself cannot be used; damage
    /// in the data section stops the reading there and is reported in `damage`.
    public static func read(_ bytes: [UInt8], progress: ((Double) -> Void)? = nil) throws -> PerfDataContents {
        try read(ByteStorage(bytes), progress: progress)
    }

    public static func read(_ bytes: ByteStorage, progress: ((Double) -> Void)? = nil) throws -> PerfDataContents {
        let r = ByteReader(bytes)
        guard bytes.count >= 16, let magic = try? r.u64(0) else { throw Failure(message: "not a perf.data file: \(bytes.count) bytes, too short for a header") }
        if magic == PerfData.magic.byteSwapped { throw Failure(message: "big-endian perf.data files are not supported") }
        guard magic == PerfData.magic else { throw Failure(message: "not a perf.data file (no PERFILE2 magic at offset 0)") }
        let headerSize = Int(try r.u64(8))
        if headerSize == 16 { throw Failure(message: "a pipe-mode perf.data (perf record -o -) is not supported: convert it with `perf inject -i IN -o OUT`") }
        guard headerSize >= PerfData.headerSize, bytes.count >= PerfData.headerSize else {
            throw Failure(message: "perf.data header is \(headerSize) bytes, expected \(PerfData.headerSize) (truncated at offset \(bytes.count)?)")
        }
        var c = PerfDataContents()
        let attrSize = Int(try r.u64(16))
        let attrsOffset = Int(try r.u64(24)), attrsSize = Int(try r.u64(32))
        let dataOffset = Int(try r.u64(40)), dataSize = Int(try r.u64(48))
        guard attrSize > 16, attrsSize % attrSize == 0, attrsOffset + attrsSize <= bytes.count else {
            throw Failure(message: "attribute section (offset \(attrsOffset), \(attrsSize) bytes of \(attrSize)-byte entries) does not fit the file of \(bytes.count) bytes")
        }
        for k in 0..<(attrsSize / attrSize) {
            let o = attrsOffset + k * attrSize
            var a = try PerfFileAttr.parse(r, at: o, size: attrSize - 16)
            let idsOffset = Int(try r.u64(o + attrSize - 16)), idsSize = Int(try r.u64(o + attrSize - 8))
            if idsOffset + idsSize <= bytes.count { a.ids = (0..<(idsSize / 8)).compactMap { try? r.u64(idsOffset + 8 * $0) } }
            a.name = a.defaultName
            c.attrs.append(a)
        }
        guard !c.attrs.isEmpty else { throw Failure(message: "perf.data has no event attributes") }
        if (c.attrs.contains { $0.sampleType & PerfData.Sample.aux != 0 }) { c.notes.append("AUX samples are skipped") }

        var dataEnd = dataOffset + dataSize
        if dataSize == 0 {
            c.notes.append("the header's data size is 0 (the recording was not finished): reading to the end of the file")
            dataEnd = bytes.count
        }
        if dataEnd > bytes.count {
            c.notes.append("the header claims \(dataSize) bytes of data but the file ends at \(bytes.count): truncated")
            dataEnd = bytes.count
        } else if dataSize > 0 {
            readFeatures(r, from: dataEnd, into: &c)
        }

        // Which attr a sample belongs to.
        var attrByID: [UInt64: Int32] = [:]
        for (i, a) in c.attrs.enumerated() { for id in a.ids { attrByID[id] = Int32(i) } }
        let first = c.attrs[0]

        // Typical samples are 40-100 bytes: reserve once instead of regrowing (and copying) the arrays.
        c.samples.reserveCapacity((dataEnd - dataOffset) / 96)
        if first.sampleType & PerfData.Sample.callchain != 0 { c.callchainIPs.reserveCapacity((dataEnd - dataOffset) / 24) }
        var o = dataOffset
        var nextProgress = dataOffset + (1 << 24)
        while o < dataEnd {
            if o + 8 > dataEnd { c.damage = (o, "a record header is cut off at the end of the data (truncated file)"); break }
            guard let type = try? r.u32(o), let size16 = try? r.u16(o + 6) else { break }
            let misc = (try? r.u16(o + 4)) ?? 0
            let size = Int(size16)
            if size < 8 { c.damage = (o, "record of type \(type) claims \(size) bytes (corrupt)"); break }
            if o + size > dataEnd { c.damage = (o, "record of type \(type) claims \(size) bytes, past the end of the data (truncated file)"); break }
            c.recordCounts[type, default: 0] += 1
            let body = o + 8
            do {
                switch PerfData.RecordType(rawValue: type) {
                case .sample:
                    var attrIndex: Int32 = 0
                    if c.attrs.count > 1 {
                        if first.sampleType & PerfData.Sample.identifier != 0 { attrIndex = attrByID[try r.u64(body)] ?? -1 }
                        else if let id = try sampleID(r, at: body, attr: first) { attrIndex = attrByID[id] ?? -1 }
                        if attrIndex < 0 { c.damage = (o, "a sample names an event id no attribute has (corrupt)"); break }
                    }
                    try parseSample(r, at: body, end: o + size, attr: c.attrs[Int(attrIndex)], attrIndex: attrIndex,
                                    kernel: misc & 0x7 == 1, into: &c)
                case .mmap:
                    let start = try r.u64(body + 8), len = try r.u64(body + 16), pgoff = try r.u64(body + 24)
                    c.mappings.append(MemoryMapping(pid: Int32(bitPattern: try r.u32(body)), start: start, end: start &+ len, pgoff: pgoff,
                                                    filename: try r.cString(body + 32, end: o + size)))
                case .mmap2:
                    let start = try r.u64(body + 8), len = try r.u64(body + 16), pgoff = try r.u64(body + 24)
                    c.mappings.append(MemoryMapping(pid: Int32(bitPattern: try r.u32(body)), start: start, end: start &+ len, pgoff: pgoff,
                                                    filename: try r.cString(body + 64, end: o + size)))
                case .comm:
                    c.comms[Int32(bitPattern: try r.u32(body))] = try r.cString(body + 8, end: o + size)
                case .fork:
                    let pid = Int32(bitPattern: try r.u32(body)), ppid = Int32(bitPattern: try r.u32(body + 4))
                    if pid != ppid { c.forks[pid] = ppid }
                case .lost:
                    c.lostEvents &+= try r.u64(body + 8)
                case .lostSamples:
                    c.lostSamples &+= try r.u64(body)
                case .compressed, .compressed2:
                    c.damage = (o, "compressed records (perf record -z) are not supported: `perf inject -i IN -o OUT` writes them uncompressed")
                default:
                    break
                }
            } catch let e as ByteReader.OutOfBounds {
                c.damage = (o, "record of type \(type) is shorter than its fields (read of \(e.needed) bytes at offset \(e.offset))")
            }
            if c.damage != nil { break }
            o += size
            if let progress, o >= nextProgress {
                progress(Double(o - dataOffset) / Double(max(1, dataEnd - dataOffset)))
                nextProgress = o + (1 << 24)
            }
        }
        // perf adds a "dummy" event (software, config 9) for side-band records; it never samples.
        let dummy = c.attrs.indices.filter { c.attrs[$0].type == 1 && c.attrs[$0].config == 9 }
        if !dummy.isEmpty && !c.samples.contains(where: { dummy.contains(Int($0.attr)) }) {
            let keep = c.attrs.indices.filter { !dummy.contains($0) }
            var remap = [Int32](repeating: -1, count: c.attrs.count)
            for (new, old) in keep.enumerated() { remap[old] = Int32(new) }
            c.attrs = keep.map { c.attrs[$0] }
            for i in c.samples.indices { c.samples[i].attr = remap[Int(c.samples[i].attr)] }
        }
        return c
    }

    /// PERF_SAMPLE_ID's value, walking the fields before it.
    static func sampleID(_ r: ByteReader, at o: Int, attr: PerfFileAttr) throws -> UInt64? {
        let t = attr.sampleType
        guard t & PerfData.Sample.id != 0 else { return nil }
        var p = o
        for bit in [PerfData.Sample.identifier, PerfData.Sample.ip, PerfData.Sample.tid, PerfData.Sample.time, PerfData.Sample.addr] where t & bit != 0 { p += 8 }
        return try r.u64(p)
    }

    static func parseSample(_ r: ByteReader, at start: Int, end: Int, attr: PerfFileAttr, attrIndex: Int32, kernel: Bool,
                            into c: inout PerfDataContents) throws {
        let t = attr.sampleType
        var p = start
        func next() throws -> UInt64 { let v = try r.u64(p); p += 8; return v }
        var s = ProfileSample(attr: attrIndex, pid: -1, tid: -1, cpu: -1, ip: 0, period: attr.frequencyMode ? 1 : max(1, attr.samplePeriodOrFrequency),
                              addr: 0, dataPageSize: 0, codePageSize: 0, isKernel: kernel, chainStart: Int32(c.callchainIPs.count), chainCount: 0)
        if t & PerfData.Sample.identifier != 0 { _ = try next() }
        if t & PerfData.Sample.ip != 0 { s.ip = try next() }
        if t & PerfData.Sample.tid != 0 {
            s.pid = Int32(bitPattern: try r.u32(p))
            s.tid = Int32(bitPattern: try r.u32(p + 4))
            p += 8
        }
        if t & PerfData.Sample.time != 0 { _ = try next() }
        if t & PerfData.Sample.addr != 0 { s.addr = try next() }
        if t & PerfData.Sample.id != 0 { _ = try next() }
        if t & PerfData.Sample.streamID != 0 { _ = try next() }
        if t & PerfData.Sample.cpu != 0 { s.cpu = Int32(bitPattern: try r.u32(p)); p += 8 }
        if t & PerfData.Sample.period != 0 { s.period = try next() }
        if t & PerfData.Sample.read != 0 {
            let rf = attr.readFormat
            let extra = (rf & 1 != 0 ? 1 : 0) + (rf & 2 != 0 ? 1 : 0)
            let perValue = 1 + (rf & 4 != 0 ? 1 : 0) + (rf & 16 != 0 ? 1 : 0)
            if rf & 8 != 0 { let nr = Int(try next()); p += 8 * (extra + nr * perValue) } else { p += 8 * (extra + perValue) }
        }
        if t & PerfData.Sample.callchain != 0 {
            let nr = Int(try next())
            guard nr <= (end - p) / 8 else { throw ByteReader.OutOfBounds(offset: p, needed: nr * 8) }
            var skippedSelf = false
            for _ in 0..<nr {
                let ip = try next()
                if ip >= PerfData.contextMarkerFloor { continue }
                // The first real frame is the sampled IP itself.
                if !skippedSelf && ip == s.ip { skippedSelf = true; continue }
                skippedSelf = true
                c.callchainIPs.append(ip)
                s.chainCount += 1
            }
        }
        if t & PerfData.Sample.raw != 0 { let n = Int(try r.u32(p)); p += 4 + n }
        if t & PerfData.Sample.branchStack != 0 {
            let nr = Int(try next())
            if attr.branchSampleType & (1 << 17) != 0 { p += 8 }   // PERF_SAMPLE_BRANCH_HW_INDEX
            p += 24 * nr
        }
        if t & PerfData.Sample.regsUser != 0 { if try next() != 0 { p += 8 * attr.sampleRegsUser.nonzeroBitCount } }
        if t & PerfData.Sample.stackUser != 0 { let n = Int(try next()); p += n; if n > 0 { p += 8 } }
        if t & (PerfData.Sample.weight | PerfData.Sample.weightStruct) != 0 { p += 8 }
        if t & PerfData.Sample.dataSrc != 0 { p += 8 }
        if t & PerfData.Sample.transaction != 0 { p += 8 }
        if t & PerfData.Sample.regsIntr != 0 { if try next() != 0 { p += 8 * attr.sampleRegsIntr.nonzeroBitCount } }
        if t & PerfData.Sample.physAddr != 0 { p += 8 }
        if t & PerfData.Sample.cgroup != 0 { p += 8 }
        if t & PerfData.Sample.dataPageSize != 0 { s.dataPageSize = try next() }
        if t & PerfData.Sample.codePageSize != 0 { s.codePageSize = try next() }
        if p > end { throw ByteReader.OutOfBounds(offset: p, needed: p - end) }
        if s.ip >= 0xFFFF_8000_0000_0000 { s.isKernel = true }
        c.samples.append(s)
    }

    static func readFeatures(_ r: ByteReader, from tableOffset: Int, into c: inout PerfDataContents) {
        var features: [PerfData.Feature] = []
        for bit in 0..<256 {
            guard let word = try? r.u64(72 + (bit / 64) * 8), word & (1 << UInt64(bit % 64)) != 0 else { continue }
            if let f = PerfData.Feature(rawValue: bit) { features.append(f) } else { features.append(.tracingData) }   // keep table order
        }
        for (k, f) in features.enumerated() {
            guard let off = try? r.u64(tableOffset + 16 * k), let size = try? r.u64(tableOffset + 16 * k + 8) else {
                c.notes.append("the feature table is cut off (truncated file)")
                return
            }
            let o = Int(off)
            guard size > 0, o + Int(size) <= r.bytes.count else { continue }
            switch f {
            case .hostname: c.hostname = try? r.headerString(o).0
            case .osRelease: c.osRelease = try? r.headerString(o).0
            case .version: c.perfVersion = try? r.headerString(o).0
            case .cmdline:
                if let n = try? r.u32(o) {
                    var p = o + 4
                    for _ in 0..<min(Int(n), 4096) {
                        guard let (s, len) = try? r.headerString(p) else { break }
                        c.cmdline.append(s)
                        p += len
                    }
                }
            case .eventDesc:
                guard let n = try? r.u32(o), let aSize = try? r.u32(o + 4) else { continue }
                var p = o + 8
                for _ in 0..<min(Int(n), 4096) {
                    p += Int(aSize)
                    guard let nrIDs = try? r.u32(p), let (name, len) = try? r.headerString(p + 4) else { break }
                    p += 4 + len
                    let ids = (0..<Int(nrIDs)).compactMap { try? r.u64(p + 8 * $0) }
                    p += 8 * Int(nrIDs)
                    for i in c.attrs.indices where !Set(c.attrs[i].ids).isDisjoint(with: ids) { c.attrs[i].name = name }
                }
            default: break
            }
        }
    }
}
