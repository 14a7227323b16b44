/// The header feature sections stallstat writes and reads, one entry per feature holding
/// both directions, as perf's `feat_ops` (util/header.c) and simpleperf's
/// `record_file_format.h` keep them: adding a feature is one entry here, and its writer
/// and reader cannot drift apart.
///
/// A section's bytes are the same in a file's feature table and in pipe mode's
/// PERF_RECORD_HEADER_FEATURE records.
public struct PerfFeatureSection: Sendable {
    /// What a recording knows when it writes the features.
    public struct Source {
        public var description: PerfDataLayout.Description
        public var events: [PerfDataLayout.Event]
        public var attrSize: Int
    }

    public let feature: PerfData.Feature
    /// The section's bytes, or nil when this recording has nothing to put in it.
    let encode: (@Sendable (Source) -> [UInt8]?)?
    /// Takes what a report needs from a section into `contents`. A malformed section is
    /// skipped (the samples do not need it), never an error.
    let decode: (@Sendable (_ section: inout FieldCursor, _ whole: (ByteReader, Range<Int>), _ contents: inout PerfDataContents) -> Void)?

    /// Every feature stallstat handles, in bit order (the order of the file's table).
    public static let all: [PerfFeatureSection] = [
        PerfFeatureSection(feature: .tracingData, encode: { $0.description.tracingData }, decode: nil),
        PerfFeatureSection(feature: .buildID,
                           encode: { $0.description.buildIDs.isEmpty ? nil : BuildIDEntry.section($0.description.buildIDs) },
                           decode: { _, whole, c in c.buildIDs += BuildIDEntry.parse(whole.0, whole.1) }),
        string(.hostname, write: \.hostname, read: \.hostname),
        string(.osRelease, write: \.osRelease, read: \.osRelease),
        string(.version, write: \.version, read: \.perfVersion),
        string(.arch, write: \.arch, read: \.arch),
        PerfFeatureSection(feature: .nrCPUs, encode: { s in
            var w = ByteWriter(); w.u32(s.description.cpusAvailable); w.u32(s.description.cpusOnline); return w.bytes
        }, decode: nil),
        PerfFeatureSection(feature: .cmdline, encode: { s in
            var w = ByteWriter()
            w.u32(UInt32(s.description.cmdline.count))
            for a in s.description.cmdline { w.headerString(a) }
            return w.bytes
        }, decode: { f, _, c in
            guard let n = try? f.u32() else { return }
            for _ in 0..<min(Int(n), 4096) {
                guard let s = try? f.headerString() else { break }
                c.cmdline.append(s)
            }
        }),
        // EVENT_DESC names each attr's events (perf report prints these names).
        PerfFeatureSection(feature: .eventDesc, encode: { s in
            var w = ByteWriter()
            w.u32(UInt32(s.events.count)); w.u32(UInt32(s.attrSize))
            for ev in s.events {
                w.append(ev.attrBytes)
                w.u32(UInt32(ev.ids.count))
                w.headerString(ev.name)
                for id in ev.ids { w.u64(id) }
            }
            return w.bytes
        }, decode: { f, whole, c in
            guard let n = try? f.u32(), let attrSize = try? f.u32() else { return }
            for _ in 0..<min(Int(n), 4096) {
                guard (try? f.skip(Int(attrSize))) != nil, let nrIDs = try? f.u32(), let name = try? f.headerString(),
                      let ids = try? f.items(UInt64(nrIDs), of: 8) else { break }
                let idSet = Set(stride(from: ids.lowerBound, to: ids.upperBound, by: 8).compactMap { try? whole.0.u64($0) })
                for i in c.attrs.indices where c.attrs[i].ids.contains(where: idSet.contains) { c.attrs[i].name = name }
            }
        }),
    ]

    static let byFeature: [PerfData.Feature: PerfFeatureSection] = Dictionary(uniqueKeysWithValues: all.map { ($0.feature, $0) })

    /// A perf_header_string section.
    static func string(_ feature: PerfData.Feature, write: KeyPath<PerfDataLayout.Description, String> & Sendable,
                       read: WritableKeyPath<PerfDataContents, String?> & Sendable) -> PerfFeatureSection {
        PerfFeatureSection(feature: feature, encode: { s in
            var w = ByteWriter(); w.headerString(s.description[keyPath: write]); return w.bytes
        }, decode: { f, _, c in c[keyPath: read] = try? f.headerString() })
    }

    /// The sections a recording writes, in bit order.
    public static func encodeAll(_ source: Source) -> [(PerfData.Feature, [UInt8])] {
        all.compactMap { s in s.encode?(source).map { (s.feature, $0) } }
    }

    /// Reads one section into `contents` (features stallstat does not use are skipped).
    public static func decode(_ feature: PerfData.Feature, _ r: ByteReader, _ section: Range<Int>, into contents: inout PerfDataContents) {
        guard let decode = byFeature[feature]?.decode, var cursor = try? r.cursor(section) else { return }
        decode(&cursor, (r, section), &contents)
    }
}
