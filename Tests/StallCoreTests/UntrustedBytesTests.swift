import Foundation
import XCTest
@testable import StallCore

/// The readers of untrusted bytes (perf.data, ELF) on the field values that used to trap
/// (issue: SIGILL on 2^63-1, 2^64-8, 2^63, every feature bit, nr = 2^64-1), then every
/// header field of a real file set to each extreme: a trap ends this process, so the
/// sweeps pass only if no value in any field can trap.
final class UntrustedBytesTests: XCTestCase {
    static let extremes: [UInt64] = [.max, 1 << 63, (1 << 63) - 1, .max - 7, 1 << 32, 0xFFFF_FFFF, 0]

    func record(type: UInt32, misc: UInt16 = 2, _ body: [UInt8]) -> [UInt8] {
        var r = ByteWriter()
        r.u32(type); r.u16(misc); r.u16(UInt16(8 + body.count)); r.append(body)
        return r.bytes
    }

    /// A one-event file (ip, tid, callchain, read, raw, branch stack, user stack) with two samples.
    func richFile(chain nr: UInt64? = nil) -> (bytes: [UInt8], dataOffset: Int, secondSample: Int) {
        var a = ByteWriter()
        let sampleType = PerfData.Sample.ip | PerfData.Sample.tid | PerfData.Sample.period | PerfData.Sample.read | PerfData.Sample.callchain
            | PerfData.Sample.raw | PerfData.Sample.branchStack | PerfData.Sample.stackUser
        a.u32(1); a.u32(128); a.u64(0); a.u64(1000); a.u64(sampleType)
        a.u64(ReadFormat.group | ReadFormat.totalTimeEnabled | ReadFormat.id)   // read_format
        a.u64(1 << 18)
        while a.bytes.count < 128 { a.u8(0) }
        let layout = PerfDataLayout(events: [.init(attrBytes: a.bytes, ids: [7], name: "cpu-clock")])
        func sample(ip: UInt64, chainNR: UInt64, count: UInt64) -> [UInt8] {
            var b = ByteWriter()
            b.u64(ip); b.u32(5); b.u32(5); b.u64(1)
            b.u64(1); b.u64(100); b.u64(count); b.u64(7)         // read: nr, enabled, {value, id}
            b.u64(chainNR); b.u64(PerfData.contextUser); b.u64(ip); b.u64(0x4000)
            b.u32(4); b.u32(0)                                    // raw: 4 bytes
            b.u64(1); b.u64(1); b.u64(2); b.u64(3)                // branch stack: 1 entry
            b.u64(8); b.u64(0xAB); b.u64(8)                       // user stack: 8 bytes, dyn_size
            return record(type: 9, b.bytes)
        }
        let first = sample(ip: 0x1000, chainNR: 3, count: 9)
        let second = sample(ip: 0x2000, chainNR: nr ?? 3, count: 14)
        let data = first + second
        return (layout.header(dataSize: data.count, features: []) + layout.attrsAndIDs() + data, layout.dataOffset, layout.dataOffset + first.count)
    }

    func set(_ bytes: inout [UInt8], _ offset: Int, _ value: UInt64, width: Int = 8) {
        for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    func testTheRichFileReadsWhole() throws {
        let c = try PerfDataReader.read(richFile().bytes)
        XCTAssertNil(c.damage)
        XCTAssertEqual(c.samples.map(\.ip), [0x1000, 0x2000])
        XCTAssertEqual(c.samples.map(\.period), [9, 5], "PERF_SAMPLE_READ: each sample's period is the counter's increase, as perf delivers it")
        XCTAssertEqual(c.callchainIPs, [0x4000, 0x4000], "the context marker and the sampled IP are not callers")
    }

    func testTheIssuesFieldValuesGiveDamageOrAnErrorNeverATrap() throws {
        let (good, dataOffset, second) = richFile()
        // data.size = 2^63-1: the samples are read, then damage at the end of the file.
        var f = good
        set(&f, 48, (1 << 63) - 1)
        var c = try PerfDataReader.read(f)
        XCTAssertEqual(c.samples.count, 2)
        XCTAssertEqual(c.damage?.offset, f.count)
        XCTAssertTrue(c.damage?.message.contains("truncated") ?? false)
        // data.offset = 2^64-8: a one-line error.
        f = good
        set(&f, 40, .max - 7)
        XCTAssertThrowsError(try PerfDataReader.read(f)) { XCTAssertTrue("\($0)".contains("past the end of the file"), "\($0)") }
        // header size = 2^63: only a lower bound is used.
        f = good
        set(&f, 8, 1 << 63)
        XCTAssertEqual(try PerfDataReader.read(f).samples.count, 2)
        // Every feature bit: the table after the data is missing.
        f = good
        for w in 0..<4 { set(&f, 72 + 8 * w, .max) }
        c = try PerfDataReader.read(f)
        XCTAssertEqual(c.samples.count, 2)
        XCTAssertTrue(c.notes.contains { $0.contains("feature table is cut off") }, "\(c.notes)")
        // callchain nr = 2^64-1 in the second sample: the first is kept, damage at the second.
        c = try PerfDataReader.read(richFile(chain: .max).bytes)
        XCTAssertEqual(c.samples.count, 1)
        XCTAssertEqual(c.damage?.offset, second)
        XCTAssertTrue(c.damage?.message.contains("shorter than its fields") ?? false, "\(String(describing: c.damage))")
        // The group read's nr, the branch stack's nr, the user stack's size and the raw size.
        let body = second + 8
        for (field, what) in [(body + 24, "read nr"), (body + 96, "branch nr"), (body + 128, "stack size"), (body + 88, "raw size")] {
            for v in Self.extremes where v > 64 {
                var g = richFile().bytes
                set(&g, field, v, width: what == "raw size" ? 4 : 8)
                let r = try PerfDataReader.read(g)
                XCTAssertEqual(r.samples.count, 1, what)
                XCTAssertEqual(r.damage?.offset, second, what)
            }
        }
        // attrs at 2^63 with an entry size of 2^64-1.
        f = good
        set(&f, 16, .max); set(&f, 24, 1 << 63)
        XCTAssertThrowsError(try PerfDataReader.read(f)) { XCTAssertTrue("\($0)".contains("attribute section"), "\($0)") }
        // An event's ids at 2^64-8: a note, the file is still read.
        f = good
        set(&f, 104 + 128, .max - 7)
        c = try PerfDataReader.read(f)
        XCTAssertTrue(c.notes.contains { $0.contains("ids of event 0") }, "\(c.notes)")
        XCTAssertEqual(dataOffset, 104 + 128 + 16 + 8)
    }

    /// Every 2-, 4- and 8-byte field of the header, the attr and both samples, at every extreme.
    func testEveryFieldAtEveryExtremeNeverTraps() throws {
        let (good, _, _) = richFile()
        var reads = 0
        for offset in stride(from: 0, to: good.count - 8, by: 2) {
            for v in Self.extremes {
                for width in [2, 4, 8] where offset % width == 0 {
                    var f = good
                    set(&f, offset, v, width: width)
                    if let c = try? PerfDataReader.read(f) {
                        XCTAssertLessThanOrEqual(c.samples.count, 2)
                        XCTAssertLessThanOrEqual(c.damage?.offset ?? 0, f.count)
                    }
                    reads += 1
                }
            }
        }
        XCTAssertGreaterThan(reads, 1000)
    }

    func testPipeModeRecordsWithExtremeSizes() throws {
        var w = ByteWriter(); w.u64(PerfData.magic); w.u64(16)
        var attr = ByteWriter()
        attr.u32(1); attr.u32(0xFFFF_FFFF)   // declared attr size 4 GiB
        attr.u64(0); attr.u64(1); attr.u64(PerfData.Sample.ip)
        var c = try PerfDataReader.read(w.bytes + record(type: 64, attr.bytes))
        XCTAssertEqual(c.damage?.offset, 16)
        var trace = ByteWriter(); trace.u32(0xFFFF_FFF0); trace.u32(0)
        c = try PerfDataReader.read(w.bytes + record(type: 66, trace.bytes))
        XCTAssertTrue(c.damage?.message.contains("trace data") ?? false, "\(String(describing: c.damage))")
        var feature = ByteWriter(); feature.u64(.max)
        c = try PerfDataReader.read(w.bytes + record(type: 80, feature.bytes))
        XCTAssertEqual(c.damage?.offset, 16, "no attribute at all")
    }

    /// Found by the long fuzz run: numbers in JSON files converted with UInt64(Double) /
    /// Int(Double), and "=" in a PMU term list.
    func testJSONNumbersThatDoNotFitAreErrorsNotTraps() throws {
        for text in ["1e300", "-1", "-0.5", "18446744073709551616", "0.5", "1e-300"] {
            XCTAssertNil(try JSONReader.parse(text).countValue, text)
        }
        XCTAssertEqual(try JSONReader.parse("18446744073709549568").countValue, 18_446_744_073_709_549_568)
        XCTAssertNil(try JSONReader.parse("1e300").intValue)
        XCTAssertEqual(try JSONReader.parse("-3").intValue, -3)
        let zone = #"{"node": NODE, "zone": "Normal", "free_blocks": [BLOCK], "watermarks": {"min": MIN}}"#
        func snapshot(node: String = "0", block: String = "1", min: String = "2", order: String = "9") -> String {
            #"{"timestamp": 1, "huge_page_order": \#(order), "zones": [\#(zone.replacingOccurrences(of: "NODE", with: node).replacingOccurrences(of: "BLOCK", with: block).replacingOccurrences(of: "MIN", with: min))]}"#
        }
        XCTAssertEqual(try MemorySnapshot.decode(snapshot()).zones.first?.freeBlocks, [1])
        for bad in [snapshot(node: "-1"), snapshot(node: "1e300"), snapshot(block: "1e300"), snapshot(block: "-4"), snapshot(min: "1e300"),
                    snapshot(order: "1e15"), snapshot(order: "-1")] {
            XCTAssertThrowsError(try MemorySnapshot.decode(bad), bad)
        }
        // Deep nesting (found by the CI fuzz run: 1,000 "(" overflowed the stack), long chains.
        XCTAssertThrowsError(try MetricExpression.parse(String(repeating: "(", count: 1000) + "a" + String(repeating: ")", count: 1000)))
        XCTAssertThrowsError(try MetricExpression.parse(String(repeating: "-", count: 1000) + "1"))
        XCTAssertEqual(try MetricExpression.parse(String(repeating: "((", count: 10) + "a" + String(repeating: "))", count: 10)).names, ["a"])
        let chain = try MetricExpression.parse(Array(repeating: "a", count: 500).joined(separator: "+"))
        XCTAssertEqual(try chain.evaluate(names: { _ in .value(1) }), .value(500))
        XCTAssertThrowsError(try MetricExpression.parse(String(repeating: "a+", count: 9000) + "a"))
        XCTAssertThrowsError(try MetricExpression.parse(String(repeating: "a+", count: 600) + "a"), "more than 512 operands")
        // pagetypeinfo with a repeated column header (found by the CI fuzz run: a duplicate-key trap).
        let pti = "Page block order: 9\nPages per block:  512\n\nNumber of blocks type     Unmovable  Unmovable\nNode 0, zone   Normal          1          2\n"
        _ = try? PageTypeInfo.parse(pti)
        // extfrag indices beyond the kernel's range (found by the CI fuzz run: milli overflowed).
        XCTAssertThrowsError(try ExtfragFile.parse("Node 0, zone   DMA -1.000 -188888888888888888.000\n", file: "extfrag_index"))
        XCTAssertEqual(try ExtfragFile.parse("Node 0, zone   DMA -1.000 0.017 1.000\n", file: "extfrag_index")["node0/DMA"], [-1000, 17, 1000])
        for bad in ["cpu/=/", "cpu/=5,event=1/", "cpu/event=/", "raw-itlb-walk-rd-/", "/"] { XCTAssertNil(RawEventSyntax.pmuTerms(bad), bad) }
        XCTAssertEqual(RawEventSyntax.pmuTerms("cpu/event=0x3c,edge/")?.terms.map(\.0), ["event", "edge"])
    }

    /// Every number of real /proc files (this machine's, or the captured samples), set in
    /// turn to values past Int64, past UInt64, and just past a 64-bit address space of pages,
    /// then parsed and rendered as `frag` does (text, CSV, JSON, diff): an error or output,
    /// never a trap. Found by the CI fuzz run (an 8-bit MIDR field wider than UInt32).
    func testEveryProcNumberAtEveryExtremeNeverTraps() throws {
        func procText(_ path: String, _ fallback: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { $0.isEmpty ? nil : $0 } ?? fallback }
        let buddy = procText("/proc/buddyinfo", "Node 0, zone      DMA      1      1      0      1      2      1      1      0      1      1      3\nNode 0, zone   Normal   3346   1642    712    201     77     25      9      3      1      0      0\n")
        let files: [(String, (String) -> Void)] = [
            (buddy, { t in
                guard let zones = try? BuddyInfo.parse(t) else { return }
                let s = MemorySnapshot(timestampSeconds: 0, zones: zones)
                _ = FragmentationReport(color: false).text(s); _ = FragmentationReport.csv(s)
                _ = FragmentationReport.diff(s, MemorySnapshot(timestampSeconds: 0, zones: zones.map { ZoneFreeLists(node: $0.node, zone: $0.zone, freeBlocks: []) }))
                if let again = try? MemorySnapshot.decode(s.json()) { XCTAssertEqual(again.zones, s.zones) }
            }),
            (procText("/proc/pagetypeinfo", "Page block order: 9\nPages per block:  512\n\nFree pages count per migrate type at order       0      1\nNode    0, zone      DMA, type    Unmovable      0      1\n\nNumber of blocks type     Unmovable      Movable\nNode 0, zone      DMA            1            7\n"),
             { _ = try? PageTypeInfo.parse($0) }),
            (procText("/proc/zoneinfo", "Node 0, zone      DMA\n  pages free     3840\n        min      33\n        low      41\n        high     49\n        managed  3840\n        present  3998\n"),
             { _ = try? ZoneInfo.parse($0) }),
            ("processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\nprocessor\t: 1\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n",
             { _ = CPUInfoParser.parse($0) }),
            ("some avg10=0.00 avg60=0.00 avg300=0.00 total=123\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=45\n", { _ = try? PressureStall.parse($0) }),
            ("Node 0, zone      DMA -1.000 -1.000 0.017 1.000\n", { _ = try? ExtfragFile.parse($0, file: "extfrag_index") }),
            (procText("/proc/vmstat", "nr_free_pages 1234\ncompact_stall 5\n"), { t in
                let v = VMStat.parse(t).0
                let a = MemorySnapshot(timestampSeconds: 0, zones: [], vmstat: v.counters), b = MemorySnapshot(timestampSeconds: 1, zones: [], vmstat: [:])
                _ = FragmentationReport.diff(a, b); _ = FragmentationReport.diff(b, a)
            }),
        ]
        let extremes = ["18446744073709551615", "9223372036854775808", "18446744073709551616", "4503599627370497", "0x1ffffffff", "99999999999999999999999"]
        let number = try NSRegularExpression(pattern: "(0x)?[0-9a-f]*[0-9][0-9a-f]*")
        var variants = 0
        for (text, use) in files {
            let ns = text as NSString
            for m in number.matches(in: text, range: NSRange(location: 0, length: ns.length)).prefix(400) {
                for e in extremes { use(ns.replacingCharacters(in: m.range, with: e)); variants += 1 }
            }
        }
        XCTAssertGreaterThan(variants, 200)
        // The values themselves: errors that say what is wrong, and the conversions that trapped.
        XCTAssertThrowsError(try BuddyInfo.parse("Node 0, zone   Normal   18446744073709551615  1\n")) { XCTAssertTrue("\($0)".contains("address space"), "\($0)") }
        XCTAssertThrowsError(try BuddyInfo.parse("Node 99999999999999999999, zone   Normal   1  1\n"))
        XCTAssertEqual(try BuddyInfo.parse("Node 0, zone   Normal   4503599627370496\n").first?.freeBlocks, [1 << 52])
        XCTAssertEqual(CPUInfoParser.parse("processor : 0\nCPU implementer : 0x1ffffffff\nCPU part : 0xd0c\n")[0], .unknown("CPU implementer 0x1ffffffff / part 0xd0c out of range"))
        XCTAssertEqual(signedChange(from: 0, to: .max), "+18446744073709551615")
        XCTAssertEqual(signedChange(from: .max, to: 1), "-18446744073709551614")
        XCTAssertEqual(FragmentationIndex(zone: ZoneFreeLists(node: 0, zone: "N", freeBlocks: [1, 1])).fragmentationIndexMilli(order: 64), 0)
    }

    // MARK: ELF

    /// A small real object: this test bundle's own executable is too large to sweep, so
    /// a minimal ELF is built with one PT_LOAD, .symtab, .strtab and a build-id note.
    func tinyELF() -> [UInt8] {
        var w = ByteWriter()
        let phoff = 64, shoff = 64 + 56
        // ELF header
        w.append([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 8))
        w.u16(3); w.u16(62); w.u32(1); w.u64(0x1000); w.u64(UInt64(phoff)); w.u64(UInt64(shoff))
        w.u32(0); w.u16(64); w.u16(56); w.u16(1); w.u16(64); w.u16(5); w.u16(3)
        // PT_LOAD: offset 0, vaddr 0, filesz 0x2000
        w.u32(1); w.u32(5); w.u64(0); w.u64(0); w.u64(0); w.u64(0x2000); w.u64(0x2000); w.u64(0x1000)
        let contentStart = shoff + 5 * 64
        let strtab: [UInt8] = Array("\0main\0helper\0".utf8)
        var symtab = ByteWriter()
        symtab.append([UInt8](repeating: 0, count: 24))
        for (name, value, size) in [(1, 0x1100, 0x40), (6, 0x1140, 0x20)] as [(UInt32, UInt64, UInt64)] {
            symtab.u32(name); symtab.u8(0x12); symtab.u8(0); symtab.u16(1); symtab.u64(value); symtab.u64(size)
        }
        var note = ByteWriter(); note.u32(4); note.u32(4); note.u32(3); note.append(Array("GNU\0".utf8)); note.append([0xDE, 0xAD, 0xBE, 0xEF])
        let symOff = contentStart, strOff = symOff + symtab.bytes.count, noteOff = strOff + strtab.count
        func section(type: UInt32, flags: UInt64 = 0, offset: Int, size: Int, link: UInt32) {
            w.u32(0); w.u32(type); w.u64(flags); w.u64(0); w.u64(UInt64(offset)); w.u64(UInt64(size)); w.u32(link); w.u32(0); w.u64(8); w.u64(type == 2 ? 24 : 0)
        }
        section(type: 0, offset: 0, size: 0, link: 0)
        section(type: 1, flags: 0x6, offset: 0x1000, size: 0, link: 0)   // .text: ALLOC | EXECINSTR (NOBITS-like: no bytes here)
        section(type: 2, offset: symOff, size: symtab.bytes.count, link: 3)
        section(type: 3, offset: strOff, size: strtab.count, link: 0)
        section(type: 7, offset: noteOff, size: note.bytes.count, link: 0)
        w.append(symtab.bytes); w.append(strtab); w.append(note.bytes)
        return w.bytes
    }

    func testTheTinyELFReads() throws {
        let e = try ELFSymbols(bytes: tinyELF())
        XCTAssertEqual(e.symbol(at: 0x1120), "main")
        XCTAssertEqual(e.symbol(at: 0x1150), "helper")
        XCTAssertEqual(e.buildID, "deadbeef")
        XCTAssertEqual(e.virtualAddress(fileOffset: 0x1120), 0x1120)
    }

    /// libc's aliases (readelf of Debian's libc6 debug file): perf shows __munmap (GLOBAL)
    /// over munmap (WEAK) and __GI___munmap (LOCAL), and __brk (LOCAL) over brk (WEAK).
    func testAliasesAreChosenAsPerfChooses() {
        typealias S = ELFSymbols.Symbol
        func best(_ list: [S]) -> String { list.dropFirst().reduce(list[0]) { ELFSymbols.prefer($1, over: $0) ? $1 : $0 }.name }
        let munmap = [S(address: 0x101a00, size: 33, name: "__GI___munmap", binding: 0), S(address: 0x101a00, size: 33, name: "munmap", binding: 2),
                      S(address: 0x101a00, size: 33, name: "__munmap", binding: 1)]
        XCTAssertEqual(best(munmap), "__munmap")
        XCTAssertEqual(best(munmap.reversed()), "__munmap")
        let brk = [S(address: 0xfdc40, size: 52, name: "brk", binding: 2), S(address: 0xfdc40, size: 52, name: "__brk", binding: 0)]
        XCTAssertEqual(best(brk), "__brk")
        XCTAssertEqual(best([S(address: 1, size: 0, name: "label", binding: 1), S(address: 1, size: 8, name: "f", binding: 0)]), "f", "sized over zero-sized")
        XCTAssertEqual(best([S(address: 1, size: 8, name: "__x", binding: 1), S(address: 1, size: 8, name: "_x", binding: 1)]), "_x", "fewer underscores")
        XCTAssertEqual(best([S(address: 1, size: 8, name: "ab", binding: 1), S(address: 1, size: 8, name: "abc", binding: 1)]), "abc", "then the longer name")
    }

    func testEveryELFFieldAtEveryExtremeNeverTraps() {
        let good = tinyELF()
        var reads = 0
        for offset in stride(from: 16, to: good.count - 8, by: 2) {
            for v in Self.extremes {
                for width in [2, 4, 8] where offset % width == 0 {
                    var f = good
                    set(&f, offset, v, width: width)
                    if let e = try? ELFSymbols(bytes: f) {
                        _ = e.symbol(at: 0x1120)
                        _ = e.symbol(at: .max)
                        _ = e.virtualAddress(fileOffset: .max)
                        _ = e.virtualAddress(fileOffset: 0x1120)
                    }
                    reads += 1
                }
            }
        }
        XCTAssertGreaterThan(reads, 1000)
    }

    func testSegmentsAndSymbolsNearTheTopOfTheAddressSpace() throws {
        var f = tinyELF()
        set(&f, 64 + 8, .max - 0x10)     // p_offset
        set(&f, 64 + 32, .max)           // p_filesz
        let e = try ELFSymbols(bytes: f)
        XCTAssertNil(e.virtualAddress(fileOffset: 0x1120))
        XCTAssertEqual(e.virtualAddress(fileOffset: .max), 0x10)
        // A symbol whose size runs past 2^64.
        var g = tinyELF()
        let sym1 = 64 + 56 + 5 * 64 + 24
        set(&g, sym1 + 8, .max - 4); set(&g, sym1 + 16, 100)
        XCTAssertEqual(try ELFSymbols(bytes: g).symbol(at: .max), "main")
    }

    /// Module symbols as perf reads kallsyms, against perf 6.12's own resolution of 231
    /// sampled addresses in four modules of an arm64 guest (Examples/lab/arm64: a 9p
    /// workload recorded with `perf record -a`; `perf script -F ip,sym` while /proc/kallsyms
    /// was read; Fixtures/kallsyms-arm64-modules.txt is that boot's module symbols). arm64
    /// modules begin with a PLT that no symbol covers: perf shows `[unknown]` there, and
    /// the symbol before it (the previous module's last) must not take those samples.
    func testModuleSymbolsResolveAsPerfOnAnArm64Guest() throws {
        let dir = "/" + #filePath.split(separator: "/").dropLast().joined(separator: "/") + "/Fixtures/"
        let k = KernelSymbols(kallsyms: try String(contentsOfFile: dir + "kallsyms-arm64-modules.txt", encoding: .utf8))
        var unknown = 0, named = 0
        for line in try String(contentsOfFile: dir + "perf-script-arm64-modules.txt", encoding: .utf8).split(separator: "\n") {
            let f = line.split(separator: " ")
            let ip = try XCTUnwrap(UInt64(f[0], radix: 16))
            let hit = k.lookup(ip)
            if f[1] == "[unknown]" {
                unknown += 1
                XCTAssertNil(hit, "0x\(f[0]): perf names no symbol")
            } else {
                named += 1
                let parts = f[1].split(separator: "+")
                XCTAssertEqual(hit?.name, String(parts[0]), "0x\(f[0])")
                XCTAssertEqual(hit.map { ip - $0.start }, UInt64(parts[1].dropFirst(2), radix: 16), "0x\(f[0]): offset")
                XCTAssertNotNil(hit?.module, "0x\(f[0]): a module's symbol")
            }
        }
        XCTAssertGreaterThan(unknown, 10)
        XCTAssertGreaterThan(named, 150)
        // Arm mapping symbols are never names; of two symbols at one address the last listed.
        let m = KernelSymbols(kallsyms: """
        ffff000000001000 t $x\t[mod_a]
        ffff000000001008 t first\t[mod_a]
        ffff000000001100 t cleanup_module\t[mod_a]
        ffff000000001100 t mod_a_exit\t[mod_a]
        ffff000000003000 t $x\t[mod_b]
        ffff000000003100 T in_b\t[mod_b]
        ffffffff80000000 T _stext

        """)
        XCTAssertNil(m.lookup(0xffff000000001004), "$x is no function")
        XCTAssertEqual(m.lookup(0xffff000000001010), .init(name: "first", module: "mod_a", start: 0xffff000000001008))
        XCTAssertEqual(m.symbol(at: 0xffff000000001104), "mod_a_exit")
        XCTAssertEqual(m.symbol(at: 0xffff000000001fff), "mod_a_exit", "a module's last symbol reaches the page after it")
        XCTAssertNil(m.lookup(0xffff000000003010), "mod_b's PLT: not mod_a's last function")
        XCTAssertEqual(m.lookup(0xffff000000003104)?.module, "mod_b")
        XCTAssertNil(m.lookup(0xffffffff80000010)?.module, "the core kernel")
    }

    func testKallsymsWithHugeAndMalformedAddresses() {
        let k = KernelSymbols(kallsyms: "ffffffffffffffffffff T too_long\nxyz T bad\nffffffff81000000 T _stext\n\n T\nffffffffffffffff t last\n")
        XCTAssertEqual(k.symbol(at: 0xffffffff81000010), "_stext")
        XCTAssertEqual(k.symbol(at: .max), "last")
    }
}
