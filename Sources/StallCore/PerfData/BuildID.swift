/// One BUILD_ID feature entry (perf's `struct perf_record_header_build_id` + name):
/// {header (type 0, misc, size), pid, build_id[20] + size byte + padding, filename
/// NUL-padded to 64 bytes}. perf writes pid -1 (the host) and misc KERNEL or USER.
public struct BuildIDEntry: Equatable, Sendable {
    /// Each recorded object's build id by its path (user space; the first entry of a path).
    public static func byFilename(_ entries: [BuildIDEntry]) -> [String: String] {
        Dictionary(entries.filter { !$0.isKernel }.map { ($0.filename, $0.buildID) }, uniquingKeysWith: { a, _ in a })
    }

    public var filename: String
    /// Lower-case hex, as perf and the `.build-id` directories spell it.
    public var buildID: String
    public var isKernel: Bool

    public init(filename: String, buildID: String, isKernel: Bool) {
        self.filename = filename
        self.buildID = buildID
        self.isKernel = isKernel
    }

    static let fixedSize = 36          // header 8, pid 4, build id union 24
    static let nameAlign = 64          // NAME_ALIGN in perf's header.c
    static let miscKernel: UInt16 = 1, miscUser: UInt16 = 2, miscBuildIDSize: UInt16 = 1 << 15

    public static func section(_ entries: [BuildIDEntry]) -> [UInt8] {
        var w = ByteWriter()
        for e in entries {
            let id = hexBytes(e.buildID).prefix(20)
            let nameLength = (e.filename.utf8.count + 1 + nameAlign - 1) / nameAlign * nameAlign
            w.u32(0)
            w.u16((e.isKernel ? miscKernel : miscUser) | miscBuildIDSize)
            w.u16(UInt16(fixedSize + nameLength))
            w.u32(UInt32(bitPattern: -1))
            w.append(Array(id) + [UInt8](repeating: 0, count: 20 - id.count))
            w.u8(UInt8(id.count)); w.u8(0); w.u16(0)
            var name = Array(e.filename.utf8) + [0]
            name += [UInt8](repeating: 0, count: nameLength - name.count)
            w.append(name)
        }
        return w.bytes
    }

    /// The entries of a BUILD_ID section; stops at the first malformed one.
    public static func parse(_ r: ByteReader, _ section: Range<Int>) -> [BuildIDEntry] {
        var out: [BuildIDEntry] = []
        var o = section.lowerBound
        while section.upperBound - o >= fixedSize, let misc = try? r.u16(o + 4), let size16 = try? r.u16(o + 6) {
            let size = Int(size16)
            guard size >= fixedSize, size <= section.upperBound - o, let sizeByte = try? r.u8(o + 32),
                  let name = try? r.cString(o + fixedSize, end: o + size) else { break }
            let n = misc & miscBuildIDSize != 0 ? min(Int(sizeByte), 20) : 20
            let id = (0..<n).compactMap { try? r.u8(o + 12 + $0) }
            out.append(BuildIDEntry(filename: name, buildID: hex(id), isKernel: misc & 0x7 == miscKernel))
            o += size
        }
        return out
    }

    public static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
    }
    static func hexBytes(_ s: String) -> [UInt8] {
        let chars = Array(s.utf8)
        return stride(from: 0, to: chars.count - 1, by: 2).compactMap { UInt8(String(decoding: chars[$0...($0 + 1)], as: UTF8.self), radix: 16) }
    }

    /// The GNU build id in ELF notes (a PT_NOTE segment's or SHT_NOTE section's bytes, or
    /// /sys/kernel/notes): {namesz, descsz, type, name, desc}, each 4-aligned.
    public static func fromNotes(_ r: ByteReader, _ notes: Range<Int>) -> String? {
        guard var f = try? r.cursor(notes) else { return nil }
        while f.remaining >= 12, let namesz = try? f.u32(), let descsz = try? f.u32(), let type = try? f.u32() {
            guard let name = try? f.items((UInt64(namesz) + 3) / 4 * 4, of: 1), let desc = try? f.items((UInt64(descsz) + 3) / 4 * 4, of: 1) else { return nil }
            if type == 3, namesz == 4, (try? r.cString(name.lowerBound, end: name.upperBound)) == "GNU" {
                return hex(r.bytes[desc.lowerBound..<(desc.lowerBound + Int(descsz))])
            }
        }
        return nil
    }

    /// The build id of an ELF file from its first bytes (program headers and the note
    /// segment are near the start): nil when it has none or they are not in `bytes`.
    public static func ofELF(prefix bytes: [UInt8]) -> String? {
        let r = ByteReader(bytes)
        guard bytes.count >= 64, bytes[0] == 0x7F, bytes[1] == 0x45, bytes[2] == 0x4C, bytes[3] == 0x46, bytes[4] == 2, bytes[5] == 1,
              let phoff = try? r.u64(32), let entry = try? r.u16(54), let count = try? r.u16(56), entry >= 56,
              let table = r.range(offset: phoff, size: UInt64(entry) * UInt64(count)) else { return nil }
        for o in stride(from: table.lowerBound, to: table.upperBound, by: Int(entry)) where (try? r.u32(o)) == 4 {   // PT_NOTE
            if let off = try? r.u64(o + 8), let size = try? r.u64(o + 32), let notes = r.range(offset: off, size: size),
               let id = fromNotes(r, notes) { return id }
        }
        return nil
    }
}
