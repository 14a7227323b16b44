import XCTest
@testable import StallCore

final class PerfDataTests: XCTestCase {
    /// A small file built with the writer: two events, synthesized records, two samples.
    func sampleFile() -> [UInt8] {
        func attr(type: UInt32, config: UInt64) -> [UInt8] {
            var w = ByteWriter()
            w.u32(type); w.u32(128); w.u64(config); w.u64(1000)
            w.u64(PerfData.Sample.identifier | PerfData.Sample.ip | PerfData.Sample.tid | PerfData.Sample.time | PerfData.Sample.cpu | PerfData.Sample.period)
            w.u64(0); w.u64(PerfData.AttrFlag.sampleIDAll | PerfData.AttrFlag.freq)   // read_format; flags
            while w.bytes.count < 128 { w.u8(0) }
            return w.bytes
        }
        let layout = PerfDataLayout(events: [.init(attrBytes: attr(type: 1, config: 0), ids: [11, 12], name: "cpu-clock"),
                                             .init(attrBytes: attr(type: 4, config: 0x4005), ids: [21], name: "raw-stall-backend-mem")])
        var data = ByteWriter()
        data.append(SynthesizedRecord.comm(pid: 42, tid: 42, name: "app", identifier: 11))
        data.append(SynthesizedRecord.mmap2(pid: 42, start: 0x1000, length: 0x2000, pgoff: 0, protection: 5, filename: "/bin/app", identifier: 11))
        func sample(id: UInt64, ip: UInt64, period: UInt64) {
            var b = ByteWriter()
            b.u64(id); b.u64(ip); b.u32(42); b.u32(43); b.u64(7); b.u32(1); b.u32(0); b.u64(period)
            var r = ByteWriter()
            r.u32(9); r.u16(2); r.u16(UInt16(8 + b.bytes.count)); r.append(b.bytes)
            data.append(r.bytes)
        }
        sample(id: 12, ip: 0x1100, period: 3)
        sample(id: 21, ip: 0x1200, period: 5)
        data.append(SynthesizedRecord.finishedRound)
        let (features, bits) = layout.features(.init(hostname: "h", osRelease: "6.1", version: "stallstat t", arch: "x86_64", cpusAvailable: 2, cpusOnline: 2, cmdline: ["stallstat", "record"]),
                                                at: layout.dataOffset + data.bytes.count)
        return layout.header(dataSize: data.bytes.count, features: bits) + layout.attrsAndIDs() + data.bytes + features
    }

    /// The file header as perf's struct perf_file_header lays it out (util/header.h): the
    /// fields at their offsets, the feature bits in their words, both directions.
    func testFileHeaderLayoutAndRoundTrip() throws {
        let h = PerfFileHeader(attrEntrySize: 136 + 16, attrs: .init(offset: 104, size: 2 * 152), data: .init(offset: 424, size: 4096),
                               features: [.buildID, .hostname, .cmdline, .pmuCaps])
        let bytes = h.encode()
        XCTAssertEqual(bytes.count, 104)
        func u64(_ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * $1) } }
        XCTAssertEqual(Array(bytes[0..<8]), Array("PERFILE2".utf8))
        XCTAssertEqual([u64(8), u64(16), u64(24), u64(32), u64(40), u64(48), u64(56), u64(64)], [104, 152, 104, 304, 424, 4096, 0, 0])
        // HEADER_BUILD_ID = 2, HEADER_HOSTNAME = 3, HEADER_CMDLINE = 11 in the first word; HEADER_PMU_CAPS = 31 too.
        XCTAssertEqual(u64(72), 1 << 2 | 1 << 3 | 1 << 11 | 1 << 31)
        XCTAssertEqual([u64(80), u64(88), u64(96)], [0, 0, 0])
        XCTAssertEqual(try PerfFileHeader.decode(ByteReader(bytes)), .file(h))
        XCTAssertEqual(h.featureBitsSet, [2, 3, 11, 31])
        XCTAssertFalse(h.hasFeature(bit: 256) || h.hasFeature(bit: -1))
        // A pipe-mode header is magic and size 16 only.
        XCTAssertEqual(try PerfFileHeader.decode(ByteReader(Array(bytes[0..<8]) + [16, 0, 0, 0, 0, 0, 0, 0])), .pipe)
        // Cut short, byte-swapped, or not perf.data: an error naming what is wrong.
        XCTAssertThrowsError(try PerfFileHeader.decode(ByteReader(Array(bytes[0..<60])))) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
        XCTAssertThrowsError(try PerfFileHeader.decode(ByteReader(Array(bytes[0..<8].reversed()) + Array(bytes[8...])))) { XCTAssertTrue("\($0)".contains("big-endian")) }
        XCTAssertThrowsError(try PerfFileHeader.decode(ByteReader(Array(repeating: 0, count: 104)))) { XCTAssertTrue("\($0)".contains("magic")) }
    }

    func testWriterAndReaderAgree() throws {
        let c = try PerfDataReader.read(sampleFile())
        XCTAssertNil(c.damage)
        XCTAssertEqual(c.attrs.map(\.name), ["cpu-clock", "raw-stall-backend-mem"], "names from EVENT_DESC")
        XCTAssertEqual(c.attrs[0].ids, [11, 12])
        XCTAssertEqual(c.samples.count, 2)
        XCTAssertEqual(c.samples.map(\.attr), [0, 1], "identifiers map samples to their events")
        XCTAssertEqual(c.samples.map(\.ip), [0x1100, 0x1200])
        XCTAssertEqual(c.samples.map(\.period), [3, 5])
        XCTAssertEqual(c.samples[0].pid, 42)
        XCTAssertEqual(c.samples[0].tid, 43)
        XCTAssertEqual(c.samples[0].cpu, 1)
        XCTAssertEqual(c.comms[42], "app")
        XCTAssertEqual(c.mappings, [MemoryMapping(pid: 42, start: 0x1000, end: 0x3000, pgoff: 0, filename: "/bin/app")])
        XCTAssertEqual(c.hostname, "h")
        XCTAssertEqual(c.cmdline, ["stallstat", "record"])
    }

    /// Each feature's writer and reader are one table entry: what a section writes, its
    /// reader takes back; the table is in bit order (the order of a file's feature table).
    func testEveryFeatureSectionReadsBackWhatItWrote() throws {
        XCTAssertEqual(PerfFeatureSection.all.map(\.feature.rawValue), PerfFeatureSection.all.map(\.feature.rawValue).sorted())
        XCTAssertEqual(Set(PerfFeatureSection.all.map(\.feature)).count, PerfFeatureSection.all.count, "one entry per feature")
        var d = PerfDataLayout.Description(hostname: "node-7", osRelease: "6.12.9", version: "stallstat 1", arch: "aarch64",
                                           cpusAvailable: 8, cpusOnline: 6, cmdline: ["stallstat", "record", "-g", "--", "./a b"])
        d.buildIDs = [BuildIDEntry(filename: "/usr/lib/libc.so.6", buildID: String(repeating: "ab", count: 20), isKernel: false)]
        d.tracingData = [1, 2, 3]
        var attr = ByteWriter()
        attr.u32(1); attr.u32(128); for _ in 0..<15 { attr.u64(0) }
        let events = [PerfDataLayout.Event(attrBytes: attr.bytes, ids: [5, 6], name: "cpu-clock:u")]
        let sections = PerfFeatureSection.encodeAll(.init(description: d, events: events, attrSize: 128))
        XCTAssertEqual(sections.map(\.0), [.tracingData, .buildID, .hostname, .osRelease, .version, .arch, .nrCPUs, .cmdline, .eventDesc])
        var c = PerfDataContents()
        c.attrs = [PerfFileAttr(type: 1, config: 0, samplePeriodOrFrequency: 0, sampleType: 0, readFormat: 0, flags: 0, config1: 0,
                                branchSampleType: 0, sampleRegsUser: 0, sampleRegsIntr: 0, ids: [5, 6], name: "cpu-clock")]
        for (feature, bytes) in sections {
            PerfFeatureSection.decode(feature, ByteReader(bytes), 0..<bytes.count, into: &c)
        }
        XCTAssertEqual(c.hostname, "node-7")
        XCTAssertEqual(c.osRelease, "6.12.9")
        XCTAssertEqual(c.perfVersion, "stallstat 1")
        XCTAssertEqual(c.arch, "aarch64")
        XCTAssertEqual(c.cmdline, d.cmdline)
        XCTAssertEqual(c.buildIDs, d.buildIDs)
        XCTAssertEqual(c.attrs[0].name, "cpu-clock:u")
        // NR_CPUS: available then online, as perf's write_nrcpus.
        let nr = try XCTUnwrap(sections.first { $0.0 == .nrCPUs }?.1)
        XCTAssertEqual(nr, [8, 0, 0, 0, 6, 0, 0, 0])
        // Nothing to say: no section.
        d.buildIDs = []; d.tracingData = nil
        XCTAssertFalse(PerfFeatureSection.encodeAll(.init(description: d, events: events, attrSize: 128)).contains { $0.0 == .buildID || $0.0 == .tracingData })
        // A malformed section is skipped, not an error: the cmdline's count claims more than is there.
        var bad = PerfDataContents()
        PerfFeatureSection.decode(.cmdline, ByteReader([0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0]), 0..<8, into: &bad)
        XCTAssertEqual(bad.cmdline, [])
    }

    func testTruncatedAndCorruptFilesReportTheOffsetAndKeepWhatCameBefore() throws {
        let full = sampleFile()
        let c = try PerfDataReader.read(full)
        // header, two attrs of 128 + 16 bytes, three ids; then comm, mmap2, sample 1, sample 2
        let dataOffset = 104 + 2 * (128 + 16) + 8 * 3
        var firstSampleEnd = dataOffset
        for _ in 0..<3 { firstSampleEnd += Int(full[firstSampleEnd + 6]) | Int(full[firstSampleEnd + 7]) << 8 }
        // Cut inside the second sample.
        let truncated = Array(full.prefix(firstSampleEnd + 20))
        let t = try PerfDataReader.read(truncated)
        XCTAssertEqual(t.samples.count, 1, "the sample before the damage is kept")
        XCTAssertEqual(t.damage?.offset, firstSampleEnd)
        XCTAssertTrue(t.damage?.message.contains("truncated") ?? false, "\(String(describing: t.damage))")

        var corrupt = full
        corrupt[firstSampleEnd + 6] = 3; corrupt[firstSampleEnd + 7] = 0   // size 3
        let k = try PerfDataReader.read(corrupt)
        XCTAssertEqual(k.samples.count, 1)
        XCTAssertEqual(k.damage?.offset, firstSampleEnd)
        XCTAssertEqual(k.damage?.message, "record of type 9 claims 3 bytes (corrupt)")
        XCTAssertEqual(c.samples.count, 2)

        XCTAssertThrowsError(try PerfDataReader.read(Array("hello, world, not perf".utf8))) { XCTAssertTrue("\($0)".contains("no PERFILE2 magic")) }
        XCTAssertThrowsError(try PerfDataReader.read(Array(full.prefix(60)))) { XCTAssertTrue("\($0)".contains("truncated")) }
        var pipe = ByteWriter(); pipe.u64(PerfData.magic); pipe.u64(16)
        XCTAssertEqual(try PerfDataReader.read(pipe.bytes).damage?.offset, 16, "a pipe-mode header without records has nothing to report")
    }

    func testThreadNamesFollowPerfsRules() {
        let n = ThreadNames([.comm(tid: 10, time: 100, name: "shell"),
                             .fork(tid: 11, parentTID: 10, time: 150),
                             .comm(tid: 10, time: 200, name: "renamed"),
                             .fork(tid: 12, parentTID: 10, time: 250),
                             .comm(tid: 11, time: 300, name: "exec'd")])
        XCTAssertEqual(n.display(tid: 10, at: 150), "shell")
        XCTAssertEqual(n.display(tid: 10, at: 250), "renamed")
        XCTAssertEqual(n.display(tid: 11, at: 200), "shell", "a fork without exec keeps the parent's name at the fork")
        XCTAssertEqual(n.display(tid: 11, at: 300), "exec'd", "from the exec on, the new name")
        XCTAssertEqual(n.display(tid: 12, at: 260), "renamed")
        XCTAssertEqual(n.display(tid: 10, at: 50), "shell", "before the first name: the first (names synthesized at the start)")
        XCTAssertEqual(n.display(tid: 0, at: 1), "swapper")
        XCTAssertEqual(n.display(tid: 77, at: 1), ":77")
        XCTAssertEqual(n.display(tid: -1, at: 1), ":-1", "perf 6.12 on arm64 shows sched_switch samples outside any task as :-1")
        XCTAssertTrue(n.hasOneName(tid: 12))
        XCTAssertFalse(n.hasOneName(tid: 10))
    }

    func testBuildIDSectionRoundTripsAndSurvivesDamage() throws {
        let entries = [BuildIDEntry(filename: "[kernel.kallsyms]", buildID: "6ecd6ec21ec69416e50a8aa6737e500901ddb47a", isKernel: true),
                       BuildIDEntry(filename: "/tmp/app", buildID: "3c95e6a2ccb4f89d", isKernel: false)]
        let section = BuildIDEntry.section(entries)
        XCTAssertEqual(section.count, 2 * 36 + 64 + 64, "names padded to 64 bytes, as perf's NAME_ALIGN")
        let r = ByteReader(section)
        XCTAssertEqual(BuildIDEntry.parse(r, 0..<section.count), entries)
        // A size of 0xFFFF, a size below the fixed part, a cut section: no trap, what came before is kept.
        for (offset, value) in [(6, UInt8(0xFF)), (7, UInt8(0xFF)), (6, UInt8(3)), (7, UInt8(0))] {
            var bad = section
            bad[100 + offset] = value
            XCTAssertLessThanOrEqual(BuildIDEntry.parse(ByteReader(bad), 0..<bad.count).count, 2)
        }
        XCTAssertEqual(BuildIDEntry.parse(ByteReader(Array(section.prefix(120))), 0..<120), Array(entries.prefix(1)))
    }

    /// An address in no mapping is one row whatever the level, shown with the level of its
    /// earliest sample by time, as perf (which processes samples in time order) shows it;
    /// the file's order differs where CPUs' records interleave.
    func testAnUnmappedAddressShowsTheLevelOfItsEarliestSample() throws {
        var c = try PerfDataReader.read(sampleFile())
        var kernelLate = c.samples[0]
        kernelLate.attr = 0; kernelLate.ip = 0x1234; kernelLate.isKernel = true; kernelLate.time = 300; kernelLate.chainCount = 0
        var userEarly = kernelLate
        userEarly.isKernel = false; userEarly.time = 200
        let resolve: FrameResolver = { _, ip, _, _ in ResolvedFrame(dso: "[unknown]", symbol: nil, isKernel: false, address: ip) }
        for order in [[kernelLate, userEarly], [userEarly, kernelLate]] {
            c.samples = order
            let r = ProfileReport(contents: c, sortKeys: [.symbol], children: false, resolve: resolve)
            XCTAssertEqual(r.rows.map(\.keys), [["[.] 0x0000000000001234"]], "file order \(order.map(\.time))")
        }
    }

    func testReportAggregatesPerEventSideBySideAndFolds() throws {
        let c = try PerfDataReader.read(sampleFile())
        let resolve: FrameResolver = { _, ip, _, _ in ResolvedFrame(dso: "app", symbol: ip < 0x1180 ? "hot" : "cold", isKernel: false) }
        let r = ProfileReport(contents: c, sortKeys: [.symbol], children: false, resolve: resolve)
        XCTAssertEqual(r.events, ["cpu-clock", "raw-stall-backend-mem"])
        let hot = try XCTUnwrap(r.rows.first { $0.keys == ["[.] hot"] })
        XCTAssertEqual(hot.selfPercent, [100, 0], "cpu-clock samples all in hot, the stall event's in cold")
        let text = r.text(children: false, percentLimit: 0)
        XCTAssertTrue(text.contains("cpu-clock") && text.contains("raw-stall-backend-mem"), text)
        // The sample's thread (tid 43) has no COMM of its own: perf shows such a thread as ":43".
        XCTAssertTrue(ProfileReport.folded(contents: c, resolve: resolve).contains(":43;hot 1"))
        XCTAssertEqual(ProfileReport.folded(contents: c, event: 1, resolve: resolve), ":43;cold 1\n", "--event: one event's samples")
        XCTAssertEqual(ProfileSortKey(userName: "sym"), .symbol)
        XCTAssertEqual(ProfileSortKey(userName: "data_page_size"), .dataPageSize)
    }

    func testExecutableMappingsFromProcMaps() {
        let maps = "55f9e6d88000-55f9e6d89000 r--p 00000000 fe:00 5324871 /bin/app\n55f9e6d89000-55f9e6d8a000 r-xp 00001000 fe:00 5324871 /bin/app\n7ffd1000-7ffd3000 r-xp 00000000 00:00 0 [vdso]\n"
        let m = ProcPIDMaps.executableMappings(maps)
        XCTAssertEqual(m.count, 2)
        XCTAssertEqual(m[0].0, 0x55f9e6d89000)
        XCTAssertEqual(m[0].2, 0x1000)
        XCTAssertEqual(m[0].4, "/bin/app")
        XCTAssertEqual(m[1].4, "[vdso]")
        // With data (record -d, --call-graph dwarf): readable file mappings too, as the
        // kernel aligns the path column with spaces; never anonymous memory or [heap].
        let aligned = "55f9e6d88000-55f9e6d89000 r--p 00000000 fe:00 5324871                    /bin/app\n" +
            "55f9e6d89000-55f9e6d8a000 r-xp 00001000 fe:00 5324871                    /bin/app\n" +
            "55f9e6d8b000-55f9e6d8c000 rw-p 00002000 fe:00 5324871                    /bin/app\n" +
            "55f9e7000000-55f9e7021000 rw-p 00000000 00:00 0                          [heap]\n" +
            "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n" +
            "7f0000002000-7f0000003000 ---p 00000000 fe:00 77                         /lib/libz.so\n"
        XCTAssertEqual(ProcPIDMaps.executableMappings(aligned, data: true).map { "\($0.2) \($0.3) \($0.4)" },
                       ["0 1 /bin/app", "4096 5 /bin/app", "8192 3 /bin/app"])
        XCTAssertEqual(ProcPIDMaps.executableMappings(aligned).map(\.4), ["/bin/app"])
    }
}

/// `--call-graph` as perf parses it, and what report says of user stacks.
final class CallGraphModeTests: XCTestCase {
    func testModesAndSizesAsPerfTakesThem() throws {
        XCTAssertEqual(try CallGraphMode.parse("fp"), .framePointers)
        XCTAssertEqual(try CallGraphMode.parse("dwarf"), .dwarf(stackBytes: 8192))
        XCTAssertEqual(try CallGraphMode.parse("dwarf,16384"), .dwarf(stackBytes: 16384))
        XCTAssertEqual(try CallGraphMode.parse("dwarf,100"), .dwarf(stackBytes: 104), "rounded up to 8, as perf's get_stack_size")
        XCTAssertEqual(try CallGraphMode.parse("dwarf,65528"), .dwarf(stackBytes: 65528))
        for bad in ["dwarf,0", "dwarf,65529", "dwarf,-8", "dwarf,1e3", "dwarf,", "dwarf,8,8", "fp,8", "lbr", "", "DWARF", "dwarf,18446744073709551616"] {
            XCTAssertThrowsError(try CallGraphMode.parse(bad), bad)
        }
        XCTAssertTrue("\(try? CallGraphMode.parse("lbr") as Any)".contains("nil"))
    }

    func testTheNoteSaysWhatWasNotUnwound() {
        var s = UserStackStatistics()
        XCTAssertNil(s.note, "no dwarf samples, nothing to say")
        s.stacks = 10; s.unwound = 10
        XCTAssertNil(s.note, "all unwound")
        s.unwound = 7; s.stopReasons = ["no caller found": 2, "the sampled address is in no mapped file": 1]
        XCTAssertEqual(s.note, "--call-graph dwarf: 3 of 10 user stacks could not be unwound past the sampled function, so those samples have no user callers: no caller found (2); the sampled address is in no mapped file (1)")
        s.notUnwound = true
        XCTAssertTrue(s.note?.contains("not unwound here") ?? false)
    }
}

/// Merged reading (report's) must name each sample's thread by the sample's time, even
/// when the COMM that renamed it comes later in the file than a sample taken after it
/// (records of different CPUs interleave out of time order within a round).
final class SampleMergingTests: XCTestCase {
    func testAThreadRenamedLaterInTheFileIsNamedByTime() throws {
        var w = ByteWriter()
        w.u32(1); w.u32(128); w.u64(0); w.u64(1000)
        w.u64(PerfData.Sample.identifier | PerfData.Sample.ip | PerfData.Sample.tid | PerfData.Sample.time | PerfData.Sample.cpu | PerfData.Sample.period)
        w.u64(0); w.u64(1 << 18)   // sample_id_all
        while w.bytes.count < 128 { w.u8(0) }
        let layout = PerfDataLayout(events: [.init(attrBytes: w.bytes, ids: [11], name: "cpu-clock")])
        var data = ByteWriter()
        func record(_ type: UInt32, _ body: [UInt8]) {
            var r = ByteWriter()
            r.u32(type); r.u16(2); r.u16(UInt16(8 + body.count)); r.append(body)
            data.append(r.bytes)
        }
        func comm(_ name: String, time: UInt64) {
            var b = ByteWriter()
            b.u32(42); b.u32(42)
            var n = Array(name.utf8) + [0]
            while n.count % 8 != 0 { n.append(0) }
            b.append(n)
            b.u32(42); b.u32(42); b.u64(time); b.u32(0); b.u32(0); b.u64(11)   // sample_id_all trailer
            record(3, b.bytes)
        }
        func sample(time: UInt64) {
            var b = ByteWriter()
            b.u64(11); b.u64(0x1100); b.u32(42); b.u32(42); b.u64(time); b.u32(0); b.u32(0); b.u64(1000)
            record(9, b.bytes)
        }
        comm("app", time: 1)
        sample(time: 10)
        sample(time: 300)          // after the rename, but read before its COMM
        comm("renamed", time: 200)
        sample(time: 400)
        let (features, bits) = layout.features(.init(hostname: "h", osRelease: "6.1", version: "t", arch: "x86_64", cpusAvailable: 1, cpusOnline: 1, cmdline: ["t"]),
                                                at: layout.dataOffset + data.bytes.count)
        let file = ByteStorage(layout.header(dataSize: data.bytes.count, features: bits) + layout.attrsAndIDs() + data.bytes + features)
        let plain = try PerfDataReader.read(file), merged = try PerfDataReader.read(file, merge: true)
        XCTAssertEqual(plain.samples.count, 3)
        XCTAssertEqual(merged.samples.count, 2, "the two samples after the rename merge, the one before does not")
        let resolve: FrameResolver = { _, _, k, _ in ResolvedFrame(dso: "app", symbol: "f", isKernel: k) }
        let a = ProfileReport(contents: plain, sortKeys: [.comm], children: false, resolve: resolve).json(children: false, percentLimit: 0)
        let b = ProfileReport(contents: merged, sortKeys: [.comm], children: false, resolve: resolve).json(children: false, percentLimit: 0)
        XCTAssertEqual(a, b)
        XCTAssertTrue(a.contains("renamed"), a)
    }
}
