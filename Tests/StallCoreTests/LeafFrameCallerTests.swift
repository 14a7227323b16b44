import XCTest
@testable import StallCore

/// arm64 `-g` files: the caller of a leaf function comes from the sampled link register,
/// through the unwinder (one frame, registers only), and goes right after the user pc, as
/// perf report inserts it (util/machine.c, arm64-frame-pointer-unwind-support.c).
final class LeafFrameCallerTests: XCTestCase {
    /// Unwinds from a table: a pc listed as a leaf gets its caller (the link register minus
    /// one, as libdwfl gives a return address); any other stops at the pc.
    final class TableUnwinder: UserStackUnwinder {
        var leaves: Set<UInt64>
        var calls: [(registers: [UInt64], stackBytes: Int, maxFrames: Int, arch: String?)] = []
        var callerIsPC = false
        init(leaves: Set<UInt64>) { self.leaves = leaves }
        func unwind(_ sample: UserStackSample, contents: PerfDataContents) -> (frames: [UInt64], stopped: String?) {
            calls.append((sample.registers, sample.stack.count, sample.maxFrames, sample.arch))
            let pc = sample.registers[32], lr = sample.registers[30]
            guard leaves.contains(pc) else { return ([pc], "the return address was saved on the stack") }
            return ([pc, callerIsPC ? pc : lr - 1], nil)
        }
    }

    static let lr: UInt64 = 0x2008
    static let kernelIP: UInt64 = 0xFFFF_8000_1000_0000

    /// One event with ip, tid, time, callchain and (unless `mask` is nil) user registers;
    /// samples as (ip, chain, abi): the chain as the kernel writes it, markers included.
    func file(arch: String, mask: UInt64? = 1 << 30, samples: [(ip: UInt64, chain: [UInt64], abi: UInt64)]) -> [UInt8] {
        var a = ByteWriter()
        var sampleType = PerfData.Sample.identifier | PerfData.Sample.ip | PerfData.Sample.tid | PerfData.Sample.time | PerfData.Sample.callchain
        if mask != nil { sampleType |= PerfData.Sample.regsUser }
        a.u32(1); a.u32(128); a.u64(0); a.u64(4000); a.u64(sampleType)
        a.u64(0); a.u64(PerfData.AttrFlag.sampleIDAll)   // read_format; flags
        while a.bytes.count < 80 { a.u8(0) }
        a.u64(mask ?? 0)                                  // sample_regs_user, at offset 80
        while a.bytes.count < 128 { a.u8(0) }
        let layout = PerfDataLayout(events: [.init(attrBytes: a.bytes, ids: [5], name: "cycles")])
        var data = ByteWriter()
        for (n, s) in samples.enumerated() {
            var b = ByteWriter()
            b.u64(5); b.u64(s.ip); b.u32(42); b.u32(42); b.u64(UInt64(100 + n))
            b.u64(UInt64(s.chain.count)); for ip in s.chain { b.u64(ip) }
            if let mask {
                b.u64(s.abi)
                if s.abi != 0 { for _ in 0..<mask.nonzeroBitCount { b.u64(LeafFrameCallerTests.lr) } }
            }
            var r = ByteWriter()
            r.u32(9); r.u16(s.ip >= LeafFrameCallerTests.kernelIP ? 1 : 2); r.u16(UInt16(8 + b.bytes.count)); r.append(b.bytes)
            data.append(r.bytes)
        }
        let (features, bits) = layout.features(.init(hostname: "h", osRelease: "6.12", version: "t", arch: arch, cpusAvailable: 1, cpusOnline: 1, cmdline: ["t"]),
                                                at: layout.dataOffset + data.bytes.count)
        return layout.header(dataSize: data.bytes.count, features: bits) + layout.attrsAndIDs() + data.bytes + features
    }

    func chains(_ c: PerfDataContents) -> [[UInt64]] {
        c.samples.map { Array(c.callchainIPs[Int($0.chainStart)..<Int($0.chainStart + $0.chainCount)]) }
    }

    let user = PerfData.contextUser, kernel = PerfData.contextKernel

    func testTheLeafsCallerGoesRightAfterTheUserPC() throws {
        let unwinder = TableUnwinder(leaves: [0x1010])
        let bytes = file(arch: "aarch64", samples: [
            (0x1010, [user, 0x1010, 0x3004, 0x4004], 2),                         // a user sample in the leaf
            (Self.kernelIP, [kernel, Self.kernelIP, Self.kernelIP + 0x40, user, 0x1010, 0x3004], 2),   // a syscall from it
            (0x1010, [user, 0x1010], 2),                                         // the chain has only the pc
            (0x1800, [user, 0x1800, 0x3004], 2),                                 // not a leaf: LR was saved
            (Self.kernelIP, [kernel, Self.kernelIP], 0),                         // a kernel thread: no user registers
        ])
        let c = try PerfDataReader.read(bytes, unwinder: unwinder)
        XCTAssertEqual(chains(c), [
            [0x2007, 0x3004, 0x4004],
            [Self.kernelIP + 0x40, 0x1010, 0x2007, 0x3004],
            [0x2007],
            [0x3004],
            [],
        ])
        XCTAssertEqual(c.leafCallersInserted, 3)
        // One frame's caller from the registers alone: pc from the chain, LR recorded, no
        // stack pointer and no stack (frame-pointer mode copies none).
        XCTAssertEqual(unwinder.calls.count, 4, "the kernel thread's sample has no user registers to unwind")
        for call in unwinder.calls {
            XCTAssertEqual(call.maxFrames, 2)
            XCTAssertEqual(call.stackBytes, 0)
            XCTAssertEqual(call.registers[30], Self.lr)
            XCTAssertEqual(call.registers[31], 0)
            XCTAssertEqual(call.arch, "aarch64")
        }
        XCTAssertEqual(unwinder.calls.map { $0.registers[32] }, [0x1010, 0x1010, 0x1010, 0x1800])
    }

    func testNothingIsInsertedOffArm64WithoutTheLinkRegisterOrWhenTheCallerIsThePC() throws {
        let samples: [(ip: UInt64, chain: [UInt64], abi: UInt64)] = [(0x1010, [user, 0x1010, 0x3004], 2)]
        let x86 = TableUnwinder(leaves: [0x1010])
        XCTAssertEqual(chains(try PerfDataReader.read(file(arch: "x86_64", samples: samples), unwinder: x86)), [[0x3004]])
        XCTAssertTrue(x86.calls.isEmpty, "x86-64 frame-pointer chains need no leaf caller")
        // Registers recorded, but not the link register (perf's file of `--user-regs=sp`).
        let noLR = TableUnwinder(leaves: [0x1010])
        XCTAssertEqual(chains(try PerfDataReader.read(file(arch: "aarch64", mask: 1 << 31, samples: samples), unwinder: noLR)), [[0x3004]])
        XCTAssertTrue(noLR.calls.isEmpty)
        // No registers at all (a file of perf before 5.13, or `record` without -g's LR).
        XCTAssertEqual(chains(try PerfDataReader.read(file(arch: "aarch64", mask: nil, samples: samples), unwinder: TableUnwinder(leaves: [0x1010]))), [[0x3004]])
        // perf adds nothing that equals the pc.
        let same = TableUnwinder(leaves: [0x1010]); same.callerIsPC = true
        XCTAssertEqual(chains(try PerfDataReader.read(file(arch: "aarch64", samples: samples), unwinder: same)), [[0x3004]])
        // Without an unwinder (the pure reader) and without call chains: untouched, no call.
        XCTAssertEqual(chains(try PerfDataReader.read(file(arch: "arm64", samples: samples))), [[0x3004]])
        let skipped = TableUnwinder(leaves: [0x1010])
        _ = try PerfDataReader.read(ByteStorage(file(arch: "aarch64", samples: samples)), callchains: false, unwinder: skipped)
        XCTAssertTrue(skipped.calls.isEmpty)
    }

    func testPerfRecordsTheLinkRegisterWithFramePointersOnArm64Only() {
        XCTAssertEqual(PerfData.framePointerUserRegisters(arch: "aarch64"), 1 << 30)
        XCTAssertEqual(PerfData.framePointerUserRegisters(arch: "arm64"), 1 << 30)
        XCTAssertEqual(PerfData.framePointerUserRegisters(arch: "x86_64"), 0)
    }
}
