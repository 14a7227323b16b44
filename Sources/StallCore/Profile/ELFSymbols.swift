/// Function symbols of one ELF64 little-endian file, and how file offsets map to its
/// virtual addresses (PT_LOAD), so a sampled IP in a PIE or shared object resolves.
public struct ELFSymbols: Sendable {
    public struct Symbol: Sendable {
        public var address: UInt64
        public var size: UInt64
        public var name: String
        /// STB_LOCAL 0, STB_GLOBAL 1, STB_WEAK 2.
        public var binding: UInt8 = 1
    }

    /// Of two symbols at one address, perf's choice (choose_best_symbol): a sized one over
    /// a zero-sized one, then not weak over weak, global over not global, fewer leading
    /// underscores, the longer name; otherwise the first.
    static func prefer(_ b: Symbol, over a: Symbol) -> Bool {
        if (a.size == 0) != (b.size == 0) { return a.size == 0 }
        if (a.binding == 2) != (b.binding == 2) { return a.binding == 2 }
        if (a.binding == 1) != (b.binding == 1) { return b.binding == 1 }
        let ua = a.name.prefix { $0 == "_" }.count, ub = b.name.prefix { $0 == "_" }.count
        if ua != ub { return ub < ua }
        return b.name.utf8.count > a.name.utf8.count
    }
    public struct Segment: Sendable { public var offset: UInt64; public var vaddr: UInt64; public var fileSize: UInt64 }

    public private(set) var symbols: [Symbol] = []
    private var table: [(UInt64, UInt64)] = []
    public private(set) var segments: [Segment] = []
    public private(set) var isSharedOrPIE = false
    /// NT_GNU_BUILD_ID, hex: the key of detached debug files (/usr/lib/debug/.build-id/xx/rest.debug).
    public private(set) var buildID: String?
    /// False for stripped files that only have .dynsym.
    public private(set) var hasFullSymbolTable = false

    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public init(bytes: [UInt8]) throws { try self.init(storage: ByteStorage(bytes)) }

    /// From a mapped file: only the pages of the tables read become resident.
    public init(storage bytes: ByteStorage) throws {
        let r = ByteReader(bytes)
        guard bytes.count >= 64, bytes[0] == 0x7F, bytes[1] == 0x45, bytes[2] == 0x4C, bytes[3] == 0x46 else { throw Failure(message: "not an ELF file") }
        guard bytes[4] == 2, bytes[5] == 1 else { throw Failure(message: "only 64-bit little-endian ELF is read") }
        do {
            isSharedOrPIE = try r.u16(16) == 3   // ET_DYN
            // Tables are (offset, entry size, count) from the file: each becomes a byte range
            // only after it is checked to lie inside the file (ByteReader.range).
            func entries(_ offset: UInt64, _ entrySize: UInt16, _ count: UInt16, minEntry: Int, _ what: String) throws -> [Int] {
                guard count > 0 else { return [] }
                guard Int(entrySize) >= minEntry, let t = r.range(offset: offset, size: UInt64(entrySize) * UInt64(count)) else {
                    throw Failure(message: "the \(what) table (offset \(offset), \(count) entries of \(entrySize) bytes) does not fit the file")
                }
                return Array(stride(from: t.lowerBound, to: t.upperBound, by: Int(entrySize)))
            }
            let programHeaders = try entries(try r.u64(32), try r.u16(54), try r.u16(56), minEntry: 56, "program header")
            let sections = try entries(try r.u64(40), try r.u16(58), try r.u16(60), minEntry: 64, "section header")
            for o in programHeaders where try r.u32(o) == 1 {   // PT_LOAD
                segments.append(Segment(offset: try r.u64(o + 8), vaddr: try r.u64(o + 16), fileSize: try r.u64(o + 32)))
            }
            func contents(_ header: Int) throws -> Range<Int>? { r.range(offset: try r.u64(header + 24), size: try r.u64(header + 32)) }
            // perf reads .symtab when there is one and .dynsym only otherwise.
            let hasSymtab = try sections.contains { try r.u32($0 + 4) == 2 }
            var found: [Symbol] = []
            let machine = try r.u16(18)
            // Arm's mapping symbols ($a, $d, $t, $x, optionally ".suffix") mark where code and
            // data start inside a section; they name no function, and perf drops them
            // (symbol-elf.c). Kept, a sample past one inside a function was credited to "$x".
            let armMappingSymbols = machine == 40 || machine == 183   // EM_ARM, EM_AARCH64
            for o in sections {
                let type = try r.u32(o + 4)
                if type == 7, buildID == nil, let notes = try contents(o) { buildID = BuildIDEntry.fromNotes(r, notes) }   // SHT_NOTE
                guard type == 2 || (type == 11 && !hasSymtab) else { continue }   // SHT_SYMTAB, SHT_DYNSYM
                let link = Int(try r.u32(o + 40))
                guard let symbolBytes = try contents(o), link < sections.count, let strings = try contents(sections[link]) else { continue }
                if type == 2 { hasFullSymbolTable = true }
                for so in stride(from: symbolBytes.lowerBound, to: symbolBytes.upperBound - 23, by: 24) {
                    let info = try r.u8(so + 4), visibility = try r.u8(so + 5) & 0x3, section = Int(try r.u16(so + 6))
                    let kind = info & 0xF
                    // Functions, and labels (NOTYPE, default visibility: ld.so's _start and
                    // _dl_start_user), in executable sections, as perf keeps them.
                    guard kind == 2 || kind == 10 || (kind == 0 && visibility == 0), section != 0, section < sections.count,
                          try r.u64(sections[section] + 8) & 0x4 != 0 else { continue }   // SHF_EXECINSTR
                    let value = try r.u64(so + 8)
                    guard value != 0 else { continue }
                    let nameOff = Int(try r.u32(so))
                    guard nameOff > 0, nameOff < strings.count else { continue }
                    let name = try r.cString(strings.lowerBound + nameOff, end: strings.upperBound)
                    if armMappingSymbols, ELFSymbols.isArmMappingSymbol(name) { continue }
                    found.append(Symbol(address: value, size: try r.u64(so + 16), name: name, binding: info >> 4))
                }
            }
            found += try ELFSymbols.pltStubs(r, sections: sections, machine: machine, shstrndx: Int(try r.u16(62)))
            found.sort { $0.address < $1.address }
            // One symbol per address, the one perf keeps (symbols__fixup_duplicate).
            var unique: [Symbol] = []
            for s in found {
                if let last = unique.last, last.address == s.address {
                    if ELFSymbols.prefer(s, over: last) { unique[unique.count - 1] = s }
                } else {
                    unique.append(s)
                }
            }
            symbols = unique
            table = unique.map { ($0.address, $0.size) }
        } catch let e as ByteReader.OutOfBounds {
            throw Failure(message: "ELF headers point past the end of the file (offset \(e.offset))")
        }
    }

    /// `$a`, `$d`, `$t`, `$x`, alone or followed by ".anything" (perf's test).
    public static func isArmMappingSymbol(_ name: String) -> Bool {
        let u = Array(name.utf8.prefix(3))
        return u.count >= 2 && u[0] == UInt8(ascii: "$") && "adtx".utf8.contains(u[1]) && (u.count == 2 || u[2] == UInt8(ascii: "."))
    }

    /// `name@plt` for each PLT stub, as objdump labels them: one per .rela.plt entry, in
    /// order, named by its dynamic symbol. x86-64: 16-byte entries after a 16-byte header
    /// in .plt, or from the start of .plt.sec (IBT); AArch64: 16 or 24 bytes (BTI) after
    /// the header. Each stub is found by the GOT slot it jumps through. The header (the
    /// lazy binder's entry), and with .plt.sec all of .plt, is `.plt`, objdump's label
    /// and perf's symbol for it (perf 6.12; perf 6.1 credits it to the function before).
    static func pltStubs(_ r: ByteReader, sections: [Int], machine: UInt16, shstrndx: Int) throws -> [Symbol] {
        guard machine == 62 || machine == 183, shstrndx < sections.count,
              let names = r.range(offset: try r.u64(sections[shstrndx] + 24), size: try r.u64(sections[shstrndx] + 32)) else { return [] }
        func name(_ header: Int) -> String? {
            guard let off = try? r.u32(header), Int(off) < names.count else { return nil }
            return try? r.cString(names.lowerBound + Int(off), end: names.upperBound)
        }
        var plt: Int?, pltSec: Int?, relaPlt: Int?
        for o in sections {
            switch name(o) {
            case ".plt": plt = o
            case ".plt.sec": pltSec = o
            case ".rela.plt": relaPlt = o
            default: break
            }
        }
        guard let rela = relaPlt, let relocations = r.range(offset: try r.u64(rela + 24), size: try r.u64(rela + 32)) else { return [] }
        let link = Int(try r.u32(rela + 40))   // its dynamic symbol table
        guard link < sections.count, let dynsym = r.range(offset: try r.u64(sections[link] + 24), size: try r.u64(sections[link] + 32)) else { return [] }
        let strLink = Int(try r.u32(sections[link] + 40))
        guard strLink < sections.count, let dynstr = r.range(offset: try r.u64(sections[strLink] + 24), size: try r.u64(sections[strLink] + 32)) else { return [] }
        // Each relocation's name: its symbol's, or for an IRELATIVE one (an ifunc's resolved
        // target: libc's memcpy and friends) its addend, as objdump labels it.
        func relocationName(_ o: Int) throws -> String? {
            let symbolIndex = Int(try r.u64(o + 8) >> 32)   // ELF64_R_SYM(r_info)
            if symbolIndex == 0 { return "*ABS*+0x" + String(try r.u64(o + 16), radix: 16) }
            guard symbolIndex < dynsym.count / 24 else { return nil }
            let nameOff = Int(try r.u32(dynsym.lowerBound + symbolIndex * 24))
            guard nameOff < dynstr.count else { return nil }
            return try r.cString(dynstr.lowerBound + nameOff, end: dynstr.upperBound)
        }
        let entries = stride(from: relocations.lowerBound, to: relocations.upperBound - 23, by: 24)
        var out: [Symbol] = []
        if machine == 62, let section = pltSec ?? plt {
            // x86-64: a stub jumps through its GOT slot (`jmp *disp32(%rip)`, ff 25, after an
            // endbr64 and a bnd prefix in IBT stubs); the relocation of that slot names it.
            // Relocations are not in stub order (ld puts IRELATIVE ones last).
            var nameBySlot: [UInt64: String] = [:]
            for o in entries { if let n = try relocationName(o) { nameBySlot[try r.u64(o)] = n } }
            let address = try r.u64(section + 16)
            guard let code = r.range(offset: try r.u64(section + 24), size: try r.u64(section + 32)) else { return [] }
            for stub in stride(from: code.lowerBound + (section == plt ? 16 : 0), to: code.upperBound - 15, by: 16) {
                for p in 0..<10 where try r.u8(stub + p) == 0xFF && r.u8(stub + p + 1) == 0x25 {
                    let displacement = Int64(Int32(bitPattern: try r.u32(stub + p + 2)))
                    let stubAddress = address &+ UInt64(stub - code.lowerBound)
                    let slot = stubAddress &+ UInt64(p + 6) &+ UInt64(bitPattern: displacement)
                    if let n = nameBySlot[slot] { out.append(Symbol(address: stubAddress, size: 16, name: n + "@plt", binding: 0)) }
                    break
                }
            }
            if let p = plt, !out.isEmpty {
                out.append(Symbol(address: try r.u64(p + 16), size: pltSec == nil ? 16 : try r.u64(p + 32), name: ".plt", binding: 0))
            }
            return out
        }
        // AArch64: a stub loads its GOT slot (`adrp x16, PAGE; ldr x17, [x16, #OFF]`), after
        // a `bti c` when the PLT is built for BTI (24-byte stubs: ld -z force-bti), so the
        // stubs are found by decoding, not by assuming 16-byte entries.
        guard let p = plt else { return [] }
        var nameBySlot: [UInt64: String] = [:]
        for o in entries { if let n = try relocationName(o) { nameBySlot[try r.u64(o)] = n } }
        let base = try r.u64(p + 16)
        guard let code = r.range(offset: try r.u64(p + 24), size: try r.u64(p + 32)) else { return [] }
        var starts: [(UInt64, String)] = []
        for at in stride(from: code.lowerBound, to: code.upperBound - 7, by: 4) {
            let adrp = try r.u32(at), ldr = try r.u32(at + 4)
            guard adrp & 0x9F00_001F == 0x9000_0010, ldr & 0xFFC0_03FF == 0xF940_0211 else { continue }   // adrp x16; ldr x17, [x16, #imm]
            let pc = base &+ UInt64(at - code.lowerBound)
            let pageDelta = Int64(Int32(bitPattern: ((adrp >> 5 & 0x7FFFF) << 2 | adrp >> 29 & 0x3) << 11) >> 11) << 12
            let slot = (pc & ~0xFFF) &+ UInt64(bitPattern: pageDelta) &+ UInt64(ldr >> 10 & 0xFFF) * 8
            guard let n = nameBySlot[slot] else { continue }
            var bti = false
            if at - 4 >= code.lowerBound { bti = try r.u32(at - 4) & 0xFFFF_FF3F == 0xD503_241F }   // bti (c, j, jc)
            starts.append((bti ? pc - 4 : pc, n))
        }
        let end = base &+ UInt64(code.count)
        for (i, (start, n)) in starts.enumerated() {
            let next = i + 1 < starts.count ? starts[i + 1].0 : min(end, start &+ 32)
            out.append(Symbol(address: start, size: next &- start, name: n + "@plt", binding: 0))
        }
        if let first = starts.first?.0, first > base { out.append(Symbol(address: base, size: first - base, name: ".plt", binding: 0)) }
        return out
    }

    /// Takes the symbols of a detached debug file (same addresses) in place of .dynsym.
    public mutating func adoptSymbols(from debug: ELFSymbols) {
        guard debug.symbols.count > symbols.count else { return }
        symbols = debug.symbols
        table = debug.table
        hasFullSymbolTable = true
    }

    /// The virtual address a file offset is loaded at.
    public func virtualAddress(fileOffset: UInt64) -> UInt64? {
        // Differences, not sums: a segment's fields are the file's and may be anything.
        for s in segments where fileOffset >= s.offset && fileOffset - s.offset < max(s.fileSize, 1) { return (fileOffset - s.offset) &+ s.vaddr }
        return nil
    }

    /// The function containing `address`; a zero-size symbol reaches to the next one.
    public func symbol(at address: UInt64) -> String? {
        SymbolTable.lookup(table, address).map { symbols[$0].name }
    }
    /// The symbol containing `address`, with its start (perf's rows are symbols, not names:
    /// two static functions called `helper` are two rows).
    public func entry(at address: UInt64) -> Symbol? {
        SymbolTable.lookup(table, address).map { symbols[$0] }
    }
}

/// A JIT's /tmp/perf-PID.map: `START SIZE name` per line, START and SIZE in hex (with or
/// without 0x), as perf reads it (symbol__new for each line; later lines win at one start).
public struct PerfMapSymbols: Sendable {
    private var table: [(UInt64, UInt64)] = []
    private var names: [String] = []

    public init(text: String) {
        var entries: [(UInt64, UInt64, String)] = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard f.count == 3 else { continue }
            func hex(_ s: Substring) -> UInt64? { UInt64(s.hasPrefix("0x") ? s.dropFirst(2) : s, radix: 16) }
            guard let start = hex(f[0]), let size = hex(f[1]), size > 0 else { continue }
            entries.append((start, size, String(f[2])))
        }
        for i in SymbolTable.lastAtEachAddress(entries.map(\.0)) {
            table.append((entries[i].0, entries[i].1))
            names.append(entries[i].2)
        }
    }

    public func entry(at address: UInt64) -> (name: String, address: UInt64)? {
        SymbolTable.lookup(table, address).map { (names[$0], table[$0].0) }
    }
}

/// Sorted address lookup shared by ELF and kallsyms tables.
enum SymbolTable {
    /// The indices of `addresses` in address order, one per address: of several at one
    /// address the last listed, as perf keeps them (kallsyms, perf-PID.map).
    static func lastAtEachAddress(_ addresses: [UInt64]) -> [Int] {
        let order = addresses.indices.sorted { addresses[$0] != addresses[$1] ? addresses[$0] < addresses[$1] : $0 < $1 }
        var kept: [Int] = []
        kept.reserveCapacity(order.count)
        for k in order {
            if let last = kept.last, addresses[last] == addresses[k] { kept[kept.count - 1] = k } else { kept.append(k) }
        }
        return kept
    }

    static func lookup(_ table: [(UInt64, UInt64)], _ address: UInt64) -> Int? {
        var lo = 0, hi = table.count - 1, best = -1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if table[mid].0 <= address { best = mid; lo = mid + 1 } else { hi = mid - 1 }
        }
        guard best >= 0 else { return nil }
        let (start, size) = table[best]
        if size > 0 { return address - start < size ? best : nil }
        if best + 1 < table.count { return address < table[best + 1].0 ? best : nil }
        return address - start < 1 << 20 ? best : nil
    }
}

/// /proc/kallsyms text symbols. Parsed on bytes, names kept as ranges and turned into
/// Strings only for symbols a sample hits: the file has ~200,000 lines.
///
/// As perf reads it (map__process_kallsym_symbol, symbols__fixup_end/_duplicate): text
/// symbols (t T w W) only, not Arm's mapping symbols (`$x`, `$d`: modules keep them); of
/// several at one address the last listed; a symbol reaches the next one in the same
/// module (or the next core one), but the last symbol of a module or of the core kernel
/// only to the page after it, so a sample in a module's PLT (arm64 modules start with one)
/// or between modules is no function's.
public struct KernelSymbols: Sendable {
    public struct Hit: Equatable, Sendable {
        public var name: String
        /// The module's name (`9pnet`), nil in the core kernel.
        public var module: String?
        public var start: UInt64
    }
    private let bytes: [UInt8]
    public private(set) var addresses: [UInt64] = []
    private var nameRanges: [Range<Int>] = []
    /// The `[module]` suffix's name, empty in the core kernel.
    private var moduleRanges: [Range<Int>] = []
    private var table: [(UInt64, UInt64)] = []

    public init(kallsyms text: String) { self.init(kallsymsBytes: Array(text.utf8)) }

    public init(kallsymsBytes: [UInt8]) {
        bytes = kallsymsBytes
        var entries: [(address: UInt64, name: Range<Int>, module: Range<Int>)] = []
        entries.reserveCapacity(bytes.count / 32)
        var i = 0
        let n = bytes.count
        while i < n {
            // ADDRESS(hex) ' ' TYPE ' ' NAME ['\t' '[' MODULE ']'] '\n'
            var address: UInt64 = 0
            var digits = 0
            while i < n, bytes[i] != 0x20, bytes[i] != 0x0A {
                let c = bytes[i]
                let v: UInt8 = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x61 + 10 : 0xFF
                if v == 0xFF { digits = -1 } else if digits >= 0 { address = address << 4 | UInt64(v); digits += 1 }
                i += 1
            }
            var type: UInt8 = 0
            // " T " exactly: a short line must not run into the next one.
            if i + 2 < n, bytes[i] == 0x20, bytes[i + 1] != 0x0A, bytes[i + 2] == 0x20 { type = bytes[i + 1]; i += 3 }
            let nameStart = i
            while i < n, bytes[i] != 0x0A, bytes[i] != 0x09, bytes[i] != 0x20 { i += 1 }
            let nameEnd = i
            while i < n, bytes[i] != 0x0A, bytes[i] != 0x5B { i += 1 }   // '['
            var module = nameEnd..<nameEnd
            if i < n, bytes[i] == 0x5B {
                let moduleStart = i + 1
                while i < n, bytes[i] != 0x0A, bytes[i] != 0x5D { i += 1 }   // ']'
                if i < n, bytes[i] == 0x5D { module = moduleStart..<i }
            }
            while i < n, bytes[i] != 0x0A { i += 1 }
            i += 1
            guard digits > 0, digits <= 16, address != 0, type == 0x74 || type == 0x54 || type == 0x77 || type == 0x57,   // t T w W
                  nameEnd > nameStart, bytes[nameStart] != 0x24 else { continue }   // not '$'
            entries.append((address, nameStart..<nameEnd, module))
        }
        let kept = SymbolTable.lastAtEachAddress(entries.map(\.address))
        addresses = kept.map { entries[$0].address }
        nameRanges = kept.map { entries[$0].name }
        moduleRanges = kept.map { entries[$0].module }
        table.reserveCapacity(kept.count)
        for j in kept.indices {
            let start = addresses[j]
            // The page after a module's (or the core's) last symbol: roundup(start + 4096, 4096).
            let lastPage = (start &+ 4096 &+ 4095) & ~4095
            var end = lastPage < start ? UInt64.max : lastPage
            if j + 1 < kept.count {
                let next = addresses[j + 1]
                end = bytes[moduleRanges[j]].elementsEqual(bytes[moduleRanges[j + 1]]) ? next : min(end, next)
            }
            table.append((start, end &- start))
        }
    }

    /// nil when kallsyms hid the addresses (kptr_restrict) or the address is in no symbol.
    public func symbol(at address: UInt64) -> String? { lookup(address)?.name }

    public func lookup(_ address: UInt64) -> Hit? {
        guard let i = SymbolTable.lookup(table, address) else { return nil }
        let module = moduleRanges[i]
        return Hit(name: String(decoding: bytes[nameRanges[i]], as: UTF8.self),
                   module: module.isEmpty ? nil : String(decoding: bytes[module], as: UTF8.self), start: addresses[i])
    }
    public var isEmpty: Bool { addresses.isEmpty }
}
