/// Builds the parts of a perf.data file; the recorder writes them at their offsets.
/// Layout: header | attrs (attr + ids section each) | ids | data ... | feature table | features.
public struct PerfDataLayout {
    public struct Event {
        public var attrBytes: [UInt8]   // the kernel perf_event_attr, as opened
        public var ids: [UInt64]
        public var name: String
        public init(attrBytes: [UInt8], ids: [UInt64], name: String) {
            self.attrBytes = attrBytes
            self.ids = ids
            self.name = name
        }
    }

    public var events: [Event]
    public var attrSize: Int { events.first?.attrBytes.count ?? 0 }

    public init(events: [Event]) { self.events = events }

    public var attrsOffset: Int { PerfData.headerSize }
    public var attrsSize: Int { events.count * (attrSize + 16) }
    public var idsOffset: Int { attrsOffset + attrsSize }
    public var dataOffset: Int { idsOffset + events.reduce(0) { $0 + 8 * $1.ids.count } }

    /// The attrs section followed by the id arrays.
    public func attrsAndIDs() -> [UInt8] {
        var w = ByteWriter()
        var idOffset = idsOffset
        for e in events {
            w.append(e.attrBytes)
            w.u64(UInt64(idOffset))
            w.u64(UInt64(8 * e.ids.count))
            idOffset += 8 * e.ids.count
        }
        for e in events { for id in e.ids { w.u64(id) } }
        return w.bytes
    }

    /// The 104-byte header; `features` are the bits set in the feature bitmap.
    public func header(dataSize: Int, features: [PerfData.Feature]) -> [UInt8] {
        PerfFileHeader(attrEntrySize: UInt64(attrSize + 16), attrs: .init(offset: UInt64(attrsOffset), size: UInt64(attrsSize)),
                       data: .init(offset: UInt64(dataOffset), size: UInt64(dataSize)), features: features).encode()
    }

    /// What the recorder knows about the machine and the run, for the feature sections.
    public struct Description {
        public var hostname: String
        public var osRelease: String
        public var version: String
        public var arch: String
        public var cpusAvailable: UInt32
        public var cpusOnline: UInt32
        public var cmdline: [String]
        /// The build ids of the objects the samples fell in (BUILD_ID), so a report after a
        /// rebuild at the same path can tell the file is not the one that ran.
        public var buildIDs: [BuildIDEntry] = []
        /// TRACING_DATA (the tracepoints' format files) when tracepoints are recorded.
        public var tracingData: [UInt8]? = nil
        public init(hostname: String, osRelease: String, version: String, arch: String, cpusAvailable: UInt32, cpusOnline: UInt32, cmdline: [String]) {
            self.hostname = hostname
            self.osRelease = osRelease
            self.version = version
            self.arch = arch
            self.cpusAvailable = cpusAvailable
            self.cpusOnline = cpusOnline
            self.cmdline = cmdline
        }
    }

    /// The feature table and contents, placed at `offset` (right after the data).
    public func features(_ d: Description, at offset: Int) -> (bytes: [UInt8], features: [PerfData.Feature]) {
        let sections = PerfFeatureSection.encodeAll(.init(description: d, events: events, attrSize: attrSize))
        var table = ByteWriter()
        var body = ByteWriter()
        var contentOffset = offset + 16 * sections.count
        for (_, bytes) in sections {
            table.u64(UInt64(contentOffset)); table.u64(UInt64(bytes.count))
            body.append(bytes)
            contentOffset += bytes.count
        }
        return (table.bytes + body.bytes, sections.map(\.0))
    }
}

/// Records stallstat writes itself into the data section.
public enum SynthesizedRecord {
    /// The sample_id trailer every non-sample record carries with sample_id_all and
    /// sample_type TID | TIME | CPU | IDENTIFIER: {pid, tid}, time, {cpu, res}, identifier.
    public static func trailer(pid: Int32, tid: Int32, identifier: UInt64) -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32(bitPattern: pid)); w.u32(UInt32(bitPattern: tid))
        w.u64(0)
        w.u32(0); w.u32(0)
        w.u64(identifier)
        return w.bytes
    }

    static func record(type: PerfData.RecordType, misc: UInt16, body: [UInt8]) -> [UInt8] {
        PerfRecordHeader(type: type.rawValue, misc: misc, size: UInt16(PerfRecordHeader.size + body.count)).encode() + body
    }

    static func paddedString(_ s: String) -> [UInt8] {
        var b = Array(s.utf8) + [0]
        while b.count % 8 != 0 { b.append(0) }
        return b
    }

    public static func comm(pid: Int32, tid: Int32, name: String, identifier: UInt64) -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32(bitPattern: pid)); w.u32(UInt32(bitPattern: tid))
        w.append(paddedString(name))
        w.append(trailer(pid: pid, tid: tid, identifier: identifier))
        return record(type: .comm, misc: 0, body: w.bytes)
    }

    /// A user-space MMAP2 for a mapping that existed before recording started (a data
    /// mapping, PERF_RECORD_MISC_MMAP_DATA, when it is not executable).
    public static func mmap2(pid: Int32, start: UInt64, length: UInt64, pgoff: UInt64, protection: UInt32, filename: String, identifier: UInt64) -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32(bitPattern: pid)); w.u32(UInt32(bitPattern: pid))
        w.u64(start); w.u64(length); w.u64(pgoff)
        w.u32(0); w.u32(0); w.u64(0); w.u64(0)   // maj, min, ino, ino_generation
        w.u32(protection); w.u32(2)   // MAP_PRIVATE
        w.append(paddedString(filename))
        w.append(trailer(pid: pid, tid: pid, identifier: identifier))
        return record(type: .mmap2, misc: 2 | (protection & 4 == 0 ? PerfData.miscMmapData : 0), body: w.bytes)   // PERF_RECORD_MISC_USER
    }

    /// The kernel text mapping perf synthesizes as "[kernel.kallsyms]_text".
    public static func kernelMmap(start: UInt64, end: UInt64, identifier: UInt64) -> [UInt8] {
        var w = ByteWriter()
        w.u32(UInt32.max); w.u32(0)
        w.u64(start); w.u64(end - start); w.u64(start)
        w.append(paddedString("[kernel.kallsyms]_text"))
        w.append(trailer(pid: -1, tid: 0, identifier: identifier))
        return record(type: .mmap, misc: 1, body: w.bytes)   // PERF_RECORD_MISC_KERNEL
    }

    public static let finishedRound: [UInt8] = record(type: .finishedRound, misc: 0, body: [])
}
